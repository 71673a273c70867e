package e2e

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/internal/peers"
	"github.com/careline/careline/media"
	"github.com/careline/careline/media/dsp"
	"github.com/careline/careline/phone"
)

func newTestPhone(t *testing.T, cfg phone.Config, opts ...phone.Option) *phone.Phone {
	t.Helper()
	p, err := phone.New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func waitPhoneRecorded(t *testing.T, ctx context.Context, c *phone.Call, d time.Duration) {
	t.Helper()
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for c.Recorded() < d {
		select {
		case <-tk.C:
		case <-ctx.Done():
			t.Fatalf("the phone recorded %v, want %v", c.Recorded(), d)
		}
	}
}

func waitBindings(t *testing.T, ctx context.Context, e *Engine, user string, n int) {
	t.Helper()
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for {
		bs, err := e.App.SIP.Bindings(ctx, user)
		if err == nil && len(bs) == n {
			return
		}
		select {
		case <-tk.C:
		case <-ctx.Done():
			t.Fatalf("user %s has bindings %v (err %v), want %d", user, bs, err, n)
		}
	}
}

// The test phone registers with careline's registrar (SHA-256 digest: it is not on the
// MD5-only list), a wrong password gets 401, and Close removes the binding.
func TestPhoneRegistersWithCareline(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{})
	ctx := ctxT(t, 30*time.Second)
	good, err := phone.New(ctx, phone.Config{User: "1001", Password: testSecrets["T_AGENT_1001_PW"], Registrar: e.SIP})
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Register(ctx); err != nil {
		t.Fatalf("register with the right password: %v", err)
	}
	bs, _ := e.App.SIP.Bindings(ctx, "1001")
	if len(bs) != 1 || bs[0].Source != good.Addr().String() {
		t.Fatalf("bindings %+v, want one pointing at the phone's socket %s", bs, good.Addr())
	}

	bad := newTestPhone(t, phone.Config{User: "1002", Password: "wrong-password", Registrar: e.SIP})
	err = bad.Register(ctx)
	var se *phone.StatusError
	if !errors.Is(err, phone.ErrUnauthorized) || !errors.As(err, &se) || se.Code != 401 {
		t.Fatalf("register with a wrong password: %v, want 401", err)
	}
	if bs, _ := e.App.SIP.Bindings(ctx, "1002"); len(bs) != 0 {
		t.Fatalf("wrong password created a binding: %v", bs)
	}

	if err := good.Close(); err != nil {
		t.Fatal(err)
	}
	waitBindings(t, ctx, e, "1001", 0)
}

// The phone calls the test line, hears the 1 kHz beep, sends 1 2 3 #, careline reports
// exactly those digits and echoes them back as RFC 4733 events; hold, resume, BYE.
func TestPhoneCallsTestLine(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{})
	ctx := ctxT(t, 60*time.Second)
	p := newTestPhone(t, phone.Config{User: "patient", Registrar: e.SIP})
	c, err := p.Call(ctx, "9999")
	if err != nil {
		t.Fatalf("call 9999: %v", err)
	}
	rec := filepath.Join(t.TempDir(), "heard.wav")
	if err := c.Record(rec); err != nil {
		t.Fatal(err)
	}
	// The beep (0.4 s) and the start of the welcome prompt.
	waitPhoneRecorded(t, ctx, c, 1200*time.Millisecond)
	if err := c.SendDTMF(ctx, "123#"); err != nil {
		t.Fatal(err)
	}
	id, digits := e.waitDigits(t, 4, 20*time.Second)
	if digits != "123#" {
		t.Fatalf("careline received %q, want 123#", digits)
	}
	var echoed []rune
	for len(echoed) < 4 {
		select {
		case ev := <-c.DTMF():
			if ev.Source != media.DTMFRFC4733 {
				t.Fatalf("echo arrived as %s, want rfc4733", ev.Source)
			}
			echoed = append(echoed, ev.Digit)
		case <-ctx.Done():
			t.Fatalf("echoed DTMF: got %q", string(echoed))
		}
	}
	if string(echoed) != "123#" {
		t.Fatalf("the phone heard DTMF %q, want 123#", string(echoed))
	}

	if err := c.Hold(ctx); err != nil {
		t.Fatalf("hold: %v", err)
	}
	waitEvent(t, e, id, "call.held")
	if err := c.Resume(ctx); err != nil {
		t.Fatalf("resume: %v", err)
	}
	waitEvent(t, e, id, "call.resumed")

	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	it := e.waitEnded(t, id)
	if it.EndReason != "caller_hangup" || it.DID != "9999" || !it.Answered {
		t.Fatalf("interaction: %+v", it)
	}
	pcm := readWAV(t, rec)
	if lvl := dsp.DBFS(pcm); lvl < -45 {
		t.Fatalf("the phone's recording is silent (%.1f dBFS)", lvl)
	}
	at := loudestWindow(pcm, 2400, 8000*2)
	if f := dsp.DominantFrequency(pcm[at:at+2400], 8000); math.Abs(f-1000) > 25 {
		t.Fatalf("beep heard at %.0f Hz, want 1000 Hz", f)
	}
}

