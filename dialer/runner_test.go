package dialer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const ny = "America/New_York"

// load imports contacts ("ref,phone" pairs) into c with the New York zone and starts c.
func load(t *testing.T, pool *pgxpool.Pool, c *Campaign, now time.Time, rows ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("patient_ref,phone,time_zone,language\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s,%s,en\n", r, ny)
	}
	ctx := context.Background()
	rep, err := ImportWith(ctx, pool, c, strings.NewReader(b.String()), ImportOptions{Now: func() time.Time { return now }})
	if err != nil || len(rep.Bad) > 0 {
		t.Fatalf("import: %v %+v", err, rep)
	}
	if _, err := Start(ctx, pool, c.Name, "test"); err != nil {
		t.Fatal(err)
	}
}

type contactState struct {
	status, final string
	attempts      int
	next          time.Time
}

func contactOf(t *testing.T, pool *pgxpool.Pool, campaign, ref string) contactState {
	t.Helper()
	var c contactState
	var final *string
	if err := pool.QueryRow(context.Background(), `SELECT status, final_disposition, attempts, next_attempt_at
		FROM campaign_contacts WHERE campaign = $1 AND patient_ref = $2`, campaign, ref).
		Scan(&c.status, &final, &c.attempts, &c.next); err != nil {
		t.Fatal(err)
	}
	if final != nil {
		c.final = *final
	}
	return c
}

