package ivr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/careline/careline/calendar"
	"github.com/careline/careline/say"
)

var errNoValue = errors.New("ivr: nothing to say")

// sayFragments turns a value written as text into fragment ids: as is number,
// digits, date, time, datetime or money. Dates and times without a zone are read in
// loc. Accepted forms: number "42", "-3"; digits "5550100" (also *, #, spaces and
// dashes); money "12.50", "$12", "1250c" (cents); date "2026-11-24"; time "15:30";
// datetime "2026-11-24 15:30" or RFC 3339.
func sayFragments(lang say.Lang, as, value string, loc *time.Location) ([]string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return nil, errNoValue
	}
	switch as {
	case "number":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ivr: %q is not a whole number", value)
		}
		return say.Number(lang, n), nil
	case "digits":
		keys := 0
		for _, r := range v {
			switch {
			case r >= '0' && r <= '9', r == '*', r == '#':
				keys++
			case strings.ContainsRune(" -./()+", r):
			default:
				return nil, fmt.Errorf("ivr: %q is not a digit string", value)
			}
		}
		if keys == 0 {
			return nil, errNoValue
		}
		return say.Digits(lang, v), nil
	case "money":
		cents, err := parseCents(v)
		if err != nil {
			return nil, err
		}
		return say.Money(lang, cents), nil
	case "date":
		t, err := parseLocal(v, loc, "2006-01-02")
		if err != nil {
			return nil, fmt.Errorf("ivr: %q is not a date (want 2026-11-24)", value)
		}
		return say.Date(lang, t), nil
	case "time":
		if c, err := calendar.ParseClock(v); err == nil {
			return say.TimeOfDay(lang, c.Duration()), nil
		}
		t, err := parseLocal(v, loc)
		if err != nil {
			return nil, fmt.Errorf("ivr: %q is not a time (want 15:30)", value)
		}
		return say.Time(lang, t), nil
	case "datetime":
		t, err := parseLocal(v, loc, "2006-01-02 15:04", "2006-01-02T15:04")
		if err != nil {
			return nil, fmt.Errorf("ivr: %q is not a date and time (want 2026-11-24 15:30)", value)
		}
		return say.DateTime(lang, t), nil
	}
	return nil, fmt.Errorf("ivr: unknown say kind %q", as)
}

func parseLocal(v string, loc *time.Location, layouts ...string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.In(loc), nil
	}
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("ivr: bad date/time")
}

// parseCents reads "12.50", "$12", "12.5" or "1250c".
func parseCents(v string) (int64, error) {
	bad := fmt.Errorf("ivr: %q is not an amount (want 12.50)", v)
	s := strings.TrimPrefix(v, "$")
	if c, ok := strings.CutSuffix(s, "c"); ok {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			return 0, bad
		}
		return n, nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || (hasFrac && (len(frac) == 0 || len(frac) > 2)) {
		return 0, bad
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1e13 {
		return 0, bad
	}
	var f int64
	if hasFrac {
		if len(frac) == 1 {
			frac += "0"
		}
		f, err = strconv.ParseInt(frac, 10, 64)
		if err != nil || f < 0 {
			return 0, bad
		}
	}
	n := w*100 + f
	if neg {
		n = -n
	}
	return n, nil
}

// hoursFragments says a calendar's weekly hours.
func hoursFragments(lang say.Lang, cal *calendar.Calendar) []string {
	var days []say.DayHours
	for _, g := range cal.Weekly() {
		d := say.DayHours{From: g.From, To: g.To}
		for _, r := range g.Ranges {
			d.Spans = append(d.Spans, say.Span{Open: r.Start.Duration(), Close: r.End.Duration()})
		}
		days = append(days, d)
	}
	return say.Hours(lang, days)
}
