package say

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

type sayCase struct {
	name string
	got  []string
	ids  string // space-separated fragment ids
	text string
}

func check(t *testing.T, lang Lang, cases []sayCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if want := strings.Fields(c.ids); !slices.Equal(c.got, want) {
				t.Errorf("ids:\n got %q\nwant %q", strings.Join(c.got, " "), c.ids)
			}
			if got := Text(lang, c.got); got != c.text {
				t.Errorf("text:\n got %q\nwant %q", got, c.text)
			}
			for _, id := range c.got {
				if _, ok := FragmentText(lang, id); !ok {
					t.Errorf("emitted %q, which is not a %s fragment", id, lang)
				}
			}
		})
	}
}

func ny(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestEnglish(t *testing.T) {
	t.Parallel()
	loc := ny(t)
	tue := time.Date(2026, time.November, 24, 15, 30, 0, 0, loc) // a Tuesday
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, loc) }
	e := English
	check(t, e, []sayCase{
		{"0", Number(e, 0), "num/0", "zero"},
		{"7", Number(e, 7), "num/7", "seven"},
		{"13", Number(e, 13), "num/13", "thirteen"},
		{"20", Number(e, 20), "num/20", "twenty"},
		{"21", Number(e, 21), "num/20 num/1", "twenty one"},
		{"40", Number(e, 40), "num/40", "forty"},
		{"99", Number(e, 99), "num/90 num/9", "ninety nine"},
		{"100", Number(e, 100), "num/1 num/hundred", "one hundred"},
		{"105", Number(e, 105), "num/1 num/hundred num/5", "one hundred five"},
		{"115", Number(e, 115), "num/1 num/hundred num/15", "one hundred fifteen"},
		{"999", Number(e, 999), "num/9 num/hundred num/90 num/9", "nine hundred ninety nine"},
		{"1000", Number(e, 1000), "num/1 num/thousand", "one thousand"},
		{"1005", Number(e, 1005), "num/1 num/thousand num/5", "one thousand five"},
		{"2026", Number(e, 2026), "num/2 num/thousand num/20 num/6", "two thousand twenty six"},
		{"21000", Number(e, 21000), "num/20 num/1 num/thousand", "twenty one thousand"},
		{"100000", Number(e, 100000), "num/1 num/hundred num/thousand", "one hundred thousand"},
		{"1000000", Number(e, 1000000), "num/1 num/million", "one million"},
		{"1234567", Number(e, 1234567),
			"num/1 num/million num/2 num/hundred num/30 num/4 num/thousand num/5 num/hundred num/60 num/7",
			"one million two hundred thirty four thousand five hundred sixty seven"},
		{"999999999", Number(e, 999999999),
			"num/9 num/hundred num/90 num/9 num/million num/9 num/hundred num/90 num/9 num/thousand num/9 num/hundred num/90 num/9",
			"nine hundred ninety nine million nine hundred ninety nine thousand nine hundred ninety nine"},
		{"2000000001", Number(e, 2000000001), "num/2 num/billion num/1", "two billion one"},
		{"-5", Number(e, -5), "num/minus num/5", "minus five"},
		{"too big", Number(e, 1_000_000_000_000), "num/1 num/0 num/0 num/0 num/0 num/0 num/0 num/0 num/0 num/0 num/0 num/0 num/0",
			"one zero zero zero zero zero zero zero zero zero zero zero zero"},
		{"gender ignored", NumberAs(e, 21, Feminine), "num/20 num/1", "twenty one"},
		{"digits", Digits(e, "1234567"), "num/1 num/2 num/3 num/4 num/5 num/6 num/7", "one two three four five six seven"},
		{"digits phone", Digits(e, "(505) 555-0143"),
			"num/5 num/0 num/5 pause/short num/5 num/5 num/5 pause/short num/0 num/1 num/4 num/3",
			"five zero five, five five five, zero one four three"},
		{"digits keys", Digits(e, "+1*#"), "num/1 digit/star digit/pound", "one star pound"},
		{"digits empty", Digits(e, "-- "), "", ""},
		{"date", Date(e, tue), "day/tuesday month/november num/20 ord/4", "Tuesday November twenty fourth"},
		{"date 1st", Date(e, at(2026, 12, 1, 9, 0)), "day/tuesday month/december ord/1", "Tuesday December first"},
		{"date 12th", Date(e, at(2026, 6, 12, 9, 0)), "day/friday month/june ord/12", "Friday June twelfth"},
		{"date 20th", Date(e, at(2026, 3, 20, 9, 0)), "day/friday month/march ord/20", "Friday March twentieth"},
		{"date 30th", Date(e, at(2026, 4, 30, 9, 0)), "day/thursday month/april ord/30", "Thursday April thirtieth"},
		{"date 31st", Date(e, at(2026, 1, 31, 9, 0)), "day/saturday month/january num/30 ord/1", "Saturday January thirty first"},
		{"date year", DateWithYear(e, tue), "day/tuesday month/november num/20 ord/4 num/20 num/20 num/6",
			"Tuesday November twenty fourth twenty twenty six"},
		{"year 2005", DateWithYear(e, at(2005, 7, 4, 9, 0)), "day/monday month/july ord/4 num/2 num/thousand num/5",
			"Monday July fourth two thousand five"},
		{"year 1905", DateWithYear(e, at(1905, 5, 5, 9, 0)), "day/friday month/may ord/5 num/19 time/oh num/5",
			"Friday May fifth nineteen oh five"},
		{"year 1900", DateWithYear(e, at(1900, 1, 2, 9, 0)), "day/tuesday month/january ord/2 num/19 num/hundred",
			"Tuesday January second nineteen hundred"},
		{"time 3:30pm", Time(e, tue), "num/3 num/30 time/pm", "three thirty p.m."},
		{"time 3:05pm", Time(e, at(2026, 1, 1, 15, 5)), "num/3 time/oh num/5 time/pm", "three oh five p.m."},
		{"time 3pm", Time(e, at(2026, 1, 1, 15, 0)), "num/3 time/pm", "three p.m."},
		{"time 9:45am", Time(e, at(2026, 1, 1, 9, 45)), "num/9 num/40 num/5 time/am", "nine forty five a.m."},
		{"time noon", Time(e, at(2026, 1, 1, 12, 0)), "num/12 time/pm", "twelve p.m."},
		{"time midnight", Time(e, at(2026, 1, 1, 0, 0)), "num/12 time/am", "twelve a.m."},
		{"time 12:15am", Time(e, at(2026, 1, 1, 0, 15)), "num/12 num/15 time/am", "twelve fifteen a.m."},
		{"time 11:59pm", Time(e, at(2026, 1, 1, 23, 59)), "num/11 num/50 num/9 time/pm", "eleven fifty nine p.m."},
		{"datetime", DateTime(e, tue), "day/tuesday month/november num/20 ord/4 word/at num/3 num/30 time/pm",
			"Tuesday November twenty fourth at three thirty p.m."},
		{"money 0", Money(e, 0), "num/0 money/dollars", "zero dollars"},
		{"money 1c", Money(e, 1), "num/1 money/cent", "one cent"},
		{"money 99c", Money(e, 99), "num/90 num/9 money/cents", "ninety nine cents"},
		{"money $1", Money(e, 100), "num/1 money/dollar", "one dollar"},
		{"money $21", Money(e, 2100), "num/20 num/1 money/dollars", "twenty one dollars"},
		{"money $21.50", Money(e, 2150), "num/20 num/1 money/dollars word/and num/50 money/cents",
			"twenty one dollars and fifty cents"},
		{"money $1.01", Money(e, 101), "num/1 money/dollar word/and num/1 money/cent", "one dollar and one cent"},
		{"money $1M", Money(e, 100_000_000), "num/1 num/million money/dollars", "one million dollars"},
		{"money -$5", Money(e, -500), "num/minus num/5 money/dollars", "minus five dollars"},
		{"count 1 min", Count(e, 1, Minute), "num/1 unit/minute", "one minute"},
		{"count 5 min", Count(e, 5, Minute), "num/5 unit/minutes", "five minutes"},
		{"count 2 h", Count(e, 2, Hour), "num/2 unit/hours", "two hours"},
		{"day range", DayRange(e, time.Monday, time.Friday), "day/monday word/through day/friday", "Monday through Friday"},
		{"day single", DayRange(e, time.Saturday, time.Saturday), "day/saturday", "Saturday"},
		{"time range", TimeRange(e, 8*time.Hour, 20*time.Hour), "word/from num/8 time/am word/to num/8 time/pm",
			"from eight a.m. to eight p.m."},
		{"hours", Hours(e, []DayHours{
			{time.Monday, time.Friday, []Span{{8 * time.Hour, 20 * time.Hour}}},
			{time.Saturday, time.Saturday, []Span{{9 * time.Hour, 13 * time.Hour}}},
		}), "day/monday word/through day/friday word/from num/8 time/am word/to num/8 time/pm pause/short word/and day/saturday word/from num/9 time/am word/to num/1 time/pm",
			"Monday through Friday from eight a.m. to eight p.m., and Saturday from nine a.m. to one p.m."},
		{"hours split day", Hours(e, []DayHours{
			{time.Sunday, time.Sunday, []Span{{10 * time.Hour, 12 * time.Hour}, {13 * time.Hour, 16*time.Hour + 30*time.Minute}}},
		}), "day/sunday word/from num/10 time/am word/to num/12 time/pm word/and word/from num/1 time/pm word/to num/4 num/30 time/pm",
			"Sunday from ten a.m. to twelve p.m. and from one p.m. to four thirty p.m."},
	})
}

