package e2e

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/internal/peers"
	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/media"
	"github.com/careline/careline/media/dsp"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// readWAV decodes a recording baresip made.
func readWAV(t *testing.T, path string) []int16 {
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
	return pcm
}

func findDump(t *testing.T, dir, suffix string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "dump-*-"+suffix+".wav"))
	if len(m) == 0 {
		t.Fatalf("no %s recording in %s", suffix, dir)
	}
	return m[len(m)-1]
}

// loudestWindow returns the start of the loudest window of n samples within pcm[:limit].
func loudestWindow(pcm []int16, n, limit int) int {
	best, bestAt := -1.0, 0
	for i := 0; i+n <= min(limit, len(pcm)); i += 80 {
		if r := dsp.RMS(pcm[i : i+n]); r > best {
			best, bestAt = r, i
		}
	}
	return bestAt
}

func TestBaresipRegistersWithDigest(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{})
	ctx := ctxT(t, 30*time.Second)
	good := peers.StartBaresip(ctx, t, peers.BaresipConfig{
		Account: fmt.Sprintf("<sip:1001@%s>;auth_pass=%s;regint=60;audio_codecs=PCMU", e.SIP, testSecrets["T_AGENT_1001_PW"])})
	if err := good.Log.WaitFor(ctx, "200 OK"); err != nil {
		t.Fatalf("registration with the right password: %v\n%s", err, good.Log)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		bs, err := e.App.SIP.Bindings(ctx, "1001")
		if err == nil && len(bs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no binding for 1001: %v %v", bs, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	bad := peers.StartBaresip(ctx, t, peers.BaresipConfig{
		Account: fmt.Sprintf("<sip:1002@%s>;auth_pass=wrong-password;regint=60;audio_codecs=PCMU", e.SIP)})
	if err := bad.Log.WaitFor(ctx, "401 Unauthorized"); err != nil {
		t.Fatalf("registration with a wrong password: %v\n%s", err, bad.Log)
	}
	if bs, _ := e.App.SIP.Bindings(ctx, "1002"); len(bs) != 0 {
		t.Fatalf("wrong password created a binding: %v", bs)
	}
}

// baresip calls the test line, hears the beep and the welcome prompt, sends 1 2 3 #,
// holds and resumes, and hangs up; careline reports exactly those digits and echoes
// them back.
func TestBaresipCallsTestLine(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{})
	ctx := ctxT(t, 60*time.Second)
	rec := t.TempDir()
	b := peers.StartBaresip(ctx, t, peers.BaresipConfig{
		Account: "<sip:patient@127.0.0.1>;regint=0;audio_codecs=PCMU", RecordDir: rec})
	if _, err := b.Command(ctx, "dial", "sip:9999@"+e.SIP); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("%v\n%s", err, b.Log)
	}
	// Let the beep and part of the welcome play, then press keys.
	time.Sleep(1500 * time.Millisecond)
	if _, err := b.Command(ctx, "sndcode", "123#"); err != nil {
		t.Fatal(err)
	}
	id, digits := e.waitDigits(t, 4, 20*time.Second)
	if digits != "123#" {
		t.Fatalf("careline received %q, want 123#", digits)
	}
	var echoed []string
	for len(echoed) < 4 {
		m, err := b.WaitEvent(ctx, "CALL_DTMF_START")
		if err != nil {
			t.Fatalf("echoed DTMF: %v (got %v)", err, echoed)
		}
		echoed = append(echoed, m.Param)
	}
	if strings.Join(echoed, "") != "123#" {
		t.Fatalf("baresip heard DTMF %v, want 1 2 3 #", echoed)
	}

	// Hold and resume from the softphone.
	if _, err := b.Command(ctx, "hold", ""); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, e, id, "call.held")
	if _, err := b.Command(ctx, "resume", ""); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, e, id, "call.resumed")

	if _, err := b.Command(ctx, "hangup", ""); err != nil {
		t.Fatal(err)
	}
	it := e.waitEnded(t, id)
	if it.EndReason != "caller_hangup" || it.Direction != "inbound" || it.DID != "9999" || !it.Answered {
		t.Fatalf("interaction: %+v", it)
	}
	types := strings.Join(e.eventTypes(t, id), ",")
	if !strings.HasPrefix(types, "call.started,call.answered,") || !strings.HasSuffix(types, "call.ended") {
		t.Fatalf("events: %s", types)
	}

	// What baresip heard: not silence, and the first tone is the 1 kHz beep.
	if _, err := b.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
		t.Fatal(err)
	}
	pcm := readWAV(t, findDump(t, rec, "dec"))
	if lvl := dsp.DBFS(pcm); lvl < -45 {
		t.Fatalf("baresip's recording is silent (%.1f dBFS)", lvl)
	}
	at := loudestWindow(pcm, 2400, 8000*2)
	if f := dsp.DominantFrequency(pcm[at:at+2400], 8000); math.Abs(f-1000) > 25 {
		t.Fatalf("beep heard at %.0f Hz, want 1000 Hz", f)
	}
}

func waitEvent(t *testing.T, e *Engine, id any, typ string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		e.drain(t)
		var n int
		e.Pool.QueryRow(context.Background(), "SELECT count(*) FROM interaction_events WHERE interaction_id=$1 AND type=$2", id, typ).Scan(&n)
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event", typ)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// careline hangs up (the test line's idle timeout ends the call): BYE from our side.
func TestTestLineHangsUpWhenIdle(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{})
	e.App.SetEchoIdle(2 * time.Second)
	ctx := ctxT(t, 60*time.Second)
	b := peers.StartBaresip(ctx, t, peers.BaresipConfig{Account: "<sip:patient@127.0.0.1>;regint=0;audio_codecs=PCMA"})
	if _, err := b.Command(ctx, "dial", "sip:9999@"+e.SIP); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
		t.Fatalf("careline did not hang up: %v", err)
	}
	var id string
	deadline := time.Now().Add(15 * time.Second)
	for id == "" && time.Now().Before(deadline) {
		e.drain(t)
		e.Pool.QueryRow(ctx, "SELECT id::text FROM interactions WHERE end_reason IS NOT NULL").Scan(&id)
	}
	var reason string
	e.Pool.QueryRow(ctx, "SELECT end_reason FROM interactions WHERE id=$1", id).Scan(&reason)
	if reason != "local_hangup" {
		t.Fatalf("end reason %q, want local_hangup", reason)
	}
}

// SIPp calls the test line and plays RFC 2833 DTMF pcaps; careline detects 1 2 3 #.
func TestSIPpDTMFPcaps(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{})
	ctx := ctxT(t, 60*time.Second)
	scenario, err := os.ReadFile(filepath.Join(repoRoot(), "bench", "sipp", "uac_dtmf.xml"))
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(e.SIP, ":")
	dir := t.TempDir()
	res, err := peers.Sipp(ctx, dir, string(scenario), host+":"+port, "-s", "9999", "-i", "127.0.0.1",
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(testenv.FreePort(t, "udp")&^1), "-p", strconv.Itoa(testenv.FreePort(t, "udp")),
		"-m", "1", "-timeout", "30s", "-timeout_error")
	if err != nil || res.ExitCode != 0 {
		errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Fatalf("sipp exit %d err %v\n%s\n%s", res.ExitCode, err, res.Output, errs)
	}
	id, digits := e.waitDigits(t, 4, 10*time.Second)
	if digits != "123#" {
		t.Fatalf("careline detected %q, want 123#", digits)
	}
	if it := e.waitEnded(t, id); it.EndReason != "caller_hangup" {
		t.Fatalf("interaction %+v", it)
	}
}
