package calendar

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

func loadLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustRange(t testing.TB, s string) Range {
	t.Helper()
	r, err := ParseRange(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustDate(t testing.TB, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// local parses "2026-11-24 15:30" in loc, failing on gaps/ambiguity-free input only.
func local(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func pharmacy(t testing.TB) *Calendar {
	t.Helper()
	c, err := FromSpec(Spec{
		TimeZone: "America/Chicago",
		Weekly:   map[string][]string{"mon-fri": {"08:00-20:00"}, "sat": {"09:00-13:00"}},
		Holidays: []HolidaySpec{{Date: "2026-11-26", Name: "Thanksgiving"}, {Date: "2026-12-25", Name: "Christmas Day"}},
		Special:  []SpecialSpec{{Date: "2026-12-24", Name: "Christmas Eve", Hours: []string{"09:00-13:00"}}},
		Closures: []ClosureSpec{{Name: "storm", From: "2026-01-20 12:00", To: "2026-01-21 10:00"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStatus(t *testing.T) {
	t.Parallel()
	c := pharmacy(t)
	loc := c.Location()
	for _, tc := range []struct {
		at     string
		open   bool
		reason Reason
		name   string
		next   string // local; "" = never
	}{
		{"2026-11-24 15:30", true, ReasonOpen, "", "2026-11-24 20:00"},
		{"2026-11-24 08:00", true, ReasonOpen, "", "2026-11-24 20:00"},
		{"2026-11-24 07:59", false, ReasonClosed, "", "2026-11-24 08:00"},
		{"2026-11-24 20:00", false, ReasonClosed, "", "2026-11-25 08:00"},
		{"2026-11-28 12:59", true, ReasonOpen, "", "2026-11-28 13:00"},
		{"2026-11-28 14:00", false, ReasonClosed, "", "2026-11-30 08:00"},
		{"2026-11-29 10:00", false, ReasonClosed, "", "2026-11-30 08:00"},
		{"2026-11-25 21:00", false, ReasonClosed, "", "2026-11-27 08:00"},
		{"2026-11-26 10:00", false, ReasonHoliday, "Thanksgiving", "2026-11-27 08:00"},
		{"2026-11-26 03:00", false, ReasonHoliday, "Thanksgiving", "2026-11-27 08:00"},
		{"2026-12-24 10:00", true, ReasonOpen, "Christmas Eve", "2026-12-24 13:00"},
		{"2026-12-24 15:00", false, ReasonClosure, "Christmas Eve", "2026-12-26 09:00"},
		{"2026-12-24 21:00", false, ReasonClosed, "Christmas Eve", "2026-12-26 09:00"},
		{"2026-12-25 12:00", false, ReasonHoliday, "Christmas Day", "2026-12-26 09:00"},
		{"2026-01-20 11:00", true, ReasonOpen, "", "2026-01-20 12:00"},
		{"2026-01-20 13:00", false, ReasonClosure, "storm", "2026-01-21 10:00"},
		{"2026-01-20 21:00", false, ReasonClosed, "", "2026-01-21 10:00"},
		{"2026-01-21 09:00", false, ReasonClosure, "storm", "2026-01-21 10:00"},
		{"2026-01-21 10:00", true, ReasonOpen, "", "2026-01-21 20:00"},
	} {
		t.Run(tc.at, func(t *testing.T) {
			at := local(t, loc, tc.at)
			st, next := c.Status(at)
			want := Status{Open: tc.open, Reason: tc.reason, Name: tc.name}
			if st != want {
				t.Errorf("status = %+v, want %+v", st, want)
			}
			if got := next.In(loc).Format("2006-01-02 15:04"); got != tc.next {
				t.Errorf("next change = %s, want %s", got, tc.next)
			}
			if c.IsOpen(at) != tc.open {
				t.Errorf("IsOpen = %v", !tc.open)
			}
			no, ok := c.NextOpen(at)
			switch {
			case !ok:
				t.Errorf("NextOpen: none")
			case tc.open && !no.Equal(at):
				t.Errorf("NextOpen while open = %s, want %s", no, at)
			case !tc.open && !no.Equal(next):
				t.Errorf("NextOpen = %s, want %s", no, next)
			}
		})
	}
}

// Day lengths and window bounds on DST days in two zones.
func TestDST(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		zone    string
		days    string
		rng     string
		date    string // local date the window starts on
		start   string // UTC
		elapsed time.Duration
	}{
		// Spring forward: Sunday 2026-03-08, 02:00 → 03:00.
		{"America/New_York", "sun", "00:00-24:00", "2026-03-08", "2026-03-08T05:00:00Z", 23 * time.Hour},
		{"America/New_York", "sun", "01:00-03:30", "2026-03-08", "2026-03-08T06:00:00Z", 90 * time.Minute},
		{"America/New_York", "sun", "02:30-04:00", "2026-03-08", "2026-03-08T07:00:00Z", time.Hour}, // starts at 03:00 EDT
		{"America/New_York", "sun", "08:00-20:00", "2026-03-08", "2026-03-08T12:00:00Z", 12 * time.Hour},
		{"America/New_York", "sat", "22:00-03:00", "2026-03-07", "2026-03-08T03:00:00Z", 4 * time.Hour},
		{"America/Chicago", "sun", "00:00-24:00", "2026-03-08", "2026-03-08T06:00:00Z", 23 * time.Hour},
		{"America/Chicago", "sun", "01:30-02:30", "2026-03-08", "2026-03-08T07:30:00Z", 30 * time.Minute},
		{"America/Chicago", "sat", "21:00-09:00", "2026-03-07", "2026-03-08T03:00:00Z", 11 * time.Hour},
		// Fall back: Sunday 2026-11-01, 02:00 → 01:00.
		{"America/New_York", "sun", "00:00-24:00", "2026-11-01", "2026-11-01T04:00:00Z", 25 * time.Hour},
		{"America/New_York", "sun", "01:00-02:00", "2026-11-01", "2026-11-01T05:00:00Z", 2 * time.Hour},
		{"America/New_York", "sun", "01:30-01:45", "2026-11-01", "2026-11-01T05:30:00Z", 15 * time.Minute}, // first 01:30
		{"America/New_York", "sun", "08:00-20:00", "2026-11-01", "2026-11-01T13:00:00Z", 12 * time.Hour},
		{"America/New_York", "sat", "22:00-03:00", "2026-10-31", "2026-11-01T02:00:00Z", 6 * time.Hour},
		{"America/Chicago", "sun", "00:00-24:00", "2026-11-01", "2026-11-01T05:00:00Z", 25 * time.Hour},
		{"America/Chicago", "sun", "01:00-03:00", "2026-11-01", "2026-11-01T06:00:00Z", 3 * time.Hour},
		{"America/Chicago", "sat", "20:00-02:00", "2026-10-31", "2026-11-01T01:00:00Z", 7 * time.Hour},
	} {
		t.Run(tc.zone+" "+tc.date+" "+tc.rng, func(t *testing.T) {
			loc := loadLoc(t, tc.zone)
			days, err := ParseDays(tc.days)
			if err != nil {
				t.Fatal(err)
			}
			c, err := New(loc, WithHours(days, mustRange(t, tc.rng)))
			if err != nil {
				t.Fatal(err)
			}
			d := mustDate(t, tc.date)
			from := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc).Add(-time.Hour)
			ws := c.Windows(from, from.Add(60*time.Hour))
			if len(ws) != 1 {
				t.Fatalf("windows = %v, want one", ws)
			}
			if got := ws[0].Start.UTC().Format(time.RFC3339); got != tc.start {
				t.Errorf("start = %s, want %s", got, tc.start)
			}
			if ws[0].Duration() != tc.elapsed {
				t.Errorf("elapsed = %s, want %s", ws[0].Duration(), tc.elapsed)
			}
			// Status agrees with the window at its edges.
			if st, next := c.Status(ws[0].Start); !st.Open || !next.Equal(ws[0].End) {
				t.Errorf("Status(start) = %+v, next %s; want open until %s", st, next, ws[0].End)
			}
			if st, next := c.Status(ws[0].Start.Add(-time.Second)); st.Open || !next.Equal(ws[0].Start) {
				t.Errorf("Status(start-1s) = %+v, next %s", st, next)
			}
		})
	}
}

func TestDSTRangeInsideGapIsEmpty(t *testing.T) {
	t.Parallel()
	loc := loadLoc(t, "America/New_York")
	c, err := New(loc, WithHours(DaysOf(time.Sunday), mustRange(t, "02:00-02:59")))
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 8, 0, 0, 0, 0, loc)
	if ws := c.Windows(day, day.Add(24*time.Hour)); len(ws) != 0 {
		t.Errorf("windows in the gap = %v, want none", ws)
	}
	// A week later the same range exists.
	if ws := c.Windows(day.AddDate(0, 0, 7), day.AddDate(0, 0, 8)); len(ws) != 1 || ws[0].Duration() != 59*time.Minute {
		t.Errorf("next Sunday = %v", ws)
	}
}

// Daily hours stay at the same local clock time across a DST change.
func TestDailyHoursAcrossDST(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"America/New_York", "America/Chicago"} {
		loc := loadLoc(t, zone)
		c, err := New(loc, WithHours(EveryDay, mustRange(t, "08:00-21:00")))
		if err != nil {
			t.Fatal(err)
		}
		for _, start := range []string{"2026-03-05 00:00", "2026-10-29 00:00"} {
			from := local(t, loc, start)
			ws := c.Windows(from, from.AddDate(0, 0, 7))
			if len(ws) != 7 {
				t.Fatalf("%s: %d windows, want 7", zone, len(ws))
			}
			for _, w := range ws {
				s, e := w.Start.In(loc), w.End.In(loc)
				if s.Format("15:04") != "08:00" || e.Format("15:04") != "21:00" || w.Duration() != 13*time.Hour {
					t.Errorf("%s: window %s-%s (%s)", zone, s, e, w.Duration())
				}
			}
		}
	}
}

func TestMidnightCrossing(t *testing.T) {
	t.Parallel()
	loc := loadLoc(t, "America/Chicago")
	c, err := New(loc,
		WithHours(Weekdays, mustRange(t, "22:00-02:00")),
		WithHoliday(mustDate(t, "2026-12-25"), "Christmas Day"), // a Friday
		WithSpecialHours(mustDate(t, "2026-12-29"), "short", mustRange(t, "23:00-01:00")),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at     string
		open   bool
		reason Reason
		next   string
	}{
		{"2026-12-21 23:00", true, ReasonOpen, "2026-12-22 02:00"}, // Mon night
		{"2026-12-22 01:59", true, ReasonOpen, "2026-12-22 02:00"}, // spill into Tue
		{"2026-12-22 02:00", false, ReasonClosed, "2026-12-22 22:00"},
		{"2026-12-24 23:00", true, ReasonOpen, "2026-12-25 00:00"},     // Thu night clipped by holiday
		{"2026-12-25 01:00", false, ReasonHoliday, "2026-12-28 22:00"}, // no Fri night (holiday), no weekend
		{"2026-12-26 01:00", false, ReasonClosed, "2026-12-28 22:00"},  // Sat: Fri's range did not run
		{"2026-12-28 23:30", true, ReasonOpen, "2026-12-29 00:00"},     // Mon night clipped: Tue has special hours
		{"2026-12-29 00:30", false, ReasonClosure, "2026-12-29 23:00"}, // weekly spill would be open
		{"2026-12-30 00:30", true, ReasonOpen, "2026-12-30 01:00"},     // special range spills into Wed
		{"2026-12-30 01:30", false, ReasonClosed, "2026-12-30 22:00"},
	} {
		st, next := c.Status(local(t, loc, tc.at))
		if st.Open != tc.open || st.Reason != tc.reason {
			t.Errorf("%s: status %+v, want open=%v %s", tc.at, st, tc.open, tc.reason)
		}
		if got := next.In(loc).Format("2006-01-02 15:04"); got != tc.next {
			t.Errorf("%s: next %s, want %s", tc.at, got, tc.next)
		}
	}
}

func TestNeverAndAlways(t *testing.T) {
	t.Parallel()
	loc := loadLoc(t, "America/New_York")
	never, err := New(loc)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, loc)
	if st, next := never.Status(now); st.Open || st.Reason != ReasonClosed || !next.IsZero() {
		t.Errorf("never: %+v %s", st, next)
	}
	if _, ok := never.NextOpen(now); ok {
		t.Error("never: NextOpen found a time")
	}
	always, err := New(loc, WithHours(EveryDay, mustRange(t, "00:00-24:00")))
	if err != nil {
		t.Fatal(err)
	}
	if st, next := always.Status(now); !st.Open || !next.IsZero() {
		t.Errorf("always: %+v %s", st, next)
	}
	// Special hours far in the future on an otherwise closed calendar are found.
	far := mustDate(t, "2028-07-04")
	once, err := New(loc, WithSpecialHours(far, "event", mustRange(t, "10:00-11:00")))
	if err != nil {
		t.Fatal(err)
	}
	if next, ok := once.NextOpen(now); !ok || next.In(loc).Format("2006-01-02 15:04") != "2028-07-04 10:00" {
		t.Errorf("once: NextOpen = %s %v", next, ok)
	}
}

func TestDialerWindowIntersection(t *testing.T) {
	t.Parallel()
	la, chi := loadLoc(t, "America/Los_Angeles"), loadLoc(t, "America/Chicago")
	patient, err := New(la, WithHours(EveryDay, mustRange(t, "08:00-21:00")))
	if err != nil {
		t.Fatal(err)
	}
	campaign, err := New(chi, WithHours(Weekdays, mustRange(t, "08:00-20:00")))
	if err != nil {
		t.Fatal(err)
	}
	pharm := pharmacy(t)
	// Week of the spring change; Monday 2026-03-09 is after it.
	from := time.Date(2026, 3, 6, 0, 0, 0, 0, chi)
	ws := Common(from, from.AddDate(0, 0, 4), patient, campaign, pharm)
	var got []string
	for _, w := range ws {
		got = append(got, w.Start.UTC().Format("Jan 2 15:04")+"-"+w.End.UTC().Format("15:04"))
	}
	want := []string{
		"Mar 6 16:00-02:00", // Fri: LA 08:00 PST = 16:00Z; Chicago 20:00 CST = 02:00Z
		"Mar 9 15:00-01:00", // Mon: LA 08:00 PDT = 15:00Z; Chicago 20:00 CDT = 01:00Z
	}
	if !slices.Equal(got, want) {
		t.Errorf("common windows = %v, want %v", got, want)
	}
	// Saturday: pharmacy open, campaign closed → next common open is Monday.
	sat := time.Date(2026, 3, 7, 10, 0, 0, 0, chi)
	next, ok := NextCommonOpen(sat, sat.AddDate(0, 0, 30), patient, campaign, pharm)
	if !ok || next.UTC().Format(time.RFC3339) != "2026-03-09T15:00:00Z" {
		t.Errorf("NextCommonOpen = %s %v", next, ok)
	}
	if _, ok := NextCommonOpen(sat, sat.Add(time.Hour), patient, campaign, pharm); ok {
		t.Error("NextCommonOpen found a time before the limit")
	}
	if Common(from, from.Add(time.Hour)) != nil {
		t.Error("Common with no calendars is not nil")
	}
}

func TestWeekly(t *testing.T) {
	t.Parallel()
	loc := loadLoc(t, "America/Chicago")
	c, err := New(loc,
		WithHours(Weekdays, mustRange(t, "08:00-12:00"), mustRange(t, "13:00-20:00")),
		WithHours(DaysOf(time.Saturday), mustRange(t, "09:00-13:00")),
		WithHours(DaysOf(time.Sunday), mustRange(t, "09:00-13:00")),
	)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Weekly()
	want := []DayGroup{
		{time.Monday, time.Friday, []Range{mustRange(t, "08:00-12:00"), mustRange(t, "13:00-20:00")}},
		{time.Saturday, time.Sunday, []Range{mustRange(t, "09:00-13:00")}},
	}
	if len(got) != len(want) {
		t.Fatalf("Weekly = %+v", got)
	}
	for i := range want {
		if got[i].From != want[i].From || got[i].To != want[i].To || !slices.Equal(got[i].Ranges, want[i].Ranges) {
			t.Errorf("group %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := c.String(); !strings.Contains(s, "America/Chicago") {
		t.Errorf("String = %q", s)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	loc := loadLoc(t, "America/Chicago")
	d := mustDate(t, "2026-12-25")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	for _, tc := range []struct {
		name string
		loc  *time.Location
		opts []Option
		msg  string
	}{
		{"nil zone", nil, nil, "no time zone"},
		{"overlap", loc, []Option{WithHours(Weekdays, mustRange(t, "08:00-12:00")), WithHours(DaysOf(time.Monday), mustRange(t, "11:00-13:00"))}, "overlap"},
		{"overlap crossing", loc, []Option{WithHours(Weekdays, mustRange(t, "22:00-02:00"), mustRange(t, "23:00-23:30"))}, "overlap"},
		{"empty range", loc, []Option{WithHours(Weekdays, Range{600, 600})}, "empty"},
		{"bad range", loc, []Option{WithHours(Weekdays, Range{-1, 600})}, "starts outside"},
		{"dup date", loc, []Option{WithHoliday(d, "a"), WithSpecialHours(d, "b")}, "more than once"},
		{"special overlap", loc, []Option{WithSpecialHours(d, "b", mustRange(t, "08:00-10:00"), mustRange(t, "09:00-11:00"))}, "overlap"},
		{"closure inverted", loc, []Option{WithClosure("x", at.Add(time.Hour), at)}, "ends"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.loc, tc.opts...)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want ErrInvalid mentioning %q", err, tc.msg)
			}
		})
	}
}

func TestFromSpecErrors(t *testing.T) {
	t.Parallel()
	_, err := FromSpec(Spec{
		TimeZone: "America/Chicago",
		Weekly:   map[string][]string{"mon-fry": {"08:00-20:00"}, "sat": {"9-13", "14:00-14:00"}},
		Holidays: []HolidaySpec{{Date: "2026-02-30"}},
		Special:  []SpecialSpec{{Date: "2026-12-24", Hours: []string{"09:00-25:00"}}},
		Closures: []ClosureSpec{{From: "2026-01-20", To: "2026-01-21 10:00"}},
	})
	if !errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %v, want ErrSyntax", err)
	}
	for _, want := range []string{
		`weekly.mon-fry: calendar: bad days "mon-fry"`,
		`weekly.sat[0]: calendar: bad time range "9-13"`,
		`weekly.sat[1]: calendar: bad time range "14:00-14:00": start equals end`,
		`holidays[0].date: calendar: bad date "2026-02-30"`,
		`special[0].hours[0]: calendar: bad time range "09:00-25:00"`,
		`closures[0].from: calendar: bad date-time "2026-01-20"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	var se *SpecError
	if !errors.As(err, &se) || se.Path == "" {
		t.Errorf("errors.As SpecError: %v", se)
	}
	for _, tz := range []string{"", "Mars/Olympus"} {
		if _, err := FromSpec(Spec{TimeZone: tz}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "timezone") {
			t.Errorf("zone %q: %v", tz, err)
		}
	}
	_, err = FromSpec(Spec{TimeZone: "UTC", Weekly: map[string][]string{"mon": {"08:00-12:00"}, "mon,tue": {"11:00-13:00"}}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Monday: calendar: invalid calendar: ranges 08:00-12:00 and 11:00-13:00 overlap") {
		t.Errorf("overlap across keys: %v", err)
	}
}

func BenchmarkStatus(b *testing.B) {
	c := pharmacy(b)
	at := time.Date(2026, 11, 24, 15, 30, 0, 0, c.Location())
	for b.Loop() {
		c.Status(at)
	}
}

func BenchmarkStatusBeforeHolidayWeekend(b *testing.B) {
	c := pharmacy(b)
	at := time.Date(2026, 12, 24, 15, 0, 0, 0, c.Location())
	for b.Loop() {
		c.Status(at)
	}
}

func TestSpecYAML(t *testing.T) {
	t.Parallel()
	src := `
timezone: America/Chicago
weekly:
  mon-fri: ["08:00-20:00"]
  sat: ["09:00-13:00"]
holidays:
  - date: 2026-12-25
    name: Christmas Day
  - {date: 2026-11-27, name: Day after Thanksgiving, hours: ["09:00-13:00"]}
special:
  - {date: 2026-12-24, name: Christmas Eve, hours: ["09:00-13:00"]}
closures:
  - {name: storm, from: "2026-01-20 12:00", to: "2026-01-21 10:00"}
`
	var s Spec
	if err := yaml.UnmarshalWithOptions([]byte(src), &s, yaml.DisallowUnknownField()); err != nil {
		t.Fatal(err)
	}
	c, err := FromSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	loc := c.Location()
	for at, want := range map[string]Status{
		"2026-12-25 10:00": {false, ReasonHoliday, "Christmas Day"},
		"2026-11-27 10:00": {true, ReasonOpen, "Day after Thanksgiving"},
		"2026-11-27 15:00": {false, ReasonClosure, "Day after Thanksgiving"},
		"2026-01-20 13:00": {false, ReasonClosure, "storm"},
	} {
		if st, _ := c.Status(local(t, loc, at)); st != want {
			t.Errorf("%s: %+v, want %+v", at, st, want)
		}
	}
}
