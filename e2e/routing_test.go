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
	"github.com/careline/careline/internal/testenv"
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

// startPhone starts a baresip. auto answers incoming calls; tone is what it "says".
type phoneOpts struct {
	user, password string // registers to careline when password is set
	auto           bool
	tone           float64
	record         bool
	codecs         string // baresip audio_codecs (default PCMU)
	noG711         bool   // no codec in common with careline
}

type bphone struct {
	*peers.Baresip
	rec string
}

func startPhone(t *testing.T, ctx context.Context, e *Engine, o phoneOpts) *bphone {
	t.Helper()
	dir := t.TempDir()
	wav := filepath.Join(dir, "voice.wav")
	if err := peers.WriteToneWAV(wav, 240, o.tone); err != nil {
		t.Fatal(err)
	}
	if o.codecs == "" {
		o.codecs = "PCMU"
	}
	acct := fmt.Sprintf("<sip:%s@127.0.0.1>;regint=0;audio_codecs=%s", o.user, o.codecs)
	if o.password != "" && e != nil {
		acct = fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;regint=60;audio_codecs=%s", o.user, e.SIP, o.password, o.codecs)
	}
	if o.auto {
		acct += ";answermode=auto"
	}
	p := &bphone{}
	cfg := peers.BaresipConfig{Account: acct, AudioSource: wav, NoG711: o.noG711}
	if o.record {
		p.rec = filepath.Join(dir, "rec")
		if err := os.MkdirAll(p.rec, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg.RecordDir = p.rec
	}
	p.Baresip = peers.StartBaresip(ctx, t, cfg)
	if o.password != "" && e != nil {
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

func (p *bphone) dial(t *testing.T, ctx context.Context, e *Engine, number string) {
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
func (p *bphone) heardTone(t *testing.T, hz float64) {
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
	e.waitAgentStates(t, "ana", "logged_out(restart),ready(login),offered,on_call(answered),wrap_up(call_ended),ready(wrap_up_done)")
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

// waitWaiting waits until n callers are in queue (queue.enter without queue.leave).
func (e *Engine) waitWaiting(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.drain(t)
		var got int
		e.Pool.QueryRow(context.Background(), `SELECT count(DISTINCT interaction_id) FROM interaction_events e
			WHERE type='queue.enter' AND NOT EXISTS (SELECT 1 FROM interaction_events l
			WHERE l.interaction_id=e.interaction_id AND l.type='queue.leave')`).Scan(&got)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers waiting, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An urgent caller who enters after two normal callers is answered first.
func TestUrgentCallerAnsweredFirst(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{numbersYAML: routingNumbers, extraYAML: routingYAML("never"),
		agentsYAML: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en, es]"))})
	ctx := ctxT(t, 90*time.Second)
	ana := startPhone(t, ctx, e, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000})
	e.agentAPI(t, "ana", "login")
	e.agentAPI(t, "ana", "away")
	var callers []*bphone
	for i, number := range []string{"7003", "7003", "7002"} {
		p := startPhone(t, ctx, e, phoneOpts{user: fmt.Sprintf("555020%d", i+1), tone: 440})
		p.dial(t, ctx, e, number)
		e.waitWaiting(t, i+1)
		callers = append(callers, p)
	}
	e.agentAPI(t, "ana", "ready")
	if _, err := ana.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatal(err)
	}
	_, agent := e.interactionByCaller(t, "5550203")
	if agent != "ana" {
		t.Fatalf("the urgent caller went to %q", agent)
	}
	var firstCaller string
	e.Pool.QueryRow(ctx, `SELECT i.remote_party FROM interaction_events ev JOIN interactions i ON i.id=ev.interaction_id
		WHERE ev.type='bridge.started' ORDER BY ev.at LIMIT 1`).Scan(&firstCaller)
	if firstCaller != "5550203" {
		t.Fatalf("first answered caller %s, want the urgent one (5550203)", firstCaller)
	}
	for _, p := range callers {
		p.Command(ctx, "hangup", "")
	}
}

// RONA: the agent who does not answer goes away with reason rona and the call reaches
// the next agent. The second agent logs in from the softphone with the *41 code.
func TestRONAThenNextAgent(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{numbersYAML: routingNumbers, extraYAML: routingYAML("never"),
		agentsYAML: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en]"),
			agentYAML("ben", "1002", "{coordinator: 3}", "[en]"))})
	ctx := ctxT(t, 90*time.Second)
	ana := startPhone(t, ctx, e, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], tone: 1000}) // never answers
	ben := startPhone(t, ctx, e, phoneOpts{user: "1002", password: testSecrets["T_AGENT_1002_PW"], auto: true, tone: 1500})
	e.agentAPI(t, "ana", "login") // ready first: longest idle, offered first
	time.Sleep(50 * time.Millisecond)
	ben.dial(t, ctx, e, "*41") // feature code: log in
	if _, err := ben.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
		t.Fatalf("feature code call: %v", err)
	}
	e.waitAgentStates(t, "ben", "logged_out(restart),ready(login)")
	patient := startPhone(t, ctx, e, phoneOpts{user: "5550301", tone: 440})
	patient.dial(t, ctx, e, "7003")
	if _, err := ana.WaitEvent(ctx, "CALL_INCOMING"); err != nil {
		t.Fatalf("ana was not rung first: %v", err)
	}
	m, err := ben.WaitEvent(ctx, "CALL_ESTABLISHED")
	if err != nil {
		t.Fatalf("ben was not connected after ana's RONA: %v", err)
	}
	_ = m
	if _, agent := e.interactionByCaller(t, "5550301"); agent != "ben" {
		t.Fatalf("connected to %q", agent)
	}
	e.waitAgentStates(t, "ana", "logged_out(restart),ready(login),offered,away(rona)")
	var rona int
	e.Pool.QueryRow(ctx, "SELECT count(*) FROM interaction_events WHERE type='agent.rona' AND detail->>'agent'='ana'").Scan(&rona)
	if rona != 1 {
		t.Fatalf("agent.rona events: %d", rona)
	}
	patient.Command(ctx, "hangup", "")
}

