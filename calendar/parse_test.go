package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseClockAndRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string // "" = error
	}{
		{"08:00-20:00", "08:00-20:00"},
		{"8:00-20:00", "08:00-20:00"},
		{" 09:30 - 13:15 ", "09:30-13:15"},
		{"00:00-24:00", "00:00-24:00"},
		{"20:00-00:00", "20:00-24:00"},
		{"22:00-02:00", "22:00-02:00"},
		{"08:00", ""},
		{"08:00-", ""},
		{"8-20", ""},
		{"08:60-20:00", ""},
		{"25:00-26:00", ""},
		{"24:00-02:00", ""},
		{"24:30-02:00", ""},
		{"10:00-10:00", ""},
		{"00:00-00:00", ""},
		{"ab:cd-ef:gh", ""},
		{"08:00-20:00-21:00", ""},
		{"-08:00-20:00", ""},
		{"08:0-20:00", ""},
	} {
		r, err := ParseRange(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseRange(%q) = %s, want error", tc.in, r)
		case tc.want == "" && !errors.Is(err, ErrSyntax):
			t.Errorf("ParseRange(%q) error %v is not ErrSyntax", tc.in, err)
		case tc.want != "" && err != nil:
			t.Errorf("ParseRange(%q): %v", tc.in, err)
		case tc.want != "" && r.String() != tc.want:
			t.Errorf("ParseRange(%q) = %s, want %s", tc.in, r, tc.want)
		}
	}
	_, err := ParseRange("8-20")
	if want := `calendar: bad time range "8-20": start: want HH:MM, e.g. 08:00-20:00`; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	if r := mustRange(t, "22:00-02:00"); !r.CrossesMidnight() || r.Minutes() != 240 {
		t.Errorf("crossing range: %v %d", r.CrossesMidnight(), r.Minutes())
	}
	if d := ClockAt(13, 30).Duration(); d != 13*time.Hour+30*time.Minute {
		t.Errorf("Duration = %s", d)
	}
}

func TestParseDays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"mon-fri", "mon,tue,wed,thu,fri"},
		{"sat", "sat"},
		{"Sun", "sun"},
		{"monday", "mon"},
		{"mon,wed,fri", "mon,wed,fri"},
		{"sat-sun", "sat,sun"},
		{"fri-mon", "mon,fri,sat,sun"},
		{"mon-sun", "mon,tue,wed,thu,fri,sat,sun"},
		{"daily", "mon,tue,wed,thu,fri,sat,sun"},
		{"weekdays", "mon,tue,wed,thu,fri"},
		{"weekends", "sat,sun"},
		{"mon-fri, sat", "mon,tue,wed,thu,fri,sat"},
		{"mon-fry", ""},
		{"", ""},
		{"mon,,tue", ""},
		{"lunes", ""},
		{"mon-", ""},
	} {
		d, err := ParseDays(tc.in)
		switch {
		case tc.want == "" && !errors.Is(err, ErrSyntax):
			t.Errorf("ParseDays(%q) = %s, %v; want syntax error", tc.in, d, err)
		case tc.want != "" && (err != nil || d.String() != tc.want):
			t.Errorf("ParseDays(%q) = %s, %v; want %s", tc.in, d, err, tc.want)
		}
	}
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"2026-12-25", "2026-12-25"},
		{"2028-02-29", "2028-02-29"},
		{"2026-02-29", ""},
		{"2026-13-01", ""},
		{"12/25/2026", ""},
		{"2026-1-5", ""},
		{"", ""},
	} {
		d, err := ParseDate(tc.in)
		switch {
		case tc.want == "" && !errors.Is(err, ErrSyntax):
			t.Errorf("ParseDate(%q) = %s, %v; want syntax error", tc.in, d, err)
		case tc.want != "" && (err != nil || d.String() != tc.want):
			t.Errorf("ParseDate(%q) = %s, %v", tc.in, d, err)
		}
	}
	d := mustDate(t, "2026-12-31")
	if d.AddDays(1).String() != "2027-01-01" || d.Weekday() != time.Thursday || !d.Before(d.AddDays(1)) {
		t.Errorf("date arithmetic: %s %s", d.AddDays(1), d.Weekday())
	}
}

