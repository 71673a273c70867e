package report

import (
	"fmt"
	"time"
)

// Date is a calendar day, without a time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("report: date %q: want YYYY-MM-DD: %w", s, err)
	}
	return DateOf(t), nil
}

// DateOf returns the calendar day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// String formats the date as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// AddDays returns the date n days later (earlier when n < 0).
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
}

// Bounds returns the day in loc as a half-open interval [start, end): from the first
// instant of the local day to the first instant of the next one. The interval is 23 or
// 25 hours long on daylight-saving days; where local midnight does not exist (a zone
// that springs forward at 00:00) the day starts at the first local time that does, and
// a day a zone skipped entirely is empty (start == end).
func (d Date) Bounds(loc *time.Location) (start, end time.Time) {
	return dayStart(d, loc), dayStart(d.AddDays(1), loc)
}

func dayStart(d Date, loc *time.Location) time.Time {
	// time.Date resolves a local time that falls in a gap to an instant on either side
	// of it, so search for the first instant whose local date is not before d. Gaps are
	// at most a day long (Pacific/Apia skipped 2011-12-30, whose interval is empty).
	c := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc).Unix()
	before := func(u int64) bool { return DateOf(time.Unix(u, 0).In(loc)).Before(d) }
	lo, hi := c-48*3600, c+48*3600 // before(lo) && !before(hi)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if before(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return time.Unix(hi, 0).In(loc)
}

// Before reports whether d is earlier than e.
func (d Date) Before(e Date) bool {
	if d.Year != e.Year {
		return d.Year < e.Year
	}
	if d.Month != e.Month {
		return d.Month < e.Month
	}
	return d.Day < e.Day
}
