package testenv

import (
	"bufio"
	"net"
	"net/url"
	"os"
	"testing"
	"time"
)

// RedisURL is REALTIME_REDIS_URL, or the local test server.
func RedisURL() string {
	if u := os.Getenv("REALTIME_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// RedisAddr returns the host:port of RedisURL once the server there answers
// a PING; when it does not, the test is skipped (or fails, see Unavailable).
// Tests build their client from RedisURL (for the database and password)
// and may dial this address through a Proxy.
func RedisAddr(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(RedisURL())
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		t.Fatalf("REALTIME_REDIS_URL %q is not a redis:// URL", RedisURL())
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "6379")
	}
	if err := ping(addr, u.Scheme == "redis"); err != nil {
		Unavailable(t, "Redis does not answer at REALTIME_REDIS_URL: %v", err)
	}
	return addr
}

// ping connects and, on a plaintext link, sends an inline PING and waits
// for any reply: an error reply (such as NOAUTH) still shows a Redis server
// answering.
func ping(addr string, plain bool) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if !plain {
		return nil
	}
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}
