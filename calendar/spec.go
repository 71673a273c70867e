package calendar

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Spec is the text form of a calendar, as written in configuration:
//
//	timezone: America/Chicago
//	weekly:
//	  mon-fri: ["08:00-20:00"]
//	  sat: ["09:00-13:00"]
//	holidays:
//	  - {date: 2026-12-25, name: Christmas Day}
//	  - {date: 2026-11-27, name: Day after Thanksgiving, hours: ["09:00-13:00"]}
//	special:
//	  - {date: 2026-12-24, name: Christmas Eve, hours: ["09:00-13:00"]}
//	closures:
//	  - {name: storm, from: "2026-01-20 12:00", to: "2026-01-21 10:00"}
type Spec struct {
	TimeZone string              `yaml:"timezone" json:"timezone"`
	Weekly   map[string][]string `yaml:"weekly" json:"weekly"`
	Holidays []HolidaySpec       `yaml:"holidays,omitempty" json:"holidays,omitempty"`
	Special  []SpecialSpec       `yaml:"special,omitempty" json:"special,omitempty"`
	Closures []ClosureSpec       `yaml:"closures,omitempty" json:"closures,omitempty"`
}

// HolidaySpec closes a date all day; with Hours the date has those special
// hours instead (the same as a SpecialSpec).
type HolidaySpec struct {
	Date  string   `yaml:"date" json:"date"`
	Name  string   `yaml:"name,omitempty" json:"name,omitempty"`
	Hours []string `yaml:"hours,omitempty" json:"hours,omitempty"`
}

// SpecialSpec replaces the hours of a date (no hours: closed that day).
type SpecialSpec struct {
	Date  string   `yaml:"date" json:"date"`
	Name  string   `yaml:"name,omitempty" json:"name,omitempty"`
	Hours []string `yaml:"hours" json:"hours"`
}

// ClosureSpec closes the calendar between two local date-times ("2026-01-20 12:00").
type ClosureSpec struct {
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
}

// SpecError locates a problem in a Spec. Path uses config notation relative to
// the schedule: "timezone", "weekly.mon-fri[1]", "holidays[0].date".
type SpecError struct {
	Path string
	Err  error
}

func (e *SpecError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error (ErrSyntax or ErrInvalid).
func (e *SpecError) Unwrap() error { return e.Err }

// FromSpec parses and builds a calendar. Every problem is reported (errors.Join
// of *SpecError); a problem found while building (overlaps, duplicate dates)
// has an empty-ish Path naming the section.
func FromSpec(s Spec) (*Calendar, error) {
	var errs []error
	fail := func(path string, err error) { errs = append(errs, &SpecError{Path: path, Err: err}) }
	if s.TimeZone == "" {
		fail("timezone", fmt.Errorf("%w: missing IANA time zone (e.g. America/Chicago)", ErrInvalid))
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil && s.TimeZone != "" {
		fail("timezone", fmt.Errorf("%w: unknown IANA time zone %q (e.g. America/Chicago)", ErrInvalid, s.TimeZone))
	}
	var opts []Option
	keys := make([]string, 0, len(s.Weekly))
	for k := range s.Weekly {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		days, err := ParseDays(k)
		if err != nil {
			fail("weekly."+k, err)
			continue
		}
		for i, rs := range s.Weekly[k] {
			r, err := ParseRange(rs)
			if err != nil {
				fail(fmt.Sprintf("weekly.%s[%d]", k, i), err)
				continue
			}
			opts = append(opts, WithHours(days, r))
		}
	}
	for i, h := range s.Holidays {
		d, err := ParseDate(h.Date)
		if err != nil {
			fail(fmt.Sprintf("holidays[%d].date", i), err)
			continue
		}
		if len(h.Hours) == 0 {
			opts = append(opts, WithHoliday(d, h.Name))
			continue
		}
		var rs []Range
		for j, x := range h.Hours {
			r, err := ParseRange(x)
			if err != nil {
				fail(fmt.Sprintf("holidays[%d].hours[%d]", i, j), err)
				continue
			}
			rs = append(rs, r)
		}
		opts = append(opts, WithSpecialHours(d, h.Name, rs...))
	}
	for i, sp := range s.Special {
		d, err := ParseDate(sp.Date)
		if err != nil {
			fail(fmt.Sprintf("special[%d].date", i), err)
			continue
		}
		var rs []Range
		for j, x := range sp.Hours {
			r, err := ParseRange(x)
			if err != nil {
				fail(fmt.Sprintf("special[%d].hours[%d]", i, j), err)
				continue
			}
			rs = append(rs, r)
		}
		opts = append(opts, WithSpecialHours(d, sp.Name, rs...))
	}
	if loc != nil {
		for i, cl := range s.Closures {
			from, err1 := ParseLocalTime(cl.From, loc)
			if err1 != nil {
				fail(fmt.Sprintf("closures[%d].from", i), err1)
			}
			to, err2 := ParseLocalTime(cl.To, loc)
			if err2 != nil {
				fail(fmt.Sprintf("closures[%d].to", i), err2)
			}
			if err1 == nil && err2 == nil {
				opts = append(opts, WithClosure(cl.Name, from, to))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c, err := New(loc, opts...)
	if err != nil {
		return nil, &SpecError{Path: "schedule", Err: err}
	}
	return c, nil
}
