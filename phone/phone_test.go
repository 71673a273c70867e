package phone

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/careline/careline/media"
	"github.com/careline/careline/media/dsp"
	"github.com/careline/careline/sip"
)

const testPassword = "pw-1001-secret"

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// startServer runs careline's own SIP layer as the registrar / far end, with user 1001.
func startServer(t *testing.T, h sip.Handler) *sip.Server {
	t.Helper()
	return startServerConfig(t, sip.Config{UDP: []string{"127.0.0.1:0"}, Realm: "careline"}, h)
}

func startServerConfig(t *testing.T, cfg sip.Config, h sip.Handler) *sip.Server {
	t.Helper()
	creds, err := sip.NewStaticCredentials("careline", sip.CredentialEntry{User: "1001", Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	opts := []sip.Option{sip.WithCredentials(creds)}
	if h != nil {
		opts = append(opts, sip.WithHandler(h))
	}
	srv, err := sip.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-srv.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("sip server not ready")
	}
	return srv
}

func newPhone(t *testing.T, cfg Config, opts ...Option) *Phone {
	t.Helper()
	p, err := New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func serverAddr(srv *sip.Server) string {
	ap, _ := srv.Addr("udp")
	return ap.String()
}

func TestRegisterWithCarelineRegistrar(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	ctx := ctxT(t, 20*time.Second)
	tests := []struct {
		name     string
		password string
		wantCode int
	}{
		{"right password", testPassword, 200},
		{"wrong password", "not-the-password", 401},
		{"no password", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPhone(t, Config{User: "1001", Password: tc.password, Registrar: serverAddr(srv)})
			err := p.Register(ctx)
			bs, _ := srv.Bindings(ctx, "1001")
			if tc.wantCode == 200 {
				if err != nil {
					t.Fatalf("Register: %v", err)
				}
				if !p.Registered() {
					t.Fatal("Registered() is false after a 200")
				}
				if len(bs) != 1 || bs[0].Source != p.Addr().String() {
					t.Fatalf("binding %+v, want one whose source is the phone's listening address %s", bs, p.Addr())
				}
				if err := p.Unregister(ctx); err != nil {
					t.Fatalf("Unregister: %v", err)
				}
				if bs, _ := srv.Bindings(ctx, "1001"); len(bs) != 0 {
					t.Fatalf("binding left after Unregister: %+v", bs)
				}
				return
			}
			var se *StatusError
			if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &se) || se.Code != tc.wantCode {
				t.Fatalf("Register error %v, want a %d matching ErrUnauthorized", err, tc.wantCode)
			}
			if len(bs) != 0 {
				t.Fatalf("a refused REGISTER created a binding: %+v", bs)
			}
		})
	}
}

// The registration is refreshed at half the granted expiry (same Call-ID, higher CSeq).
func TestRegistrationRefresh(t *testing.T) {
	t.Parallel()
	srv := startServerConfig(t, sip.Config{UDP: []string{"127.0.0.1:0"}, Realm: "careline",
		MinExpires: time.Second, DefaultExpires: 2 * time.Second}, nil)
	ctx := ctxT(t, 20*time.Second)
	p := newPhone(t, Config{User: "1001", Password: testPassword, Registrar: serverAddr(srv)}, WithExpires(2*time.Second))
	if err := p.Register(ctx); err != nil {
		t.Fatal(err)
	}
	first, _ := srv.Bindings(ctx, "1001")
	if len(first) != 1 {
		t.Fatalf("bindings %+v", first)
	}
	tk := time.NewTicker(50 * time.Millisecond)
	defer tk.Stop()
	for {
		bs, _ := srv.Bindings(ctx, "1001")
		if len(bs) == 1 && bs[0].CSeq > first[0].CSeq {
			if bs[0].CallID != first[0].CallID {
				t.Fatalf("refresh changed the Call-ID: %q then %q", first[0].CallID, bs[0].CallID)
			}
			break
		}
		select {
		case <-tk.C:
		case <-ctx.Done():
			t.Fatalf("no refresh: bindings %+v", bs)
		}
	}
	if !p.Registered() {
		t.Fatal("not registered after a refresh")
	}
}

// careline's Dial to a registered user reaches the phone through its binding (the
// REGISTER's source address); the phone auto-answers and notices careline's BYE.
func TestServerDialsRegisteredPhone(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	ctx := ctxT(t, 20*time.Second)
	p := newPhone(t, Config{User: "1001", Password: testPassword, Registrar: serverAddr(srv)}, WithAutoAnswer(true))
	if err := p.Register(ctx); err != nil {
		t.Fatal(err)
	}
	offer, err := media.Offer(media.SDPConfig{Addr: netip.MustParseAddr("127.0.0.1"), Port: 9, Codecs: []media.Codec{media.PCMU}, DTMF: true})
	if err != nil {
		t.Fatal(err)
	}
	leg, err := srv.Dial(ctx, sip.DialOptions{User: "1001", SDP: offer, RingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Dial registered phone: %v", err)
	}
	var c *Call
	select {
	case c = <-p.Incoming():
	case <-ctx.Done():
		t.Fatal("no incoming call")
	}
	if c.Direction() != Inbound || c.Codec() != media.PCMU {
		t.Fatalf("call %v codec %v", c, c.Codec())
	}
	if err := leg.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("phone did not notice the BYE")
	}
	if r := c.EndReason(); r.Cause != EndRemoteHangup {
		t.Fatalf("end reason %v, want remote hangup", r)
	}
}