func TestSpanish(t *testing.T) {
	t.Parallel()
	loc := ny(t)
	tue := time.Date(2026, time.November, 24, 15, 30, 0, 0, loc)
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, loc) }
	s := Spanish
	check(t, s, []sayCase{
		{"0", Number(s, 0), "num/0", "cero"},
		{"1", Number(s, 1), "num/1", "uno"},
		{"1 m", NumberAs(s, 1, Masculine), "num/un", "un"},
		{"1 f", NumberAs(s, 1, Feminine), "num/una", "una"},
		{"15", Number(s, 15), "num/15", "quince"},
		{"16", Number(s, 16), "num/16", "dieciséis"},
		{"21", Number(s, 21), "num/21", "veintiuno"},
		{"21 m", NumberAs(s, 21, Masculine), "num/veintiun", "veintiún"},
		{"21 f", NumberAs(s, 21, Feminine), "num/veintiuna", "veintiuna"},
		{"22", Number(s, 22), "num/22", "veintidós"},
		{"30", Number(s, 30), "num/30", "treinta"},
		{"31", Number(s, 31), "num/30 word/y num/1", "treinta y uno"},
		{"31 m", NumberAs(s, 31, Masculine), "num/30 word/y num/un", "treinta y un"},
		{"99", Number(s, 99), "num/90 word/y num/9", "noventa y nueve"},
		{"100", Number(s, 100), "num/100", "cien"},
		{"101", Number(s, 101), "num/ciento num/1", "ciento uno"},
		{"115", Number(s, 115), "num/ciento num/15", "ciento quince"},
		{"200", Number(s, 200), "num/200", "doscientos"},
		{"500", Number(s, 500), "num/500", "quinientos"},
		{"700 f", NumberAs(s, 700, Feminine), "num/setecientas", "setecientas"},
		{"999", Number(s, 999), "num/900 num/90 word/y num/9", "novecientos noventa y nueve"},
		{"1000", Number(s, 1000), "num/mil", "mil"},
		{"1001", Number(s, 1001), "num/mil num/1", "mil uno"},
		{"2000", Number(s, 2000), "num/2 num/mil", "dos mil"},
		{"2026", Number(s, 2026), "num/2 num/mil num/26", "dos mil veintiséis"},
		{"21000", Number(s, 21000), "num/veintiun num/mil", "veintiún mil"},
		{"31000", Number(s, 31000), "num/30 word/y num/un num/mil", "treinta y un mil"},
		{"100000", Number(s, 100000), "num/100 num/mil", "cien mil"},
		{"101000", Number(s, 101000), "num/ciento num/un num/mil", "ciento un mil"},
		{"200000 f", NumberAs(s, 200000, Feminine), "num/doscientas num/mil", "doscientas mil"},
		{"1000000", Number(s, 1000000), "num/un num/millon", "un millón"},
		{"2000000", Number(s, 2000000), "num/2 num/millones", "dos millones"},
		{"21000000", Number(s, 21000000), "num/veintiun num/millones", "veintiún millones"},
		{"1234567", Number(s, 1234567),
			"num/un num/millon num/200 num/30 word/y num/4 num/mil num/500 num/60 word/y num/7",
			"un millón doscientos treinta y cuatro mil quinientos sesenta y siete"},
		{"999999999", Number(s, 999999999),
			"num/900 num/90 word/y num/9 num/millones num/900 num/90 word/y num/9 num/mil num/900 num/90 word/y num/9",
			"novecientos noventa y nueve millones novecientos noventa y nueve mil novecientos noventa y nueve"},
		{"mil millones", Number(s, 1_000_000_000), "num/mil num/millones", "mil millones"},
		{"max", Number(s, MaxNumber),
			"num/900 num/90 word/y num/9 num/mil num/900 num/90 word/y num/9 num/millones num/900 num/90 word/y num/9 num/mil num/900 num/90 word/y num/9",
			"novecientos noventa y nueve mil novecientos noventa y nueve millones novecientos noventa y nueve mil novecientos noventa y nueve"},
		{"-3", Number(s, -3), "num/minus num/3", "menos tres"},
		{"digits", Digits(s, "1234567"), "num/1 num/2 num/3 num/4 num/5 num/6 num/7", "uno dos tres cuatro cinco seis siete"},
		{"digits keys", Digits(s, "7*#"), "num/7 digit/star digit/pound", "siete asterisco numeral"},
		{"date", Date(s, tue), "word/el day/tuesday num/24 word/de month/november", "el martes veinticuatro de noviembre"},
		{"date primero", Date(s, at(2026, 12, 1, 9, 0)), "word/el day/tuesday ord/1 word/de month/december",
			"el martes primero de diciembre"},
		{"date 21", Date(s, at(2026, 11, 21, 9, 0)), "word/el day/saturday num/21 word/de month/november",
			"el sábado veintiuno de noviembre"},
		{"date 31", Date(s, at(2026, 1, 31, 9, 0)), "word/el day/saturday num/30 word/y num/1 word/de month/january",
			"el sábado treinta y uno de enero"},
		{"date year", DateWithYear(s, tue), "word/el day/tuesday num/24 word/de month/november word/de num/2 num/mil num/26",
			"el martes veinticuatro de noviembre de dos mil veintiséis"},
		{"time 3:30pm", Time(s, tue), "time/las num/3 word/y num/30 time/de_la_tarde", "las tres y treinta de la tarde"},
		{"time 1pm", Time(s, at(2026, 1, 1, 13, 0)), "time/la num/una time/de_la_tarde", "la una de la tarde"},
		{"time 1:05am", Time(s, at(2026, 1, 1, 1, 5)), "time/la num/una word/y num/5 time/de_la_manana", "la una y cinco de la mañana"},
		{"time 2am", Time(s, at(2026, 1, 1, 2, 0)), "time/las num/2 time/de_la_manana", "las dos de la mañana"},
		{"time 11:21am", Time(s, at(2026, 1, 1, 11, 21)), "time/las num/11 word/y num/21 time/de_la_manana",
			"las once y veintiuno de la mañana"},
		{"time noon", Time(s, at(2026, 1, 1, 12, 0)), "time/las num/12 time/de_la_tarde", "las doce de la tarde"},
		{"time 6:59pm", Time(s, at(2026, 1, 1, 18, 59)), "time/las num/6 word/y num/50 word/y num/9 time/de_la_tarde",
			"las seis y cincuenta y nueve de la tarde"},
		{"time 7pm", Time(s, at(2026, 1, 1, 19, 0)), "time/las num/7 time/de_la_noche", "las siete de la noche"},
		{"time midnight", Time(s, at(2026, 1, 1, 0, 0)), "time/las num/12 time/de_la_noche", "las doce de la noche"},
		{"datetime", DateTime(s, tue),
			"word/el day/tuesday num/24 word/de month/november word/a time/las num/3 word/y num/30 time/de_la_tarde",
			"el martes veinticuatro de noviembre a las tres y treinta de la tarde"},
		{"datetime la una", DateTime(s, at(2026, 12, 1, 13, 15)),
			"word/el day/tuesday ord/1 word/de month/december word/a time/la num/una word/y num/15 time/de_la_tarde",
			"el martes primero de diciembre a la una y quince de la tarde"},
		{"money 0", Money(s, 0), "num/0 money/dollars", "cero dólares"},
		{"money $1", Money(s, 100), "num/un money/dollar", "un dólar"},
		{"money $21", Money(s, 2100), "num/veintiun money/dollars", "veintiún dólares"},
		{"money $101", Money(s, 10100), "num/ciento num/un money/dollars", "ciento un dólares"},
		{"money 1c", Money(s, 1), "num/un money/cent", "un centavo"},
		{"money $5.21", Money(s, 521), "num/5 money/dollars word/con num/veintiun money/cents",
			"cinco dólares con veintiún centavos"},
		{"money $1M", Money(s, 100_000_000), "num/un num/millon word/de money/dollars", "un millón de dólares"},
		{"money $2M", Money(s, 200_000_000), "num/2 num/millones word/de money/dollars", "dos millones de dólares"},
		{"money $2,000,001", Money(s, 200_000_100), "num/2 num/millones num/un money/dollars", "dos millones un dólares"},
		{"count 1 min", Count(s, 1, Minute), "num/un unit/minute", "un minuto"},
		{"count 21 min", Count(s, 21, Minute), "num/veintiun unit/minutes", "veintiún minutos"},
		{"count 1 h", Count(s, 1, Hour), "num/una unit/hour", "una hora"},
		{"count 21 h", Count(s, 21, Hour), "num/veintiuna unit/hours", "veintiuna horas"},
		{"count 0 min", Count(s, 0, Minute), "num/0 unit/minutes", "cero minutos"},
		{"day range", DayRange(s, time.Monday, time.Friday), "word/de day/monday word/a day/friday", "de lunes a viernes"},
		{"time range", TimeRange(s, 8*time.Hour, 20*time.Hour),
			"word/de time/las num/8 time/de_la_manana word/a time/las num/8 time/de_la_noche",
			"de las ocho de la mañana a las ocho de la noche"},
		{"hours", Hours(s, []DayHours{
			{time.Monday, time.Friday, []Span{{8 * time.Hour, 20 * time.Hour}}},
			{time.Saturday, time.Saturday, []Span{{9 * time.Hour, 13 * time.Hour}}},
		}), "word/de day/monday word/a day/friday word/de time/las num/8 time/de_la_manana word/a time/las num/8 time/de_la_noche pause/short word/y day/saturday word/de time/las num/9 time/de_la_manana word/a time/la num/una time/de_la_tarde",
			"de lunes a viernes de las ocho de la mañana a las ocho de la noche, y sábado de las nueve de la mañana a la una de la tarde"},
	})
}

