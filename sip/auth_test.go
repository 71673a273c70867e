package sip

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

func TestDigestVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, realm, password, nonce, cnonce, want string
		alg                                        Algorithm
	}{
		// RFC 7616 §3.9.1 (MD5 and SHA-256 responses for the same request).
		{"rfc7616-md5", "http-auth@example.org", "Circle of Life", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
			"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "8ca523f5e9506fed4657c9700eebdbec", MD5},
		{"rfc7616-sha256", "http-auth@example.org", "Circle of Life", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
			"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", SHA256},
		// RFC 2617 §3.5.
		{"rfc2617", "testrealm@host.com", "Circle Of Life", "dcd98b7102dd2f0e8b11d0f600bfb0c093",
			"0a4f113b", "6629fae49393a05397450978507c4ef1", MD5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ha1 := HA1(tc.alg, "Mufasa", tc.realm, tc.password)
			got, err := computeResponse(tc.alg, ha1, "GET", &digest.Credentials{
				Username: "Mufasa", Realm: tc.realm, Nonce: tc.nonce, URI: "/dir/index.html",
				Cnonce: tc.cnonce, Nc: 1, QOP: "auth",
			})
			if err != nil || got != tc.want {
				t.Fatalf("got %s %v, want %s", got, err, tc.want)
			}
		})
	}
}

func TestStaticCredentialsHA1Forms(t *testing.T) {
	t.Parallel()
	md5hex := hex.EncodeToString(HA1(MD5, "bob", "r", "pw"))
	c, err := NewStaticCredentials("r", CredentialEntry{User: "alice", Password: "pw"}, CredentialEntry{User: "bob", HA1MD5: md5hex})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if ha, ok := c.LookupHA1(ctx, "alice", "r", SHA256); !ok || hex.EncodeToString(ha) != hex.EncodeToString(HA1(SHA256, "alice", "r", "pw")) {
		t.Fatal("alice sha-256")
	}
	if _, ok := c.LookupHA1(ctx, "bob", "r", SHA256); ok {
		t.Fatal("bob has no sha-256 HA1")
	}
	if _, ok := c.LookupHA1(ctx, "alice", "other", MD5); ok {
		t.Fatal("wrong realm must miss")
	}
	for _, bad := range []CredentialEntry{{User: ""}, {User: "x"}, {User: "x", HA1MD5: "zz"}, {User: "x", HA1SHA256: md5hex}} {
		if _, err := NewStaticCredentials("r", bad); err == nil {
			t.Errorf("entry %+v accepted", bad)
		}
	}
}

// clientAuth answers challenge (one WWW-Authenticate value) like a phone.
func clientAuth(t testing.TB, challenge, method, uri, user, pass string, nc int) string {
	t.Helper()
	ch, err := digest.ParseChallenge(challenge)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := digest.Digest(ch, digest.Options{Method: method, URI: uri, Username: user, Password: pass, Count: nc})
	if err != nil {
		t.Fatal(err)
	}
	return cr.String()
}

type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.t.Add(int64(d)) }

func newTestAuth(t testing.TB) (*Authenticator, *fakeClock) {
	clk := &fakeClock{}
	clk.t.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	creds, err := NewStaticCredentials("careline.test", CredentialEntry{User: "agent7", Password: "right"})
	if err != nil {
		t.Fatal(err)
	}
	return NewAuthenticator("careline.test", []byte("k"), creds, WithAuthClock(clk.now)), clk
}

var testRURI = sipmsg.Uri{Scheme: "sip", Host: "careline.test"}

func TestVerifyOutcomes(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t)
	ctx := context.Background()
	chals := a.Challenges(false)
	if len(chals) != 2 || !strings.Contains(chals[0], "algorithm=SHA-256") || !strings.Contains(chals[1], "algorithm=MD5") ||
		!strings.Contains(chals[0], `qop="auth"`) {
		t.Fatalf("challenges %q", chals)
	}
	nc := 0
	for _, ch := range chals {
		for _, tc := range []struct {
			user, pass, uri string
			want            AuthResult
		}{
			{"agent7", "right", "sip:careline.test", AuthOK},
			{"agent7", "wrong", "sip:careline.test", AuthInvalid},
			{"nobody", "right", "sip:careline.test", AuthInvalid},
			{"agent7", "right", "sip:other.test", AuthInvalid}, // credentials for another target
		} {
			nc++ // both challenges share one nonce
			authz := clientAuth(t, ch, "REGISTER", tc.uri, tc.user, tc.pass, nc)
			if user, got := a.Verify(ctx, "REGISTER", testRURI, authz); got != tc.want || (got == AuthOK && user != "agent7") {
				t.Errorf("%s %s/%s: got %v", ch[:30], tc.user, tc.pass, got)
			}
		}
	}
	for _, authz := range []string{"", "Basic YWdlbnQ3OnJpZ2h0", "NoOneKnowsThisScheme opaque-data=here",
		`Digest username="agent7", realm="elsewhere", nonce="x", uri="sip:careline.test", response="00"`} {
		if _, got := a.Verify(ctx, "REGISTER", testRURI, authz); got != AuthMissing {
			t.Errorf("%q: got %v, want missing", authz, got)
		}
	}
}

