package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// A load generator must only ever load this machine: every target is checked
// twice, once by name (checkLoopbackURL) and once by the address actually
// dialled (dialLoopback).

// checkLoopbackURL accepts ws:// URLs whose host is a loopback IP literal or
// "localhost". Any other name is refused without being resolved.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "ws" {
		return fmt.Errorf("%q: only ws:// URLs (plain WebSocket on loopback)", raw)
	}
	return checkLoopbackHost(u.Hostname())
}

// checkLoopbackHost accepts a loopback IP literal or "localhost".
func checkLoopbackHost(host string) error {
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return fmt.Errorf("host %q: give a loopback IP address (127.0.0.1, ::1) or localhost", host)
	}
	if !ip.IsLoopback() {
		return fmt.Errorf("host %s is not a loopback address: this tool loads this machine only", host)
	}
	return nil
}

// errNotLoopback is returned by dialLoopback when a name resolved to an
// address off this machine.
var errNotLoopback = errors.New("dialled address is not loopback")

// dialLoopback dials like net.Dialer but closes, and refuses, a connection
// whose remote address is not a loopback address.
func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		c.Close()
		return nil, fmt.Errorf("%s: %w", addr, errNotLoopback)
	}
	return countedConn{c}, nil
}

// wireRead counts the bytes every connection of the bench read off its
// socket: what crossed the wire, compressed or not.
var wireRead atomic.Int64

type countedConn struct{ net.Conn }

func (c countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	wireRead.Add(int64(n))
	return n, err
}

// newLoopbackClient returns the HTTP client of every WebSocket handshake
// and debug request: it dials loopback addresses only, and has no timeout of
// its own (a WebSocket outlives its handshake); contexts bound each request.
func newLoopbackClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         dialLoopback,
			MaxIdleConnsPerHost: 4,
			DisableCompression:  true,
		},
	}
}

// waitListening waits up to d for addr (host:port) to accept TCP
// connections, so that the bench may start together with its server.
func waitListening(ctx context.Context, addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := dialLoopback(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if errors.Is(err, errNotLoopback) || time.Now().After(deadline) {
			return fmt.Errorf("server at %s: %w", addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