// Relaxation: with only a level-1 agent ready, the caller is offered to them only
// after the queue's relaxation step (5 s).
func TestRelaxationOffersLevelOneAfterWait(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{numbersYAML: routingNumbers, extraYAML: routingYAML("never"),
		agentsYAML: agentsYAML(agentYAML("carla", "1003", "{coordinator: 1}", "[en]"))})
	ctx := ctxT(t, 90*time.Second)
	carla := startPhone(t, ctx, e, phoneOpts{user: "1003", password: testSecrets["T_AGENT_1003_PW"], auto: true, tone: 1000})
	e.agentAPI(t, "carla", "login")
	patient := startPhone(t, ctx, e, phoneOpts{user: "5550401", tone: 440})
	patient.dial(t, ctx, e, "7003")
	if _, err := carla.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatal(err)
	}
	id, agent := e.interactionByCaller(t, "5550401")
	if agent != "carla" {
		t.Fatalf("connected to %q", agent)
	}
	var enter, offer time.Time
	e.Pool.QueryRow(ctx, `SELECT min(at) FILTER (WHERE type='queue.enter'), min(at) FILTER (WHERE type='queue.offer')
		FROM interaction_events WHERE interaction_id=$1`, id).Scan(&enter, &offer)
	if waited := offer.Sub(enter); waited < 5*time.Second-100*time.Millisecond {
		t.Fatalf("level-1 agent offered after %s, before the 5 s relaxation step", waited)
	} else {
		t.Logf("offered after %s", waited)
	}
	patient.Command(ctx, "hangup", "")
}