func TestEdges(t *testing.T) {
	t.Parallel()
	for _, lang := range Langs() {
		if got := Number(lang, math.MinInt64); len(got) != 20 || got[0] != "num/minus" {
			t.Errorf("%s MinInt64: %v", lang, got)
		}
		if got := Money(lang, math.MinInt64); len(got) == 0 || got[0] != "num/minus" {
			t.Errorf("%s Money(MinInt64): %v", lang, got)
		}
		if got := NumberAs(lang, 1, Gender(9)); len(got) != 1 || got[0] != "num/1" {
			t.Errorf("%s invalid gender: %v", lang, got)
		}
		if got := Count(lang, 3, Unit(99)); got != nil {
			t.Errorf("%s unknown unit: %v", lang, got)
		}
	}
	for name, got := range map[string][]string{
		"Number": Number("fr", 1), "Digits": Digits("fr", "1"), "Date": Date("fr", time.Now()),
		"Time": Time("fr", time.Now()), "DateTime": DateTime("fr", time.Now()), "Money": Money("fr", 1),
		"DayRange": DayRange("fr", 1, 2), "TimeRange": TimeRange("fr", 0, 1), "Hours": Hours("fr", nil),
		"DateWithYear": DateWithYear("fr", time.Now()), "Count": Count("fr", 1, Minute),
	} {
		if got != nil {
			t.Errorf("%s with unsupported language = %v, want nil", name, got)
		}
	}
	if got := TimeOfDay(English, -time.Hour); Text(English, got) != "eleven p.m." {
		t.Errorf("TimeOfDay(-1h) = %q", Text(English, got))
	}
	if got := Text(English, []string{"num/1", "nope"}); got != "one [nope]" {
		t.Errorf("Text unknown = %q", got)
	}
}

