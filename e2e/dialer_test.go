package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/dialer"
	"github.com/careline/careline/internal/peers"
	"github.com/careline/careline/media"
	"github.com/careline/careline/media/dsp"
	"github.com/google/uuid"
)

// The outbound dialer end to end: careline places campaign calls through a trunk whose
// address is a baresip playing the patient (its account user is the patient's E.164
// number, which is the R-URI user careline sends). The clock is injected so that the
// calling window does not depend on when the tests run.

// auditorTokenDialer is a user who may not drive campaigns (403).
const auditorTokenDialer = "test-auditor-dialer-token-0123456"

// dialerFlows are the example config's outbound flows with short menu timeouts.
const dialerFlows = `flows:
  refill_reminder:
    start: identify
    nodes:
      identify:
        play: {prompts: [dialer/identification]}
        next: offer
      offer:
        menu:
          prompts: [dialer/refill_ready]
          timeout: 4s
          max_timeouts: 1
          max_failures: 2
          options:
            "1": {next: refill_requested}
            "2": {next: pharmacy}
            "9": {next: opt_out}
            "*": {repeat: true}
          on_failure: bye
      refill_requested:
        play: {prompts: [dialer/refill_requested]}
        event: refill.requested
        next: bye
      pharmacy:
        queue: {name: coordinator, prompts: [dialer/connect_pharmacy]}
        event: dialer.transferred
      opt_out:
        play: {prompts: [dialer/opted_out]}
        event: dialer.opt_out
        next: bye
      bye:
        hangup: {}
`

func dialerUsers() string {
	sum := sha256.Sum256([]byte(auditorTokenDialer))
	return fmt.Sprintf(`users:
  sup: {role: supervisor, token: "env:T_SUPERVISOR"}
  aud: {role: auditor, token_sha256: %q}
`, hex.EncodeToString(sum[:]))
}

// refillCampaign is a refill-reminder campaign on the patients trunk; extra is
// indented YAML added to it.
func refillCampaign(name, extra string) string {
	return fmt.Sprintf(`  %s:
    purpose: refill_reminder
    flow: refill_reminder
    trunk: patients
    caller_id: "+15125550100"
    ring_timeout: 15s
    min_spacing: 2m
    pharmacy_name: Main Street Pharmacy
    callback_number: "+15125550100"
%s`, name, extra)
}

// testClock is the injected engine clock: anchor plus the real time elapsed.
type testClock struct {
	anchor time.Time
	t0     time.Time
}

func newTestClock(anchor time.Time) *testClock { return &testClock{anchor: anchor, t0: time.Now()} }

func (c *testClock) Now() time.Time { return c.anchor.Add(time.Since(c.t0)) }

// A Wednesday late morning in Chicago: inside every window.
func openAnchor(t *testing.T) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(2026, 6, 10, 11, 0, 0, 0, loc)
}

type dialerEngineOpts struct {
	patientAddr string // the trunk's address (a baresip)
	campaigns   string // entries under campaigns:
	agents      string // agents section (default: the harness's)
	clock       *testClock
	onPrompt    func(id uuid.UUID, lang, prompt string, d time.Duration)
}

func startDialerEngine(t *testing.T, o dialerEngineOpts) *Engine {
	t.Helper()
	return startEngine(t, engineOpts{
		trunksYAML: fmt.Sprintf("trunks:\n  local: {allow_from: [\"127.0.0.1\"]}\n  patients: {address: %q}\n", o.patientAddr),
		agentsYAML: o.agents,
		extraYAML: dialerFlows + dialerUsers() + `routing:
  dispositions: {"1": resolved, "2": refill_requested, "9": other}
queues:
  coordinator: {require: {coordinator: 1}, ring_timeout: 5s, wrap_up: 5s}
dialer: {daily_cap: 1, weekly_cap: 3}
campaigns:
` + o.campaigns,
		now: o.clock.Now, onPrompt: o.onPrompt})
}

// writeWAV writes 8 kHz mono 16-bit PCM.
func writeWAV(t *testing.T, path string, pcm []int16) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := media.EncodeWAV(f, pcm, 1); err != nil {
		t.Fatal(err)
	}
	return path
}

