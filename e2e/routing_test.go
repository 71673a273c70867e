package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careline/careline/internal/peers"
	"github.com/careline/careline/media/dsp"
	"github.com/google/uuid"
)

// routingYAML is a small contact center: one coordinator queue with short timers so
// RONA, relaxation and callbacks happen within seconds.
func routingYAML(record string) string {
	return fmt.Sprintf(`routing:
  ring_timeout: 5s
  wrap_up: 1s
  max_wait: 2m
  service_level: 30s
queues:
  coordinator:
    require: {coordinator: 2}
    language: caller
    ring_timeout: 5s
    wrap_up: 3s
    record: %s
    relax: [{after: 5s, require: {coordinator: 1}}]
    callback: {offer_after: 2s}
    overflow: voicemail
flows:
  coord: {start: q, nodes: {q: {queue: {name: coordinator}}}}
  urgent: {start: q, nodes: {q: {queue: {name: coordinator, priority: urgent}}}}
users:
  sup: {role: supervisor, token: "env:T_SUPERVISOR"}
`, record)
}

const routingNumbers = `numbers:
  "7001": {flow: coord, language: es}
  "7002": {flow: urgent}
  "7003": {flow: coord}
`

func agentsYAML(lines ...string) string {
	return "skills:\n  coordinator: {}\n  pharmacist: {role: true}\nagents:\n" + strings.Join(lines, "")
}

func agentYAML(id, user, skills, langs string) string {
	return fmt.Sprintf("  %s:\n    name: Agent %s\n    sip: {user: %q, password: \"env:T_AGENT_%s_PW\"}\n    skills: %s\n    languages: %s\n",
		id, user, user, user, skills, langs)
}

// agentAPI calls the agent API as the supervisor.
func (e *Engine) agentAPI(t *testing.T, id, action string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s/api/v1/agents/%s/%s", e.App.HTTPAddr, id, action),
		strings.NewReader(`{"reason":"break"}`))
	req.Header.Set("Authorization", "Bearer "+supervisorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: HTTP %d", action, id, resp.StatusCode)
	}
}

// phone starts a baresip. auto answers incoming calls; tone is what it "says".
type phoneOpts struct {
	user, password string // registers to careline when password is set
	auto           bool
	tone           float64
	record         bool
}

type phone struct {
	*peers.Baresip
	rec string
}

