package calendar

import (
	"slices"
	"time"
)

// Window is the half-open interval of instants [Start, End).
type Window struct {
	Start, End time.Time
}

// Contains reports whether t is in w.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// Duration returns the length of w.
func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }

// String formats w as "start/end" in RFC 3339.
func (w Window) String() string {
	return w.Start.Format(time.RFC3339) + "/" + w.End.Format(time.RFC3339)
}

// Normalize returns the windows sorted by start with empty ones dropped and
// overlapping or touching ones merged. The input is not modified.
func Normalize(ws []Window) []Window {
	s := make([]Window, 0, len(ws))
	for _, w := range ws {
		if w.Start.Before(w.End) {
			s = append(s, w)
		}
	}
	slices.SortFunc(s, func(a, b Window) int { return a.Start.Compare(b.Start) })
	out := s[:0]
	for _, w := range s {
		if n := len(out); n > 0 && !w.Start.After(out[n-1].End) {
			if w.End.After(out[n-1].End) {
				out[n-1].End = w.End
			}
			continue
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Intersect returns the instants that are in both a and b, normalized.
func Intersect(a, b []Window) []Window {
	a, b = Normalize(a), Normalize(b)
	var out []Window
	for i, j := 0, 0; i < len(a) && j < len(b); {
		s, e := later(a[i].Start, b[j].Start), earlier(a[i].End, b[j].End)
		if s.Before(e) {
			out = append(out, Window{s, e})
		}
		if a[i].End.Before(b[j].End) {
			i++
		} else {
			j++
		}
	}
	return out
}

// Subtract returns the instants of a that are not in b, normalized.
func Subtract(a, b []Window) []Window {
	a, b = Normalize(a), Normalize(b)
	var out []Window
	j := 0
	for _, w := range a {
		cur := w.Start
		for j < len(b) && !b[j].End.After(cur) {
			j++
		}
		for k := j; k < len(b) && b[k].Start.Before(w.End); k++ {
			if b[k].Start.After(cur) {
				out = append(out, Window{cur, b[k].Start})
			}
			cur = later(cur, b[k].End)
		}
		if cur.Before(w.End) {
			out = append(out, Window{cur, w.End})
		}
	}
	return out
}

// Common returns the windows within [from, to) in which every calendar is open
// (the dialer: patient-local 08:00-21:00 ∩ campaign window ∩ pharmacy hours).
// With no calendars it returns nil.
func Common(from, to time.Time, cals ...*Calendar) []Window {
	if len(cals) == 0 {
		return nil
	}
	out := cals[0].Windows(from, to)
	for _, c := range cals[1:] {
		if len(out) == 0 {
			break
		}
		out = Intersect(out, c.Windows(from, to))
	}
	return out
}

// NextCommonOpen returns the first instant at or after t, before limit, at
// which every calendar is open; ok is false if there is none.
func NextCommonOpen(t, limit time.Time, cals ...*Calendar) (next time.Time, ok bool) {
	for cursor := t; cursor.Before(limit); cursor = cursor.Add(searchChunk) {
		end := earlier(cursor.Add(searchChunk), limit)
		if ws := Common(cursor, end, cals...); len(ws) > 0 {
			return ws[0].Start, true
		}
	}
	return time.Time{}, false
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
