package sip

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Algorithm is a SIP digest algorithm (RFC 8760).
type Algorithm string

// Digest algorithms careline challenges with, strongest first.
const (
	SHA256 Algorithm = "SHA-256"
	MD5    Algorithm = "MD5"
)

func (a Algorithm) newHash() hash.Hash {
	if a == SHA256 {
		return sha256.New()
	}
	return md5.New()
}

func parseAlgorithm(s string) (Algorithm, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "MD5":
		return MD5, true
	case "SHA-256":
		return SHA256, true
	}
	return "", false
}

// HA1 returns H(user:realm:password) for alg, the only form in which careline
// keeps a password. HA1 is password-equivalent for its realm: protect it.
func HA1(alg Algorithm, user, realm, password string) []byte {
	h := alg.newHash()
	h.Write([]byte(user + ":" + realm + ":" + password))
	return h.Sum(nil)
}

// Credentials looks up a user's HA1 for a realm and algorithm. Passwords are
// never handed to the sip package in clear once a Credentials exists.
type Credentials interface {
	LookupHA1(ctx context.Context, user, realm string, alg Algorithm) ([]byte, bool)
}

// CredentialEntry configures one user of StaticCredentials: either Password
// (converted to both HA1s at construction and not kept) or precomputed
// hex HA1 values.
type CredentialEntry struct {
	User      string
	Password  string
	HA1MD5    string // hex MD5(user:realm:password)
	HA1SHA256 string // hex SHA-256(user:realm:password)
}

// StaticCredentials is an in-memory Credentials built from configuration.
type StaticCredentials struct {
	realm string
	m     map[string]map[Algorithm][]byte
}

// NewStaticCredentials builds a StaticCredentials for realm.
func NewStaticCredentials(realm string, entries ...CredentialEntry) (*StaticCredentials, error) {
	s := &StaticCredentials{realm: realm, m: make(map[string]map[Algorithm][]byte, len(entries))}
	for _, e := range entries {
		if e.User == "" {
			return nil, errors.New("sip: credential entry without user")
		}
		if _, dup := s.m[e.User]; dup {
			return nil, fmt.Errorf("sip: duplicate credential entry for a user")
		}
		ha := make(map[Algorithm][]byte, 2)
		if e.Password != "" {
			ha[MD5] = HA1(MD5, e.User, realm, e.Password)
			ha[SHA256] = HA1(SHA256, e.User, realm, e.Password)
		}
		for alg, hx := range map[Algorithm]string{MD5: e.HA1MD5, SHA256: e.HA1SHA256} {
			if hx == "" {
				continue
			}
			b, err := hex.DecodeString(hx)
			if err != nil || len(b) != alg.newHash().Size() {
				return nil, fmt.Errorf("sip: bad %s HA1 for a credential entry", alg)
			}
			ha[alg] = b
		}
		if len(ha) == 0 {
			return nil, errors.New("sip: credential entry without password or HA1")
		}
		s.m[e.User] = ha
	}
	return s, nil
}

// LookupHA1 implements Credentials.
func (s *StaticCredentials) LookupHA1(_ context.Context, user, realm string, alg Algorithm) ([]byte, bool) {
	if realm != s.realm {
		return nil, false
	}
	ha, ok := s.m[user][alg]
	return ha, ok
}

// AuthResult is the outcome of verifying an Authorization header.
type AuthResult int

// Verification outcomes.
const (
	AuthOK      AuthResult = iota
	AuthMissing            // no usable digest credentials for our realm
	AuthStale              // correct digest over an expired (or replayed) nonce
	AuthInvalid            // wrong digest, unknown user, tampered nonce, bad parameters
)

func (r AuthResult) String() string {
	switch r {
	case AuthOK:
		return "ok"
	case AuthMissing:
		return "missing"
	case AuthStale:
		return "stale"
	default:
		return "invalid"
	}
}