func TestNonceReplayAndExpiry(t *testing.T) {
	t.Parallel()
	a, clk := newTestAuth(t)
	ctx := context.Background()
	ch := a.Challenges(false)[0]
	authz := clientAuth(t, ch, "REGISTER", "sip:careline.test", "agent7", "right", 1)
	if _, r := a.Verify(ctx, "REGISTER", testRURI, authz); r != AuthOK {
		t.Fatalf("first use: %v", r)
	}
	if _, r := a.Verify(ctx, "REGISTER", testRURI, authz); r != AuthStale {
		t.Fatalf("replayed nc: %v, want stale", r)
	}
	if _, r := a.Verify(ctx, "REGISTER", testRURI, clientAuth(t, ch, "REGISTER", "sip:careline.test", "agent7", "right", 2)); r != AuthOK {
		t.Fatalf("nc=2: %v", r)
	}
	clk.advance(61 * time.Second)
	if _, r := a.Verify(ctx, "REGISTER", testRURI, clientAuth(t, ch, "REGISTER", "sip:careline.test", "agent7", "right", 3)); r != AuthStale {
		t.Fatalf("expired nonce: %v, want stale", r)
	}
	if _, r := a.Verify(ctx, "REGISTER", testRURI, clientAuth(t, ch, "REGISTER", "sip:careline.test", "agent7", "wrong", 4)); r != AuthInvalid {
		t.Fatalf("expired nonce, wrong password: %v, want invalid", r)
	}
	if st := a.Challenges(true); !strings.Contains(st[0], "stale=true") {
		t.Fatalf("stale challenge %q", st[0])
	}
}

func TestTamperedNonceRejected(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t)
	other := NewAuthenticator("careline.test", []byte("other secret"), a.creds)
	ctx := context.Background()
	ch := a.Challenges(false)[1]
	parsed, _ := digest.ParseChallenge(ch)
	nonce := []byte(parsed.Nonce)
	nonce[3] ^= 0x01
	if nonce[3] == '-' || nonce[3] == '_' {
		nonce[3] = 'A'
	}
	forged := strings.Replace(ch, parsed.Nonce, string(nonce), 1)
	for name, c := range map[string]string{"flipped": forged, "foreign": other.Challenges(false)[1]} {
		authz := clientAuth(t, c, "REGISTER", "sip:careline.test", "agent7", "right", 1)
		if _, r := a.Verify(ctx, "REGISTER", testRURI, authz); r != AuthInvalid {
			t.Errorf("%s nonce: %v, want invalid", name, r)
		}
	}
}

func TestConstantTimeCompareUsed(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t)
	var calls atomic.Int32
	a.ctEqual = func(x, y []byte) bool {
		calls.Add(1)
		return subtle.ConstantTimeCompare(x, y) == 1
	}
	ctx := context.Background()
	ch := a.Challenges(false)[0]
	for i, user := range []string{"agent7", "nobody"} {
		a.Verify(ctx, "REGISTER", testRURI, clientAuth(t, ch, "REGISTER", "sip:careline.test", user, "guess", i+1))
		if got := calls.Load(); got != int32(i+1) {
			t.Fatalf("after %s: %d constant-time compares, want %d (unknown users must be compared too)", user, got, i+1)
		}
	}
}

func TestSanitizeHeaderValueBlocksInjection(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Ana\r\nX-Injected: 1":       "AnaX-Injected: 1",
		"a\x00b\x7fc\td":             "abc d",
		"  plain  ":                  "plain",
		"Jos\xe9":                    "Jos",
		"line\u2028sep":              "linesep",
		strings.Repeat("é", 300):     strings.Repeat("é", 128),
		"\"quoted\" \\ back":         "\"quoted\" \\ back",
		"+1 (505) 555-0143":          "+1 (505) 555-0143",
		"caller\rid\n":               "callerid",
		"tab\tseparated\tvalues\r\n": "tab separated values",
	} {
		if got := SanitizeHeaderValue(in); got != want {
			t.Errorf("SanitizeHeaderValue(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SanitizeDisplayName(`"Evil" <sip:x>\`); strings.ContainsAny(got, `"\`) {
		t.Errorf("display name %q", got)
	}
	if got := SanitizeURIUser("+1 505@evil>;x=\r\n"); got != "+1%20505%40evil%3E;x=" {
		t.Errorf("uri user %q", got)
	}
}

// A display name with CR/LF, written by sipgo into a From header, must not
// produce a new header line once sanitized.
func TestDisplayNameCannotInjectHeader(t *testing.T) {
	t.Parallel()
	req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1"})
	from := &sipmsg.FromHeader{DisplayName: SanitizeDisplayName("Ana\r\nX-Injected: 1"),
		Address: sipmsg.Uri{Scheme: "sip", User: SanitizeURIUser("+1505\r\nX-Injected: 2"), Host: "h"}}
	req.AppendHeader(from)
	req.AppendHeader(sipmsg.NewHeader("Via", "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx"))
	req.AppendHeader(sipmsg.NewHeader("To", "<sip:bob@127.0.0.1>"))
	req.AppendHeader(sipmsg.NewHeader("Call-ID", "c"))
	req.AppendHeader(sipmsg.NewHeader("CSeq", "1 INVITE"))
	req.SetBody(nil)
	m, err := sipmsg.ParseMessage([]byte(req.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.(*sipmsg.Request).GetHeaders("X-Injected")) != 0 {
		t.Fatalf("injected header parsed from:\n%s", req.String())
	}
	// Unsanitized, sipgo would have written the header line: the guard is ours.
	raw := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Scheme: "sip", User: "bob", Host: "h"})
	raw.AppendHeader(&sipmsg.FromHeader{DisplayName: "Ana\r\nX-Injected: 1", Address: sipmsg.Uri{Scheme: "sip", Host: "h"}})
	if !strings.Contains(raw.String(), "\r\nX-Injected: 1") {
		t.Fatal("sipgo now escapes display names; SanitizeDisplayName may be simplified")
	}
}