func TestParseLocalTime(t *testing.T) {
	t.Parallel()
	loc := loadLoc(t, "America/New_York")
	for _, tc := range []struct{ in, want string }{
		{"2026-01-20 12:00", "2026-01-20T17:00:00Z"},
		{"2026-01-20T12:00", "2026-01-20T17:00:00Z"},
		{"2026-03-08 02:30", "2026-03-08T07:00:00Z"}, // in the gap → 03:00 EDT
		{"2026-11-01 01:30", "2026-11-01T05:30:00Z"}, // ambiguous → first (EDT)
		{"2026-01-20", ""},
		{"2026-01-20 25:00", ""},
	} {
		got, err := ParseLocalTime(tc.in, loc)
		switch {
		case tc.want == "" && !errors.Is(err, ErrSyntax):
			t.Errorf("%q: %v, want syntax error", tc.in, err)
		case tc.want != "" && (err != nil || got.UTC().Format(time.RFC3339) != tc.want):
			t.Errorf("%q = %s, %v; want %s", tc.in, got.UTC().Format(time.RFC3339), err, tc.want)
		}
	}
}

func TestWindowOps(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := func(a, b int) Window {
		return Window{base.Add(time.Duration(a) * time.Hour), base.Add(time.Duration(b) * time.Hour)}
	}
	str := func(ws []Window) string {
		var parts []string
		for _, x := range ws {
			parts = append(parts, x.Start.Format("15")+"-"+x.End.Format("15"))
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		name string
		got  []Window
		want string
	}{
		{"normalize", Normalize([]Window{w(5, 7), w(1, 3), w(2, 4), w(7, 8), w(9, 9)}), "01-04 05-08"},
		{"normalize empty", Normalize(nil), ""},
		{"intersect", Intersect([]Window{w(1, 5), w(8, 12)}, []Window{w(3, 9), w(11, 13)}), "03-05 08-09 11-12"},
		{"intersect disjoint", Intersect([]Window{w(1, 2)}, []Window{w(2, 3)}), ""},
		{"intersect unsorted", Intersect([]Window{w(8, 12), w(1, 5)}, []Window{w(0, 23)}), "01-05 08-12"},
		{"subtract", Subtract([]Window{w(1, 10)}, []Window{w(2, 3), w(5, 6), w(9, 12)}), "01-02 03-05 06-09"},
		{"subtract all", Subtract([]Window{w(1, 3), w(4, 5)}, []Window{w(0, 6)}), ""},
		{"subtract none", Subtract([]Window{w(1, 3), w(4, 5)}, nil), "01-03 04-05"},
		{"subtract spanning", Subtract([]Window{w(1, 3), w(4, 8)}, []Window{w(2, 5)}), "01-02 05-08"},
	} {
		if s := str(tc.got); s != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, s, tc.want)
		}
	}
	x := w(1, 3)
	if !x.Contains(base.Add(time.Hour)) || x.Contains(base.Add(3*time.Hour)) || x.Duration() != 2*time.Hour {
		t.Error("Contains/Duration")
	}
	if x.String() != "2026-01-01T01:00:00Z/2026-01-01T03:00:00Z" {
		t.Errorf("String = %s", x)
	}
}

// FuzzParseRange checks that anything ParseRange accepts prints back to itself.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"08:00-20:00", "22:00-02:00", "00:00-24:00", "8:00-9:00", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v is not ErrSyntax", err)
			}
			return
		}
		if err := r.validate(); err != nil {
			t.Fatalf("ParseRange(%q) = %s, invalid: %v", s, r, err)
		}
		r2, err := ParseRange(r.String())
		if err != nil || r2 != r {
			t.Fatalf("round trip %q → %s → %s, %v", s, r, r2, err)
		}
	})
}