// Authenticator issues digest challenges and verifies responses (RFC 3261
// §22, RFC 8760). Nonces are stateless: base64url(timestamp ‖
// HMAC-SHA256(secret, timestamp ‖ realm)[:16]); any node sharing the secret
// verifies them, and they expire after the nonce TTL (then the challenge
// says stale=true). qop=auth is required; nc values are tracked per nonce in
// memory so a captured request cannot be replayed within the TTL. Unknown
// users go through the same digest computation and constant-time compare as
// known users, against a random HA1, and get the same answer.
type Authenticator struct {
	realm   string
	secret  []byte
	ttl     time.Duration
	now     func() time.Time
	algs    []Algorithm
	creds   Credentials
	dummy   map[Algorithm][]byte
	ctEqual func(a, b []byte) bool // constant-time; replaceable in tests only
	nc      *ncTracker
}

// AuthOption configures an Authenticator.
type AuthOption func(*Authenticator)

// WithNonceTTL sets how long a nonce stays fresh (default 60 s).
func WithNonceTTL(d time.Duration) AuthOption {
	return func(a *Authenticator) {
		if d > 0 {
			a.ttl = d
		}
	}
}

// WithAlgorithms sets the challenge algorithms, most preferred first
// (default SHA-256, MD5).
func WithAlgorithms(algs ...Algorithm) AuthOption {
	return func(a *Authenticator) {
		if len(algs) > 0 {
			a.algs = append([]Algorithm(nil), algs...)
		}
	}
}

// WithAuthClock injects the clock used for nonce timestamps.
func WithAuthClock(now func() time.Time) AuthOption {
	return func(a *Authenticator) {
		if now != nil {
			a.now = now
		}
	}
}

// NewAuthenticator returns an Authenticator for realm. An empty secret gets
// a random one (nonces then only verify on this process).
func NewAuthenticator(realm string, secret []byte, creds Credentials, opts ...AuthOption) *Authenticator {
	a := &Authenticator{
		realm:   realm,
		secret:  append([]byte(nil), secret...),
		ttl:     60 * time.Second,
		now:     time.Now,
		algs:    []Algorithm{SHA256, MD5},
		creds:   creds,
		ctEqual: func(x, y []byte) bool { return subtle.ConstantTimeCompare(x, y) == 1 },
	}
	for _, o := range opts {
		o(a)
	}
	if len(a.secret) == 0 {
		a.secret = make([]byte, 32)
		_, _ = rand.Read(a.secret)
	}
	a.dummy = make(map[Algorithm][]byte, 2)
	for _, alg := range []Algorithm{MD5, SHA256} {
		b := make([]byte, alg.newHash().Size())
		_, _ = rand.Read(b)
		a.dummy[alg] = b
	}
	a.nc = newNCTracker(a.ttl)
	return a
}

// Realm returns the digest realm.
func (a *Authenticator) Realm() string { return a.realm }

// NewNonce returns a fresh stateless nonce.
func (a *Authenticator) NewNonce() string {
	return a.nonceAt(a.now())
}

func (a *Authenticator) nonceAt(t time.Time) string {
	var buf [8 + 16]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(t.UnixNano()))
	copy(buf[8:], a.mac(buf[:8]))
	return base64.RawURLEncoding.EncodeToString(buf[:])
}

func (a *Authenticator) mac(ts []byte) []byte {
	m := hmac.New(sha256.New, a.secret)
	m.Write(ts)
	m.Write([]byte("|" + a.realm))
	return m.Sum(nil)[:16]
}

// checkNonce reports whether nonce was issued with our secret for our realm
// (valid) and, if so, whether it has expired (stale).
func (a *Authenticator) checkNonce(nonce string) (valid, stale bool) {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 24 {
		return false, false
	}
	if !hmac.Equal(raw[8:], a.mac(raw[:8])) {
		return false, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8])))
	age := a.now().Sub(issued)
	if age < -5*time.Second {
		return false, false
	}
	return true, age > a.ttl
}

// Challenges returns one WWW-Authenticate (or Proxy-Authenticate) value per
// algorithm, most preferred first, all sharing one fresh nonce.
func (a *Authenticator) Challenges(stale bool) []string {
	return a.ChallengesFor(stale, a.algs)
}

// ChallengesFor is Challenges restricted to algs (each must be offered).
func (a *Authenticator) ChallengesFor(stale bool, algs []Algorithm) []string {
	nonce := a.NewNonce()
	out := make([]string, 0, len(algs))
	for _, alg := range algs {
		if !a.offers(alg) {
			continue
		}
		c := digest.Challenge{Realm: a.realm, Nonce: nonce, Algorithm: string(alg), QOP: []string{"auth"}, Stale: stale}
		out = append(out, c.String())
	}
	return out
}