func startPhone(t *testing.T, ctx context.Context, e *Engine, o phoneOpts) *phone {
	t.Helper()
	dir := t.TempDir()
	wav := filepath.Join(dir, "voice.wav")
	if err := peers.WriteToneWAV(wav, 240, o.tone); err != nil {
		t.Fatal(err)
	}
	acct := fmt.Sprintf("<sip:%s@127.0.0.1>;regint=0;audio_codecs=PCMU", o.user)
	if o.password != "" {
		acct = fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;regint=60;audio_codecs=PCMU", o.user, e.SIP, o.password)
	}
	if o.auto {
		acct += ";answermode=auto"
	}
	p := &phone{}
	cfg := peers.BaresipConfig{Account: acct, AudioSource: wav}
	if o.record {
		p.rec = filepath.Join(dir, "rec")
		if err := os.MkdirAll(p.rec, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg.RecordDir = p.rec
	}
	p.Baresip = peers.StartBaresip(ctx, t, cfg)
	if o.password != "" {
		if err := p.Log.WaitFor(ctx, "200 OK"); err != nil {
			t.Fatalf("agent %s did not register: %v\n%s", o.user, err, p.Log)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if bs, _ := e.App.SIP.Bindings(ctx, o.user); len(bs) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no binding for %s", o.user)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return p
}

func (p *phone) dial(t *testing.T, ctx context.Context, e *Engine, number string) {
	t.Helper()
	if _, err := p.Command(ctx, "dial", "sip:"+number+"@"+e.SIP); err != nil {
		t.Fatal(err)
	}
}

// toneSeconds is how long pcm holds a steady tone at hz (0.25 s windows whose level is
// above -40 dBFS and whose dominant frequency is within 15 Hz).
func toneSeconds(pcm []int16, hz float64) float64 {
	n := 0
	for i := 0; i+2000 <= len(pcm); i += 2000 {
		w := pcm[i : i+2000]
		if dsp.DBFS(w) > -40 && math.Abs(dsp.DominantFrequency(w, 8000)-hz) < 15 {
			n++
		}
	}
	return float64(n) / 4
}

// heardTone checks the phone heard at least a second of the other side's tone.
func (p *phone) heardTone(t *testing.T, hz float64) {
	t.Helper()
	pcm := readWAV(t, findDump(t, p.rec, "dec"))
	if os.Getenv("E2E_DEBUG") != "" {
		ents, _ := os.ReadDir(p.rec)
		for _, e := range ents {
			t.Logf("file %s", e.Name())
		}
		for i := 0; i+4000 <= len(pcm); i += 4000 {
			t.Logf("%.1fs: %.1f dBFS %.0f Hz", float64(i)/8000, dsp.DBFS(pcm[i:i+4000]), dsp.DominantFrequency(pcm[i:i+4000], 8000))
		}
	}
	if s := toneSeconds(pcm, hz); s < 1 {
		t.Fatalf("heard %.2f s of %.0f Hz in %.1f s of audio, want at least 1 s", s, hz, float64(len(pcm))/8000)
	}
}

// agentStates returns (to, reason) of an agent's state changes in order.
func (e *Engine) agentStates(t *testing.T, agent string) []string {
	t.Helper()
	e.drain(t)
	rows, err := e.Pool.Query(context.Background(),
		"SELECT to_state, coalesce(reason,'') FROM agent_state_changes WHERE agent_id=$1 ORDER BY at, event_id", agent)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var to, reason string
		rows.Scan(&to, &reason)
		if reason != "" {
			to += "(" + reason + ")"
		}
		out = append(out, to)
	}
	return out
}

// waitAgentStates waits until an agent's state changes in Postgres read want.
func (e *Engine) waitAgentStates(t *testing.T, agent, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := strings.Join(e.agentStates(t, agent), ",")
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's states:\n got %s\nwant %s", agent, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// interactionByCaller finds the inbound call from a caller's SIP user.
func (e *Engine) interactionByCaller(t *testing.T, user string) (id, agent string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		e.drain(t)
		var a *string
		err := e.Pool.QueryRow(context.Background(), "SELECT id::text, agent_id FROM interactions WHERE remote_party=$1 AND direction='inbound' ORDER BY started_at LIMIT 1", user).Scan(&id, &a)
		if err == nil && a != nil {
			return id, *a
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connected interaction for caller %s (%v)", user, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Two agents register with digest: a Spanish-speaking coordinator and an English-only
// one. A Spanish caller asking for a coordinator reaches the Spanish speaker; each hears
// the other's tone; the call is recorded, notice first.
func TestSpanishCallerReachesSpanishAgent(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{numbersYAML: routingNumbers, extraYAML: routingYAML("always") + recordingsYAML(t),
		agentsYAML: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en, es]"),
			agentYAML("ben", "1002", "{coordinator: 3, pharmacist: 4}", "[en]"))})
	ctx := ctxT(t, 90*time.Second)
	ana := startPhone(t, ctx, e, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000, record: true})
	ben := startPhone(t, ctx, e, phoneOpts{user: "1002", password: testSecrets["T_AGENT_1002_PW"], auto: true, tone: 1500})
	// Ben is ready first (longest idle), so only language can send the call to Ana.
	for _, id := range []string{"ben", "ana"} {
		e.agentAPI(t, id, "login")
		e.agentAPI(t, id, "ready")
	}
	patient := startPhone(t, ctx, e, phoneOpts{user: "5550101", tone: 440, record: true})
	patient.dial(t, ctx, e, "7001")
	if _, err := ana.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("Ana was not connected: %v", err)
	}
	time.Sleep(3 * time.Second) // talk
	if _, err := patient.Command(ctx, "hangup", ""); err != nil {
		t.Fatal(err)
	}
	// Wrap-up: careline asks Ana for a disposition code; she keys 1 (resolved) and #.
	time.Sleep(300 * time.Millisecond)
	if _, err := ana.Command(ctx, "sndcode", "1#"); err != nil {
		t.Fatal(err)
	}
	if _, err := ana.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
		t.Fatal(err)
	}
	patient.WaitEvent(ctx, "CALL_CLOSED")
	if strings.Contains(ben.Log.String(), "Incoming call") || strings.Contains(ben.Log.String(), "Call established") {
		t.Fatalf("Ben (English only) was offered the Spanish call:\n%s", ben.Log)
	}
	patient.heardTone(t, 1000)
	ana.heardTone(t, 440)

	id, agent := e.interactionByCaller(t, "5550101")
	if agent != "ana" {
		t.Fatalf("connected to %q", agent)
	}
	it := e.waitEnded(t, parseUUID(t, id))
	if it.Language != "es" || it.EndReason != "caller_hangup" {
		t.Fatalf("interaction %+v", it)
	}
	types := strings.Join(e.eventTypes(t, parseUUID(t, id)), ",")
	for _, want := range []string{"queue.enter", "queue.offer", "leg.answered", "recording.consent_notice", "recording.started", "bridge.started", "bridge.ended", "queue.answer"} {
		if !strings.Contains(types, want) {
			t.Errorf("no %s event in %s", want, types)
		}
	}
	e.waitAgentStates(t, "ana", "ready(login),offered,on_call(answered),wrap_up(call_ended),ready(wrap_up_done)")
	e.checkRecording(t, parseUUID(t, id), 440, 1000)
	var disp string
	e.drain(t)
	e.Pool.QueryRow(ctx, "SELECT disposition FROM interactions WHERE id=$1", id).Scan(&disp)
	if disp != "resolved" {
		t.Fatalf("disposition %q, want resolved (keyed 1 in wrap-up)", disp)
	}
}

