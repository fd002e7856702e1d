package httpx

import (
	"net/http/httptest"
	"testing"
)

func TestToken(t *testing.T) {
	for _, tc := range []struct{ auth, query, want string }{
		{"Bearer abc", "", "abc"},
		{"Bearer  abc ", "q", "abc"},
		{"", "q", "q"},
		{"Basic dXNlcjpwdw==", "q", "q"}, // not a bearer token: the query's
		{"", "", ""},
	} {
		r := httptest.NewRequest("GET", "/ws?token="+tc.query, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if got := Token(r); got != tc.want {
			t.Errorf("Authorization %q, query %q: Token = %q, want %q", tc.auth, tc.query, got, tc.want)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	patterns := []string{"app.example.com", "*.example.net", "https://*.example.org"}
	for origin, want := range map[string]bool{
		"":                          true, // not a browser
		"http://chat.local:8080":    true, // same host as the request
		"https://app.example.com":   true,
		"http://APP.example.com":    true,
		"https://x.example.net":     true,
		"https://example.net":       false,
		"https://x.example.org":     true,
		"http://x.example.org":      false, // the pattern names its scheme
		"https://evil.example":      false,
		"null":                      false,
		"file://":                   false,
		"https://app.example.com.x": false,
		"%zz":                       false,
	} {
		r := httptest.NewRequest("GET", "http://chat.local:8080/ws", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if got := OriginAllowed(r, patterns); got != want {
			t.Errorf("Origin %q: OriginAllowed = %v, want %v", origin, got, want)
		}
	}
}
