package report

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The seeded day: Tuesday 2026-03-10 at a pharmacy in America/Chicago (CDT, a 24 h
// day), three queues, two languages, three agents. Every figure in
// testdata/daily-2026-03-10.csv was worked out by hand from what is written here.
var seededDay = Date{2026, time.March, 10}

func chicago(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func testSite(t testing.TB) Site {
	return Site{
		Name:      "Test Pharmacy",
		Location:  chicago(t),
		Languages: []string{"en", "es"},
		Queues: []Queue{
			{ID: "coordinator", Name: "Patient coordinator", ServiceLevel: 60 * time.Second},
			{ID: "nurse", Name: "Nurse line", ServiceLevel: 30 * time.Second},
			{ID: "pharmacist", Name: "Pharmacist", ServiceLevel: 90 * time.Second},
		},
		Agents:              []Agent{{"a1", "Ana Ruiz"}, {"a2", "Ben Ortiz"}, {"a3", "Carla Nguyen"}},
		Campaigns:           []string{"appointments", "refills"},
		DefaultServiceLevel: 60 * time.Second,
	}
}

// seedDay writes the seeded day (and a few rows on the days around it that must not
// count) and returns the report options to read it back.
func seedDay(t *testing.T, pool *pgxpool.Pool) DailyOptions {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := newSeeder(t, chicago(t), seededDay)
	T, N, P := s.T, s.N, s.P

	// ---- coordinator (service level 60 s) ----
	c1 := s.queued("en", T("09:00:00"), "coordinator", T("09:00:30"))
	s.offer(c1, "coordinator", "a1", T("09:00:40"))
	s.answered(c1, "coordinator", "a1", T("09:00:50")) // wait 20 s, in SL
	s.ended(c1, T("09:05:50"), "caller_hangup")

	c2 := s.queued("es", T("09:10:00"), "coordinator", T("09:10:20"))
	s.offer(c2, "coordinator", "a1", T("09:11:30"))
	s.answered(c2, "coordinator", "a1", T("09:11:40")) // wait 80 s, out of SL
	s.ended(c2, T("09:15:40"), "local_hangup")

	c3 := s.queued("en", T("09:20:00"), "coordinator", T("09:20:15"))
	s.leave(c3, "coordinator", "abandoned", T("09:20:20"), nil) // 5 s: short abandon
	s.ended(c3, T("09:20:20"), "caller_hangup")

	c4 := s.queued("es", T("09:30:00"), "coordinator", T("09:30:10"))
	s.leave(c4, "coordinator", "abandoned", T("09:32:10"), nil) // 120 s
	s.ended(c4, T("09:32:10"), "caller_hangup")

	c5 := s.queued("en", T("10:00:00"), "coordinator", T("10:00:10"))
	s.offer(c5, "coordinator", "a3", T("10:00:12"))
	s.event(c5, "queue.offer_result", T("10:00:30"), map[string]any{"queue": "coordinator", "agent": "a3",
		"result": "no_answer", "reason": "", "ring_ms": 18000})
	s.event(c5, "agent.rona", T("10:00:30"), map[string]any{"queue": "coordinator", "agent": "a3", "ring_ms": 18000})
	s.offer(c5, "coordinator", "a1", T("10:00:31"))
	s.answered(c5, "coordinator", "a1", T("10:00:40")) // wait 30 s, in SL
	s.ended(c5, T("10:03:40"), "caller_hangup")

	// Starts before midnight, abandons after it: counts on the seeded day.
	c6 := s.queued("en", T("23:59:30"), "coordinator", T("23:59:40"))
	s.leave(c6, "coordinator", "abandoned", N("00:00:40"), nil) // 60 s
	s.ended(c6, N("00:00:40"), "caller_hangup")

	// Started the day before, abandons after midnight: not this day.
	c7 := s.queued("en", P("23:59:00"), "coordinator", P("23:59:20"))
	s.leave(c7, "coordinator", "abandoned", T("00:00:10"), nil)
	s.ended(c7, T("00:00:10"), "caller_hangup")

	// Starts just after the day: not this day.
	c8 := s.queued("es", N("00:00:05"), "coordinator", N("00:00:20"))
	s.leave(c8, "coordinator", "abandoned", N("00:00:50"), nil)

	// ---- pharmacist (service level 90 s) ----
	p1 := s.queued("en", T("11:00:00"), "pharmacist", T("11:00:20"))
	s.offer(p1, "pharmacist", "a2", T("11:00:50"))
	s.answered(p1, "pharmacist", "a2", T("11:01:00")) // 40 s, in SL
	s.ended(p1, T("11:11:00"), "caller_hangup")

	p2 := s.queued("en", T("11:05:00"), "pharmacist", T("11:05:20"))
	s.leave(p2, "pharmacist", "abandoned", T("11:05:28"), nil) // 8 s: short
	s.ended(p2, T("11:05:28"), "caller_hangup")

	p4 := s.queued("es", T("11:08:00"), "pharmacist", T("11:08:05"))
	s.leave(p4, "pharmacist", "abandoned", T("11:09:05"), nil) // 60 s
	s.ended(p4, T("11:09:05"), "caller_hangup")

	p3 := s.queued("es", T("11:20:00"), "pharmacist", T("11:20:10"))
	s.offer(p3, "pharmacist", "a2", T("11:22:00"))
	s.answered(p3, "pharmacist", "a2", T("11:22:10")) // 120 s, out of SL
	s.ended(p3, T("11:27:10"), "caller_hangup")

	// Asks for a callback keeping its place; the callback expires unanswered.
	p5 := s.queued("en", T("11:39:50"), "pharmacist", T("11:40:00"))
	s.event(p5, "queue.callback", T("11:41:30"), map[string]any{"queue": "pharmacist", "why": "requested",
		"position": 1, "wait_ms": 90000})
	s.ended(p5, T("11:41:40"), "local_hangup")
	s.leave(p5, "pharmacist", "callback_expired", T("15:41:30"), map[string]any{"attempts": 0})

	// ---- nurse (service level 30 s) ----
	n1 := s.queued("en", T("14:00:00"), "nurse", T("14:00:20"))
	s.offer(n1, "nurse", "a3", T("14:00:30"))
	s.answered(n1, "nurse", "a3", T("14:00:35")) // 15 s, in SL
	s.ended(n1, T("14:07:35"), "caller_hangup")

	n2 := s.queued("en", T("14:10:00"), "nurse", T("14:10:10"))
	s.leave(n2, "nurse", "overflowed", T("14:15:10"), map[string]any{"target": "voicemail:nurse"})
	s.event(n2, "voicemail.saved", T("14:16:00"), map[string]any{"box": "nurse", "recording": uuid.NewString()})
	s.ended(n2, T("14:16:00"), "local_hangup")

	n3 := s.queued("es", T("14:40:00"), "nurse", T("14:40:05"))
	s.offer(n3, "nurse", "a3", T("14:40:45"))
	s.answered(n3, "nurse", "a3", T("14:40:50")) // 45 s, out of SL
	s.ended(n3, T("14:42:50"), "caller_hangup")

	// Entered the queue, no exit logged (the log is incomplete): unresolved.
	s.queued("es", T("16:00:00"), "nurse", T("16:00:10"))

	// ---- agents ----
	s.agent("a1", "logged_out", cat(
		[]step{{at: T("08:45:00"), to: "ready", reason: "login"}},
		handled(c1, T("09:00:40"), T("09:00:50"), T("09:05:50"), T("09:06:10")),
		handled(c2, T("09:11:30"), T("09:11:40"), T("09:15:40"), T("09:16:00")),
		handled(c5, T("10:00:31"), T("10:00:40"), T("10:03:40"), T("10:04:00")),
		[]step{{at: T("10:10:00"), to: "away", reason: "break"}, {at: T("10:20:00"), to: "ready", reason: "back"},
			{at: T("10:30:00"), to: "logged_out", reason: "logout"}},
	)...)
	s.agent("a2", "ready", step{at: P("18:00:00"), to: "logged_out", reason: "logout"}) // the day before
	s.agent("a2", "logged_out", cat(
		[]step{{at: T("10:55:00"), to: "ready", reason: "login"}},
		handled(p1, T("11:00:50"), T("11:01:00"), T("11:11:00"), T("11:11:30")),
		handled(p3, T("11:22:00"), T("11:22:10"), T("11:27:10"), T("11:27:40")),
		[]step{{at: T("11:45:00"), to: "logged_out", reason: "logout"}},
	)...)
	s.agent("a3", "logged_out", cat(
		[]step{{at: T("09:55:00"), to: "ready", reason: "login"},
			{at: T("10:00:12"), to: "offered", iid: c5}, {at: T("10:00:30"), to: "away", reason: "rona", iid: c5},
			{at: T("10:05:00"), to: "ready", reason: "back"}},
		handled(n1, T("14:00:30"), T("14:00:35"), T("14:07:35"), T("14:08:05")),
		[]step{{at: T("14:09:00"), to: "away", reason: "break"}, {at: T("14:30:00"), to: "ready", reason: "back"}},
		handled(n3, T("14:40:45"), T("14:40:50"), T("14:42:50"), T("14:43:20")),
		[]step{{at: T("15:00:00"), to: "logged_out", reason: "logout"}},
	)...)

	// ---- IVR only ----
	r1 := s.call("en", T("08:30:00")) // refill, then the goodbye: completed
	s.node(r1, T("08:30:20"), "main_menu", "menu", "option:1")
	s.refill(r1, T("08:30:40"))
	s.node(r1, T("08:30:50"), "refill_received", "say", "ok")
	s.node(r1, T("08:30:55"), "goodbye", "hangup", "ok")
	s.ended(r1, T("08:30:55"), "local_hangup")

	r2 := s.call("es", T("08:40:00")) // refill, hangs up during the read-back
	s.node(r2, T("08:40:20"), "main_menu", "menu", "option:1")
	s.refill(r2, T("08:40:40"))
	s.node(r2, T("08:40:45"), "refill_received", "say", "hangup")
	s.ended(r2, T("08:40:45"), "caller_hangup")

	r3 := s.call("en", T("09:50:00")) // hangs up in the menu
	s.node(r3, T("09:50:20"), "main_menu", "menu", "hangup")
	s.ended(r3, T("09:50:20"), "caller_hangup")

	r4 := s.call("es", T("12:00:00")) // refill: completed
	s.node(r4, T("12:00:20"), "main_menu", "menu", "option:1")
	s.refill(r4, T("12:00:40"))
	s.node(r4, T("12:00:50"), "refill_received", "say", "ok")
	s.node(r4, T("12:00:55"), "goodbye", "hangup", "ok")
	s.ended(r4, T("12:00:55"), "local_hangup")

	x1 := s.call("en", T("13:00:00")) // a transfer that fails: other
	s.node(x1, T("13:00:20"), "main_menu", "menu", "option:4")
	s.node(x1, T("13:00:40"), "billing_line", "transfer", "failed")
	s.ended(x1, T("13:00:40"), "error")

	cb := s.call("en", T("18:00:00")) // after hours: asks for a callback
	s.node(cb, T("18:00:20"), "hours", "branch_hours", "closed")
	s.node(cb, T("18:00:50"), "callback", "callback_request", "ok")
	s.ended(cb, T("18:00:50"), "local_hangup")

	v1 := s.call("en", T("19:00:00")) // after hours: leaves a voicemail
	s.node(v1, T("19:00:20"), "hours", "branch_hours", "closed")
	s.node(v1, T("19:01:30"), "voicemail", "voicemail", "saved")
	s.event(v1, "voicemail.left", T("19:01:30"), map[string]any{"flow": "pharmacy", "node": "voicemail"})
	s.ended(v1, T("19:01:30"), "caller_hangup")

	t1 := s.call("en", T("12:30:00")) // the test line: no IVR flow
	s.event(t1, "test.dtmf_echo", T("12:30:05"), map[string]any{"digits": "len:1"})
	s.ended(t1, T("12:30:20"), "caller_hangup")

	r0 := s.call("en", P("22:00:00")) // a refill the day before
	s.refill(r0, P("22:00:30"))

	// ---- campaigns ----
	s.exec(`INSERT INTO campaigns (name, purpose, state) VALUES ('refills', 'refill_reminder', 'running'),
		('appointments', 'appointment_confirmation', 'stopped')`)
	s.flush(ctx, pool)
	ph := func(i int) string { return "+1512555" + itoa(1000+i) }
	cid := map[int]int64{}
	for i := 1; i <= 13; i++ {
		cid[i] = contact(t, ctx, pool, "refills", ph(i))
	}
	a1 := s.attempt("refills", cid[1], ph(1), attempt{started: T("09:00:00"), state: "done", answered: true,
		dialResult: "answered", amd: "human", disp: "refill-requested", live: true})
	// The agentless flow of a dial attempt logs IVR events: they belong to the campaign.
	s.node(a1, T("09:00:30"), "reminder", "menu", "option:1")
	s.event(a1, "refill.requested", T("09:00:30"), map[string]any{"flow": "refill_reminder", "node": "reminder"})
	s.attempt("refills", cid[2], ph(2), attempt{started: T("09:05:00"), state: "done", dialResult: "no_answer", disp: "no-answer"})
	s.attempt("refills", cid[3], ph(3), attempt{started: T("09:10:00"), state: "done", answered: true,
		dialResult: "answered", amd: "machine", disp: "voicemail-left"})
	s.attempt("refills", cid[4], ph(4), attempt{started: T("09:15:00"), state: "done", answered: true,
		dialResult: "answered", amd: "human", disp: "abandoned", live: true, abandoned: true})
	s.attempt("refills", cid[5], ph(5), attempt{started: T("09:20:00"), state: "done", dialResult: "busy", disp: "busy"})
	s.attempt("refills", cid[6], ph(6), attempt{started: T("09:25:00"), state: "done", answered: true,
		dialResult: "answered", amd: "human", disp: "transferred", live: true})
	s.attempt("refills", cid[7], ph(7), attempt{started: T("20:50:00"), state: "dialing"})
	s.attempt("refills", cid[8], ph(8), attempt{started: P("20:55:00"), state: "done", answered: true, // day before
		dialResult: "answered", amd: "human", disp: "confirmed", live: true})
	s.decision("refills", cid[10], T("07:30:00"), false, "outside_window", uuid.Nil)
	s.decision("refills", cid[10], T("07:45:00"), false, "outside_window", uuid.Nil)
	s.decision("refills", cid[11], T("09:30:00"), false, "opted_out", uuid.Nil)
	s.decision("refills", cid[12], T("09:35:00"), false, "daily_cap", uuid.Nil)
	s.decision("refills", cid[12], T("21:30:00"), false, "outside_window", uuid.Nil)
	s.decision("refills", cid[13], P("21:30:00"), false, "outside_window", uuid.Nil) // day before
	s.flush(ctx, pool)

	return DailyOptions{Date: seededDay, Now: s.N("08:00:00")}
}
