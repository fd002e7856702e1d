package realtime

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"
	"time"
)

// FuzzJWTHMAC: the fast path of a JWT with Secret accepts a token only
// when the JWT library accepts it, with the same user and expiry. The
// fuzzer writes the header and claims; they are signed with the secret,
// or not when bad is set.
//
//	go test -run '^$' -fuzz FuzzJWTHMAC -fuzztime 1m .
func FuzzJWTHMAC(f *testing.F) {
	secret := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	now := time.Now().Unix()
	exp := now + 3600
	for _, claims := range []string{
		fmt.Sprintf(`{"sub":"u1","exp":%d}`, exp),
		fmt.Sprintf(`{"sub":"u1","exp":%d,"iat":%d,"username":"Ann \"A\" \u00e9","roles":["admin"]}`, exp, now),
		fmt.Sprintf(`{"sub":"u1","exp":%d,"nbf":%d}`, exp, now+60),
		fmt.Sprintf(`{"sub":"u1","exp":%d,"iss":"https://id.example","aud":["x","realtime"]}`, exp),
		fmt.Sprintf(`{"sub":"u1","exp":%d,"iss":"https://id.example","aud":"realtime","jti":"j"}`, exp),
		fmt.Sprintf(`{"sub":"u1","exp":%d,"SUB":"u2"}`, exp),
		fmt.Sprintf(`{"sub":"u1","ſub":"u2","exp":%d}`, exp),
		fmt.Sprintf(`{"sub":"u1","exp":%d,"sub":null}`, exp),
		fmt.Sprintf(`{"sub":"u1","exp":%d.5}`, exp),
		fmt.Sprintf(`{"sub":"u1","exp":"%d"}`, exp),
		fmt.Sprintf(`{"sub":"u1","exp":%d,"x":{"y":[1,true]}}`, exp),
		fmt.Sprintf(`{"sub":"u1","exp":%d} `, exp),
		fmt.Sprintf(`{"sub":"u1","exp":%d}x`, exp),
		fmt.Sprintf(`{"sub":"u1","exp":%d,"roles":null}`, exp),
		fmt.Sprintf(`{"sub":"u1","exp":%d,"exp":1}`, exp),
		fmt.Sprintf(`{"sub":"","exp":%d}`, exp),
		`{"sub":"u1","exp":1}`,
	} {
		for _, header := range []string{`{"alg":"HS256","typ":"JWT"}`, `{"alg":"HS512"}`, `{"alg":"none"}`, `{"typ":"JWT","alg":"HS256","alg":"HS384"}`} {
			f.Add(header, claims, false)
		}
		f.Add(`{"alg":"HS256"}`, claims, true)
	}
	var jwts []*JWT
	for _, cfg := range []JWTConfig{
		{Secret: secret},
		{Secret: secret, Methods: []string{"HS256", "HS384"}, Leeway: -1},
		{Secret: secret, Issuer: "https://id.example", Audience: "realtime"},
	} {
		j, err := NewJWT(cfg)
		if err != nil {
			f.Fatal(err)
		}
		jwts = append(jwts, j)
	}
	f.Fuzz(func(t *testing.T, header, claims string, bad bool) {
		enc := base64.RawURLEncoding
		signed := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
		mac := hmac.New(sha256.New, secret)
		if bad {
			mac = hmac.New(sha256.New, []byte("another secret of 64 bytes, long enough for HS512 as well as HS256"))
		}
		mac.Write([]byte(signed))
		// HS384 and HS512 tokens carry a SHA-256 MAC: they never verify,
		// but take the same path up to the signature.
		token := signed + "." + enc.EncodeToString(mac.Sum(nil))
		for _, j := range jwts {
			u, exp, ok := j.fast.authenticate(token)
			if !ok {
				continue
			}
			want, wantExp, err := j.parse(t.Context(), token)
			if err != nil {
				t.Fatalf("fast path accepts what the library refuses (%v): %s.%s", err, header, claims)
			}
			if fmt.Sprint(u) != fmt.Sprint(want) || !exp.Equal(wantExp) {
				t.Fatalf("fast path: %+v until %v, library: %+v until %v: %s", u, exp, want, wantExp, claims)
			}
		}
	})
}

// TestJWTHMACTakesCommonTokens: the tokens Sign makes, and those of other
// issuers with the usual claims, do take the fast path.
func TestJWTHMACTakesCommonTokens(t *testing.T) {
	j, err := NewJWT(JWTConfig{Secret: []byte("0123456789abcdef0123456789abcdef"), Issuer: "https://id.example", Audience: "realtime"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := j.Sign(User{ID: "u1", Username: "Ann \"A\" é", Roles: []string{"admin"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u, exp, ok := j.fast.authenticate(token)
	want, wantExp, err := j.parse(t.Context(), token)
	if !ok || err != nil || fmt.Sprint(u) != fmt.Sprint(want) || !exp.Equal(wantExp) {
		t.Fatalf("fast path: %v %+v %v; library: %v %+v %v", ok, u, exp, err, want, wantExp)
	}
}

// BenchmarkJWTAuthenticate: what verifying a token of Sign costs a hub,
// on the fast path and in the JWT library.
//
//	go test -run '^$' -bench JWTAuthenticate -benchmem .
func BenchmarkJWTAuthenticate(b *testing.B) {
	j, err := NewJWT(JWTConfig{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		b.Fatal(err)
	}
	token, err := j.Sign(User{ID: "u1", Username: "Ann"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := j.Authenticate(b.Context(), token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := j.parse(b.Context(), token); err != nil {
				b.Fatal(err)
			}
		}
	})
}
