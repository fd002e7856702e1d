package realtime

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Limits and defaults of JWT.
const (
	defaultJWTLeeway = 5 * time.Second
	// maxJWTBytes bounds what Authenticate parses when it is called
	// other than by a hub, which refuses tokens over Config.MaxTokenBytes
	// before calling any Authenticator: the one limit to set.
	maxJWTBytes         = 64 << 10
	jwtMaxSubjectBytes  = 256
	jwtMaxUsernameRunes = 64
)

// JWTConfig configures NewJWT. Exactly one of Secret, PublicKey and KeyFunc
// must be set.
type JWTConfig struct {
	// Secret is the HMAC key; with it Methods defaults to ["HS256"]. It must
	// be at least as long as the hash of every method (32 bytes for HS256,
	// RFC 7518 section 3.2). Nil or empty means no secret.
	Secret []byte

	// PublicKey verifies signatures: an *rsa.PublicKey (Methods defaults to
	// ["RS256"]), an *ecdsa.PublicKey (["ES256"], ["ES384"] or ["ES512"] by
	// its curve) or an ed25519.PublicKey (["EdDSA"]). Nil means none.
	PublicKey crypto.PublicKey

	// KeyFunc, for key rotation, returns the verification key for a token's
	// "kid" header ("" when the token has none): []byte for HS*,
	// *rsa.PublicKey for RS* and PS*, *ecdsa.PublicKey for ES*,
	// ed25519.PublicKey for EdDSA. A key that does not fit the token's "alg"
	// refuses the token, as does an error. KeyFunc is called with the
	// Authenticate ctx, before the signature is checked and possibly from
	// many goroutines at once: kid is attacker-controlled, so look it up in
	// a known set, never use it as a URL or path. Nil means Secret or
	// PublicKey is used.
	KeyFunc func(ctx context.Context, kid string) (any, error)

	// Methods are the accepted "alg" values. Nil means the default of
	// Secret or PublicKey; it is required with KeyFunc. Every method must fit
	// the key, HMAC and public-key methods may not be mixed, and "none" is
	// never accepted: this blocks algorithm confusion attacks.
	Methods []string

	// Issuer, when set, must equal the token's "iss". Empty means "iss" is
	// not checked.
	Issuer string

	// Audience, when set, must be one of the token's "aud". Empty means
	// "aud" is not checked.
	Audience string

	// Leeway is the clock skew allowed on "exp", "nbf" and "iat". Zero means
	// 5 seconds; negative means none.
	Leeway time.Duration
}

// JWT is an Authenticator for JSON Web Tokens. The token's "sub" claim is
// the user id, "username" the display name (defaulting to "sub"), "roles"
// the user's roles, and "exp", which is required, the expiry Authenticate
// returns. A JWT is safe for concurrent use.
type JWT struct {
	parser *jwt.Parser
	// fast verifies tokens with Secret without the library's generic
	// parsing; nil without Secret.
	fast     *jwtHMAC
	key      any // Secret or PublicKey; nil with keyFunc
	keyFunc  func(ctx context.Context, kid string) (any, error)
	secret   []byte
	methods  []string
	issuer   string
	audience string
}

var _ Authenticator = (*JWT)(nil)

