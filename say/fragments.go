package say

import (
	"fmt"
	"slices"
	"strings"
)

// Lang is a prompt language. Its value is also the prompt folder name
// (prompts/<lang>/<id>.wav).
type Lang string

// The supported languages.
const (
	English Lang = "en"
	Spanish Lang = "es"
)

// Langs returns the supported languages, English first.
func Langs() []Lang { return []Lang{English, Spanish} }

// Valid reports whether l is a supported language.
func (l Lang) Valid() bool { return l == English || l == Spanish }

// String returns the language code ("en", "es").
func (l Lang) String() string { return string(l) }

// ParseLang maps a language code or BCP 47 tag to a Lang: "en", "en-US", "es",
// "es-US", "es-419", "es_MX" (case-insensitive; any region of en/es is accepted).
func ParseLang(tag string) (Lang, error) {
	t := strings.ToLower(strings.TrimSpace(tag))
	base, _, _ := strings.Cut(strings.ReplaceAll(t, "_", "-"), "-")
	switch base {
	case "en":
		return English, nil
	case "es":
		return Spanish, nil
	}
	return "", fmt.Errorf("say: unsupported language %q (want en or es, optionally with a region such as en-US or es-419)", tag)
}

// Fragment id prefixes. Ids are stable file names below prompts/<lang>/; the same id
// means the same thing in every language that has it.
//
//	num/<n>      a number said as one word in its citation form (en 0-20 and tens;
//	             es 0-29, tens, cien and the hundreds)
//	num/<word>   number words that are not a value: en hundred, thousand, million,
//	             billion; es un, una, veintiun, veintiuna, ciento, doscientas...
//	             novecientas, mil, millon, millones; both: minus
//	ord/<n>      ordinals for dates: en first..twentieth, thirtieth; es primero
//	day/<name>   weekdays (day/monday ...), month/<name> months (month/january ...)
//	time/...     en am, pm, oh; es la, las, de_la_manana, de_la_tarde, de_la_noche
//	word/...     joining words: en at, and, from, to, through; es el, de, a, con, y
//	money/...    dollar, dollars, cent, cents
//	unit/...     minute, minutes, hour, hours
//	digit/...    star, pound (the keys * and #)
//	pause/short  300 ms of silence (between digit groups)
const (
	PauseShort = "pause/short"
)

var weekdayNames = [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
var monthNames = [12]string{"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december"}

// fragmentText holds, per language, the display text of every fragment id a Say
// function can emit. Built once at init; never modified.
var fragmentText = map[Lang]map[string]string{
	English: buildEnglish(),
	Spanish: buildSpanish(),
}

func buildEnglish() map[string]string {
	m := map[string]string{}
	ones := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
		"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
		"eighteen", "nineteen", "twenty"}
	for i, w := range ones {
		m[fmt.Sprintf("num/%d", i)] = w
	}
	for i, w := range []string{"thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"} {
		m[fmt.Sprintf("num/%d", 30+10*i)] = w
	}
	m["num/hundred"] = "hundred"
	m["num/thousand"] = "thousand"
	m["num/million"] = "million"
	m["num/billion"] = "billion"
	m["num/minus"] = "minus"
	ords := []string{"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
		"ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
		"sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"}
	for i, w := range ords {
		m[fmt.Sprintf("ord/%d", i+1)] = w
	}
	m["ord/30"] = "thirtieth"
	for _, d := range weekdayNames {
		m["day/"+d] = strings.ToUpper(d[:1]) + d[1:]
	}
	for _, mo := range monthNames {
		m["month/"+mo] = strings.ToUpper(mo[:1]) + mo[1:]
	}
	m["time/am"] = "a.m."
	m["time/pm"] = "p.m."
	m["time/oh"] = "oh"
	m["word/at"] = "at"
	m["word/and"] = "and"
	m["word/from"] = "from"
	m["word/to"] = "to"
	m["word/through"] = "through"
	m["money/dollar"] = "dollar"
	m["money/dollars"] = "dollars"
	m["money/cent"] = "cent"
	m["money/cents"] = "cents"
	m["unit/minute"] = "minute"
	m["unit/minutes"] = "minutes"
	m["unit/hour"] = "hour"
	m["unit/hours"] = "hours"
	m["digit/star"] = "star"
	m["digit/pound"] = "pound"
	m[PauseShort] = ","
	return m
}

