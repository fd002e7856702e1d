package socketio_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/socketio"
)

// ExampleNew serves a Hub to native clients on /ws and to Socket.IO
// clients on /socket.io/, then plays the first requests of a
// socket.io-client on long-polling by hand: the Engine.IO handshake, the
// Socket.IO CONNECT, and the poll that brings its answer and the Hub's
// connected event.
func ExampleNew() {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := realtime.New(realtime.Config{Logger: quiet}) // development mode: no tokens
	if err != nil {
		panic(err)
	}
	defer hub.Close()
	sio, err := socketio.New(hub, socketio.Options{Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer sio.Close()

	mux := http.NewServeMux()
	mux.Handle("/ws", hub)
	mux.Handle("/socket.io/", sio)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(query string) string {
		resp, err := http.Get(srv.URL + "/socket.io/?EIO=4&transport=polling" + query)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	open := get("") // 0{"sid":"...","upgrades":["websocket"],...}
	sid := strings.Split(open, `"`)[3]
	fmt.Println("handshake:", open[:1], strings.Contains(open, `"upgrades":["websocket"]`))

	resp, err := http.Post(srv.URL+"/socket.io/?EIO=4&transport=polling&sid="+sid, "text/plain", strings.NewReader(`40{"token":""}`))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	var packets []string
	for len(packets) < 2 {
		packets = append(packets, strings.Split(get("&sid="+sid), "\x1e")...)
	}
	fmt.Println("CONNECT answered:", strings.HasPrefix(packets[0], `40{"sid":`))
	fmt.Println("then:", packets[1][:len(`42["connected"`)])
	// Output:
	// handshake: 0 true
	// CONNECT answered: true
	// then: 42["connected"
}
