// Command react-chat is the React chat example: the app in src/, built
// with Vite from @realtime-go/client and @realtime-go/react, served from
// disk with the hub on one port.
//
//	(cd examples/react-chat && npm ci && npm run build)
//	go run ./examples/react-chat
//
// Then open http://localhost:8080 in two browser windows. The server is the
// chat example's (examples/internal/chatapp: SQLite or PostgreSQL, file
// sharing, development tokens, metrics, admin API; the same environment
// variables, see examples/chat) with this app at / in place of the plain
// one. The app is read from REACT_CHAT_DIST, by default dist/ of this
// directory (from the repository's root or from here).
package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"

	"github.com/realtime-go/realtime/examples/internal/chatapp"
)

func main() {
	chatapp.Main("react-chat", func(ctx context.Context, addr string) error {
		dist, err := findDist(os.Getenv("REACT_CHAT_DIST"))
		if err != nil {
			return err
		}
		return run(ctx, addr, dist, nil)
	})
}

// errNoBuild: the app is built by npm, not by go build.
var errNoBuild = errors.New("the app is not built: run `npm ci && npm run build` in examples/react-chat (or set REACT_CHAT_DIST)")

// findDist returns the directory of the built app: dir when given, else
// dist/ of this example, seen from the repository's root or from here.
func findDist(dir string) (string, error) {
	candidates := []string{dir}
	if dir == "" {
		candidates = []string{filepath.Join("examples", "react-chat", "dist"), "dist"}
	}
	for _, d := range candidates {
		if _, err := os.Stat(filepath.Join(d, "index.html")); err == nil {
			return d, nil
		}
	}
	return "", errNoBuild
}

// run serves the example on addr until ctx ends, with the app built in
// dist; ready, when set, is called with the listening address.
func run(ctx context.Context, addr, dist string, ready func(net.Addr)) error {
	return chatapp.Run(ctx, addr, chatapp.Options{Name: "react-chat", Web: os.DirFS(dist), Ready: ready})
}