// The patient presses 1 for a callback, hangs up, and is called back (auto-answer) once
// an agent is ready; the place in line was kept.
func TestCallbackKeepsPlace(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 120*time.Second)
	patient := startPhone(t, ctx, nil, phoneOpts{user: "5550501", auto: true, tone: 440})
	e := startEngine(t, engineOpts{numbersYAML: routingNumbers, extraYAML: routingYAML("never"),
		trunksYAML: fmt.Sprintf("trunks:\n  local: {allow_from: [\"127.0.0.1\"], address: %q}\n", patient.SIPAddr()),
		agentsYAML: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en]"))})
	ana := startPhone(t, ctx, e, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000})
	e.agentAPI(t, "ana", "login")
	e.agentAPI(t, "ana", "away")
	acceptCallback(t, ctx, e, patient)
	e.agentAPI(t, "ana", "ready")
	if _, err := ana.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("agent leg of the callback: %v", err)
	}
	if _, err := patient.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("the patient was not called back: %v", err)
	}
	time.Sleep(time.Second)
	patient.Command(ctx, "hangup", "")
	time.Sleep(300 * time.Millisecond)
	ana.Command(ctx, "sndcode", "1#") // wrap-up disposition
	deadline := time.Now().Add(20 * time.Second)
	for {
		e.drain(t)
		var kind, agent, dir string
		err := e.Pool.QueryRow(ctx, `SELECT kind, coalesce(agent_id,''), direction FROM interactions
			WHERE remote_party='5550501' AND kind='callback' AND ended_at IS NOT NULL`).Scan(&kind, &agent, &dir)
		if err == nil && agent == "ana" && dir == "outbound" {
			break
		}
		if time.Now().After(deadline) {
			rows, _ := e.Pool.Query(ctx, "SELECT coalesce(kind,''), coalesce(direction,''), coalesce(remote_party,''), coalesce(agent_id,''), ended_at IS NOT NULL, coalesce(end_reason,'') FROM interactions")
			for rows.Next() {
				var k, d, r, a, er string
				var ended bool
				rows.Scan(&k, &d, &r, &a, &ended, &er)
				t.Logf("interaction kind=%s dir=%s remote=%s agent=%s ended=%v reason=%s", k, d, r, a, ended, er)
			}
			t.Fatalf("no completed callback interaction: %v %s %s", err, kind, agent)
		}
		time.Sleep(50 * time.Millisecond)
	}
	types := ""
	e.Pool.QueryRow(ctx, `SELECT string_agg(type, ',' ORDER BY at) FROM interaction_events ev JOIN interactions i
		ON i.id=ev.interaction_id WHERE i.remote_party='5550501' AND i.kind='call'`).Scan(&types)
	if !strings.Contains(types, "queue.callback") {
		t.Fatalf("original call's events: %s", types)
	}
}

// acceptCallback calls queue 7003 (callback offered after 2 s, no agent free), waits
// for the offer and presses 1; careline confirms and hangs up.
func acceptCallback(t *testing.T, ctx context.Context, e *Engine, patient *bphone) {
	t.Helper()
	patient.dial(t, ctx, e, "7003")
	if _, err := patient.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatal(err)
	}
	e.waitWaiting(t, 1)
	time.Sleep(3 * time.Second) // the offer is a prompt after 2 s of waiting; no event marks its end
	if _, err := patient.Command(ctx, "sndcode", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := patient.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
		t.Fatalf("careline did not confirm and hang up: %v", err)
	}
}

// Two careline nodes share one Redis (and one Postgres): callers arrive at both, one
// agent is registered at one node only, and is never offered two calls at once.
func TestTwoNodesShareRedisNoDoubleOffer(t *testing.T) {
	t.Parallel()
	redisURL, prefix := testenv.RedisURL(t)
	opts := engineOpts{numbersYAML: routingNumbers, extraYAML: routingYAML("never"), dbURL: testenv.PostgresURL(t),
		redisURL: redisURL, redisPrefix: prefix,
		agentsYAML: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en]"))}
	nodeA, nodeB := startEngine(t, opts), startEngine(t, opts)
	ctx := ctxT(t, 120*time.Second)
	ana := startPhone(t, ctx, nodeA, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000})
	if bs, err := nodeB.App.SIP.Bindings(ctx, "1001"); err != nil || len(bs) != 1 {
		t.Fatalf("node B does not see the agent's registration through Redis: %v %v", bs, err)
	}
	// Watch the agent's phone: never two calls at once.
	var mu sync.Mutex
	live, maxLive, established := 0, 0, 0
	estab := make(chan struct{}, 4)
	go func() {
		for {
			m, err := ana.WaitEventAny(ctx, "CALL_ESTABLISHED", "CALL_CLOSED")
			if err != nil {
				return
			}
			mu.Lock()
			if m.Type == "CALL_ESTABLISHED" {
				live++
				established++
				maxLive = max(maxLive, live)
				estab <- struct{}{}
			} else {
				live--
			}
			mu.Unlock()
		}
	}()
	nodeA.agentAPI(t, "ana", "login")
	p1 := startPhone(t, ctx, nil, phoneOpts{user: "5550601", tone: 440})
	p2 := startPhone(t, ctx, nil, phoneOpts{user: "5550602", tone: 500})
	p1.dial(t, ctx, nodeA, "7003")
	p2.dial(t, ctx, nodeB, "7003")
	for range 2 {
		select {
		case <-estab:
		case <-ctx.Done():
			t.Fatal("the agent did not get both calls in turn")
		}
		time.Sleep(2 * time.Second) // talk; the other caller waits (on the other node or this one)
		if _, err := ana.Command(ctx, "hangup", ""); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if maxLive != 1 || established != 2 {
		t.Fatalf("agent had up to %d calls at once (%d established)", maxLive, established)
	}
	for _, u := range []string{"5550601", "5550602"} {
		if _, agent := nodeA.interactionByCaller(t, u); agent != "ana" {
			t.Fatalf("caller %s connected to %q", u, agent)
		}
	}
	// The shared state machine: offered → on_call → wrap_up → ready, twice, never two
	// offers in a row.
	states := strings.Join(nodeA.agentStates(t, "ana"), ",")
	if strings.Contains(states, "offered,offered") || strings.Count(states, "on_call(answered)") != 2 {
		t.Fatalf("agent states across both nodes: %s", states)
	}
}