// A far end that challenges INVITEs (careline treats an unknown source as a user and
// asks for digest) gets our credentials.
func TestCallAnswersDigestChallenge(t *testing.T) {
	t.Parallel()
	sources := make(chan sip.Source, 1)
	srv := startServer(t, sip.HandlerFunc(func(ctx context.Context, leg *sip.Leg) {
		sources <- leg.Source()
		ans, _, err := media.Answer(leg.Offer(), media.SDPConfig{Addr: netip.MustParseAddr("127.0.0.1"), Port: 9,
			Codecs: []media.Codec{media.PCMU, media.PCMA}, DTMF: true})
		if err != nil {
			_ = leg.Reject(488, "Not Acceptable Here")
			return
		}
		if err := leg.Answer(ctx, ans); err != nil {
			return
		}
		<-ctx.Done()
	}))
	ctx := ctxT(t, 20*time.Second)
	p := newPhone(t, Config{User: "1001", Password: testPassword, Registrar: serverAddr(srv)})
	c, err := p.Call(ctx, "9999")
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	src := <-sources
	if src.Kind != sip.SourceUser || src.User != "1001" {
		t.Fatalf("server saw source %+v, want the authenticated user 1001", src)
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if r := c.EndReason(); r.Cause != EndLocalHangup {
		t.Fatalf("end reason %v", r)
	}

	bad := newPhone(t, Config{User: "1001", Password: "wrong", Registrar: serverAddr(srv)})
	_, err = bad.Call(ctx, "9999")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 403 {
		t.Fatalf("call with a wrong password: %v, want 403", err)
	}
}

func waitRecorded(t *testing.T, ctx context.Context, c *Call, d time.Duration) {
	t.Helper()
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for c.Recorded() < d {
		select {
		case <-tk.C:
		case <-ctx.Done():
			t.Fatalf("%v recorded only %v, want %v", c, c.Recorded(), d)
		}
	}
}

func waitEvent(t *testing.T, ctx context.Context, c *Call, want EventType) {
	t.Helper()
	for {
		select {
		case ev := <-c.Events():
			if ev.Type == want {
				return
			}
		case <-ctx.Done():
			t.Fatalf("%v: no %v event", c, want)
		}
	}
}

func readDigits(t *testing.T, ctx context.Context, c *Call, n int) string {
	t.Helper()
	var got []rune
	for len(got) < n {
		select {
		case ev := <-c.DTMF():
			got = append(got, ev.Digit)
		case <-ctx.Done():
			t.Fatalf("%v: got %d of %d digits", c, len(got), n)
		}
	}
	return string(got)
}

// dominant returns the dominant frequency of the loudest 300 ms of a WAV file.
func dominant(t *testing.T, path string) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, err := media.DecodeWAV(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	const n = 2400
	if len(pcm) < n {
		t.Fatalf("%s holds %d samples", path, len(pcm))
	}
	best, at := -1.0, 0
	for i := 0; i+n <= len(pcm); i += 400 {
		if r := dsp.RMS(pcm[i : i+n]); r > best {
			best, at = r, i
		}
	}
	return dsp.DominantFrequency(pcm[at:at+n], media.SampleRate)
}

// Two phones on loopback: one auto-answers, the other calls its address; each plays its
// own tone and records, DTMF goes both ways, hold/resume, BYE.
func TestPhoneToPhone(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 30*time.Second)
	dir := t.TempDir()
	alice := newPhone(t, Config{User: "alice"}, WithAutoAnswer(true))
	bob := newPhone(t, Config{User: "bob"})

	cb, err := bob.Call(ctx, alice.URI())
	if err != nil {
		t.Fatalf("bob calls alice: %v", err)
	}
	var ca *Call
	select {
	case ca = <-alice.Incoming():
	case <-ctx.Done():
		t.Fatal("alice got no call")
	}
	recA, recB := filepath.Join(dir, "alice-heard.wav"), filepath.Join(dir, "bob-heard.wav")
	if err := ca.Record(recA); err != nil {
		t.Fatal(err)
	}
	if err := cb.Record(recB); err != nil {
		t.Fatal(err)
	}
	playCtx, stopPlay := context.WithCancel(ctx)
	defer stopPlay()
	go ca.Play(playCtx, PlayOptions{Audio: []*media.Prompt{Tone(440, time.Second)}, Loop: true})
	go cb.Play(playCtx, PlayOptions{Audio: []*media.Prompt{Tone(1000, time.Second)}, Loop: true})
	waitRecorded(t, ctx, ca, 1200*time.Millisecond)
	waitRecorded(t, ctx, cb, 1200*time.Millisecond)

	if err := cb.SendDTMF(ctx, "12#"); err != nil {
		t.Fatal(err)
	}
	if got := readDigits(t, ctx, ca, 3); got != "12#" {
		t.Fatalf("alice received %q, want 12#", got)
	}
	if err := ca.SendDTMF(ctx, "7"); err != nil {
		t.Fatal(err)
	}
	if got := readDigits(t, ctx, cb, 1); got != "7" {
		t.Fatalf("bob received %q, want 7", got)
	}

	if err := cb.Hold(ctx); err != nil {
		t.Fatalf("hold: %v", err)
	}
	waitEvent(t, ctx, ca, EventRemoteHold)
	if !ca.Session().Negotiated().OnHold {
		t.Fatal("alice's session does not know it is held")
	}
	if err := cb.Resume(ctx); err != nil {
		t.Fatalf("resume: %v", err)
	}
	waitEvent(t, ctx, ca, EventRemoteResume)

	stopPlay()
	if err := cb.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ca.Done():
	case <-ctx.Done():
		t.Fatal("alice did not notice bob's BYE")
	}
	if r := ca.EndReason(); r.Cause != EndRemoteHangup {
		t.Fatalf("alice's end reason %v", r)
	}
	if r := cb.EndReason(); r.Cause != EndLocalHangup {
		t.Fatalf("bob's end reason %v", r)
	}
	if f := dominant(t, recA); math.Abs(f-1000) > 25 {
		t.Fatalf("alice heard %.0f Hz, want bob's 1000 Hz", f)
	}
	if f := dominant(t, recB); math.Abs(f-440) > 25 {
		t.Fatalf("bob heard %.0f Hz, want alice's 440 Hz", f)
	}
	if alice.ActiveCalls() != 0 || bob.ActiveCalls() != 0 {
		t.Fatalf("calls left: %d %d", alice.ActiveCalls(), bob.ActiveCalls())
	}
}

