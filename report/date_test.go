package report

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/careline/careline/store"
)

func TestDateBounds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		zone, date, start, end string
		hours                  float64
	}{
		{"America/Chicago", "2026-03-10", "2026-03-10T00:00:00-05:00", "2026-03-11T00:00:00-05:00", 24},
		{"America/Chicago", "2026-03-08", "2026-03-08T00:00:00-06:00", "2026-03-09T00:00:00-05:00", 23}, // spring forward
		{"America/Chicago", "2026-11-01", "2026-11-01T00:00:00-05:00", "2026-11-02T00:00:00-06:00", 25}, // fall back
		{"America/Chicago", "2026-12-31", "2026-12-31T00:00:00-06:00", "2027-01-01T00:00:00-06:00", 24},
		{"Europe/London", "2026-03-29", "2026-03-29T00:00:00Z", "2026-03-30T00:00:00+01:00", 23},
		{"Australia/Lord_Howe", "2026-04-05", "2026-04-05T00:00:00+11:00", "2026-04-06T00:00:00+10:30", 24.5},
		// Midnight does not exist: the clocks go from 23:59:59 to 01:00.
		{"America/Santiago", "2026-09-06", "2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00", 23},
		{"America/Havana", "2026-03-08", "2026-03-08T01:00:00-04:00", "2026-03-09T00:00:00-04:00", 23},
		{"Asia/Kolkata", "2026-03-08", "2026-03-08T00:00:00+05:30", "2026-03-09T00:00:00+05:30", 24},
		{"UTC", "2028-02-29", "2028-02-29T00:00:00Z", "2028-03-01T00:00:00Z", 24},
		// Samoa skipped this day when it crossed the date line: an empty day.
		{"Pacific/Apia", "2011-12-30", "2011-12-31T00:00:00+14:00", "2011-12-31T00:00:00+14:00", 0},
	} {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		d, err := ParseDate(c.date)
		if err != nil {
			t.Fatal(err)
		}
		s, e := d.Bounds(loc)
		if s.Format(time.RFC3339) != c.start || e.Format(time.RFC3339) != c.end || e.Sub(s).Hours() != c.hours {
			t.Errorf("%s %s: [%s, %s) %v h, want [%s, %s) %v h", c.zone, c.date, s.Format(time.RFC3339),
				e.Format(time.RFC3339), e.Sub(s).Hours(), c.start, c.end, c.hours)
		}
		if c.hours > 0 && (DateOf(s) != d || DateOf(e.Add(-time.Nanosecond)) != d || DateOf(s.Add(-time.Nanosecond)) == d) {
			t.Errorf("%s %s: bounds are not the first and last instants of the day", c.zone, c.date)
		}
	}
	// Every day of a few years in zones with unusual transitions: consecutive days tile
	// time exactly, and each starts at its first instant.
	for _, zone := range []string{"America/Chicago", "America/Santiago", "America/Havana", "Australia/Lord_Howe",
		"Europe/London", "Pacific/Apia", "America/Sao_Paulo", "Asia/Tehran", "Antarctica/Troll", "Pacific/Kiritimati"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		d := Date{2010, time.January, 1}
		_, prevEnd := d.AddDays(-1).Bounds(loc)
		for ; d.Year < 2028; d = d.AddDays(1) {
			s, e := d.Bounds(loc)
			if !s.Equal(prevEnd) || e.Before(s) || e.Sub(s) > 26*time.Hour {
				t.Fatalf("%s %s: [%s, %s) after a day ending %s", zone, d, s, e, prevEnd)
			}
			if e.After(s) && (DateOf(s) != d || DateOf(s.Add(-time.Second)) == d || DateOf(e.Add(-time.Second)) != d) {
				t.Fatalf("%s %s: [%s, %s) is not the local day", zone, d, s, e)
			}
			prevEnd = e
		}
	}
	for _, bad := range []string{"", "2026-3-8", "2026-02-30", "08/03/2026", "2026-03-08T00:00:00Z"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
}

