package realtime_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
)

// The HMAC keys of the tests, 32 bytes as HS256 needs.
const (
	jwtSecret      = "0123456789abcdef0123456789abcdef"
	jwtOtherSecret = "fedcba9876543210fedcba9876543210"
)

// jwtKeys are the asymmetric keys of the JWT tests.
type jwtKeys struct {
	rsa   *rsa.PrivateKey
	ec    *ecdsa.PrivateKey
	edPub ed25519.PublicKey
	ed    ed25519.PrivateKey
}

// generateJWTKeys generates the keys once: RSA 2048 is slow to generate.
var generateJWTKeys = sync.OnceValues(func() (jwtKeys, error) {
	var k jwtKeys
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return k, err
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return k, err
	}
	k.edPub, k.ed, err = ed25519.GenerateKey(rand.Reader)
	return k, err
})

func jwtTestKeys(t *testing.T) jwtKeys {
	t.Helper()
	k, err := generateJWTKeys()
	require.NoError(t, err)
	return k
}

func newJWT(t *testing.T, cfg realtime.JWTConfig) *realtime.JWT {
	t.Helper()
	j, err := realtime.NewJWT(cfg)
	require.NoError(t, err)
	return j
}

// signJWT returns a token of claims signed with method and key, with a "kid"
// header unless kid is empty.
func signJWT(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// unsignedJWT returns a token with the given header and claims JSON and an
// empty signature, as an attacker would write it.
func unsignedJWT(header, claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims)) + "."
}

func TestJWTAuthenticateRefuses(t *testing.T) {
	k := jwtTestKeys(t)
	now := time.Now()
	exp := now.Add(time.Hour).Unix()
	valid := jwt.MapClaims{"sub": "u1", "exp": exp}
	with := func(kv ...any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for name, v := range valid {
			c[name] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
				continue
			}
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}

	hs256 := func(c jwt.MapClaims) string {
		return signJWT(t, jwt.SigningMethodHS256, []byte(jwtSecret), "", c)
	}
	hs := newJWT(t, realtime.JWTConfig{Secret: []byte(jwtSecret)})
	rs := newJWT(t, realtime.JWTConfig{PublicKey: &k.rsa.PublicKey})
	strict := newJWT(t, realtime.JWTConfig{
		Secret:   []byte(jwtSecret),
		Issuer:   "https://id.example",
		Audience: "realtime",
	})
	rotating := newJWT(t, realtime.JWTConfig{
		Methods: []string{"RS256", "ES256"},
		KeyFunc: func(_ context.Context, kid string) (any, error) {
			switch kid {
			case "a":
				return &k.rsa.PublicKey, nil
			case "b":
				return &k.ec.PublicKey, nil
			}
			return nil, fmt.Errorf("no key %q", kid)
		},
	})

	der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, valid).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	claimsJSON := fmt.Sprintf(`{"sub":"u1","exp":%d}`, exp)

	tests := []struct {
		name   string
		auth   *realtime.JWT
		token  string
		reason string // in the error
	}{
		{"alg none by hand", hs, unsignedJWT(`{"alg":"none","typ":"JWT"}`, claimsJSON), "signing method not accepted"},
		{"alg NONE by hand", hs, unsignedJWT(`{"alg":"NONE","typ":"JWT"}`, claimsJSON), "signing method not accepted"},
		{"alg none from library", hs, none, "signing method not accepted"},
		{"no alg", hs, unsignedJWT(`{"typ":"JWT"}`, claimsJSON), "signing method not accepted"},
		{"wrong HMAC key", hs, signJWT(t, jwt.SigningMethodHS256, []byte(jwtOtherSecret), "", valid), "invalid signature"},
		{"HS512 when HS256 configured", hs, signJWT(t, jwt.SigningMethodHS512, []byte(jwtSecret), "", valid), "signing method not accepted"},
		{"RS256 to HMAC authenticator", hs, signJWT(t, jwt.SigningMethodRS256, k.rsa, "", valid), "signing method not accepted"},
		{"key confusion with PEM", rs, signJWT(t, jwt.SigningMethodHS256, pemKey, "", valid), "signing method not accepted"},
		{"key confusion with DER", rs, signJWT(t, jwt.SigningMethodHS256, der, "", valid), "signing method not accepted"},
		{"expired", hs, hs256(with("exp", now.Add(-time.Minute).Unix())), "token expired"},
		{"missing exp", hs, hs256(with("exp", nil)), "token has no exp"},
		{"exp not a number", hs, hs256(with("exp", "tomorrow")), "malformed token"},
		{"nbf in the future", hs, hs256(with("nbf", now.Add(time.Minute).Unix())), "token not valid yet"},
		{"iat in the future", hs, hs256(with("iat", now.Add(time.Minute).Unix())), "token not valid yet"},
		{"wrong audience", strict, hs256(with("iss", "https://id.example", "aud", "other")), "invalid audience"},
		{"missing audience", strict, hs256(with("iss", "https://id.example")), "token has no aud"},
		{"wrong issuer", strict, hs256(with("iss", "https://evil.example", "aud", "realtime")), "invalid issuer"},
		{"missing issuer", strict, hs256(with("aud", "realtime")), "token has no iss"},
		{"1 MB token", hs, hs256(with("pad", strings.Repeat("x", 1<<20))), "token too large"},
		{"garbage", hs, "not-a.jwt.at-all", "malformed token"},
		{"two segments", hs, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9", "malformed token"},
		{"empty", hs, "", "missing token"},
		{"missing sub", hs, hs256(with("sub", nil)), "token has no subject"},
		{"empty sub", hs, hs256(with("sub", "")), "token has no subject"},
		{"sub not a string", hs, hs256(with("sub", 42)), "malformed token"},
		{"sub too long", hs, hs256(with("sub", strings.Repeat("u", 257))), "subject too long"},
		{"roles a string", hs, hs256(with("roles", "admin")), "malformed token"},
		{"roles of numbers", hs, hs256(with("roles", []int{1, 2})), "malformed token"},
		{"username not a string", hs, hs256(with("username", 42)), "malformed token"},
		{"unknown kid", rotating, signJWT(t, jwt.SigningMethodRS256, k.rsa, "c", valid), `no key "c"`},
		{"no kid", rotating, signJWT(t, jwt.SigningMethodRS256, k.rsa, "", valid), `no key ""`},
		{"kid not a string", rotating, unsignedJWT(`{"alg":"RS256","kid":7}`, claimsJSON) + "c2ln", "invalid kid header"},
		{"kid of another key type", rotating, signJWT(t, jwt.SigningMethodES256, k.ec, "a", valid), "ES256 needs an *ecdsa.PublicKey"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, expiry, err := tc.auth.Authenticate(t.Context(), tc.token)
			require.ErrorIs(t, err, realtime.ErrUnauthorized)
			require.ErrorContains(t, err, tc.reason)
			require.Zero(t, u)
			require.Zero(t, expiry)
			if tc.token != "" {
				require.NotContains(t, err.Error(), tc.token)
			}
		})
	}
}

