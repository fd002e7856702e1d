package realtime_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/testenv"
)

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return tok
}

// TestRefusedTokens: every bad token is refused however it is presented,
// and no token reaches the logs.
func TestRefusedTokens(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	logs := &testenv.LogBuffer{}
	hmacAuth, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(testSecret), Audience: "chat"})
	require.NoError(t, err)
	rsaAuth, err := realtime.NewJWT(realtime.JWTConfig{PublicKey: &rsaKey.PublicKey})
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hmacEnv := newTestHub(t, realtime.Config{Authenticator: hmacAuth, Logger: logger})
	rsaEnv := newTestHub(t, realtime.Config{Authenticator: rsaAuth, Logger: logger})

	exp := time.Now().Add(time.Hour).Unix()
	b64 := base64.RawURLEncoding.EncodeToString
	noneToken := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"alice","aud":"chat","exp":`+strconv.FormatInt(exp, 10)+`}`)) + "."

	cases := []struct {
		name  string
		env   *testEnv
		token string
	}{
		{"alg none", hmacEnv, noneToken},
		{"wrong key", hmacEnv, sign(t, jwt.SigningMethodHS256, []byte("another-secret-of-32-bytes-length!!"), jwt.MapClaims{"sub": "alice", "aud": "chat", "exp": exp})},
		{"HS256 signed with the RSA public key", rsaEnv, sign(t, jwt.SigningMethodHS256, pubPEM, jwt.MapClaims{"sub": "alice", "exp": exp})},
		{"expired", hmacEnv, sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "alice", "aud": "chat", "exp": time.Now().Add(-time.Hour).Unix()})},
		{"missing exp", hmacEnv, sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "alice", "aud": "chat"})},
		{"wrong audience", hmacEnv, sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "alice", "aud": "billing", "exp": exp})},
		{"garbage", hmacEnv, "not-a-token"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" in header", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := client.Dial(ctx, tc.env.url, client.DialOptions{Token: tc.token, NoReconnect: true})
			var ce *client.CloseError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, realtime.StatusUnauthorized, ce.Code)
		})
		t.Run(tc.name+" in query", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ws, _, err := websocket.Dial(ctx, tc.env.url+"?token="+url.QueryEscape(tc.token), nil)
			require.NoError(t, err)
			require.Equal(t, websocket.StatusCode(realtime.StatusUnauthorized), closeStatus(t, ws))
		})
		t.Run(tc.name+" in auth event", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ws, _, err := websocket.Dial(ctx, tc.env.url, nil)
			require.NoError(t, err)
			defer ws.CloseNow()
			r := testenv.NewRaw(t, ws)
			r.Write(`{"event":"auth","data":{"token":"` + tc.token + `"},"ack":1}`)
			f := r.Read()
			require.Equal(t, "unauthorized", f.Error.Code)
			require.NotContains(t, f.Error.Message, tc.token)
		})
	}

	t.Run("1 MB token", func(t *testing.T) {
		huge := strings.Repeat("a", 1<<20)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := client.Dial(ctx, hmacEnv.url, client.DialOptions{Token: huge, NoReconnect: true})
		require.Error(t, err, "a 1 MB header is refused by the HTTP server")
		ws, _, err := websocket.Dial(ctx, hmacEnv.url, nil)
		require.NoError(t, err)
		_ = ws.Write(ctx, websocket.MessageText, []byte(`{"event":"auth","data":{"token":"`+huge+`"}}`))
		require.Equal(t, websocket.StatusMessageTooBig, closeStatus(t, ws))
		// Below the frame limit but above MaxTokenBytes: refused before parsing.
		ws, _, err = websocket.Dial(ctx, hmacEnv.url, nil)
		require.NoError(t, err)
		defer ws.CloseNow()
		r := testenv.NewRaw(t, ws)
		r.Write(`{"event":"auth","data":{"token":"` + huge[:20000] + `"},"ack":1}`)
		require.Equal(t, "unauthorized", r.Read().Error.Code)
	})

	for _, tc := range cases {
		require.NotContains(t, logs.String(), tc.token, "a token reached the logs")
	}
}

func TestOriginChecks(t *testing.T) {
	env := newTestHub(t, realtime.Config{AllowedOrigins: []string{"app.example.com"}})
	dial := func(origin string) (*http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h := http.Header{"Authorization": {"Bearer " + env.token("alice")}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ws, resp, err := websocket.Dial(ctx, env.url, &websocket.DialOptions{HTTPHeader: h})
		if ws != nil {
			ws.CloseNow()
		}
		return resp, err
	}
	resp, err := dial("https://evil.example.net")
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, err = dial("https://app.example.com")
	require.NoError(t, err)
	_, err = dial("") // not a browser
	require.NoError(t, err)
	_, err = dial("http" + strings.TrimPrefix(env.url, "ws")) // same origin
	require.NoError(t, err)

	_, err = realtime.New(realtime.Config{AllowedOrigins: []string{"*"}})
	require.Error(t, err, "a wildcard origin must be spelled out")
}

func TestAuthTimeout(t *testing.T) {
	env := newTestHub(t, realtime.Config{AuthTimeout: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, env.url, nil)
	require.NoError(t, err)
	require.Equal(t, websocket.StatusCode(realtime.StatusUnauthorized), closeStatus(t, ws))
}

// TestTokenRefresh: a refreshed connection outlives its first token; one
// that is not refreshed is closed at expiry with 4001.
func TestTokenRefresh(t *testing.T) {
	env := newTestHub(t, realtime.Config{TokenExpiryWarning: time.Second})
	short, err := env.jwt.Sign(realtime.User{ID: "alice"}, 2*time.Second)
	require.NoError(t, err)
	shortBob, err := env.jwt.Sign(realtime.User{ID: "bob"}, 2*time.Second)
	require.NoError(t, err)

	alice := env.dialWith(client.DialOptions{Token: short, NoReconnect: true})
	bob := env.dialWith(client.DialOptions{Token: shortBob, NoReconnect: true})

	expiring := testenv.DecodeInto[struct{ ExpiresAt time.Time }](t, alice.next("token-expiring"))
	require.WithinDuration(t, time.Now().Add(time.Second), expiring.ExpiresAt, 2*time.Second)
	// A token for someone else cannot take over the connection.
	alice.emitErr(realtime.CodeForbidden, "auth", map[string]any{"token": env.token("mallory")})
	ack := testenv.DecodeInto[struct {
		User      realtime.UserRef
		ExpiresAt time.Time
	}](t, alice.emit("auth", map[string]any{"token": env.token("alice")}))
	require.Equal(t, "alice", ack.User.ID)
	require.True(t, ack.ExpiresAt.After(time.Now().Add(30*time.Minute)))

	select {
	case <-bob.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("bob's expired connection was not closed")
	}
	var ce *client.CloseError
	require.True(t, errors.As(bob.Err(), &ce))
	require.Equal(t, realtime.StatusUnauthorized, ce.Code)

	// Alice lives on past her first token's expiry.
	alice.emit("list-rooms", nil)
	require.Nil(t, alice.Err())
}

func TestDevelopmentModeAnonymous(t *testing.T) {
	logs := &testenv.LogBuffer{}
	hub, err := realtime.New(realtime.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	defer hub.Close()
	require.Contains(t, logs.String(), "development mode")
	url := serve(t, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url+"?username=zoe", client.DialOptions{})
	require.NoError(t, err)
	defer c.Close()
	require.True(t, strings.HasPrefix(c.User().ID, "anon_"))
	require.Equal(t, "zoe", c.User().Username)
	_, err = c.Emit(ctx, "create-room", map[string]any{"name": "open"})
	require.NoError(t, err)
}