// TestDailyDayBoundariesDST seeds calls and agent shifts around midnight and across both
// 2026 daylight-saving changes in America/Chicago, and checks which day each lands on.
func TestDailyDayBoundariesDST(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	site := testSite(t)
	s := newSeeder(t, site.Location, Date{2026, time.March, 8})
	z := func(v string) time.Time { // instants are written in UTC: 01:30 happens twice on Nov 1
		tm, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	abandon := func(lang, start, enter, leave string) {
		iid := s.queued(lang, z(start), "coordinator", z(enter))
		s.leave(iid, "coordinator", "abandoned", z(leave), nil)
	}
	// March 8 (CST until 08:00Z, then CDT): a 23-hour day, 06:00Z to 05:00Z next day.
	abandon("en", "2026-03-08T05:59:59Z", "2026-03-08T06:00:05Z", "2026-03-08T06:00:30Z") // Mar 7 23:59:59 CST
	abandon("en", "2026-03-08T06:00:00Z", "2026-03-08T06:00:10Z", "2026-03-08T06:00:30Z") // Mar 8 00:00 CST
	abandon("en", "2026-03-08T08:30:00Z", "2026-03-08T08:30:10Z", "2026-03-08T08:31:10Z") // 03:30 CDT
	abandon("es", "2026-03-09T01:00:00Z", "2026-03-09T01:00:10Z", "2026-03-09T01:00:20Z") // 20:00 CDT (next day in UTC)
	abandon("es", "2026-03-09T04:59:59Z", "2026-03-09T05:00:10Z", "2026-03-09T05:00:40Z") // 23:59:59 CDT, queued after midnight
	abandon("en", "2026-03-09T05:00:00Z", "2026-03-09T05:00:05Z", "2026-03-09T05:00:50Z") // Mar 9 00:00 CDT
	// call.started lost: the interaction has no start; placed by its first queue event.
	o1 := store.NewID()
	s.exec(`INSERT INTO interactions (id, queue, language) VALUES ($1, 'coordinator', 'en')`, o1)
	s.enterQueue(o1, "coordinator", "en", z("2026-03-08T15:00:00Z"))
	// ... and its queue.leave has no wait_ms: the wait is leave - enter (20 s).
	s.event(o1, "queue.leave", z("2026-03-08T15:00:20Z"), map[string]any{"queue": "coordinator", "outcome": "abandoned"})
	o3 := store.NewID() // the same, first event at Mar 7 23:59 CST
	s.exec(`INSERT INTO interactions (id, queue, language) VALUES ($1, 'coordinator', 'en')`, o3)
	s.enterQueue(o3, "coordinator", "en", z("2026-03-08T05:59:00Z"))
	s.leave(o3, "coordinator", "abandoned", z("2026-03-08T06:00:30Z"), nil)
	// IVR events of a call with no interaction row at all: language unknown.
	o2 := store.NewID()
	s.node(o2, z("2026-03-08T16:00:00Z"), "main_menu", "menu", "hangup")
	// Agents: a1 over midnight into the short day, a2 over the next midnight, a3 never logs out.
	s.agent("a1", "logged_out", step{at: z("2026-03-08T04:00:00Z"), to: "ready"}, // Mar 7 22:00 CST
		step{at: z("2026-03-08T09:00:00Z"), to: "logged_out"}) // Mar 8 04:00 CDT
	s.agent("a2", "logged_out", step{at: z("2026-03-09T04:00:00Z"), to: "ready"}, // Mar 8 23:00 CDT
		step{at: z("2026-03-09T06:00:00Z"), to: "logged_out"}) // Mar 9 01:00 CDT
	s.agent("a3", "logged_out", step{at: z("2026-03-08T07:30:00Z"), to: "ready"}) // Mar 8 01:30 CST

	// November 1 (CDT until 07:00Z, then CST): a 25-hour day, 05:00Z to 06:00Z next day.
	abandon("en", "2026-11-01T04:59:00Z", "2026-11-01T04:59:10Z", "2026-11-01T04:59:30Z") // Oct 31 23:59 CDT
	abandon("en", "2026-11-01T06:30:00Z", "2026-11-01T06:30:10Z", "2026-11-01T06:30:30Z") // 01:30 CDT
	abandon("es", "2026-11-01T07:30:00Z", "2026-11-01T07:30:10Z", "2026-11-01T07:30:30Z") // 01:30 CST
	abandon("en", "2026-11-02T05:30:00Z", "2026-11-02T05:30:10Z", "2026-11-02T05:30:30Z") // Nov 1 23:30 CST
	s.agent("a1", "logged_out", step{at: z("2026-11-01T05:30:00Z"), to: "ready"},         // 00:30 CDT
		step{at: z("2026-11-01T09:30:00Z"), to: "logged_out"}) // 03:30 CST
	s.flush(ctx, pool)

	later := z("2026-12-01T12:00:00Z")
	for _, c := range []struct {
		date string
		now  time.Time
		want map[string]string
	}{
		{"2026-03-07", later, map[string]string{
			"meta/day_hours": "24", "queue/all/all/offered": "2", "agent/a1/staffed_s": "7200", "agent/a3/staffed_s": "0",
		}},
		{"2026-03-08", later, map[string]string{
			"meta/day_start": "2026-03-08T00:00:00-06:00", "meta/day_end": "2026-03-09T00:00:00-05:00",
			"meta/day_hours": "23", "meta/complete": "true",
			"queue/all/all/offered": "5", "queue/coordinator/en/offered": "3", "queue/coordinator/es/offered": "2",
			"queue/coordinator/en/avg_abandon_s": "33.333", // 20, 60 and 20 s
			"ivr/all/ivr_calls":                  "5", "ivr/unknown/ivr_calls": "1", "ivr/unknown/caller_hangup": "1",
			"agent/a1/staffed_s": "10800", "agent/a2/staffed_s": "3600", "agent/a3/staffed_s": "77400",
			"agent/all/logged_in_s": "91800",
		}},
		// The same day while it is still going on (05:00 CDT): a3's open shift ends now.
		{"2026-03-08", z("2026-03-08T10:00:00Z"), map[string]string{
			"meta/complete": "false", "agent/a1/staffed_s": "10800", "agent/a3/staffed_s": "9000",
			"agent/a2/staffed_s": "0", "queue/all/all/offered": "5",
		}},
		{"2026-03-09", later, map[string]string{
			"meta/day_hours": "24", "queue/all/all/offered": "1", "agent/a2/staffed_s": "3600",
			"agent/a3/staffed_s": "86400", "ivr/unknown/ivr_calls": "",
		}},
		{"2026-10-31", later, map[string]string{"queue/all/all/offered": "1", "agent/a1/staffed_s": "0"}},
		{"2026-11-01", later, map[string]string{
			"meta/day_start": "2026-11-01T00:00:00-05:00", "meta/day_end": "2026-11-02T00:00:00-06:00",
			"meta/day_hours": "25", "queue/all/all/offered": "3", "queue/all/es/offered": "1",
			"agent/a1/staffed_s": "14400", "agent/a1/occupancy": "0",
		}},
	} {
		d, _ := ParseDate(c.date)
		r, err := Daily(ctx, pool, site, DailyOptions{Date: d, Now: c.now})
		if err != nil {
			t.Fatalf("%s: %v", c.date, err)
		}
		var buf bytes.Buffer
		if err := r.WriteCSV(&buf); err != nil {
			t.Fatal(err)
		}
		vals := csvValues(t, buf.Bytes())
		for k, want := range c.want {
			if got := vals[k]; got != want {
				t.Errorf("%s (report at %s): %s = %q, want %q", c.date, c.now.Format(time.RFC3339), k, got, want)
			}
		}
	}
}