func TestJWTAuthenticateAccepts(t *testing.T) {
	k := jwtTestKeys(t)
	now := time.Now()
	exp := now.Add(time.Hour).Truncate(time.Second)
	claims := func(kv ...any) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "u1", "exp": exp.Unix(), "iat": now.Unix()}
		for i := 0; i < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}

	hs256 := func(c jwt.MapClaims) string {
		return signJWT(t, jwt.SigningMethodHS256, []byte(jwtSecret), "", c)
	}
	hs := newJWT(t, realtime.JWTConfig{Secret: []byte(jwtSecret)})
	strict := newJWT(t, realtime.JWTConfig{
		Secret:   []byte(jwtSecret),
		Issuer:   "https://id.example",
		Audience: "realtime",
	})
	rotating := newJWT(t, realtime.JWTConfig{
		Methods: []string{"HS256"},
		KeyFunc: func(_ context.Context, kid string) (any, error) {
			switch kid {
			case "a":
				return []byte(jwtSecret), nil
			case "b":
				return []byte(jwtOtherSecret), nil
			}
			return nil, fmt.Errorf("no key %q", kid)
		},
	})
	u1 := realtime.User{ID: "u1", Username: "u1"}

	tests := []struct {
		name    string
		auth    *realtime.JWT
		token   string
		want    realtime.User
		wantExp time.Time
	}{
		{
			name:  "HS256 with roles",
			auth:  hs,
			token: hs256(claims("username", "Ann", "roles", []string{"admin", "broadcast"})),
			want:  realtime.User{ID: "u1", Username: "Ann", Roles: []string{"admin", "broadcast"}},
		},
		{
			name:  "username falls back to sub",
			auth:  hs,
			token: hs256(claims()),
			want:  u1,
		},
		{
			name:  "blank username falls back to sub",
			auth:  hs,
			token: hs256(claims("username", "  ", "roles", []string{})),
			want:  u1,
		},
		{
			name:  "long username is trimmed and cut",
			auth:  hs,
			token: hs256(claims("username", " "+strings.Repeat("é", 70))),
			want:  realtime.User{ID: "u1", Username: strings.Repeat("é", 64)},
		},
		{
			name:  "RS256",
			auth:  newJWT(t, realtime.JWTConfig{PublicKey: &k.rsa.PublicKey}),
			token: signJWT(t, jwt.SigningMethodRS256, k.rsa, "", claims()),
			want:  u1,
		},
		{
			name:  "ES256",
			auth:  newJWT(t, realtime.JWTConfig{PublicKey: &k.ec.PublicKey}),
			token: signJWT(t, jwt.SigningMethodES256, k.ec, "", claims()),
			want:  u1,
		},
		{
			name:  "EdDSA",
			auth:  newJWT(t, realtime.JWTConfig{PublicKey: k.edPub}),
			token: signJWT(t, jwt.SigningMethodEdDSA, k.ed, "", claims()),
			want:  u1,
		},
		{
			name:  "KeyFunc kid a",
			auth:  rotating,
			token: signJWT(t, jwt.SigningMethodHS256, []byte(jwtSecret), "a", claims()),
			want:  u1,
		},
		{
			name:  "KeyFunc kid b",
			auth:  rotating,
			token: signJWT(t, jwt.SigningMethodHS256, []byte(jwtOtherSecret), "b", claims()),
			want:  u1,
		},
		{
			name:  "issuer and audience",
			auth:  strict,
			token: hs256(claims("iss", "https://id.example", "aud", []string{"other", "realtime"})),
			want:  u1,
		},
		{
			name:    "expired within default leeway",
			auth:    hs,
			token:   hs256(claims("exp", now.Add(-2*time.Second).Unix())),
			want:    u1,
			wantExp: time.Unix(now.Add(-2*time.Second).Unix(), 0),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, expiry, err := tc.auth.Authenticate(t.Context(), tc.token)
			require.NoError(t, err)
			require.Equal(t, tc.want, u)
			wantExp := tc.wantExp
			if wantExp.IsZero() {
				wantExp = exp
			}
			require.Truef(t, expiry.Equal(wantExp), "expiry %v, want %v", expiry, wantExp)
		})
	}
}