// toneShare is the share of the recording's energy at hz (0..1), over 0.25 s windows.
func toneShare(pcm []int16, hz float64) float64 {
	var tone, total float64
	for i := 0; i+2000 <= len(pcm); i += 2000 {
		w := pcm[i : i+2000]
		// GoertzelPower is the tone's squared amplitude (full scale = 1); a sine's
		// energy per sample is half of that.
		tone += dsp.GoertzelPower(w, hz, 8000) / 2 * float64(len(w))
		for _, v := range w {
			total += float64(v) * float64(v) / (32768 * 32768)
		}
	}
	if total == 0 {
		return 0
	}
	return tone / total
}

// A supervisor whispers to an agent: the agent hears the supervisor's tone, the patient
// does not.
func TestSupervisorWhisper(t *testing.T) {
	t.Parallel()
	sup := "  sam:\n    name: Sam Supervisor\n    supervisor: true\n    sip: {user: \"1004\", password: \"env:T_AGENT_1004_PW\"}\n    skills: {coordinator: 1}\n    languages: [en]\n"
	e := startEngine(t, engineOpts{numbersYAML: routingNumbers, extraYAML: routingYAML("never"),
		agentsYAML: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en]"), sup)})
	ctx := ctxT(t, 90*time.Second)
	ana := startPhone(t, ctx, e, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000, record: true})
	sam := startPhone(t, ctx, e, phoneOpts{user: "1004", password: testSecrets["T_AGENT_1004_PW"], tone: 1500})
	e.agentAPI(t, "ana", "login")
	patient := startPhone(t, ctx, e, phoneOpts{user: "5550701", tone: 440, record: true})
	patient.dial(t, ctx, e, "7003")
	if _, err := ana.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatal(err)
	}
	id, _ := e.interactionByCaller(t, "5550701")
	sam.dial(t, ctx, e, "*521001")
	if _, err := sam.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("supervisor: %v", err)
	}
	waitEvent(t, e, parseUUID(t, id), "monitor.started")
	time.Sleep(2500 * time.Millisecond) // whisper
	sam.Command(ctx, "hangup", "")
	waitEvent(t, e, parseUUID(t, id), "monitor.ended")
	time.Sleep(time.Second) // back to a plain bridge
	patient.Command(ctx, "hangup", "")
	time.Sleep(300 * time.Millisecond)
	ana.Command(ctx, "sndcode", "1#")
	ana.WaitEvent(ctx, "CALL_CLOSED")
	patient.WaitEvent(ctx, "CALL_CLOSED")
	agentHeard := readWAV(t, findDump(t, ana.rec, "dec"))
	patientHeard := readWAV(t, findDump(t, patient.rec, "dec"))
	a, p := toneShare(agentHeard, 1500), toneShare(patientHeard, 1500)
	t.Logf("share of the supervisor's 1500 Hz: agent %.3f, patient %.5f", a, p)
	if a < 0.05 || p > 0.005 {
		t.Fatalf("whisper leaked or was not heard: agent %.3f, patient %.5f", a, p)
	}
	var mode string
	e.Pool.QueryRow(ctx, "SELECT detail->>'mode' FROM interaction_events WHERE interaction_id=$1 AND type='monitor.started'", id).Scan(&mode)
	if mode != "whisper" {
		t.Fatalf("monitor mode %q", mode)
	}
}

