// Package say turns numbers, digit strings, dates, times and money into ordered
// lists of prompt fragment ids, in English and Spanish, so that a call can speak
// values from recorded fragments (the idea of Asterisk's say.conf).
//
// Every function is pure: it returns the ids to play in order, e.g.
// Number(Spanish, 21) → ["num/21"] ("veintiuno") and Money(Spanish, 2100) →
// ["num/veintiun", "money/dollars"] ("veintiún dólares"). The caller plays
// prompts/<lang>/<id>.wav for each id. Text renders ids as readable text and
// FragmentIDs lists every id a language can emit.
//
// Choices (documented once here):
//   - Numbers are spoken in words from 0 to 999,999,999,999; anything larger is
//     said digit by digit. Negative values start with "minus"/"menos".
//   - English has no "and" inside numbers ("one hundred five"); minutes below ten
//     use "oh" ("three oh five p.m."); a whole hour is "three p.m."; noon is
//     "twelve p.m." and midnight "twelve a.m.". Dates use ordinals
//     ("Tuesday November twenty fourth"); years read in pairs ("twenty twenty six",
//     "two thousand five").
//   - Spanish: the first of the month is "primero" ("el martes primero de
//     diciembre"); other days are cardinal ("el veintiuno de noviembre"). Times
//     use numbers, not "y media"/"y cuarto" ("las tres y treinta de la tarde",
//     "la una y cinco de la tarde"); periods are "de la mañana" (1:00-11:59),
//     "de la tarde" (12:00-18:59) and "de la noche" (19:00-0:59). Apocope and
//     gender follow the noun: "un dólar", "veintiún dólares", "una hora",
//     "veintiuna horas", "doscientas horas", "mil" (never "un mil"),
//     "un millón de dólares".
//   - Dates and times are said in t's own location: convert with t.In(loc) first.
//   - An unsupported Lang yields nil; validate languages with ParseLang at config time.
package say

import (
	"fmt"
	"strconv"
	"time"
)

// Gender selects the Spanish form of a number. English ignores it.
type Gender int

const (
	// Cardinal is a number said on its own: "uno", "veintiuno", "treinta y uno".
	Cardinal Gender = iota
	// Masculine is a number before a masculine noun: "un", "veintiún", "treinta y un".
	Masculine
	// Feminine is a number before a feminine noun: "una", "veintiuna", "doscientas".
	Feminine
)

// String names the gender.
func (g Gender) String() string {
	switch g {
	case Cardinal:
		return "cardinal"
	case Masculine:
		return "masculine"
	case Feminine:
		return "feminine"
	}
	return fmt.Sprintf("Gender(%d)", int(g))
}

// MaxNumber is the largest magnitude said in words; larger values are said digit by digit.
const MaxNumber = 999_999_999_999

func num(n int64) string { return "num/" + strconv.FormatInt(n, 10) }

// Number says n as a cardinal number: Number(English, 105) → one hundred five.
func Number(lang Lang, n int64) []string { return NumberAs(lang, n, Cardinal) }

// NumberAs says n in the given Spanish form (English ignores g):
// NumberAs(Spanish, 21, Masculine) → veintiún.
func NumberAs(lang Lang, n int64, g Gender) []string {
	if !lang.Valid() {
		return nil
	}
	if g < Cardinal || g > Feminine {
		g = Cardinal
	}
	if n > MaxNumber {
		return Digits(lang, strconv.FormatInt(n, 10))
	}
	if n < -MaxNumber {
		return append([]string{"num/minus"}, Digits(lang, strconv.FormatInt(n, 10)[1:])...)
	}
	if n < 0 {
		return append([]string{"num/minus"}, NumberAs(lang, -n, g)...)
	}
	if n == 0 {
		return []string{"num/0"}
	}
	if lang == English {
		return enNumber(n)
	}
	return esNumber(n, g)
}

func enNumber(n int64) []string {
	var out []string
	for _, step := range []struct {
		div  int64
		word string
	}{{1_000_000_000, "num/billion"}, {1_000_000, "num/million"}, {1000, "num/thousand"}} {
		if q := n / step.div; q > 0 {
			out = append(out, en999(q)...)
			out = append(out, step.word)
			n %= step.div
		}
	}
	return append(out, en999(n)...)
}