func TestJWTSign(t *testing.T) {
	j := newJWT(t, realtime.JWTConfig{
		Secret:   []byte(jwtSecret),
		Issuer:   "https://id.example",
		Audience: "realtime",
	})
	want := realtime.User{ID: "u1", Username: "Ann", Roles: []string{"admin"}}
	before := time.Now().Truncate(time.Second)
	token, err := j.Sign(want, time.Hour)
	require.NoError(t, err)

	u, expiry, err := j.Authenticate(t.Context(), token)
	require.NoError(t, err)
	require.Equal(t, want, u)
	require.WithinRange(t, expiry, before.Add(time.Hour), time.Now().Add(time.Hour))

	_, err = j.Sign(realtime.User{}, time.Hour)
	require.Error(t, err)
	_, err = j.Sign(want, 0)
	require.Error(t, err)
	_, err = newJWT(t, realtime.JWTConfig{PublicKey: &jwtTestKeys(t).rsa.PublicKey}).Sign(want, time.Hour)
	require.Error(t, err)
}

func TestNewJWTRefusesConfig(t *testing.T) {
	k := jwtTestKeys(t)
	keyFunc := func(context.Context, string) (any, error) { return []byte(jwtSecret), nil }

	tests := []struct {
		name  string
		cfg   realtime.JWTConfig
		field string // named in the error
	}{
		{"no key", realtime.JWTConfig{}, "Secret, PublicKey and KeyFunc"},
		{"Secret and PublicKey", realtime.JWTConfig{Secret: []byte(jwtSecret), PublicKey: &k.rsa.PublicKey}, "Secret, PublicKey and KeyFunc"},
		{"Secret and KeyFunc", realtime.JWTConfig{Secret: []byte(jwtSecret), KeyFunc: keyFunc, Methods: []string{"HS256"}}, "Secret, PublicKey and KeyFunc"},
		{"HS256 with RSA key", realtime.JWTConfig{PublicKey: &k.rsa.PublicKey, Methods: []string{"RS256", "HS256"}}, "PublicKey"},
		{"RS256 with secret", realtime.JWTConfig{Secret: []byte(jwtSecret), Methods: []string{"RS256"}}, "Secret"},
		{"ES384 with P-256 key", realtime.JWTConfig{PublicKey: &k.ec.PublicKey, Methods: []string{"ES384"}}, "PublicKey"},
		{"none in Methods", realtime.JWTConfig{Secret: []byte(jwtSecret), Methods: []string{"HS256", "none"}}, "Methods"},
		{"unknown method", realtime.JWTConfig{Secret: []byte(jwtSecret), Methods: []string{"HS1"}}, "Methods"},
		{"KeyFunc without Methods", realtime.JWTConfig{KeyFunc: keyFunc}, "Methods"},
		{"KeyFunc with mixed Methods", realtime.JWTConfig{KeyFunc: keyFunc, Methods: []string{"HS256", "RS256"}}, "Methods"},
		{"short secret", realtime.JWTConfig{Secret: []byte("secret")}, "Secret"},
		{"private key", realtime.JWTConfig{PublicKey: k.rsa}, "PublicKey"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := realtime.NewJWT(tc.cfg)
			require.Nil(t, j)
			require.ErrorContains(t, err, "realtime: jwt: ")
			require.ErrorContains(t, err, tc.field)
		})
	}
}