// audio builds PCM: ("tone", hz, ms) or ("silence", ms).
func tone(hz float64, ms int, amp float64) []int16 {
	out := make([]int16, ms*8)
	for i := range out {
		out[i] = int16(amp * 32767 * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	return out
}

func silence(ms int) []int16 { return make([]int16, ms*8) }

// personGreeting is a live answer: a short "hello?" and then listening (AMD: human).
func personGreeting(t *testing.T) string {
	pcm := slices.Concat(silence(300), tone(300, 500, 0.3), silence(90_000))
	return writeWAV(t, filepath.Join(t.TempDir(), "hello.wav"), pcm)
}

// machineGreeting is an answering machine: a long spoken greeting (espeak-ng), a beep,
// then the silence in which it records.
func machineGreeting(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	raw, wav := filepath.Join(dir, "raw.wav"), filepath.Join(dir, "speech.wav")
	text := "Hi, you have reached the Johnson family. We cannot come to the phone right now. " +
		"Please leave your name and number after the tone."
	if out, err := exec.CommandContext(ctx, "espeak-ng", "-v", "en-us", "-s", "170", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v\n%s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "sox", raw, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", wav).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	f, err := os.Open(wav)
	if err != nil {
		t.Fatal(err)
	}
	speech, err := media.DecodeWAV(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pcm := slices.Concat(silence(200), speech, silence(300), tone(1000, 500, 0.5), silence(90_000))
	return writeWAV(t, filepath.Join(dir, "machine.wav"), pcm)
}

type patientOpts struct {
	phone    string // E.164: the account user (the R-URI user careline dials)
	greeting string // WAV played when answering
	record   bool
}

// startPatient starts an auto-answering baresip reachable through the patients trunk.
func startPatient(t *testing.T, ctx context.Context, o patientOpts) *bphone {
	t.Helper()
	cfg := peers.BaresipConfig{Account: fmt.Sprintf("<sip:%s@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU", o.phone),
		AudioSource: o.greeting}
	p := &bphone{}
	if o.record {
		p.rec = filepath.Join(t.TempDir(), "rec")
		if err := os.MkdirAll(p.rec, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg.RecordDir = p.rec
	}
	p.Baresip = peers.StartBaresip(ctx, t, cfg)
	return p
}

// importCSV imports contacts into a configured campaign (on the engine's clock).
func (e *Engine) importCSV(t *testing.T, campaign, csv string, clock *testClock) dialer.ImportReport {
	t.Helper()
	c := e.App.Dialer.Campaigns[campaign]
	if c == nil {
		t.Fatalf("campaign %s not configured", campaign)
	}
	rep, err := dialer.ImportWith(context.Background(), e.Pool, c, strings.NewReader(csv), dialer.ImportOptions{Now: clock.Now})
	if err != nil || len(rep.Bad) > 0 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	return rep
}

// campaignAPI calls POST /api/v1/campaigns/{name}/{action}.
func (e *Engine) campaignAPI(t *testing.T, name, action, token string) (int, map[string]any) {
	t.Helper()
	return campaignAPIAt(t, e.App.HTTPAddr, name, action, token)
}

// campaignAPIAt calls a node's campaign API at httpAddr.
func campaignAPIAt(t *testing.T, httpAddr, name, action, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s/api/v1/campaigns/%s/%s", httpAddr, name, action), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func (e *Engine) startCampaign(t *testing.T, name string) {
	t.Helper()
	if code, body := e.campaignAPI(t, name, "start", supervisorToken); code != http.StatusOK || body["state"] != "running" {
		t.Fatalf("start %s: %d %v", name, code, body)
	}
}

type attemptRow struct {
	ID                                       uuid.UUID
	Phone, Disposition, DialResult, AMD, Det string
	Live, Abandoned                          bool
}

// waitAttempts waits until campaign has n finished attempts and returns them in order.
func (e *Engine) waitAttempts(t *testing.T, campaign string, n int) []attemptRow {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := e.Pool.Query(context.Background(), `SELECT id, phone, coalesce(disposition,''), coalesce(dial_result,''),
			coalesce(amd_result,''), detail, live_answer, abandoned FROM contact_attempts
			WHERE campaign = $1 AND state = 'done' ORDER BY started_at, id`, campaign)
		if err != nil {
			t.Fatal(err)
		}
		var out []attemptRow
		for rows.Next() {
			var a attemptRow
			if err := rows.Scan(&a.ID, &a.Phone, &a.Disposition, &a.DialResult, &a.AMD, &a.Det, &a.Live, &a.Abandoned); err != nil {
				t.Fatal(err)
			}
			out = append(out, a)
		}
		rows.Close()
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign %s: %d attempts done, want %d", campaign, len(out), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type decisionRow struct {
	Allowed           bool
	Reason, LocalTime string
	Next              *time.Time
}

// waitDecision waits for campaign's first dial decision.
func (e *Engine) waitDecision(t *testing.T, campaign string) decisionRow {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var d decisionRow
		err := e.Pool.QueryRow(context.Background(), `SELECT allowed, reason, local_time, next_at FROM dial_decisions
			WHERE campaign = $1 ORDER BY at, id LIMIT 1`, campaign).Scan(&d.Allowed, &d.Reason, &d.LocalTime, &d.Next)
		if err == nil {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign %s: no dial decision: %v", campaign, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *Engine) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// attemptEvents returns an attempt's events as "type" or "ivr.node_exit:node=exit" or
// "dialer.decision:allowed", in order.
func (e *Engine) attemptEvents(t *testing.T, id uuid.UUID) []string {
	t.Helper()
	e.drain(t)
	rows, err := e.Pool.Query(context.Background(), `SELECT type, detail FROM interaction_events
		WHERE interaction_id = $1 ORDER BY at, id`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ string
		var raw []byte
		if err := rows.Scan(&typ, &raw); err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		_ = json.Unmarshal(raw, &d)
		switch typ {
		case "ivr.node_exit":
			typ += fmt.Sprintf(":%v=%v", d["node"], d["exit"])
		case "dialer.decision":
			typ += fmt.Sprintf(":%v", d["reason"])
		case "dialer.attempt.ended":
			typ += fmt.Sprintf(":%v", d["disposition"])
		case "dialer.amd":
			typ += fmt.Sprintf(":%v", d["result"])
		}
		out = append(out, typ)
	}
	return out
}

// isSubsequence reports whether want appears in got in order.
func isSubsequence(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// answerAndPress waits for the patient to be called, for the menu prompt to start and
// presses key (barging in).
func answerAndPress(t *testing.T, ctx context.Context, p *bphone, plog *promptLog, menu, key string) {
	t.Helper()
	waitPatient(t, ctx, p, "CALL_ESTABLISHED", "the patient was not called")
	m := plog.waitFor(t, menu)
	time.Sleep(time.Until(m.At.Add(1500 * time.Millisecond)))
	if _, err := p.Command(ctx, "sndcode", key); err != nil {
		t.Fatal(err)
	}
	waitPatient(t, ctx, p, "CALL_CLOSED", "careline did not hang up")
}

// waitPatient waits up to 40 s for a baresip event; on failure it shows the phone's log
// (the engine's log is shown by the harness).
func waitPatient(t *testing.T, ctx context.Context, p *bphone, event, what string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	if _, err := p.WaitEvent(wctx, event); err != nil {
		t.Fatalf("%s (%s: %v); phone log:\n%s", what, event, err, p.Log)
	}
}

// Refill reminder: the patient answers, hears the identification and the refill menu,
// presses 1. The attempt is refill-requested, with the events in order.
func TestDialerRefillReminderPress1(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 90*time.Second)
	const phoneNo = "+13125550101"
	pat := startPatient(t, ctx, patientOpts{phone: phoneNo, greeting: personGreeting(t)})
	clock, plog := newTestClock(openAnchor(t)), newPromptLog()
	e := startDialerEngine(t, dialerEngineOpts{patientAddr: pat.SIPAddr(), campaigns: refillCampaign("refills", ""),
		clock: clock, onPrompt: plog.add})
	e.importCSV(t, "refills", "patient_ref,phone,time_zone,language\nR1,"+phoneNo+",America/Chicago,en\n", clock)

	// The campaign API: supervisors and admins only.
	if code, _ := e.campaignAPI(t, "refills", "start", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := e.campaignAPI(t, "refills", "start", auditorTokenDialer); code != http.StatusForbidden {
		t.Fatalf("auditor: %d", code)
	}
	if code, _ := e.campaignAPI(t, "nope", "start", supervisorToken); code != http.StatusNotFound {
		t.Fatalf("unknown campaign: %d", code)
	}
	e.startCampaign(t, "refills")
	answerAndPress(t, ctx, pat, plog, "dialer/refill_ready", "1")

	a := e.waitAttempts(t, "refills", 1)[0]
	if a.Phone != phoneNo || a.Disposition != string(dialer.RefillRequested) || a.DialResult != "answered" ||
		a.AMD != "human" || !a.Live || a.Abandoned {
		t.Fatalf("attempt %+v", a)
	}
	var status, final, by string
	e.Pool.QueryRow(ctx, `SELECT status, coalesce(final_disposition,'') FROM campaign_contacts WHERE campaign='refills'`).Scan(&status, &final)
	e.Pool.QueryRow(ctx, `SELECT changed_by FROM campaigns WHERE name='refills'`).Scan(&by)
	if status != "done" || final != string(dialer.RefillRequested) || by != "api:sup" {
		t.Fatalf("contact %s/%s, changed by %q", status, final, by)
	}
	got := e.attemptEvents(t, a.ID)
	want := []string{"dialer.decision:allowed", "dialer.attempt.started", "leg.answered", "dialer.attempt.answered",
		"dialer.amd:human", "ivr.node_exit:identify=ok", "ivr.node_exit:offer=option:1",
		"ivr.node_exit:refill_requested=ok", "refill.requested", "ivr.node_exit:bye=ok", "dialer.attempt.ended:refill-requested"}
	if !isSubsequence(got, want) {
		t.Fatalf("events\n got %v\nwant in order %v", got, want)
	}
	var kind, dir, disp string
	e.Pool.QueryRow(ctx, `SELECT kind, direction, coalesce(disposition,'') FROM interactions WHERE id=$1`, a.ID).Scan(&kind, &dir, &disp)
	if kind != "dial_attempt" || dir != "outbound" || disp != string(dialer.RefillRequested) {
		t.Fatalf("interaction %s %s %s", kind, dir, disp)
	}
	// The patient heard the identification first, in English.
	first := plog.all()[0]
	if first.ID != "dialer/identification" || first.Lang != "en" {
		t.Fatalf("first prompt %+v", first)
	}
}

// Opt-out: 9 on the menu records the opt-out; a second campaign never dials the phone.
func TestDialerOptOutIsHonoured(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 90*time.Second)
	const phoneNo = "+13125550102"
	pat := startPatient(t, ctx, patientOpts{phone: phoneNo, greeting: personGreeting(t)})
	clock, plog := newTestClock(openAnchor(t)), newPromptLog()
	e := startDialerEngine(t, dialerEngineOpts{patientAddr: pat.SIPAddr(),
		campaigns: refillCampaign("refills", "") + refillCampaign("refills-b", ""), clock: clock, onPrompt: plog.add})
	csv := "patient_ref,phone,time_zone,language\nR2," + phoneNo + ",America/Chicago,es\n"
	e.importCSV(t, "refills", csv, clock)
	e.importCSV(t, "refills-b", csv, clock)
	e.startCampaign(t, "refills")
	answerAndPress(t, ctx, pat, plog, "dialer/refill_ready", "9")

	a := e.waitAttempts(t, "refills", 1)[0]
	if a.Disposition != string(dialer.OptedOut) {
		t.Fatalf("attempt %+v", a)
	}
	var src, camp string
	var attempt uuid.UUID
	if err := e.Pool.QueryRow(ctx, `SELECT source, campaign, attempt_id FROM opt_outs WHERE phone=$1`, phoneNo).Scan(&src, &camp, &attempt); err != nil ||
		src != "ivr_key" || camp != "refills" || attempt != a.ID {
		t.Fatalf("opt-out row %q %q %v: %v", src, camp, attempt, err)
	}
	// Spanish: the contact's language.
	for _, p := range plog.all() {
		if p.Lang != "es" {
			t.Fatalf("prompt %s in %s for a Spanish-speaking patient", p.ID, p.Lang)
		}
	}
	if !slices.ContainsFunc(plog.all(), func(p promptEntry) bool { return p.ID == "dialer/opted_out" }) {
		t.Fatal("the opt-out was not confirmed")
	}

	e.startCampaign(t, "refills-b")
	d := e.waitDecision(t, "refills-b")
	if d.Allowed || d.Reason != string(dialer.ReasonOptedOut) || d.Next != nil {
		t.Fatalf("second campaign decision %+v", d)
	}
	if n := e.count(t, `SELECT count(*) FROM contact_attempts WHERE phone=$1`, phoneNo); n != 1 {
		t.Fatalf("%d attempts to an opted-out phone", n)
	}
	var status string
	e.Pool.QueryRow(ctx, `SELECT status FROM campaign_contacts WHERE campaign='refills-b'`).Scan(&status)
	if status != "opted_out" {
		t.Fatalf("second campaign's contact is %s", status)
	}
}

// Caps: a patient called today by one campaign is skipped by another the same day.
func TestDialerDailyCapAcrossCampaigns(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 90*time.Second)
	const phoneNo = "+13125550103"
	pat := startPatient(t, ctx, patientOpts{phone: phoneNo, greeting: personGreeting(t)})
	clock, plog := newTestClock(openAnchor(t)), newPromptLog()
	e := startDialerEngine(t, dialerEngineOpts{patientAddr: pat.SIPAddr(),
		campaigns: refillCampaign("refills", "") + refillCampaign("refills-b", ""), clock: clock, onPrompt: plog.add})
	e.importCSV(t, "refills", "patient_ref,phone,time_zone\nR3,"+phoneNo+",America/Chicago\n", clock)
	e.importCSV(t, "refills-b", "patient_ref,phone,time_zone\nR3-b,"+phoneNo+",America/Chicago\n", clock)
	e.startCampaign(t, "refills")
	answerAndPress(t, ctx, pat, plog, "dialer/refill_ready", "1")
	if a := e.waitAttempts(t, "refills", 1)[0]; a.Disposition != string(dialer.RefillRequested) {
		t.Fatalf("first campaign %+v", a)
	}
	e.startCampaign(t, "refills-b")
	d := e.waitDecision(t, "refills-b")
	loc, _ := time.LoadLocation("America/Chicago")
	tomorrow := time.Date(2026, 6, 11, 0, 0, 0, 0, loc)
	if d.Allowed || d.Reason != string(dialer.ReasonDailyCap) || d.Next == nil || !d.Next.Equal(tomorrow) {
		t.Fatalf("second campaign decision %+v (want daily_cap until %s)", d, tomorrow)
	}
	if n := e.count(t, `SELECT count(*) FROM contact_attempts WHERE phone=$1`, phoneNo); n != 1 {
		t.Fatalf("%d attempts to one phone in one day", n)
	}
}

// Window: 21:30 in the patient's zone is outside the calling window; the contact is
// not dialed and waits for 08:00 local.
func TestDialerOutsideWindowNotDialed(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	const phoneNo = "+12125550104"
	pat := startPatient(t, ctx, patientOpts{phone: phoneNo, greeting: personGreeting(t)})
	ny, _ := time.LoadLocation("America/New_York")
	clock := newTestClock(time.Date(2026, 6, 10, 21, 30, 0, 0, ny))
	e := startDialerEngine(t, dialerEngineOpts{patientAddr: pat.SIPAddr(), campaigns: refillCampaign("refills", ""), clock: clock})
	e.importCSV(t, "refills", "patient_ref,phone,time_zone\nR4,"+phoneNo+",America/New_York\n", clock)
	e.startCampaign(t, "refills")
	d := e.waitDecision(t, "refills")
	next := time.Date(2026, 6, 11, 8, 0, 0, 0, ny)
	if d.Allowed || d.Reason != string(dialer.ReasonOutsideWindow) || !strings.HasPrefix(d.LocalTime, "2026-06-10T21:30") ||
		d.Next == nil || !d.Next.Equal(next) {
		t.Fatalf("decision %+v (want outside_window at 21:30 local, next %s)", d, next)
	}
	// Two more runner steps: still no call, the contact waits for the morning.
	time.Sleep(2500 * time.Millisecond)
	if n := e.count(t, `SELECT count(*) FROM contact_attempts`); n != 0 {
		t.Fatalf("%d attempts", n)
	}
	var status string
	var at time.Time
	e.Pool.QueryRow(ctx, `SELECT status, next_attempt_at FROM campaign_contacts`).Scan(&status, &at)
	if status != "pending" || !at.Equal(next) {
		t.Fatalf("contact %s next %s", status, at)
	}
	if pat.Log.Count("answering call") > 0 || pat.Log.Count("Call established") > 0 {
		t.Fatalf("the patient's phone rang:\n%s", pat.Log)
	}
	e.drain(t)
	var reason string
	e.Pool.QueryRow(ctx, `SELECT detail->>'reason' FROM interaction_events WHERE type='dialer.decision'`).Scan(&reason)
	if reason != string(dialer.ReasonOutsideWindow) {
		t.Fatalf("decision event reason %q", reason)
	}
}

// Machine: AMD hears a long greeting; careline waits for the beep and leaves the
// minimum-necessary voicemail (pharmacy prompts and the callback number only).
func TestDialerMachineGetsVoicemail(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 120*time.Second)
	const phoneNo = "+13125550105"
	pat := startPatient(t, ctx, patientOpts{phone: phoneNo, greeting: machineGreeting(t, ctx), record: true})
	clock, plog := newTestClock(openAnchor(t)), newPromptLog()
	e := startDialerEngine(t, dialerEngineOpts{patientAddr: pat.SIPAddr(), campaigns: refillCampaign("refills", ""),
		clock: clock, onPrompt: plog.add})
	e.importCSV(t, "refills", "patient_ref,phone,time_zone\nR5,"+phoneNo+",America/Chicago\n", clock)
	e.startCampaign(t, "refills")
	if _, err := pat.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("the machine was not called: %v", err)
	}
	if _, err := pat.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
		t.Fatalf("careline did not hang up: %v", err)
	}
	a := e.waitAttempts(t, "refills", 1)[0]
	if a.Disposition != string(dialer.VoicemailLeft) || a.AMD != "machine" || a.Live || a.Det != "after beep" {
		t.Fatalf("attempt %+v", a)
	}
	// Exactly the voicemail template: no flow prompt, nothing about the prescription.
	var ids []string
	for _, p := range plog.all() {
		ids = append(ids, p.ID)
	}
	want := dialer.ExpandPrompts([]string{"dialer/vm_prescription", "$callback_number", "dialer/vm_repeat_number",
		"$callback_number", "dialer/vm_opt_out"}, "en", "+15125550100")
	if !slices.Equal(ids, want) {
		t.Fatalf("played %v\nwant %v", ids, want)
	}
	heard := readWAV(t, findDump(t, pat.rec, "dec"))
	dur := time.Duration(len(heard)) * time.Second / 8000
	loud := -120.0
	for i := 0; i+4000 <= len(heard); i += 4000 {
		loud = max(loud, dsp.DBFS(heard[i:i+4000]))
	}
	t.Logf("voicemail recorded by the machine: %s, loudest half second %.1f dBFS", dur, loud)
	if dur < 10*time.Second || dur > 60*time.Second || loud < -30 {
		t.Fatalf("voicemail recording %s, loudest %.1f dBFS: want a non-silent message of at most 60 s", dur, loud)
	}
	if m := bestMatch(heard, loadPromptPCM(t, "en", "dialer/vm_prescription")); m < 0.9 {
		t.Fatalf("the pharmacy's voicemail prompt is not in what the machine recorded (match %.3f)", m)
	}
	if got := e.attemptEvents(t, a.ID); !isSubsequence(got, []string{"dialer.amd:machine", "dialer.attempt.ended:voicemail-left"}) {
		t.Fatalf("events %v", got)
	}
}