var _ = sync.Mutex{}

func recordingsYAML(t *testing.T) string {
	return fmt.Sprintf("recordings:\n  dir: %q\n  master_keys: [{id: k1, key: \"env:CARELINE_RECORDING_KEY\"}]\n", filepath.Join(t.TempDir(), "recordings"))
}

func parseUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// splitStereo decodes a PCM16 stereo WAV into its two channels.
func splitStereo(t *testing.T, b []byte) (left, right []int16) {
	t.Helper()
	if len(b) < 44 || string(b[0:4]) != "RIFF" || binary.LittleEndian.Uint16(b[22:24]) != 2 {
		t.Fatalf("not a stereo WAV (%d bytes)", len(b))
	}
	data := b[44:]
	for i := 0; i+3 < len(data); i += 4 {
		left = append(left, int16(binary.LittleEndian.Uint16(data[i:])))
		right = append(right, int16(binary.LittleEndian.Uint16(data[i+2:])))
	}
	return left, right
}

// checkRecording decrypts the call's recording and checks each channel's tone, its
// duration against the bridged time, and that the file on disk is not plaintext.
func (e *Engine) checkRecording(t *testing.T, iid uuid.UUID, leftHz, rightHz float64) {
	t.Helper()
	ctx := context.Background()
	var recID uuid.UUID
	var path string
	deadline := time.Now().Add(20 * time.Second)
	for {
		e.drain(t)
		err := e.Pool.QueryRow(ctx, "SELECT id, path FROM recordings WHERE interaction_id=$1 AND status='complete'", iid).Scan(&recID, &path)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no complete recording for %s: %v", iid, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var buf bytes.Buffer
	if err := e.App.Recs.Export(ctx, recID, &buf, "e2e-test"); err != nil {
		t.Fatalf("export: %v", err)
	}
	left, right := splitStereo(t, buf.Bytes())
	for _, ch := range []struct {
		name string
		pcm  []int16
		hz   float64
	}{{"left (patient)", left, leftHz}, {"right (agent)", right, rightHz}} {
		total := float64(len(ch.pcm)) / 8000
		if s := toneSeconds(ch.pcm, ch.hz); s < 0.8*total-0.5 {
			t.Fatalf("%s channel: %.2f s of %.0f Hz in %.2f s", ch.name, s, ch.hz, total)
		}
	}
	var start, end time.Time
	e.Pool.QueryRow(ctx, "SELECT min(at) FILTER (WHERE type='bridge.started'), max(at) FILTER (WHERE type='bridge.ended') FROM interaction_events WHERE interaction_id=$1", iid).Scan(&start, &end)
	bridged := end.Sub(start)
	got := time.Duration(len(left)) * time.Second / 8000
	if d := math.Abs(got.Seconds() - bridged.Seconds()); d > 0.05*bridged.Seconds() {
		t.Fatalf("recording %s, bridged %s: off by more than 5%%", got, bridged)
	}
	raw, err := os.ReadFile(filepath.Join(e.recDir, path))
	if err != nil {
		t.Fatalf("recording file: %v", err)
	}
	if bytes.Contains(raw, []byte("RIFF")) || bytes.Contains(raw, buf.Bytes()[1000:1064]) {
		t.Fatal("the recording on disk holds plaintext")
	}
	t.Logf("recording %s: %s stereo, bridged %s, %d bytes on disk", recID, got, bridged, len(raw))
}