// en999 says 1..999 (0 → nothing).
func en999(n int64) []string {
	var out []string
	if h := n / 100; h > 0 {
		out = append(out, num(h), "num/hundred")
	}
	return append(out, en99(n%100)...)
}

func en99(n int64) []string {
	switch {
	case n == 0:
		return nil
	case n <= 20:
		return []string{num(n)}
	case n%10 == 0:
		return []string{num(n)}
	}
	return []string{num(n / 10 * 10), num(n % 10)}
}

func esNumber(n int64, g Gender) []string {
	var out []string
	if m := n / 1_000_000; m == 1 {
		out = append(out, "num/un", "num/millon")
	} else if m > 1 {
		// millón is masculine: "veintiún millones", "doscientos millones", "mil millones".
		out = append(out, es999999(m, Masculine)...)
		out = append(out, "num/millones")
	}
	return append(out, es999999(n%1_000_000, g)...)
}

// es999999 says 1..999,999 (0 → nothing).
func es999999(n int64, g Gender) []string {
	var out []string
	if t := n / 1000; t == 1 {
		out = append(out, "num/mil") // "mil", never "un mil"
	} else if t > 1 {
		tg := Masculine // "veintiún mil", "ciento un mil"
		if g == Feminine {
			tg = Feminine // "veintiuna mil personas", "doscientas mil horas"
		}
		out = append(out, es999(t, tg)...)
		out = append(out, "num/mil")
	}
	return append(out, es999(n%1000, g)...)
}

// es999 says 1..999 (0 → nothing).
func es999(n int64, g Gender) []string {
	var out []string
	h, r := n/100, n%100
	switch {
	case h == 1 && r == 0:
		return []string{"num/100"} // "cien"
	case h == 1:
		out = append(out, "num/ciento")
	case h > 1 && g == Feminine:
		out = append(out, "num/"+asciiFold(esHundredsFem[h]))
	case h > 1:
		out = append(out, num(h*100))
	}
	return append(out, es99(r, g)...)
}

func es99(n int64, g Gender) []string {
	switch {
	case n == 0:
		return nil
	case n == 1:
		return []string{[...]string{"num/1", "num/un", "num/una"}[g]}
	case n == 21:
		return []string{[...]string{"num/21", "num/veintiun", "num/veintiuna"}[g]}
	case n < 30 || n%10 == 0:
		return []string{num(n)}
	}
	return append([]string{num(n / 10 * 10), "word/y"}, es99(n%10, g)...)
}

// Digits says each digit of s in turn; '*' is "star"/"asterisco" and '#' is
// "pound"/"numeral". Spaces, '-', '.', '/', '(' and ')' separate groups with a
// short pause (PauseShort); other characters (such as '+') are ignored:
// Digits(English, "(505) 555-0143") → five zero five, five five five, zero one four three.
func Digits(lang Lang, s string) []string {
	if !lang.Valid() {
		return nil
	}
	var out []string
	pause := false
	for _, r := range s {
		var id string
		switch {
		case r >= '0' && r <= '9':
			id = num(int64(r - '0'))
		case r == '*':
			id = "digit/star"
		case r == '#':
			id = "digit/pound"
		case r == ' ' || r == '-' || r == '.' || r == '/' || r == '(' || r == ')':
			pause = len(out) > 0
			continue
		default:
			continue
		}
		if pause {
			out = append(out, PauseShort)
			pause = false
		}
		out = append(out, id)
	}
	return out
}

// Unit is a noun that Count can say after a number.
type Unit int

// The units Count knows.
const (
	Minute Unit = iota // "minute(s)" / "minuto(s)" (masculine)
	Hour               // "hour(s)" / "hora(s)" (feminine)
)

type unitInfo struct {
	one, many string
	gender    Gender
}

var units = map[Unit]unitInfo{
	Minute: {"unit/minute", "unit/minutes", Masculine},
	Hour:   {"unit/hour", "unit/hours", Feminine},
}

// Count says n followed by the unit, in singular or plural: Count(English, 1,
// Minute) → one minute; Count(Spanish, 21, Hour) → veintiuna horas.
func Count(lang Lang, n int64, u Unit) []string {
	info, ok := units[u]
	if !ok {
		return nil
	}
	return countNoun(lang, n, info)
}