func decisions(t *testing.T, pool *pgxpool.Pool, campaign string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT reason FROM dial_decisions WHERE campaign = $1 ORDER BY at, id`, campaign)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		_ = rows.Scan(&r)
		out = append(out, r)
	}
	return out
}

const (
	phoneA = "+12125550101"
	phoneB = "+12125550102"
	phoneC = "+12125550103"
)

func TestRunnerRefillRequested(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 10:00")
	h := newHarness(t, now, DefaultRules())
	c := testCampaign("refills", RefillReminder)
	load(t, pool, c, now, "P1,"+phoneA)
	h.dialer.set(phoneA, answer{audio: humanAudio, flow: RefillRequested})
	r := h.runner(c, pool, "n1")
	rep := h.step(r)
	if rep.Allowed != 1 || rep.State != Running {
		t.Fatalf("step %+v", rep)
	}
	ct := contactOf(t, pool, "refills", "P1")
	if ct.status != "done" || ct.final != string(RefillRequested) || ct.attempts != 1 {
		t.Fatalf("contact %+v", ct)
	}
	var disp, amdRes string
	var live bool
	if err := pool.QueryRow(context.Background(), `SELECT disposition, amd_result, live_answer FROM contact_attempts`).Scan(&disp, &amdRes, &live); err != nil {
		t.Fatal(err)
	}
	if disp != string(RefillRequested) || amdRes != "human" || !live {
		t.Fatalf("attempt %s %s %v", disp, amdRes, live)
	}
	if got := decisions(t, pool, "refills"); !slices.Equal(got, []string{"allowed"}) {
		t.Fatalf("decisions %v", got)
	}
	if got := testutil.ToFloat64(h.m.attempts.WithLabelValues("refills", string(RefillRequested))); got != 1 {
		t.Fatalf("attempts metric %g", got)
	}
	if got := testutil.ToFloat64(h.m.amdResults.WithLabelValues("human")); got != 1 {
		t.Fatalf("amd metric %g", got)
	}
	want := []string{"dialer.decision", "dialer.attempt.started", "dialer.attempt.answered", "dialer.amd", "dialer.attempt.ended"}
	if got := h.events.types(); !slices.Equal(got, want) {
		t.Fatalf("events %v", got)
	}
	for _, ev := range h.events.evs {
		if strings.Contains(fmt.Sprint(ev.Detail), "555") {
			t.Fatalf("event detail carries the phone: %v", ev.Detail)
		}
	}
	req := h.flows.reqs[0]
	if req.Flow != "outbound" || req.Vars["pharmacy_name"] != "Main Street Pharmacy" || req.Language != "en" {
		t.Fatalf("flow request %+v", req)
	}
	// Nothing left to dial.
	if rep := h.step(r); rep.Allowed != 0 || h.dialer.total() != 1 {
		t.Fatalf("second step %+v, %d dials", rep, h.dialer.total())
	}
}

func TestRunnerOptOutHonouredBeforeNextDial(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 10:00")
	rules := DefaultRules()
	rules.DailyCap, rules.WeeklyCap = 10, 10
	h := newHarness(t, now, rules)
	c1 := testCampaign("refills", RefillReminder)
	c2 := testCampaign("refills-2", RefillReminder)
	load(t, pool, c1, now, "P1,"+phoneA)
	load(t, pool, c2, now, "P1,"+phoneA)
	h.dialer.set(phoneA, answer{audio: humanAudio, flow: OptedOut})
	h.step(h.runner(c1, pool, "n1"))
	var src string
	if err := pool.QueryRow(context.Background(), `SELECT source FROM opt_outs WHERE phone = $1`, phoneA).Scan(&src); err != nil {
		t.Fatalf("no opt-out row: %v", err)
	}
	if ct := contactOf(t, pool, "refills", "P1"); ct.status != "opted_out" || ct.final != string(OptedOut) {
		t.Fatalf("contact %+v", ct)
	}
	// Another campaign, hours later: the patient is never dialed again.
	h.clock.Add(3 * time.Hour)
	rep := h.step(h.runner(c2, pool, "n2"))
	if rep.Allowed != 0 || rep.Refused != 1 || len(h.dialer.dialsTo(phoneA)) != 1 {
		t.Fatalf("step %+v, dials %d", rep, len(h.dialer.dialsTo(phoneA)))
	}
	if got := decisions(t, pool, "refills-2"); !slices.Equal(got, []string{"opted_out"}) {
		t.Fatalf("decisions %v", got)
	}
	if ct := contactOf(t, pool, "refills-2", "P1"); ct.status != "opted_out" || ct.final != string(BlockedByCompliance) {
		t.Fatalf("contact %+v", ct)
	}
	if got := testutil.ToFloat64(h.m.blocked.WithLabelValues("refills-2", "opted_out")); got != 1 {
		t.Fatalf("blocked metric %g", got)
	}
}

func TestRunnerMachineLeavesMinimumVoicemail(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 10:00")
	h := newHarness(t, now, DefaultRules())
	c := testCampaign("refills", RefillReminder)
	load(t, pool, c, now, "P1,"+phoneA)
	h.dialer.set(phoneA, answer{audio: machineAudio})
	h.step(h.runner(c, pool, "n1"))
	if ct := contactOf(t, pool, "refills", "P1"); ct.status != "done" || ct.final != string(VoicemailLeft) {
		t.Fatalf("contact %+v", ct)
	}
	call := h.dialer.calls[phoneA][0]
	if len(call.plays) != 1 {
		t.Fatalf("plays %+v", call.plays)
	}
	p := call.plays[0]
	want := []string{"dialer/vm_prescription",
		"num/5", "num/1", "num/2", "pause/short", "num/5", "num/5", "num/5", "pause/short", "num/0", "num/1", "num/0", "num/0",
		"dialer/vm_repeat_number",
		"num/5", "num/1", "num/2", "pause/short", "num/5", "num/5", "num/5", "pause/short", "num/0", "num/1", "num/0", "num/0",
		"dialer/vm_opt_out"}
	if !slices.Equal(p.prompts, want) {
		t.Fatalf("voicemail %v", p.prompts)
	}
	if p.atFrame < beepEndFrame {
		t.Fatalf("voicemail started at frame %d, before the beep ended (%d)", p.atFrame, beepEndFrame)
	}
	var amdRes string
	var live bool
	_ = pool.QueryRow(context.Background(), `SELECT amd_result, live_answer FROM contact_attempts`).Scan(&amdRes, &live)
	if amdRes != "machine" || live {
		t.Fatalf("attempt amd %s live %v", amdRes, live)
	}
}

func TestRunnerOutsideWindow(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 21:30")
	h := newHarness(t, now, DefaultRules())
	c := testCampaign("refills", RefillReminder)
	load(t, pool, c, now, "P1,"+phoneA)
	r := h.runner(c, pool, "n1")
	rep := h.step(r)
	if rep.Allowed != 0 || rep.Refused != 1 || h.dialer.total() != 0 {
		t.Fatalf("step %+v", rep)
	}
	if got := decisions(t, pool, "refills"); !slices.Equal(got, []string{"outside_window"}) {
		t.Fatalf("decisions %v", got)
	}
	var lt string
	_ = pool.QueryRow(context.Background(), `SELECT local_time FROM dial_decisions`).Scan(&lt)
	if lt != "2026-06-10T21:30:00-04:00" {
		t.Fatalf("local time %s", lt)
	}
	ct := contactOf(t, pool, "refills", "P1")
	if ct.status != "pending" || !ct.next.Equal(at(t, ny, "2026-06-11 08:00")) {
		t.Fatalf("contact %+v", ct)
	}
	// Not looked at again before the window opens; dialed when it does.
	h.clock.Set(at(t, ny, "2026-06-11 07:59"))
	if rep := h.step(r); rep.Allowed+rep.Refused != 0 {
		t.Fatalf("step before window %+v", rep)
	}
	h.clock.Set(at(t, ny, "2026-06-11 08:00"))
	if rep := h.step(r); rep.Allowed != 1 {
		t.Fatalf("step at 08:00 %+v", rep)
	}
}

func TestRunnerCapsAcrossCampaigns(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 10:00")
	h := newHarness(t, now, DefaultRules()) // 1 a day, 3 a week
	refills := testCampaign("refills", RefillReminder)
	appts := testCampaign("appts", RefillReminder)
	load(t, pool, refills, now, "P1,"+phoneA)
	load(t, pool, appts, now, "P1,"+phoneA, "P2,"+phoneB)
	h.step(h.runner(refills, pool, "n1")) // no answer: refills will retry in 2h
	ra := h.runner(appts, pool, "n2")
	rep := h.step(ra)
	if rep.Allowed != 1 || rep.Refused != 1 {
		t.Fatalf("appts step %+v", rep)
	}
	if n := len(h.dialer.dialsTo(phoneA)); n != 1 {
		t.Fatalf("patient A dialed %d times today", n)
	}
	if got := decisions(t, pool, "appts"); !slices.Contains(got, "daily_cap") {
		t.Fatalf("decisions %v", got)
	}
	ct := contactOf(t, pool, "appts", "P1")
	if !ct.next.Equal(at(t, ny, "2026-06-11 00:00")) {
		t.Fatalf("next %s", ct.next)
	}
	// Same day, retry time of refills: still capped. Next day: one call.
	h.clock.Set(at(t, ny, "2026-06-10 13:00"))
	h.step(h.runner(refills, pool, "n1"))
	h.clock.Set(at(t, ny, "2026-06-11 09:00"))
	h.step(ra)
	h.step(h.runner(refills, pool, "n1"))
	days := map[string]int{}
	for _, d := range h.dialer.dialsTo(phoneA) {
		days[d.at.In(mustLoc(t, ny)).Format("2006-01-02")]++
	}
	if days["2026-06-10"] != 1 || days["2026-06-11"] != 1 {
		t.Fatalf("dials per local day %v", days)
	}
	// Weekly cap: a third day is allowed, a fourth within 7 days is not.
	h.clock.Set(at(t, ny, "2026-06-12 09:00"))
	h.step(h.runner(refills, pool, "n1"))
	h.step(ra)
	h.clock.Set(at(t, ny, "2026-06-13 09:00"))
	h.step(h.runner(refills, pool, "n1"))
	h.step(ra)
	if n := len(h.dialer.dialsTo(phoneA)); n != 3 {
		t.Fatalf("patient A dialed %d times in 4 days", n)
	}
	if got := decisions(t, pool, "refills"); !slices.Contains(got, "weekly_cap") && !slices.Contains(decisions(t, pool, "appts"), "weekly_cap") {
		t.Fatalf("no weekly_cap decision: %v / %v", got, decisions(t, pool, "appts"))
	}
}

func TestRunnerCrashNeverRedialsWithinSpacing(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 10:00")
	rules := DefaultRules()
	rules.DailyCap, rules.WeeklyCap = 10, 10 // only spacing protects the patient here
	h := newHarness(t, now, rules)
	c := testCampaign("refills", RefillReminder)
	c.MinSpacing, c.Retry.Failed = 3*time.Hour, 30*time.Minute
	load(t, pool, c, now, "P1,"+phoneA)
	block := make(chan struct{})
	h.dialer.set(phoneA, answer{block: block})
	h.dialer.started = make(chan string, 4)
	dead := h.runner(c, pool, "dead", WithLease(10*time.Second))
	if _, err := dead.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-h.dialer.started // the INVITE is out; the node "dies" here (never finishes)
	var state string
	_ = pool.QueryRow(context.Background(), `SELECT state FROM contact_attempts`).Scan(&state)
	if state != "dialing" {
		t.Fatalf("attempt state %s before the dial result", state)
	}
	// Another node, within the lease: nothing to recover, nothing to dial.
	h.dialer.set(phoneA, answer{audio: humanAudio, flow: RefillRequested})
	alive := h.runner(c, pool, "alive", WithLease(10*time.Second))
	if rep := h.step(alive); rep.Recovered != 0 || rep.Allowed != 0 {
		t.Fatalf("step within lease %+v", rep)
	}
	// After the lease: recovered as failed/unknown, not re-dialed within spacing.
	h.clock.Add(time.Minute)
	if rep := h.step(alive); rep.Recovered != 1 || rep.Allowed != 0 {
		t.Fatalf("step after lease %+v", rep)
	}
	var disp, res string
	_ = pool.QueryRow(context.Background(), `SELECT disposition, dial_result FROM contact_attempts`).Scan(&disp, &res)
	if disp != string(Failed) || res != "unknown" {
		t.Fatalf("recovered attempt %s/%s", disp, res)
	}
	for _, d := range []time.Duration{30 * time.Minute, 2*time.Hour + 58*time.Minute} {
		h.clock.Set(now.Add(d))
		if rep := h.step(alive); rep.Allowed != 0 {
			t.Fatalf("re-dialed %s after the first INVITE: %+v", d, rep)
		}
	}
	h.clock.Set(now.Add(3 * time.Hour))
	if rep := h.step(alive); rep.Allowed != 1 {
		t.Fatalf("not dialed after spacing: %+v", rep)
	}
	dials := h.dialer.dialsTo(phoneA)
	if len(dials) != 2 || dials[1].at.Sub(dials[0].at) < c.MinSpacing {
		t.Fatalf("dials %+v", dials)
	}
	// The dead node wakes up: its late outcome is fenced off.
	close(block)
	dead.Wait()
	if ct := contactOf(t, pool, "refills", "P1"); ct.status != "done" || ct.final != string(RefillRequested) {
		t.Fatalf("contact after the zombie finished %+v", ct)
	}
}

func TestRunnersShareCampaignWithoutDoubleLease(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 10:00")
	h := newHarness(t, now, DefaultRules())
	c := testCampaign("refills", RefillReminder)
	var rows []string
	for i := range 60 {
		rows = append(rows, fmt.Sprintf("P%02d,+1212555%04d", i, 1000+i))
	}
	load(t, pool, c, now, rows...)
	var wg sync.WaitGroup
	for i := range 3 {
		r := h.runner(c, pool, fmt.Sprintf("n%d", i), WithPacer(PacerOptions{MaxPerStep: 7}))
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Step until no contact is pending (each step leases at most 7; rows another
			// runner holds are skipped, so the number of steps varies).
			for range 100 {
				if _, err := r.Step(context.Background()); err != nil {
					t.Error(err)
					return
				}
				var pending int
				if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM campaign_contacts WHERE status = 'pending'
					AND next_attempt_at <= $1`, now).Scan(&pending); err != nil || pending == 0 {
					break
				}
			}
			r.Wait()
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, d := range h.dialer.dials {
		seen[d.to]++
	}
	if len(seen) != 60 {
		t.Fatalf("%d of 60 patients dialed", len(seen))
	}
	for p, n := range seen {
		if n != 1 {
			t.Fatalf("%s dialed %d times", p, n)
		}
	}
	var attempts int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM contact_attempts`).Scan(&attempts)
	if attempts != 60 {
		t.Fatalf("%d attempts", attempts)
	}
}

func TestRunnerProgressiveConnectsReservedAgent(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 10:00")
	h := newHarness(t, now, DefaultRules())
	c := testCampaign("appts", AppointmentConfirmation)
	c.Pacing, c.Queue = Progressive, "coordinators"
	ctx := context.Background()
	csv := "patient_ref,phone,time_zone,appointment_date,appointment_time,provider,location\n" +
		"A1," + phoneA + ",America/New_York,2026-06-12,15:30,Dr. Lee,Main St\n" +
		"A2," + phoneB + ",America/New_York,2026-06-12,16:00,Dr. Lee,Main St\n"
	if _, err := ImportWith(ctx, pool, c, strings.NewReader(csv), ImportOptions{Now: h.clock.Now}); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(ctx, pool, c.Name, "test"); err != nil {
		t.Fatal(err)
	}
	agents := &fakeAgents{ready: 1, disp: Confirmed}
	h.dialer.set(phoneA, answer{audio: humanAudio})
	h.dialer.set(phoneB, answer{audio: humanAudio})
	r := h.runner(c, pool, "n1", WithAgents(agents))
	rep := h.step(r)
	if rep.Plan.Mode != Progressive || !rep.Plan.Reserve || rep.Allowed != 1 {
		t.Fatalf("one ready agent, one dial: %+v", rep)
	}
	rep = h.step(r) // the agent is back: the second patient
	if rep.Allowed != 1 || agents.connected != 2 || agents.ready != 1 {
		t.Fatalf("step %+v, connected %d, ready %d", rep, agents.connected, agents.ready)
	}
	for _, ref := range []string{"A1", "A2"} {
		if ct := contactOf(t, pool, "appts", ref); ct.status != "done" || ct.final != string(Confirmed) {
			t.Fatalf("%s: %+v", ref, ct)
		}
	}
}

// A reserved agent who is not on the line within 2 s of the greeting: the patient
// hears the identification and opt-out message and the call counts as abandoned.
func TestRunnerProgressiveAgentLateIsAbandoned(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 10:00")
	h := newHarness(t, now, DefaultRules())
	c := testCampaign("refills", RefillReminder)
	c.Pacing, c.Queue = Progressive, "pharmacy"
	load(t, pool, c, now, "P1,"+phoneA)
	agents := &fakeAgents{ready: 1, late: true}
	h.dialer.set(phoneA, answer{audio: humanAudio})
	r := h.runner(c, pool, "n1", WithAgents(agents))
	before := time.Now()
	if rep := h.step(r); rep.Allowed != 1 {
		t.Fatalf("step %+v", rep)
	}
	if agents.connectBy.Before(before) || agents.connectBy.After(time.Now().Add(3*time.Second)) {
		t.Fatalf("ConnectBy %v not within 2 s of the greeting", agents.connectBy)
	}
	call := h.dialer.calls[phoneA][0]
	if len(call.plays) != 1 || !slices.Equal(call.plays[0].prompts, []string{"dialer/abandoned", "dialer/stop_calls_option"}) {
		t.Fatalf("plays %+v", call.plays)
	}
	var disp string
	var abandoned bool
	_ = pool.QueryRow(context.Background(), `SELECT disposition, abandoned FROM contact_attempts WHERE phone = $1`, phoneA).Scan(&disp, &abandoned)
	if disp != string(Abandoned) || !abandoned {
		t.Fatalf("attempt %s abandoned=%v", disp, abandoned)
	}
}

func TestRunnerPredictiveAbandonPlaysOptOutMessage(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 10:00")
	h := newHarness(t, now, DefaultRules())
	c := testCampaign("refills", RefillReminder)
	c.Pacing, c.Queue = Predictive, "pharmacy"
	load(t, pool, c, now, "P1,"+phoneA, "P2,"+phoneB)
	// History: one earlier live answer (so the pacer may dial ahead with a fixed risk).
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO contact_attempts (id, contact_id, campaign, phone, attempt_no, state, node,
		lease_until, started_at, local_date, answered_at, live_answer, disposition)
		SELECT gen_random_uuid(), id, campaign, '+19995550000', 1, 'done', 'old', $1, $1, '2026-06-01', $1, true, 'confirmed'
		FROM campaign_contacts WHERE patient_ref = 'P2'`, now.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The agents the snapshot showed are taken by inbound calls when the patient answers.
	agents := &fakeAgents{claim: 1}
	h.dialer.set(phoneA, answer{audio: humanAudio, keys: []string{"9"}})
	r := h.runner(c, pool, "n1", WithAgents(agents), WithAgentGrace(50*time.Millisecond),
		WithPacer(PacerOptions{MinLive: 1, MinSamples: 1, FixedRisk: 0.9, MaxPerStep: 1}))
	for range 5 {
		r.est.ObserveDial(DialObservation{Answered: true, Live: true, Ring: 5 * time.Second})
	}
	rep := h.step(r)
	if rep.Plan.Mode != Predictive || rep.Allowed != 1 {
		t.Fatalf("step %+v", rep)
	}
	call := h.dialer.calls[phoneA][0]
	if len(call.plays) != 2 || !slices.Equal(call.plays[0].prompts, []string{"dialer/abandoned", "dialer/stop_calls_option"}) ||
		!slices.Equal(call.plays[1].prompts, []string{"dialer/opted_out"}) {
		t.Fatalf("plays %+v", call.plays)
	}
	var disp string
	var live, abandoned bool
	_ = pool.QueryRow(ctx, `SELECT disposition, live_answer, abandoned FROM contact_attempts WHERE phone = $1`, phoneA).Scan(&disp, &live, &abandoned)
	if disp != string(Abandoned) || !live || !abandoned {
		t.Fatalf("attempt %s live=%v abandoned=%v", disp, live, abandoned)
	}
	var src string
	if err := pool.QueryRow(ctx, `SELECT source FROM opt_outs WHERE phone = $1`, phoneA).Scan(&src); err != nil || src != "abandon_message" {
		t.Fatalf("opt-out %q %v", src, err)
	}
	st, err := LoadAbandonStats(ctx, pool, "refills", h.clock.Now())
	if err != nil || st.Live != 2 || st.Abandoned != 1 {
		t.Fatalf("abandon stats %+v %v", st, err)
	}
	h.step(r) // refreshes the gauges
	if got := testutil.ToFloat64(h.m.abandonRatio.WithLabelValues("refills", "30d")); got != 0.5 {
		t.Fatalf("abandon ratio gauge %g", got)
	}
	if got := testutil.ToFloat64(h.m.abandonUpper.WithLabelValues("refills")); got < 0.9 {
		t.Fatalf("abandon upper gauge %g", got)
	}
}