// Verify checks an Authorization header value for method and the request's
// Request-URI. It returns the authenticated user on AuthOK.
func (a *Authenticator) Verify(ctx context.Context, method string, ruri sipmsg.Uri, authz string) (string, AuthResult) {
	if strings.TrimSpace(authz) == "" || !digest.IsDigest(authz) {
		return "", AuthMissing
	}
	cr, err := digest.ParseCredentials(authz)
	if err != nil {
		return "", AuthMissing
	}
	if cr.Realm != a.realm {
		return "", AuthMissing
	}
	alg, ok := parseAlgorithm(cr.Algorithm)
	if !ok || !a.offers(alg) || cr.Userhash {
		return "", AuthInvalid
	}
	if cr.QOP != "auth" || cr.Nc <= 0 || cr.Cnonce == "" || cr.Username == "" || cr.Response == "" {
		return "", AuthInvalid
	}
	valid, stale := a.checkNonce(cr.Nonce)
	if !valid {
		return "", AuthInvalid
	}
	if !uriMatches(cr.URI, ruri) {
		return "", AuthInvalid
	}
	ha1, known := a.lookup(ctx, cr.Username, alg)
	want, err := computeResponse(alg, ha1, method, cr)
	if err != nil {
		return "", AuthInvalid
	}
	match := a.ctEqual([]byte(want), []byte(strings.ToLower(cr.Response)))
	if !known || !match {
		return "", AuthInvalid
	}
	if stale || !a.nc.accept(cr.Nonce, cr.Nc, a.now()) {
		return "", AuthStale
	}
	return cr.Username, AuthOK
}

// computeResponse is the digest response (RFC 2617/7616, qop=auth) the
// client should have sent, from the stored HA1.
func computeResponse(alg Algorithm, ha1 []byte, method string, cr *digest.Credentials) (string, error) {
	d, err := digest.Digest(&digest.Challenge{
		Realm: cr.Realm, Nonce: cr.Nonce, Algorithm: string(alg), QOP: []string{"auth"}, Opaque: cr.Opaque,
	}, digest.Options{
		Method: method, URI: cr.URI, Username: cr.Username, A1: hex.EncodeToString(ha1),
		Cnonce: cr.Cnonce, Count: cr.Nc,
	})
	if err != nil {
		return "", err
	}
	return d.Response, nil
}

func (a *Authenticator) offers(alg Algorithm) bool {
	for _, x := range a.algs {
		if x == alg {
			return true
		}
	}
	return false
}

func (a *Authenticator) lookup(ctx context.Context, user string, alg Algorithm) ([]byte, bool) {
	if a.creds != nil {
		if ha, ok := a.creds.LookupHA1(ctx, user, a.realm, alg); ok && len(ha) == alg.newHash().Size() {
			return ha, true
		}
	}
	return a.dummy[alg], false
}

// uriMatches compares the digest-uri with the Request-URI by user and host,
// so credentials computed for one target are not accepted for another.
func uriMatches(digestURI string, ruri sipmsg.Uri) bool {
	var u sipmsg.Uri
	if err := sipmsg.ParseUri(digestURI, &u); err != nil {
		return false
	}
	return u.User == ruri.User && strings.EqualFold(u.Host, ruri.Host)
}

// ncTracker remembers the highest nc seen per nonce until the nonce expires.
type ncTracker struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]ncEntry
}

type ncEntry struct {
	nc  int
	exp time.Time
}

const maxTrackedNonces = 100000

func newNCTracker(ttl time.Duration) *ncTracker {
	return &ncTracker{ttl: ttl, m: make(map[string]ncEntry)}
}

// accept records nc for nonce and reports whether it is newer than any seen.
func (t *ncTracker) accept(nonce string, nc int, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.m[nonce]; ok && now.Before(e.exp) && nc <= e.nc {
		return false
	}
	if len(t.m) >= maxTrackedNonces {
		for k, e := range t.m {
			if !now.Before(e.exp) {
				delete(t.m, k)
			}
		}
		if len(t.m) >= maxTrackedNonces {
			clear(t.m)
		}
	}
	t.m[nonce] = ncEntry{nc: nc, exp: now.Add(t.ttl + 5*time.Second)}
	return true
}