func countNoun(lang Lang, n int64, u unitInfo) []string {
	out := NumberAs(lang, n, u.gender)
	if out == nil {
		return nil
	}
	// Spanish: "un millón de dólares", "dos millones de horas".
	if lang == Spanish && n != 0 && n%1_000_000 == 0 && n >= -MaxNumber && n <= MaxNumber {
		out = append(out, "word/de")
	}
	if n == 1 {
		return append(out, u.one)
	}
	return append(out, u.many)
}

var (
	dollar = unitInfo{"money/dollar", "money/dollars", Masculine}
	cent   = unitInfo{"money/cent", "money/cents", Masculine}
)

// Money says an amount of US dollars given in cents: Money(English, 2150) →
// twenty one dollars and fifty cents; Money(Spanish, 2100) → veintiún dólares;
// Money(Spanish, 101) → un dólar con un centavo; zero is "zero dollars".
func Money(lang Lang, cents int64) []string {
	if !lang.Valid() {
		return nil
	}
	var out []string
	u := uint64(cents)
	if cents < 0 {
		out = append(out, "num/minus")
		u = uint64(-(cents + 1)) + 1 // safe for math.MinInt64
	}
	d, c := int64(u/100), int64(u%100)
	if d == 0 && c == 0 {
		return append(out, countNoun(lang, 0, dollar)...)
	}
	if d > 0 {
		out = append(out, countNoun(lang, d, dollar)...)
	}
	if c > 0 {
		if d > 0 {
			out = append(out, map[Lang]string{English: "word/and", Spanish: "word/con"}[lang])
		}
		out = append(out, countNoun(lang, c, cent)...)
	}
	return out
}

func weekday(d time.Weekday) string { return "day/" + weekdayNames[(int(d)%7+7)%7] }
func month(m time.Month) string     { return "month/" + monthNames[(int(m)+11)%12] }

// Date says the weekday, month and day of t (in t's location), without the year:
// "Tuesday November twenty fourth" / "el martes veinticuatro de noviembre".
func Date(lang Lang, t time.Time) []string {
	switch lang {
	case English:
		return append([]string{weekday(t.Weekday()), month(t.Month())}, enOrdinal(t.Day())...)
	case Spanish:
		out := []string{"word/el", weekday(t.Weekday())}
		if t.Day() == 1 {
			out = append(out, "ord/1")
		} else {
			out = append(out, Number(Spanish, int64(t.Day()))...)
		}
		return append(out, "word/de", month(t.Month()))
	}
	return nil
}

// DateWithYear says Date followed by the year: "... November twenty fourth twenty
// twenty six" / "... de noviembre de dos mil veintiséis".
func DateWithYear(lang Lang, t time.Time) []string {
	out := Date(lang, t)
	switch lang {
	case English:
		return append(out, enYear(int64(t.Year()))...)
	case Spanish:
		return append(append(out, "word/de"), Number(Spanish, int64(t.Year()))...)
	}
	return nil
}

// enOrdinal says a day of the month (1..31) as an ordinal from ord/1..20, ord/30
// and the tens: 24 → twenty fourth.
func enOrdinal(d int) []string {
	switch {
	case d <= 20 || d == 30:
		return []string{"ord/" + strconv.Itoa(d)}
	}
	return []string{num(int64(d / 10 * 10)), "ord/" + strconv.Itoa(d%10)}
}

func enYear(y int64) []string {
	if y < 1000 || y > 9999 || y%1000 == 0 || (y >= 2000 && y <= 2009) {
		return Number(English, y) // "two thousand", "two thousand five"
	}
	out := en99(y / 100)
	switch lo := y % 100; {
	case lo == 0:
		return append(out, "num/hundred") // "nineteen hundred"
	case lo < 10:
		return append(out, "time/oh", num(lo)) // "nineteen oh five"
	default:
		return append(out, en99(lo)...)
	}
}

// Time says the clock time of t (in t's location), to the minute: "three thirty
// p.m." / "las tres y treinta de la tarde".
func Time(lang Lang, t time.Time) []string {
	return TimeOfDay(lang, time.Duration(t.Hour())*time.Hour+time.Duration(t.Minute())*time.Minute)
}