// careline hangs up an idle test call: the phone notices the BYE.
func TestPhoneNoticesCarelineBYE(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{})
	e.App.SetEchoIdle(2 * time.Second)
	ctx := ctxT(t, 60*time.Second)
	p := newTestPhone(t, phone.Config{User: "patient", Registrar: e.SIP}, phone.WithCodecs(media.PCMA))
	c, err := p.Call(ctx, "9999")
	if err != nil {
		t.Fatal(err)
	}
	if c.Codec() != media.PCMA {
		t.Fatalf("codec %v, want PCMA", c.Codec())
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("careline did not hang up")
	}
	if r := c.EndReason(); r.Cause != phone.EndRemoteHangup {
		t.Fatalf("end reason %v, want remote hangup", r)
	}
}

// The phone beside baresip: it calls an auto-answering baresip, each hears the other's
// tone, and baresip decodes the phone's RFC 4733 digits.
func TestPhoneAndBaresip(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	dir := t.TempDir()
	tone := filepath.Join(dir, "b1000.wav")
	if err := peers.WriteToneWAV(tone, 30, 1000); err != nil {
		t.Fatal(err)
	}
	recDir := t.TempDir()
	b := peers.StartBaresip(ctx, t, peers.BaresipConfig{
		Account:     "<sip:bob@127.0.0.1:%SIPPORT%>;regint=0;answermode=auto;audio_codecs=PCMU",
		AudioSource: tone, RecordDir: recDir})
	p := newTestPhone(t, phone.Config{User: "alice"})
	c, err := p.Call(ctx, fmt.Sprintf("sip:bob@127.0.0.1:%d", b.SIPPort))
	if err != nil {
		t.Fatalf("call baresip: %v\n%s", err, b.Log)
	}
	rec := filepath.Join(dir, "alice-heard.wav")
	if err := c.Record(rec); err != nil {
		t.Fatal(err)
	}
	playCtx, stop := context.WithCancel(ctx)
	defer stop()
	go c.Play(playCtx, phone.PlayOptions{Audio: []*media.Prompt{phone.Tone(440, time.Second)}, Loop: true})
	waitPhoneRecorded(t, ctx, c, 1500*time.Millisecond)
	if err := c.SendDTMF(ctx, "42"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		m, err := b.WaitEvent(ctx, "CALL_DTMF_START")
		if err != nil {
			t.Fatalf("baresip DTMF: %v (got %v)", err, got)
		}
		got = append(got, m.Param)
	}
	if strings.Join(got, "") != "42" {
		t.Fatalf("baresip decoded %v, want 4 2", got)
	}
	stop()
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
		t.Fatal(err)
	}
	pcm := readWAV(t, rec)
	at := loudestWindow(pcm, 2400, len(pcm))
	if f := dsp.DominantFrequency(pcm[at:at+2400], 8000); math.Abs(f-1000) > 25 {
		t.Fatalf("the phone heard %.0f Hz, want baresip's 1000 Hz", f)
	}
	bpcm := readWAV(t, findDump(t, recDir, "dec"))
	at = loudestWindow(bpcm, 2400, len(bpcm))
	if f := dsp.DominantFrequency(bpcm[at:at+2400], 8000); math.Abs(f-440) > 25 {
		t.Fatalf("baresip heard %.0f Hz, want the phone's 440 Hz", f)
	}
}
