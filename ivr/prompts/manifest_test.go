package prompts

import (
	"errors"
	"strings"
	"testing"
)

const sample = `
version: 1
voices:
  en: {voice: en-us, speed: 155}
  es:
    voice: es-419
    speed: 145
    lexicon: {"Main Street": "Méin Estrit", "Main": "Méin"}
prompts:
  welcome:
    note: greeting
    en: "Thank you for calling Main Street Pharmacy."
    es: "Gracias por llamar a Farmacia Main Street."
  lang/english:
    en: "For English, press 1."
    es: {text: "For English, press 1.", voice: en-us, speed: 155}
  custom/greeting:
    recorded: true
    en: "Hello."
    es: "Hola."
  menu/ssml:
    en: {text: "One, two.", ssml: "<speak>One <break time=\"200ms\"/> two.</speak>"}
    es: {text: "Uno, dos.", tts: "uno dos", recorded: true}
  tone/beep:
    note: "voicemail beep"
    sox: "synth 0.4 sine 1000 gain -8"
fragments:
  en:
    num/21: "twenty one"
  es:
    num/veintiun: "veintiún"
    word/y: {text: "y", tts: "i"}
`

func TestParse(t *testing.T) {
	t.Parallel()
	m, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Langs(), ","); got != "en,es" {
		t.Errorf("Langs = %s", got)
	}
	if got := strings.Join(m.IDs("es"), " "); got != "custom/greeting lang/english menu/ssml num/veintiun tone/beep welcome word/y" {
		t.Errorf("IDs(es) = %s", got)
	}
	for _, tc := range []struct {
		lang, id string
		want     Entry
	}{
		{"es", "welcome", Entry{Lang: "es", ID: "welcome", Text: "Gracias por llamar a Farmacia Main Street.",
			TTS: "Gracias por llamar a Farmacia Méin Estrit.", Voice: "es-419", Speed: 145, Note: "greeting"}},
		{"es", "lang/english", Entry{Lang: "es", ID: "lang/english", Text: "For English, press 1.",
			TTS: "For English, press 1.", Voice: "en-us", Speed: 155}},
		{"en", "custom/greeting", Entry{Lang: "en", ID: "custom/greeting", Text: "Hello.", TTS: "Hello.",
			Voice: "en-us", Speed: 155, Recorded: true}},
		{"en", "menu/ssml", Entry{Lang: "en", ID: "menu/ssml", Text: "One, two.",
			TTS: `<speak>One <break time="200ms"/> two.</speak>`, SSML: true, Voice: "en-us", Speed: 155}},
		{"es", "menu/ssml", Entry{Lang: "es", ID: "menu/ssml", Text: "Uno, dos.", TTS: "uno dos",
			Voice: "es-419", Speed: 145, Recorded: true}},
		{"es", "word/y", Entry{Lang: "es", ID: "word/y", Text: "y", TTS: "i", Voice: "es-419", Speed: 145, Fragment: true}},
	} {
		got, ok := m.Lookup(tc.lang, tc.id)
		if !ok {
			t.Errorf("%s/%s missing", tc.lang, tc.id)
			continue
		}
		if got.Text != tc.want.Text || got.TTS != tc.want.TTS || got.Voice != tc.want.Voice || got.Speed != tc.want.Speed ||
			got.SSML != tc.want.SSML || got.Recorded != tc.want.Recorded || got.Fragment != tc.want.Fragment ||
			got.Note != tc.want.Note || got.Kind != Speech {
			t.Errorf("%s/%s =\n %+v\nwant\n %+v", tc.lang, tc.id, got, tc.want)
		}
	}
	beep, _ := m.Lookup("es", "tone/beep")
	if beep.Kind != Generated || strings.Join(beep.Sox, " ") != "synth 0.4 sine 1000 gain -8" || beep.Text != "voicemail beep" {
		t.Errorf("beep = %+v", beep)
	}
	if m.Has("en", "num/veintiun") || !m.Has("en", "num/21") {
		t.Error("fragment sets are per language")
	}
	if p := beep.Path("/x"); p != "/x/es/tone/beep.wav" {
		t.Errorf("Path = %s", p)
	}
	if len(m.Entries()) != 13 {
		t.Errorf("Entries = %d, want 13", len(m.Entries()))
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	head := "version: 1\nvoices:\n  en: {voice: en-us, speed: 155}\n  es: {voice: es-419, speed: 145}\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"version", "version: 2\nvoices:\n  en: {voice: en-us, speed: 155}\n", "version: want 1, got 2"},
		{"no voices", "version: 1\n", "voices: no languages"},
		{"unknown top key", head + "promtps: {}\n", "promtps"},
		{"voice speed", "version: 1\nvoices:\n  en: {voice: en-us, speed: 10}\n", "voices.en.speed: want words per minute"},
		{"voice missing", "version: 1\nvoices:\n  en: {speed: 150}\n", "voices.en.voice: missing espeak-ng voice"},
		{"missing lang", head + "prompts:\n  welcome:\n    en: Hi\n", `prompts."welcome": missing es text`},
		{"unknown key", head + "prompts:\n  welcome:\n    en: Hi\n    es: Hola\n    fr: Salut\n", `prompts."welcome".fr: unknown key`},
		{"bad id", head + "prompts:\n  Welcome/../x:\n    en: Hi\n    es: Hola\n", "bad id"},
		{"empty text", head + "prompts:\n  welcome:\n    en: \"\"\n    es: Hola\n", `prompts."welcome".en: missing text`},
		{"null text", head + "prompts:\n  welcome:\n    en:\n    es: Hola\n", `prompts."welcome".en: want the text`},
		{"lang key typo", head + "prompts:\n  welcome:\n    en: {txt: Hi}\n    es: Hola\n", `prompts."welcome".en.txt: unknown key`},
		{"speed", head + "prompts:\n  welcome:\n    en: {text: Hi, speed: fast}\n    es: Hola\n", `prompts."welcome".en.speed: want words per minute`},
		{"tts and ssml", head + "prompts:\n  welcome:\n    en: {text: Hi, tts: hai, ssml: \"<speak>hi</speak>\"}\n    es: Hola\n", "give tts or ssml"},
		{"sox and text", head + "prompts:\n  beep:\n    sox: synth 1 sine 440\n    en: beep\n", "has both sox and text"},
		{"sox empty", head + "prompts:\n  beep:\n    sox: \"  \"\n", "want sox effects"},
		{"recorded type", head + "prompts:\n  welcome:\n    recorded: yes please\n    en: Hi\n    es: Hola\n", "recorded: want true or false"},
		{"fragment lang", head + "fragments:\n  fr: {num/1: un}\n", "fragments.fr: language has no voice"},
		{"fragment dup", head + "prompts:\n  num/1:\n    en: one\n    es: uno\nfragments:\n  en: {num/1: one}\n", "id is also a prompt"},
		{"fragment id", head + "fragments:\n  en: {Num/1: one}\n", "bad id"},
		{"duplicate key", head + "prompts:\n  welcome:\n    en: Hi\n    en: Hello\n    es: Hola\n", "already defined"},
		{"yaml syntax", head + "prompts: [\n", "prompts: invalid manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant ErrManifest containing %q", err, tc.want)
			}
		})
	}
}