// TimeOfDay says a time given as the duration since midnight (taken modulo 24 h,
// truncated to the minute), so calendar hours can be said without a date:
// TimeOfDay(Spanish, 13*time.Hour) → la una de la tarde.
func TimeOfDay(lang Lang, d time.Duration) []string {
	mins := int64(d/time.Minute) % (24 * 60)
	if mins < 0 {
		mins += 24 * 60
	}
	h, m := mins/60, mins%60
	h12 := h % 12
	if h12 == 0 {
		h12 = 12
	}
	switch lang {
	case English:
		out := en99(h12)
		if m > 0 && m < 10 {
			out = append(out, "time/oh", num(m))
		} else if m >= 10 {
			out = append(out, en99(m)...)
		}
		if h < 12 {
			return append(out, "time/am")
		}
		return append(out, "time/pm")
	case Spanish:
		var out []string
		if h12 == 1 {
			out = []string{"time/la", "num/una"}
		} else {
			out = []string{"time/las", num(h12)}
		}
		if m > 0 {
			out = append(out, "word/y")
			out = append(out, es99(m, Cardinal)...)
		}
		switch {
		case h >= 1 && h < 12:
			return append(out, "time/de_la_manana")
		case h >= 12 && h < 19:
			return append(out, "time/de_la_tarde")
		default:
			return append(out, "time/de_la_noche")
		}
	}
	return nil
}

// DateTime says Date and Time joined: "Tuesday November twenty fourth at three
// thirty p.m." / "el martes veinticuatro de noviembre a las tres y treinta de la tarde".
func DateTime(lang Lang, t time.Time) []string {
	switch lang {
	case English:
		return append(append(Date(lang, t), "word/at"), Time(lang, t)...)
	case Spanish:
		return append(append(Date(lang, t), "word/a"), Time(lang, t)...)
	}
	return nil
}

// DayRange says a span of weekdays: "Monday through Friday" / "de lunes a
// viernes"; a single day is just its name.
func DayRange(lang Lang, from, to time.Weekday) []string {
	if !lang.Valid() {
		return nil
	}
	if from == to {
		return []string{weekday(from)}
	}
	if lang == English {
		return []string{weekday(from), "word/through", weekday(to)}
	}
	return []string{"word/de", weekday(from), "word/a", weekday(to)}
}

// TimeRange says an opening span given as durations since midnight: "from eight
// a.m. to eight p.m." / "de las ocho de la mañana a las ocho de la noche".
// 24 h is midnight.
func TimeRange(lang Lang, open, close time.Duration) []string {
	switch lang {
	case English:
		return append(append(append([]string{"word/from"}, TimeOfDay(lang, open)...), "word/to"), TimeOfDay(lang, close)...)
	case Spanish:
		return append(append(append([]string{"word/de"}, TimeOfDay(lang, open)...), "word/a"), TimeOfDay(lang, close)...)
	}
	return nil
}

// Span is an opening span in a day, as durations since midnight.
type Span struct{ Open, Close time.Duration }

// DayHours is a group of consecutive weekdays that share the same spans.
type DayHours struct {
	From, To time.Weekday
	Spans    []Span
}

// Hours says a weekly schedule for an hours announcement (after a prompt such as
// "Our hours are"): "Monday through Friday from eight a.m. to eight p.m., and
// Saturday from nine a.m. to one p.m." / "de lunes a viernes de las ocho de la
// mañana a las ocho de la noche, y sábado de ...".
func Hours(lang Lang, days []DayHours) []string {
	if !lang.Valid() {
		return nil
	}
	and := map[Lang]string{English: "word/and", Spanish: "word/y"}[lang]
	var out []string
	for i, d := range days {
		if i > 0 {
			out = append(out, PauseShort)
			if i == len(days)-1 {
				out = append(out, and)
			}
		}
		out = append(out, DayRange(lang, d.From, d.To)...)
		for j, s := range d.Spans {
			if j > 0 {
				out = append(out, and)
			}
			out = append(out, TimeRange(lang, s.Open, s.Close)...)
		}
	}
	return out
}