// NewJWT returns a JWT configured by cfg, or an error naming the field of
// cfg that is invalid.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	j := &JWT{
		keyFunc:  cfg.KeyFunc,
		methods:  slices.Clone(cfg.Methods),
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
	}
	field, sources := "", 0
	if len(cfg.Secret) > 0 {
		j.secret = slices.Clone(cfg.Secret)
		j.key, field = j.secret, "Secret"
		sources++
	}
	if cfg.PublicKey != nil {
		j.key, field = cfg.PublicKey, "PublicKey"
		sources++
	}
	if cfg.KeyFunc != nil {
		sources++
	}
	switch {
	case sources == 0:
		return nil, errors.New("realtime: jwt: one of Secret, PublicKey and KeyFunc is required")
	case sources > 1:
		return nil, errors.New("realtime: jwt: only one of Secret, PublicKey and KeyFunc may be set")
	}

	if len(j.methods) == 0 {
		if j.keyFunc != nil {
			return nil, errors.New("realtime: jwt: Methods is required with KeyFunc")
		}
		j.methods = jwtMethodsFor(j.key)
		if j.methods == nil {
			return nil, fmt.Errorf("realtime: jwt: PublicKey: unsupported key type %T", j.key)
		}
	}
	hmacs := 0
	for _, name := range j.methods {
		if strings.EqualFold(name, "none") {
			return nil, errors.New(`realtime: jwt: Methods: "none" is never accepted`)
		}
		m := jwt.GetSigningMethod(name)
		if m == nil {
			return nil, fmt.Errorf("realtime: jwt: Methods: unknown method %q", name)
		}
		if _, ok := m.(*jwt.SigningMethodHMAC); ok {
			hmacs++
		}
		if j.key == nil {
			continue
		}
		if err := jwtKeyFits(m, j.key); err != nil {
			return nil, fmt.Errorf("realtime: jwt: %s does not fit Methods: %w", field, err)
		}
	}
	if hmacs > 0 && hmacs < len(j.methods) {
		return nil, errors.New("realtime: jwt: Methods: HMAC and public-key methods may not be mixed")
	}

	leeway := cfg.Leeway
	switch {
	case leeway == 0:
		leeway = defaultJWTLeeway
	case leeway < 0:
		leeway = 0
	}

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(j.methods),
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	j.parser = jwt.NewParser(opts...)
	if j.secret != nil {
		j.fast = newJWTHMAC(j.secret, j.methods, jwt.NewValidator(opts...))
	}
	return j, nil
}

// Authenticate verifies token and returns its user and expiry. Every
// refusal is an error that matches ErrUnauthorized; its text says why but
// never contains the token.
func (j *JWT) Authenticate(ctx context.Context, token string) (User, time.Time, error) {
	switch {
	case token == "":
		return User{}, time.Time{}, jwtUnauthorized("missing token")
	case len(token) > maxJWTBytes:
		return User{}, time.Time{}, jwtUnauthorized("token too large")
	}
	if j.fast != nil {
		if u, exp, ok := j.fast.authenticate(token); ok {
			return u, exp, nil
		}
	}
	return j.parse(ctx, token)
}

// parse verifies token with the JWT library.
func (j *JWT) parse(ctx context.Context, token string) (User, time.Time, error) {
	var (
		c      jwtClaims
		keyErr error
	)
	t, err := j.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		key, err := j.verificationKey(ctx, t)
		keyErr = err
		return key, err
	})
	switch {
	case keyErr != nil:
		return User{}, time.Time{}, keyErr
	case err != nil:
		return User{}, time.Time{}, jwtUnauthorized(j.reason(t, &c, err))
	}
	return c.user()
}

// Sign returns a token for u that expires after ttl, signed with Secret and
// the first of Methods (HS256 by default). It sets "sub", "username",
// "roles" (when u has any), "iat", "exp", and "iss" and "aud" when
// configured. It is meant for tests, examples and development token
// endpoints, and fails unless the JWT was configured with Secret.
func (j *JWT) Sign(u User, ttl time.Duration) (string, error) {
	switch {
	case j.secret == nil:
		return "", errors.New("realtime: jwt: Sign needs Secret")
	case u.ID == "":
		return "", errors.New("realtime: jwt: Sign: user has no ID")
	case ttl <= 0:
		return "", errors.New("realtime: jwt: Sign: ttl must be positive")
	}
	now := time.Now()
	c := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   u.ID,
			Issuer:    j.issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Username: u.Username,
		Roles:    u.Roles,
	}
	if j.audience != "" {
		c.Audience = jwt.ClaimStrings{j.audience}
	}
	s, err := jwt.NewWithClaims(jwt.GetSigningMethod(j.methods[0]), c).SignedString(j.secret)
	if err != nil {
		return "", fmt.Errorf("realtime: jwt: Sign: %w", err)
	}
	return s, nil
}

// verificationKey returns the key that verifies t, whose "alg" the parser
// has already checked against Methods.
func (j *JWT) verificationKey(ctx context.Context, t *jwt.Token) (any, error) {
	if j.keyFunc == nil {
		return j.key, nil
	}
	kid, ok := t.Header["kid"].(string)
	if !ok && t.Header["kid"] != nil {
		return nil, jwtUnauthorized("invalid kid header")
	}
	key, err := j.keyFunc(ctx, kid)
	if err != nil {
		return nil, fmt.Errorf("%w: KeyFunc: %w", jwtUnauthorized("unknown signing key"), err)
	}
	// Without this check a KeyFunc that serves keys of several types could
	// verify an HS256 token with bytes meant for another algorithm.
	if err := jwtKeyFits(t.Method, key); err != nil {
		return nil, fmt.Errorf("%w: %v", jwtUnauthorized("unknown signing key"), err)
	}
	return key, nil
}

