package realtime

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/realtime-go/realtime/internal/wire"
)

// jwtHMAC verifies the tokens of a JWT configured with Secret without the
// JWT library's generic parsing (a header decoded into a map, the claims
// through reflection, a new HMAC for each token), which a hub pays for
// every connection. It accepts a token only when the library would, with
// the same user and expiry; whatever it does not read itself (a claim of
// an unexpected type, a null, a key that matches a claim's name only
// case-insensitively, a fraction, an escape in a key) and every refusal go
// to the library, which also says why. FuzzJWTHMAC compares the two.
type jwtHMAC struct {
	methods   []string // HS256, HS384, HS512: Methods of the JWT
	hashes    []func() hash.Hash
	secret    []byte
	validator *jwt.Validator // the library's checks of exp, nbf, iat, iss and aud
	scratch   sync.Pool      // of *jwtScratch
}

// maxFastJWTBytes bounds the tokens jwtHMAC reads; longer ones, rare, go
// to the library.
const maxFastJWTBytes = 2048

// jwtScratch is what reading one token needs: its bytes, a segment
// decoded, a MAC of each method and its sum.
type jwtScratch struct {
	in, dec []byte
	macs    []hash.Hash
	sum     [64]byte
}

// newJWTHMAC returns the fast path of a JWT whose methods are all HMAC
// methods with key secret, or nil if one is not.
func newJWTHMAC(secret []byte, methods []string, validator *jwt.Validator) *jwtHMAC {
	f := &jwtHMAC{methods: methods, secret: secret, validator: validator}
	for _, name := range methods {
		m, ok := jwt.GetSigningMethod(name).(*jwt.SigningMethodHMAC)
		if !ok || !m.Hash.Available() {
			return nil
		}
		f.hashes = append(f.hashes, m.Hash.New)
	}
	f.scratch.New = func() any {
		return &jwtScratch{
			in:   make([]byte, 0, maxFastJWTBytes),
			dec:  make([]byte, maxFastJWTBytes),
			macs: make([]hash.Hash, len(methods)),
		}
	}
	return f
}

// authenticate returns the user and expiry of token, or ok false when the
// library must decide.
func (f *jwtHMAC) authenticate(token string) (u User, exp time.Time, ok bool) {
	if len(token) > maxFastJWTBytes {
		return User{}, time.Time{}, false
	}
	head, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sig, '.') >= 0 {
		return User{}, time.Time{}, false
	}
	s := f.scratch.Get().(*jwtScratch)
	defer f.scratch.Put(s)
	in := append(s.in[:0], token...)
	signed := in[:len(head)+1+len(payload)]
	enc := base64.RawURLEncoding

	// The header: its "alg" must be one of the methods.
	n, err := enc.Decode(s.dec, in[:len(head)])
	if err != nil {
		return User{}, time.Time{}, false
	}
	method := f.method(s.dec[:n])
	if method < 0 {
		return User{}, time.Time{}, false
	}

	// The signature, over the first two segments as they are.
	if n, err = enc.Decode(s.dec, in[len(signed)+1:]); err != nil {
		return User{}, time.Time{}, false
	}
	mac := s.macs[method]
	if mac == nil {
		mac = hmac.New(f.hashes[method], f.secret)
		s.macs[method] = mac
	}
	mac.Reset()
	mac.Write(signed)
	if !hmac.Equal(s.dec[:n], mac.Sum(s.sum[:0])) {
		return User{}, time.Time{}, false
	}

	// The claims, checked as the library checks them.
	if n, err = enc.Decode(s.dec, in[len(head)+1:len(signed)]); err != nil {
		return User{}, time.Time{}, false
	}
	var c jwtClaims
	if !c.decodePlain(s.dec[:n]) || f.validator.Validate(&c) != nil {
		return User{}, time.Time{}, false
	}
	u, exp, err = c.user()
	return u, exp, err == nil
}

// method returns the index in f.methods of the "alg" of header, read as
// encoding/json would read it into a map (the last "alg" wins), or -1.
func (f *jwtHMAC) method(header []byte) int {
	var alg []byte
	p := wire.NewPlain(header)
	for key, val, ok := p.Next(); ok; key, val, ok = p.Next() {
		if string(key) == "alg" {
			alg = val
		}
	}
	if p.Bad() || len(alg) < 2 || alg[0] != '"' {
		return -1
	}
	for i, m := range f.methods {
		if string(alg[1:len(alg)-1]) == m {
			return i
		}
	}
	return -1
}

// jwtClaimNames are the JSON names of jwtClaims, which encoding/json also
// matches case-insensitively.
var jwtClaimNames = [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "username", "roles"}

// decodePlain decodes claims b into c and reports whether it read them as
// encoding/json would; if not, c is to be dropped.
func (c *jwtClaims) decodePlain(b []byte) bool {
	p := wire.NewPlainEscapes(b)
	for key, val, ok := p.Next(); ok; key, val, ok = p.Next() {
		switch name := string(key); name {
		case "iss", "sub", "jti", "username":
			if val[0] != '"' {
				return false
			}
			s := wire.Unquote(val)
			switch name {
			case "iss":
				c.Issuer = s
			case "sub":
				c.Subject = s
			case "jti":
				c.ID = s
			default:
				c.Username = s
			}
		case "exp", "nbf", "iat":
			// Whole seconds that a float64 holds exactly, which the
			// library reads as a float64.
			if val[0] < '0' || val[0] > '9' || len(val) > 15 {
				return false
			}
			var secs int64
			for _, d := range val {
				secs = secs*10 + int64(d-'0')
			}
			t := jwt.NewNumericDate(time.Unix(secs, 0))
			switch name {
			case "exp":
				c.ExpiresAt = t
			case "nbf":
				c.NotBefore = t
			default:
				c.IssuedAt = t
			}
		case "aud":
			if val[0] == 'n' || c.Audience.UnmarshalJSON(val) != nil {
				return false
			}
		case "roles":
			if val[0] != '[' || json.Unmarshal(val, &c.Roles) != nil {
				return false
			}
		default:
			for _, known := range jwtClaimNames {
				if strings.EqualFold(name, known) {
					return false
				}
			}
		}
	}
	return !p.Bad()
}
