// Package httpx reads an upgrade request the same way for every transport
// of the hub: its credential, and whether its origin may be served.
package httpx

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Token returns the token of an upgrade request: the Authorization bearer
// token, else the token query parameter.
func Token(r *http.Request) string {
	if v := r.Header.Get("Authorization"); v != "" {
		if t, ok := strings.CutPrefix(v, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return r.URL.Query().Get("token")
}

// OriginAllowed reports whether r may be served: it has no Origin header,
// or its origin's host is r's host, or it matches one of patterns. A
// pattern is matched with path.Match, ignoring case, against the origin's
// host ("example.com", "*.example.com"), or against scheme and host when it
// has a scheme ("https://example.com"). An Origin without a host ("null",
// from a sandboxed page or a file) is refused whatever the patterns.
func OriginAllowed(r *http.Request, patterns []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(r.Host, u.Host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}
