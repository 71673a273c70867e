package dialer

import (
	"testing"
	"time"

	"github.com/careline/careline/calendar"
)

func TestGateWindow(t *testing.T) {
	t.Parallel()
	ny, chi := "America/New_York", "America/Chicago"
	g := NewGate(DefaultRules())
	camp := testCampaign("refills", RefillReminder)
	weekdays := testCampaign("weekdays", RefillReminder)
	weekdays.Days = calendar.Weekdays
	weekdays.Hours = []calendar.Range{{Start: calendar.ClockAt(9, 0), End: calendar.ClockAt(19, 0)}}
	holiday := testCampaign("holiday", RefillReminder)
	holiday.Holidays = []calendar.Date{{Year: 2026, Month: 12, Day: 25}}
	pharmacy, err := calendar.New(mustLoc(t, chi), calendar.WithHours(calendar.EveryDay,
		calendar.Range{Start: calendar.ClockAt(9, 0), End: calendar.ClockAt(18, 0)}))
	if err != nil {
		t.Fatal(err)
	}
	withPharmacy := testCampaign("pharmacy", RefillReminder)
	withPharmacy.Schedule = pharmacy
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	cases := []struct {
		name   string
		camp   *Campaign
		zones  []string
		state  string
		now    time.Time
		reason Reason
		next   time.Time // zero: don't check
	}{
		{"morning", camp, []string{ny}, "NY", at(t, ny, "2026-06-10 08:00"), ReasonAllowed, time.Time{}},
		{"before 8", camp, []string{ny}, "NY", at(t, ny, "2026-06-10 07:59"), ReasonOutsideWindow, at(t, ny, "2026-06-10 08:00")},
		{"21:30 local", camp, []string{ny}, "NY", at(t, ny, "2026-06-10 21:30"), ReasonOutsideWindow, at(t, ny, "2026-06-11 08:00")},
		{"20:59 local", camp, []string{ny}, "NY", at(t, ny, "2026-06-10 20:59"), ReasonAllowed, time.Time{}},
		{"21:00 local", camp, []string{ny}, "NY", at(t, ny, "2026-06-10 21:00"), ReasonOutsideWindow, time.Time{}},
		// Spring forward (2026-03-08, 02:00 EST -> 03:00 EDT): 12:30Z is 08:30 EDT. A
		// fixed EST offset would say 07:30 and refuse.
		{"spring forward 08:30 EDT", camp, []string{ny}, "NY", utc("2026-03-08T12:30:00Z"), ReasonAllowed, time.Time{}},
		{"spring forward 07:30 EDT", camp, []string{ny}, "NY", utc("2026-03-08T11:30:00Z"), ReasonOutsideWindow, utc("2026-03-08T12:00:00Z")},
		{"spring forward eve 21:30 EDT", camp, []string{ny}, "NY", utc("2026-03-09T01:30:00Z"), ReasonOutsideWindow, utc("2026-03-09T12:00:00Z")},
		// Fall back (2026-11-01, 02:00 EDT -> 01:00 EST): 01:30Z on Nov 2 is 20:30 EST
		// (allowed); a fixed EDT offset would say 21:30. 02:00Z is 21:00 EST.
		{"fall back 20:30 EST", camp, []string{ny}, "NY", utc("2026-11-02T01:30:00Z"), ReasonAllowed, time.Time{}},
		{"fall back 21:00 EST", camp, []string{ny}, "NY", utc("2026-11-02T02:00:00Z"), ReasonOutsideWindow, utc("2026-11-02T13:00:00Z")},
		{"fall back morning 07:30 EST", camp, []string{ny}, "NY", utc("2026-11-01T12:30:00Z"), ReasonOutsideWindow, utc("2026-11-01T13:00:00Z")},
		// Arizona keeps MST all year: 14:30Z in July is 07:30 in Phoenix, 08:30 in Denver.
		{"phoenix no DST", camp, []string{"America/Phoenix"}, "AZ", utc("2026-07-01T14:30:00Z"), ReasonOutsideWindow, utc("2026-07-01T15:00:00Z")},
		{"denver DST", camp, []string{"America/Denver"}, "CO", utc("2026-07-01T14:30:00Z"), ReasonAllowed, time.Time{}},
		// State hours: Florida 08:00-20:00.
		{"florida 20:30", camp, []string{ny}, "FL", at(t, ny, "2026-06-10 20:30"), ReasonOutsideWindow, at(t, ny, "2026-06-11 08:00")},
		{"georgia 20:30", camp, []string{ny}, "GA", at(t, ny, "2026-06-10 20:30"), ReasonAllowed, time.Time{}},
		// A Florida patient known only by state: open only when open in both zones.
		{"two zones early", camp, []string{ny, chi}, "FL", at(t, ny, "2026-06-10 08:30"), ReasonOutsideWindow, at(t, ny, "2026-06-10 09:00")},
		{"two zones late", camp, []string{ny, chi}, "FL", at(t, chi, "2026-06-10 19:30"), ReasonOutsideWindow, at(t, chi, "2026-06-11 08:00")},
		{"two zones midday", camp, []string{ny, chi}, "FL", at(t, ny, "2026-06-10 12:00"), ReasonAllowed, time.Time{}},
		// Campaign window: weekdays 09:00-19:00.
		{"saturday", weekdays, []string{ny}, "NY", at(t, ny, "2026-06-13 10:00"), ReasonOutsideWindow, at(t, ny, "2026-06-15 09:00")},
		{"weekday 19:30", weekdays, []string{ny}, "NY", at(t, ny, "2026-06-12 19:30"), ReasonOutsideWindow, at(t, ny, "2026-06-15 09:00")},
		{"holiday", holiday, []string{ny}, "NY", at(t, ny, "2026-12-25 10:00"), ReasonHoliday, at(t, ny, "2026-12-26 08:00")},
		// Pharmacy hours (Chicago 09:00-18:00): 16:30 in Los Angeles is 18:30 in Chicago.
		{"pharmacy closed", withPharmacy, []string{"America/Los_Angeles"}, "CA", at(t, "America/Los_Angeles", "2026-06-10 16:30"), ReasonOutsideWindow, at(t, "America/Los_Angeles", "2026-06-11 08:00")},
		{"pharmacy open", withPharmacy, []string{"America/Los_Angeles"}, "CA", at(t, "America/Los_Angeles", "2026-06-10 15:30"), ReasonAllowed, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := g.Window(tc.camp, &Contact{Zones: tc.zones, State: tc.state}, tc.now)
			if d.Reason != tc.reason || d.Allowed != (tc.reason == ReasonAllowed) {
				t.Fatalf("got %v, want %s", d, tc.reason)
			}
			if !tc.next.IsZero() && !d.Next.Equal(tc.next) {
				t.Fatalf("next %s, want %s", d.Next, tc.next)
			}
		})
	}
}