func buildSpanish() map[string]string {
	m := map[string]string{}
	ones := []string{"cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve",
		"diez", "once", "doce", "trece", "catorce", "quince", "dieciséis", "diecisiete", "dieciocho",
		"diecinueve", "veinte", "veintiuno", "veintidós", "veintitrés", "veinticuatro", "veinticinco",
		"veintiséis", "veintisiete", "veintiocho", "veintinueve"}
	for i, w := range ones {
		m[fmt.Sprintf("num/%d", i)] = w
	}
	for i, w := range []string{"treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa"} {
		m[fmt.Sprintf("num/%d", 30+10*i)] = w
	}
	m["num/100"] = "cien"
	m["num/ciento"] = "ciento"
	for i, w := range esHundredsMasc {
		if i >= 2 {
			m[fmt.Sprintf("num/%d", i*100)] = w
			m["num/"+asciiFold(esHundredsFem[i])] = esHundredsFem[i]
		}
	}
	m["num/un"] = "un"
	m["num/una"] = "una"
	m["num/veintiun"] = "veintiún"
	m["num/veintiuna"] = "veintiuna"
	m["num/mil"] = "mil"
	m["num/millon"] = "millón"
	m["num/millones"] = "millones"
	m["num/minus"] = "menos"
	m["ord/1"] = "primero"
	es := []string{"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"}
	for i, d := range weekdayNames {
		m["day/"+d] = es[i]
	}
	esm := []string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
		"septiembre", "octubre", "noviembre", "diciembre"}
	for i, mo := range monthNames {
		m["month/"+mo] = esm[i]
	}
	m["time/la"] = "la"
	m["time/las"] = "las"
	m["time/de_la_manana"] = "de la mañana"
	m["time/de_la_tarde"] = "de la tarde"
	m["time/de_la_noche"] = "de la noche"
	m["word/el"] = "el"
	m["word/de"] = "de"
	m["word/a"] = "a"
	m["word/con"] = "con"
	m["word/y"] = "y"
	m["money/dollar"] = "dólar"
	m["money/dollars"] = "dólares"
	m["money/cent"] = "centavo"
	m["money/cents"] = "centavos"
	m["unit/minute"] = "minuto"
	m["unit/minutes"] = "minutos"
	m["unit/hour"] = "hora"
	m["unit/hours"] = "horas"
	m["digit/star"] = "asterisco"
	m["digit/pound"] = "numeral"
	m[PauseShort] = ","
	return m
}

var esHundredsMasc = [10]string{"", "ciento", "doscientos", "trescientos", "cuatrocientos", "quinientos",
	"seiscientos", "setecientos", "ochocientos", "novecientos"}
var esHundredsFem = [10]string{"", "ciento", "doscientas", "trescientas", "cuatrocientas", "quinientas",
	"seiscientas", "setecientas", "ochocientas", "novecientas"}

func asciiFold(s string) string {
	r := strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ñ", "n")
	return r.Replace(s)
}

// FragmentIDs returns, sorted, every fragment id a Say function can emit in lang
// (nil for an unsupported language). Each must exist as prompts/<lang>/<id>.wav.
func FragmentIDs(lang Lang) []string {
	m := fragmentText[lang]
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// FragmentText returns the display text of a fragment ("num/21" → "veintiuno" in
// Spanish). The manifest holds the same text for rendering.
func FragmentText(lang Lang, id string) (string, bool) {
	t, ok := fragmentText[lang][id]
	return t, ok
}

// Text joins the display text of fragment ids into a readable line, for transcripts,
// logs of prompt *structure* in tests, and review ("twenty one dollars"). A pause
// becomes a comma; an unknown id is shown in brackets.
func Text(lang Lang, ids []string) string {
	var b strings.Builder
	for _, id := range ids {
		if id == PauseShort {
			b.WriteString(",")
			continue
		}
		t, ok := fragmentText[lang][id]
		if !ok {
			t = "[" + id + "]"
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t)
	}
	return b.String()
}