// reason turns an error of the parser into a short message. The parser's own
// text is not used: it is verbose and a later version might quote input.
func (j *JWT) reason(t *jwt.Token, c *jwtClaims, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case t == nil || t.Method == nil || !slices.Contains(j.methods, t.Method.Alg()):
		return "signing method not accepted"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "invalid signature"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		switch {
		case c.ExpiresAt == nil:
			return "token has no exp"
		case c.Issuer == "" && j.issuer != "":
			return "token has no iss"
		}
		return "token has no aud"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "invalid issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "invalid audience"
	}
	return "invalid token"
}

// jwtClaims are the claims of our tokens. Claims of the wrong JSON type fail
// to decode, so the parser refuses them.
type jwtClaims struct {
	jwt.RegisteredClaims
	Username string   `json:"username,omitempty"`
	Roles    []string `json:"roles,omitempty"`
}

func (c *jwtClaims) user() (User, time.Time, error) {
	switch {
	case c.Subject == "":
		return User{}, time.Time{}, jwtUnauthorized("token has no subject")
	case len(c.Subject) > jwtMaxSubjectBytes:
		return User{}, time.Time{}, jwtUnauthorized("subject too long")
	}
	name := strings.TrimSpace(c.Username)
	if utf8.RuneCountInString(name) > jwtMaxUsernameRunes {
		name = strings.TrimSpace(string([]rune(name)[:jwtMaxUsernameRunes]))
	}
	if name == "" {
		name = c.Subject
	}
	var roles []string
	if len(c.Roles) > 0 {
		roles = c.Roles
	}
	// The parser requires exp, so ExpiresAt is set.
	return User{ID: c.Subject, Username: name, Roles: roles}, c.ExpiresAt.Time, nil
}

// jwtMethodsFor returns the methods for key, or nil for an unsupported key.
func jwtMethodsFor(key any) []string {
	switch k := key.(type) {
	case []byte:
		return []string{"HS256"}
	case *rsa.PublicKey:
		return []string{"RS256"}
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return nil
		}
		switch k.Curve.Params().BitSize {
		case 256:
			return []string{"ES256"}
		case 384:
			return []string{"ES384"}
		case 521:
			return []string{"ES512"}
		}
	case ed25519.PublicKey:
		return []string{"EdDSA"}
	}
	return nil
}

// jwtKeyFits reports why key cannot verify signatures of method m, if it
// cannot. The library checks key types too, but only when verifying; this
// gives a config error and guards keys from KeyFunc.
func jwtKeyFits(m jwt.SigningMethod, key any) error {
	switch m := m.(type) {
	case *jwt.SigningMethodHMAC:
		k, ok := key.([]byte)
		if !ok {
			return fmt.Errorf("%s needs a []byte key, not %T", m.Alg(), key)
		}
		if len(k) < m.Hash.Size() {
			return fmt.Errorf("%s needs a key of at least %d bytes", m.Alg(), m.Hash.Size())
		}
	case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS:
		if k, ok := key.(*rsa.PublicKey); !ok || k == nil {
			return fmt.Errorf("%s needs an *rsa.PublicKey, not %T", m.Alg(), key)
		}
	case *jwt.SigningMethodECDSA:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || k == nil || k.Curve == nil {
			return fmt.Errorf("%s needs an *ecdsa.PublicKey, not %T", m.Alg(), key)
		}
		if k.Curve.Params().BitSize != m.CurveBits {
			return fmt.Errorf("%s needs a P-%d key, not %s", m.Alg(), m.CurveBits, k.Curve.Params().Name)
		}
	case *jwt.SigningMethodEd25519:
		if k, ok := key.(ed25519.PublicKey); !ok || len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("%s needs an ed25519.PublicKey, not %T", m.Alg(), key)
		}
	default:
		return fmt.Errorf("%s is not supported", m.Alg())
	}
	return nil
}

// jwtUnauthorized returns an error that matches ErrUnauthorized with msg.
func jwtUnauthorized(msg string) error {
	return &Error{Code: CodeUnauthorized, Message: msg}
}