func TestParseLang(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want Lang
		ok   bool
	}{
		{"en", English, true}, {"en-US", English, true}, {"EN_us", English, true},
		{"es", Spanish, true}, {"es-US", Spanish, true}, {"es-419", Spanish, true}, {" es-MX ", Spanish, true},
		{"fr", "", false}, {"", "", false}, {"english", "", false},
	} {
		got, err := ParseLang(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseLang(%q) = %q, %v", c.in, got, err)
		}
	}
}

// Every fragment any Say function can emit, over a wide sweep of inputs, is listed
// by FragmentIDs; and every listed fragment is reachable (no dead prompts).
func TestFragmentClosure(t *testing.T) {
	t.Parallel()
	for _, lang := range Langs() {
		used := map[string]bool{}
		add := func(ids []string) {
			for _, id := range ids {
				used[id] = true
			}
		}
		for n := int64(-1); n <= 2100; n++ {
			for _, g := range []Gender{Cardinal, Masculine, Feminine} {
				add(NumberAs(lang, n, g))
			}
			add(Money(lang, n))
			add(Count(lang, n, Minute))
			add(Count(lang, n, Hour))
		}
		for _, n := range []int64{1e6, 2e6, 21e6, 1e9, 2e9, 1e12, 123456789, 700000, 900000} {
			add(Number(lang, n))
			add(NumberAs(lang, n, Feminine))
			add(Money(lang, n*100))
		}
		add(Digits(lang, "0123456789*# -"))
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for d := 0; d < 366; d++ {
			add(DateWithYear(lang, start.AddDate(0, 0, d)))
		}
		for m := 0; m < 24*60; m++ {
			add(TimeOfDay(lang, time.Duration(m)*time.Minute))
		}
		add(DateTime(lang, start))
		add(Hours(lang, []DayHours{{1, 5, []Span{{0, time.Hour}, {2 * time.Hour, 3 * time.Hour}}}, {6, 6, nil}}))
		listed := FragmentIDs(lang)
		for id := range used {
			if !slices.Contains(listed, id) {
				t.Errorf("%s: %q emitted but not in FragmentIDs", lang, id)
			}
		}
		for _, id := range listed {
			if !used[id] {
				t.Errorf("%s: %q listed but never emitted", lang, id)
			}
		}
	}
}

