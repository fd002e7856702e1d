package testenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// A child is the test binary run again to serve a hub in a process of its
// own, so that a benchmark measures the server's memory apart from its
// clients. TestMain runs ServeChild when the child's variable is set;
// the benchmark starts it with StartChild.

// Mem is a child's memory: heap and stacks in use after a GC, goroutines,
// and the connections its hub counts.
type Mem struct {
	Heap, Stack uint64
	Goroutines  int
	Conns       int
}

// ServeChild serves mux on loopback, adding GET /mem (conns counts the
// hub's connections), prints the address on stdout and returns when stdin
// closes. Its result is the process's exit code.
func ServeChild(mux *http.ServeMux, conns func() int) int {
	mux.HandleFunc("/mem", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_ = json.NewEncoder(w).Encode(Mem{Heap: ms.HeapInuse, Stack: ms.StackInuse, Goroutines: runtime.NumGoroutine(), Conns: conns()})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 1
	}
	go http.Serve(ln, mux)
	fmt.Println(ln.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// StartChild runs the test binary again with the variable env set, and
// returns the address the child serves and a function that reads its Mem.
// The child ends with the test.
func StartChild(tb testing.TB, env string) (addr string, mem func() Mem) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatal(err)
	}
	addr = strings.TrimSpace(line)
	return addr, func() Mem {
		tb.Helper()
		resp, err := http.Get("http://" + addr + "/mem")
		if err != nil {
			tb.Fatal(err)
		}
		defer resp.Body.Close()
		var m Mem
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			tb.Fatal(err)
		}
		return m
	}
}