// An agent's softphone that answers with no codec in common (488) is marked away
// (no_codec) and the caller goes to the next agent.
func TestAgentWithNoCommonCodec(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{numbersYAML: routingNumbers, extraYAML: routingYAML("never"),
		agentsYAML: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en]"),
			agentYAML("ben", "1002", "{coordinator: 3}", "[en]"))})
	ctx := ctxT(t, 60*time.Second)
	// Ana's phone has no G.711: nothing in common with careline's offer.
	ana := startPhone(t, ctx, e, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000, noG711: true})
	ben := startPhone(t, ctx, e, phoneOpts{user: "1002", password: testSecrets["T_AGENT_1002_PW"], auto: true, tone: 1500})
	e.agentAPI(t, "ana", "login")
	time.Sleep(50 * time.Millisecond)
	e.agentAPI(t, "ben", "login")
	patient := startPhone(t, ctx, e, phoneOpts{user: "5550801", tone: 440})
	patient.dial(t, ctx, e, "7003")
	if _, err := ben.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("the caller did not reach the next agent: %v\n%s", err, ana.Log)
	}
	e.waitAgentStates(t, "ana", "logged_out(restart),ready(login),offered,away(no_codec)")
	if _, agent := e.interactionByCaller(t, "5550801"); agent != "ben" {
		t.Fatalf("connected to %q", agent)
	}
	patient.Command(ctx, "hangup", "")
}

// An agent whose phone vanishes mid-call (no BYE, no RTP): media timeout ends the
// agent's leg, the patient hears an apology and is re-queued at the head, and the next
// agent takes the call.
func TestAgentVanishesCallerRequeued(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{numbersYAML: routingNumbers, extraYAML: routingYAML("never"), mediaTimeout: 3 * time.Second,
		agentsYAML: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en]"),
			agentYAML("ben", "1002", "{coordinator: 3}", "[en]"))})
	ctx := ctxT(t, 60*time.Second)
	ana := startPhone(t, ctx, e, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000})
	ben := startPhone(t, ctx, e, phoneOpts{user: "1002", password: testSecrets["T_AGENT_1002_PW"], auto: true, tone: 1500})
	e.agentAPI(t, "ana", "login")
	patient := startPhone(t, ctx, e, phoneOpts{user: "5550901", tone: 440})
	patient.dial(t, ctx, e, "7003")
	if _, err := ana.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatal(err)
	}
	e.agentAPI(t, "ben", "login")
	ana.Kill()
	if _, err := ben.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("the caller was not re-queued to the next agent: %v", err)
	}
	id, agent := e.interactionByCaller(t, "5550901")
	waitEvent(t, e, parseUUID(t, id), "queue.requeue")
	var reason, legEnd string
	e.Pool.QueryRow(ctx, "SELECT detail->>'reason' FROM interaction_events WHERE interaction_id=$1 AND type='queue.requeue'", id).Scan(&reason)
	e.Pool.QueryRow(ctx, "SELECT detail->>'reason' FROM interaction_events WHERE interaction_id=$1 AND type='leg.ended' ORDER BY at LIMIT 1", id).Scan(&legEnd)
	if reason != "agent_lost" || legEnd != "media_timeout" {
		t.Fatalf("requeue reason %q, agent leg end %q", reason, legEnd)
	}
	_ = agent
	deadline := time.Now().Add(10 * time.Second)
	for {
		var a string
		e.drain(t)
		e.Pool.QueryRow(ctx, "SELECT agent_id FROM interactions WHERE id=$1", id).Scan(&a)
		if a == "ben" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the call's agent is %q, want ben", a)
		}
		time.Sleep(50 * time.Millisecond)
	}
	patient.Command(ctx, "hangup", "")
}