func BenchmarkDateTime(b *testing.B) {
	t := time.Date(2026, time.November, 24, 15, 30, 0, 0, time.UTC)
	for b.Loop() {
		_ = DateTime(Spanish, t)
	}
}

// FuzzSay checks that no input makes a Say function emit an unknown fragment or panic.
func FuzzSay(f *testing.F) {
	f.Add(int64(21), int64(2150), "(505) 555-0143", int64(1764000000), uint8(1))
	f.Add(int64(-1_000_000_000_001), int64(math.MinInt64), "*#", int64(0), uint8(2))
	f.Fuzz(func(t *testing.T, n, cents int64, digits string, unix int64, g uint8) {
		at := time.Unix(unix%(1<<40), 0).UTC()
		for _, lang := range Langs() {
			for _, ids := range [][]string{
				NumberAs(lang, n, Gender(g%3)), Money(lang, cents), Digits(lang, digits),
				DateTime(lang, at), DateWithYear(lang, at), Count(lang, n, Unit(g%2)),
				TimeRange(lang, time.Duration(n), time.Duration(cents)),
			} {
				for _, id := range ids {
					if _, ok := FragmentText(lang, id); !ok {
						t.Fatalf("%s: unknown fragment %q", lang, id)
					}
				}
			}
		}
	})
}
