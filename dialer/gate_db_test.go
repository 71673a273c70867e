package dialer

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// addAttempt inserts a past attempt to a phone, started at t (local date in zone).
func addAttempt(t testing.TB, pool *pgxpool.Pool, contact int64, phone string, started time.Time, zone string) {
	t.Helper()
	local := started.In(mustLoc(t, zone)).Format("2006-01-02")
	if _, err := pool.Exec(context.Background(), `INSERT INTO contact_attempts (id, contact_id, campaign, phone, attempt_no,
		state, node, lease_until, started_at, local_date, disposition)
		VALUES (gen_random_uuid(), $1, 'refills', $2, 1, 'done', 'test', $3, $3, $4::date, 'no-answer')`,
		contact, phone, started, local); err != nil {
		t.Fatal(err)
	}
}

func TestGateCheckDatabaseRules(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	ctx := context.Background()
	c := testCampaign("refills", RefillReminder)
	c.MinSpacing = 2 * time.Hour
	if err := EnsureCampaign(ctx, pool, c); err != nil {
		t.Fatal(err)
	}
	var cid int64
	if err := pool.QueryRow(ctx, `INSERT INTO campaign_contacts (campaign, patient_ref, phone, language, time_zones, tz_source, dedupe_key)
		VALUES ('refills', 'X', '+10000000000', 'en', '{America/New_York}', 'record', 'k') RETURNING id`).Scan(&cid); err != nil {
		t.Fatal(err)
	}
	la := "America/Los_Angeles"
	g := NewGate(DefaultRules())
	past := at(t, ny, "2026-06-12 15:00")
	cases := []struct {
		name   string
		phone  string
		zone   string
		ref    string
		setup  func(phone string)
		ct     func(*Contact)
		now    time.Time
		reason Reason
		final  bool
		next   time.Time
	}{
		{"clean", "+12125550001", ny, "R1", nil, nil, at(t, ny, "2026-06-10 10:00"), ReasonAllowed, false, time.Time{}},
		{"opted out by phone", "+12125550002", ny, "R2", func(p string) {
			_ = OptOut(ctx, pool, p, "", "api", "", [16]byte{})
		}, nil, at(t, ny, "2026-06-10 10:00"), ReasonOptedOut, true, time.Time{}},
		{"opted out by patient on another phone", "+12125550003", ny, "R3", func(string) {
			_ = OptOut(ctx, pool, "+12125559999", "R3", "ivr_key", "refills", [16]byte{})
		}, nil, at(t, ny, "2026-06-10 10:00"), ReasonOptedOut, true, time.Time{}},
		{"called this morning", "+12125550004", ny, "R4", func(p string) {
			addAttempt(t, pool, cid, p, at(t, ny, "2026-06-10 08:30"), ny)
		}, nil, at(t, ny, "2026-06-10 15:00"), ReasonDailyCap, false, at(t, ny, "2026-06-11 00:00")},
		// 20:00 PDT on June 9 is June 10 in UTC: a UTC day would wrongly cap June 10.
		{"yesterday evening in the patient's zone", "+13105550005", la, "R5", func(p string) {
			addAttempt(t, pool, cid, p, at(t, la, "2026-06-09 20:00"), la)
		}, nil, at(t, la, "2026-06-10 09:00"), ReasonAllowed, false, time.Time{}},
		{"three calls this week", "+12125550006", ny, "R6", func(p string) {
			for _, d := range []string{"2026-06-05 10:00", "2026-06-07 10:00", "2026-06-09 10:00"} {
				addAttempt(t, pool, cid, p, at(t, ny, d), ny)
			}
		}, nil, at(t, ny, "2026-06-10 10:00"), ReasonWeeklyCap, false, at(t, ny, "2026-06-12 00:00")},
		{"three calls, oldest 7 days ago", "+12125550007", ny, "R7", func(p string) {
			for _, d := range []string{"2026-06-03 10:00", "2026-06-07 10:00", "2026-06-09 10:00"} {
				addAttempt(t, pool, cid, p, at(t, ny, d), ny)
			}
		}, nil, at(t, ny, "2026-06-10 10:00"), ReasonAllowed, false, time.Time{}},
		{"max attempts", "+12125550008", ny, "R8", nil, func(ct *Contact) { ct.Attempts = 3 },
			at(t, ny, "2026-06-10 10:00"), ReasonMaxAttempts, true, time.Time{}},
		{"appointment passed", "+12125550009", ny, "R9", nil, func(ct *Contact) { ct.AppointmentAt = &past },
			at(t, ny, "2026-06-12 16:00"), ReasonExpired, true, time.Time{}},
	}
	rulesSpacing := DefaultRules()
	rulesSpacing.DailyCap = 5
	gs := NewGate(rulesSpacing)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(tc.phone)
			}
			ct := &Contact{ID: cid, Phone: tc.phone, PatientRef: tc.ref, Zones: []string{tc.zone}, State: "NY"}
			if tc.ct != nil {
				tc.ct(ct)
			}
			d, err := g.Check(ctx, pool, c, ct, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if d.Reason != tc.reason || d.Final != tc.final || (!tc.next.IsZero() && !d.Next.Equal(tc.next)) {
				t.Fatalf("got %v (final %v, next %s), want %s next %s", d, d.Final, d.Next, tc.reason, tc.next)
			}
		})
	}
	t.Run("spacing across campaigns", func(t *testing.T) {
		p := "+12125550010"
		addAttempt(t, pool, cid, p, at(t, ny, "2026-06-10 09:00"), ny)
		ct := &Contact{ID: cid, Phone: p, Zones: []string{ny}, State: "NY"}
		d, err := gs.Check(ctx, pool, c, ct, at(t, ny, "2026-06-10 10:30"))
		if err != nil || d.Reason != ReasonSpacing || !d.Next.Equal(at(t, ny, "2026-06-10 11:00")) {
			t.Fatalf("got %v %v", d, err)
		}
	})
}
