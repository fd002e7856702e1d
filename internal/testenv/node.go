package testenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// NodeTests is a run of node's test runner over a directory's JavaScript
// tests, against servers the Go test started.
type NodeTests struct {
	Dir     string        // holds package.json and node_modules (npm ci)
	Need    []string      // files the run needs, under Dir unless absolute: node_modules/<package>, a browser
	Flags   []string      // node flags before --test
	Files   []string      // test files or directories, under Dir
	Env     []string      // added to the environment
	Timeout time.Duration // zero: 2 minutes
}

// Check makes t unavailable (see Unavailable) unless node and everything in
// n.Need are there. Call it before starting what the tests talk to.
func (n NodeTests) Check(t testing.TB) {
	t.Helper()
	_, err := exec.LookPath("node")
	for _, p := range n.Need {
		if !filepath.IsAbs(p) {
			p = filepath.Join(n.Dir, p)
		}
		_, serr := os.Stat(p)
		err = errors.Join(err, serr)
	}
	if err != nil {
		Unavailable(t, "node tests in %s: prerequisites missing (node, npm ci in %[1]s): %v", n.Dir, err)
	}
}

// Run runs the tests and fails t unless every test passed and none was
// skipped; it logs each test's result line, and all the output on failure.
func (n NodeTests) Run(t testing.TB) {
	t.Helper()
	n.Check(t)
	timeout := n.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append(append(append([]string{}, n.Flags...), "--test"), n.Files...)
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = n.Dir
	cmd.Env = append(os.Environ(), n.Env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "node tests in %s failed:\n%s", n.Dir, out)
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "ok ") || strings.HasPrefix(line, "not ok ") || strings.HasPrefix(line, "# duration_ms") {
			t.Log(strings.TrimSpace(line))
		}
	}
	require.Contains(t, string(out), "# fail 0", "%s", out)
	require.Contains(t, string(out), "# skipped 0", "a skipped node test counts as a failure:\n%s", out)
}