// The callee answers, then hangs up itself (BYE from the UAS side); and a ringing call
// can be rejected.
func TestInboundAnswerRejectAndHangup(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 30*time.Second)
	callee := newPhone(t, Config{User: "callee"})
	caller := newPhone(t, Config{User: "caller"})

	type result struct {
		c   *Call
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := caller.Call(ctx, callee.URI())
		res <- result{c, err}
	}()
	in := <-callee.Incoming()
	if err := in.Answer(ctx); err != nil {
		t.Fatalf("answer: %v", err)
	}
	r := <-res
	if r.err != nil {
		t.Fatalf("call: %v", r.err)
	}
	if err := in.Hold(ctx); err != nil {
		t.Fatalf("hold from the callee: %v", err)
	}
	waitEvent(t, ctx, r.c, EventRemoteHold)
	if err := in.Hangup(ctx); err != nil {
		t.Fatalf("callee hangup: %v", err)
	}
	select {
	case <-r.c.Done():
	case <-ctx.Done():
		t.Fatal("caller did not notice the callee's BYE")
	}
	if got := r.c.EndReason().Cause; got != EndRemoteHangup {
		t.Fatalf("caller end %v", got)
	}

	go func() {
		c, err := caller.Call(ctx, callee.URI())
		res <- result{c, err}
	}()
	in = <-callee.Incoming()
	if err := in.Reject(486, "Busy Here"); err != nil {
		t.Fatalf("reject: %v", err)
	}
	r = <-res
	var se *StatusError
	if !errors.As(r.err, &se) || se.Code != 486 {
		t.Fatalf("call to a rejecting phone: %v, want 486", r.err)
	}
	if got := in.EndReason(); got.Cause != EndRejected || got.Code != 486 {
		t.Fatalf("callee end %v", got)
	}
}

func TestResolveTarget(t *testing.T) {
	t.Parallel()
	p := &Phone{cfg: Config{Registrar: "127.0.0.1:5070"}}
	tests := []struct {
		in, uri, dest string
		err           bool
	}{
		{"9999", "sip:9999@127.0.0.1:5070", "127.0.0.1:5070", false},
		{"1001@127.0.0.1:5080", "sip:1001@127.0.0.1:5080", "", false},
		{"sip:bob@127.0.0.1:5090;transport=udp", "sip:bob@127.0.0.1:5090", "", false},
		{"", "", "", true},
	}
	for _, tc := range tests {
		u, dest, err := p.resolveTarget(tc.in)
		if (err != nil) != tc.err {
			t.Fatalf("%q: err %v", tc.in, err)
		}
		if err == nil && (u.Addr() != tc.uri || dest != tc.dest) {
			t.Fatalf("%q: %s via %q, want %s via %q", tc.in, u.Addr(), dest, tc.uri, tc.dest)
		}
	}
	if _, _, err := (&Phone{}).resolveTarget("9999"); err == nil {
		t.Fatal("a bare number without a registrar must fail")
	}
}