// A callback accepted before a restart is placed after it: the node drains, stops, and
// the next run finds the callback in the interaction log, puts it back in its place and
// calls the patient back when an agent is ready.
func TestCallbackSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 150*time.Second)
	patient := startPhone(t, ctx, nil, phoneOpts{user: "5550502", auto: true, tone: 440})
	opts := engineOpts{dbURL: testenv.PostgresURL(t), numbersYAML: routingNumbers, extraYAML: routingYAML("never"),
		trunksYAML: fmt.Sprintf("trunks:\n  local: {allow_from: [\"127.0.0.1\"], address: %q}\n", patient.SIPAddr()),
		agentsYAML: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en]"))}
	e1 := startEngine(t, opts)
	ana1 := startPhone(t, ctx, e1, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000})
	e1.agentAPI(t, "ana", "login")
	e1.agentAPI(t, "ana", "away")
	acceptCallback(t, ctx, e1, patient)
	e1.Stop()
	ana1.Kill()

	e2 := startEngine(t, opts)
	ana2 := startPhone(t, ctx, e2, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000})
	e2.agentAPI(t, "ana", "login")
	if _, err := ana2.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("agent leg of the restored callback: %v", err)
	}
	if _, err := patient.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("the patient was not called back after the restart: %v", err)
	}
	patient.Command(ctx, "hangup", "")
	want := "queue.enter,queue.callback,queue.callback_restored,queue.offer,queue.callback_attempt,queue.leave"
	deadline := time.Now().Add(20 * time.Second)
	for {
		e2.drain(t)
		var types, outcome string
		_ = e2.Pool.QueryRow(ctx, `SELECT string_agg(type, ',' ORDER BY at) FILTER (WHERE type LIKE 'queue.%'),
			coalesce(max(detail->>'outcome') FILTER (WHERE type = 'queue.leave'), '')
			FROM interaction_events ev JOIN interactions i ON i.id = ev.interaction_id
			WHERE i.remote_party = '5550502' AND i.kind = 'call'`).Scan(&types, &outcome)
		if types == want && outcome == "callback_connected" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the original call's queue events: %s (leave outcome %q), want %s (callback_connected)", types, outcome, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A blind transfer by REFER from the agent's softphone to another agent (by SIP user):
// the patient goes to that agent only, although the queue would never offer them to
// that agent (other skills, other language), and the log says so.
func TestAgentBlindTransferToAgent(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{numbersYAML: routingNumbers, extraYAML: routingYAML("never"),
		agentsYAML: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en]"),
			agentYAML("ben", "1002", "{pharmacist: 3}", "[es]"))})
	ctx := ctxT(t, 90*time.Second)
	ana := startPhone(t, ctx, e, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000})
	ben := startPhone(t, ctx, e, phoneOpts{user: "1002", password: testSecrets["T_AGENT_1002_PW"], auto: true, tone: 1500})
	e.agentAPI(t, "ana", "login")
	e.agentAPI(t, "ben", "login")
	patient := startPhone(t, ctx, e, phoneOpts{user: "5550601", tone: 440})
	patient.dial(t, ctx, e, "7003")
	if _, err := ana.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("ana was not connected: %v", err)
	}
	iid, agent := e.interactionByCaller(t, "5550601")
	if agent != "ana" {
		t.Fatalf("first agent %q", agent)
	}
	if _, err := ana.Command(ctx, "transfer", "sip:1002@"+e.SIP); err != nil {
		t.Fatal(err)
	}
	if _, err := ben.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("ben was not connected after the transfer: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		e.drain(t)
		var to, enterAgent, leaveAgent string
		_ = e.Pool.QueryRow(ctx, `SELECT
				coalesce(max(detail->>'to') FILTER (WHERE type = 'call.transfer'), ''),
				coalesce(max(detail->>'agent') FILTER (WHERE type = 'queue.enter'), ''),
				coalesce(string_agg(detail->>'agent', ',' ORDER BY at) FILTER (WHERE type = 'queue.leave'), '')
			FROM interaction_events WHERE interaction_id = $1`, iid).Scan(&to, &enterAgent, &leaveAgent)
		if to == "ben" && enterAgent == "ben" && leaveAgent == "ana,ben" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("transfer events: to %q, queue.enter agent %q, answered by %q; want ben, ben, ana,ben", to, enterAgent, leaveAgent)
		}
		time.Sleep(100 * time.Millisecond)
	}
	patient.Command(ctx, "hangup", "")
}