func TestRunnerPausedCampaignDoesNotDial(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 10:00")
	h := newHarness(t, now, DefaultRules())
	c := testCampaign("refills", RefillReminder)
	load(t, pool, c, now, "P1,"+phoneA)
	ctx := context.Background()
	if _, err := Pause(ctx, pool, "refills", "test"); err != nil {
		t.Fatal(err)
	}
	r := h.runner(c, pool, "n1")
	if rep := h.step(r); rep.State != Paused || rep.Allowed != 0 || h.dialer.total() != 0 {
		t.Fatalf("paused step %+v", rep)
	}
	if _, err := Resume(ctx, pool, "refills", "test"); err != nil {
		t.Fatal(err)
	}
	if rep := h.step(r); rep.State != Running || rep.Allowed != 1 {
		t.Fatalf("resumed step %+v", rep)
	}
}

func TestRunnerRunLoop(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 10:00")
	h := newHarness(t, now, DefaultRules())
	c := testCampaign("refills", RefillReminder)
	load(t, pool, c, now, "P1,"+phoneA, "P2,"+phoneB)
	h.dialer.set(phoneA, answer{audio: humanAudio, flow: RefillRequested})
	h.dialer.set(phoneB, answer{audio: humanAudio, flow: RefillRequested})
	h.dialer.started = make(chan string, 2)
	r := h.runner(c, pool, "n1", WithPollInterval(20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case p := <-h.dialer.started:
			got[p] = true
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not dial both patients")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Run waited for the calls: both outcomes are stored.
	for _, ref := range []string{"P1", "P2"} {
		if ct := contactOf(t, pool, "refills", ref); ct.status != "done" {
			t.Fatalf("%s: %+v", ref, ct)
		}
	}
}
