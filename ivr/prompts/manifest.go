// Package prompts reads the prompt manifest (prompt id → text per language)
// and renders placeholder audio for it with espeak-ng and sox: 8 kHz mono
// 16-bit PCM WAV at <outDir>/<lang>/<id>.wav. Rendering skips files that are
// up to date (manifest.lock records a hash of each file's inputs and of the
// file), never overwrites prompts marked recorded, and leaves alone files that
// were replaced by hand. The rendered files are committed, so a fresh machine
// needs no TTS; `careline prompts render` calls Render.
package prompts

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
)

// Default locations, relative to the repository root.
const (
	DefaultManifestPath = "prompts/manifest.yaml"
	DefaultOutDir       = "prompts"
	LockFileName        = "manifest.lock"
)

// ErrManifest is matched by every manifest parse or validation error.
var ErrManifest = errors.New("prompts: invalid manifest")

// Voice is the synthesizer setting for one language.
type Voice struct {
	Voice string `yaml:"voice"` // espeak-ng voice, e.g. en-us, es-419
	Speed int    `yaml:"speed"` // words per minute, e.g. 155
	// Lexicon rewrites words before synthesis so a voice pronounces them well
	// ("Main Street" → "Méin Estrit" for Spanish). The display text is unchanged.
	Lexicon map[string]string `yaml:"lexicon"`
}

// Kind says how an entry's audio is produced.
type Kind int

const (
	// Speech is synthesized from text with espeak-ng, then filtered with sox.
	Speech Kind = iota
	// Generated audio comes from a sox effect chain on silence (tones, pauses).
	Generated
)

func (k Kind) String() string {
	if k == Generated {
		return "generated"
	}
	return "speech"
}

// Entry is one prompt in one language: the unit that becomes one WAV file.
type Entry struct {
	Lang     string
	ID       string
	Kind     Kind
	Text     string // display text (transcripts, review); for Generated, a description
	TTS      string // text sent to the synthesizer (Text or tts, lexicon applied)
	SSML     bool   // TTS is SSML (espeak-ng -m)
	Voice    string
	Speed    int
	Sox      []string // Generated: sox effects after "sox -n ..."
	Recorded bool     // real recorded audio: never written
	Fragment bool     // a say-fragment (from the fragments section)
	Note     string
}

// Key is "<lang>/<id>", the entry's path below the output folder without ".wav".
func (e Entry) Key() string { return e.Lang + "/" + e.ID }

// Path returns where the entry's WAV lives below outDir.
func (e Entry) Path(outDir string) string {
	return filepath.Join(outDir, e.Lang, filepath.FromSlash(e.ID)+".wav")
}

// Manifest is a parsed prompt manifest. It is immutable after Parse.
type Manifest struct {
	Version int
	Voices  map[string]Voice
	entries map[string]map[string]Entry // lang → id → entry
}

// Langs returns the manifest's languages, sorted.
func (m *Manifest) Langs() []string {
	ls := make([]string, 0, len(m.Voices))
	for l := range m.Voices {
		ls = append(ls, l)
	}
	slices.Sort(ls)
	return ls
}

// IDs returns every prompt id available in lang, sorted.
func (m *Manifest) IDs(lang string) []string {
	ids := make([]string, 0, len(m.entries[lang]))
	for id := range m.entries[lang] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Lookup returns the entry for id in lang.
func (m *Manifest) Lookup(lang, id string) (Entry, bool) {
	e, ok := m.entries[lang][id]
	return e, ok
}

// Has reports whether id exists in lang.
func (m *Manifest) Has(lang, id string) bool {
	_, ok := m.entries[lang][id]
	return ok
}

// Entries returns every entry, sorted by language then id.
func (m *Manifest) Entries() []Entry {
	var out []Entry
	for _, l := range m.Langs() {
		for _, id := range m.IDs(l) {
			out = append(out, m.entries[l][id])
		}
	}
	return out
}

type fileFormat struct {
	Version   int                       `yaml:"version"`
	Voices    map[string]Voice          `yaml:"voices"`
	Prompts   map[string]map[string]any `yaml:"prompts"`
	Fragments map[string]map[string]any `yaml:"fragments"`
}

// Load reads and parses a manifest file.
func Load(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("prompts: read manifest: %w", err)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*(/[a-z0-9][a-z0-9_]*)*$`)

// Parse parses manifest YAML:
//
//	version: 1
//	voices:
//	  en: {voice: en-us, speed: 155}
//	  es: {voice: es-419, speed: 145, lexicon: {"Main Street": "Méin Estrit"}}
//	prompts:                       # every prompt in every language
//	  welcome:
//	    en: "Thank you for calling Main Street Pharmacy."
//	    es: {text: "Gracias por llamar a Farmacia Main Street.", speed: 140}
//	  lang/english:                # keys: note, recorded, sox, and one per language
//	    en: "For English, press 1."
//	    es: {text: "For English, press 1.", voice: en-us, speed: 155}
//	  tone/beep:
//	    sox: "synth 0.4 sine 1000 gain -8"   # generated in every language
//	fragments:                     # say-fragments, per language (sets may differ)
//	  en: {num/21: "twenty one"}
//	  es: {num/veintiun: "veintiún"}
//
// A language value is either the text or a mapping with text (required), tts
// (text to synthesize instead), ssml (SSML to synthesize instead), voice,
// speed and recorded. Every problem is reported; each matches ErrManifest.
func Parse(data []byte) (*Manifest, error) {
	var f fileFormat
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.DisallowUnknownField()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	p := &parser{m: &Manifest{Version: f.Version, Voices: f.Voices, entries: map[string]map[string]Entry{}}}
	if f.Version != 1 {
		p.fail("version", "want 1, got %d", f.Version)
	}
	if len(f.Voices) == 0 {
		p.fail("voices", "no languages")
	}
	for _, l := range p.m.Langs() {
		v := f.Voices[l]
		if !idPattern.MatchString(l) || strings.Contains(l, "/") {
			p.fail("voices."+l, "language must be a short code such as en or es")
		}
		if v.Voice == "" {
			p.fail("voices."+l+".voice", "missing espeak-ng voice (e.g. en-us, es-419)")
		}
		if v.Speed < 80 || v.Speed > 450 {
			p.fail("voices."+l+".speed", "want words per minute between 80 and 450, got %d", v.Speed)
		}
		p.m.entries[l] = map[string]Entry{}
	}
	for _, id := range sortedKeys(f.Prompts) {
		p.prompt(id, f.Prompts[id])
	}
	for _, l := range sortedKeys(f.Fragments) {
		if _, ok := f.Voices[l]; !ok {
			p.fail("fragments."+l, "language has no voice")
			continue
		}
		frags := f.Fragments[l]
		for _, id := range sortedKeys(frags) {
			path := fmt.Sprintf("fragments.%s.%q", l, id)
			if !p.checkID(path, id) {
				continue
			}
			if _, dup := p.m.entries[l][id]; dup {
				p.fail(path, "id is also a prompt")
				continue
			}
			if e, ok := p.langValue(path, l, id, frags[id]); ok {
				e.Fragment = true
				p.m.entries[l][id] = e
			}
		}
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.m, nil
}

type parser struct {
	m    *Manifest
	errs []error
}

func (p *parser) fail(path, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%w: %s: %s", ErrManifest, path, fmt.Sprintf(format, args...)))
}

func (p *parser) checkID(path, id string) bool {
	if !idPattern.MatchString(id) {
		p.fail(path, "bad id: use lower-case letters, digits and _ in /-separated parts (e.g. menu/main)")
		return false
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (p *parser) prompt(id string, fields map[string]any) {
	path := fmt.Sprintf("prompts.%q", id)
	if !p.checkID(path, id) {
		return
	}
	var (
		note     string
		recorded bool
		sox      string
		texts    = map[string]any{}
	)
	for _, k := range sortedKeys(fields) {
		v := fields[k]
		switch k {
		case "note":
			note, _ = v.(string)
		case "recorded":
			b, ok := v.(bool)
			if !ok {
				p.fail(path+".recorded", "want true or false")
			}
			recorded = b
		case "sox":
			s, ok := v.(string)
			if !ok || strings.TrimSpace(s) == "" {
				p.fail(path+".sox", "want sox effects as a string, e.g. \"synth 0.4 sine 1000\"")
			}
			sox = s
		default:
			if _, ok := p.m.Voices[k]; !ok {
				p.fail(path+"."+k, "unknown key (want note, recorded, sox or a language of voices: %s)",
					strings.Join(p.m.Langs(), ", "))
				continue
			}
			texts[k] = v
		}
	}
	if sox != "" {
		if len(texts) > 0 {
			p.fail(path, "has both sox and text; generated audio is the same in every language")
		}
		for _, l := range p.m.Langs() {
			p.m.entries[l][id] = Entry{Lang: l, ID: id, Kind: Generated, Text: note, Sox: strings.Fields(sox),
				Recorded: recorded, Note: note}
		}
		return
	}
	for _, l := range p.m.Langs() {
		v, ok := texts[l]
		if !ok {
			p.fail(path, "missing %s text (every prompt needs every language)", l)
			continue
		}
		e, ok := p.langValue(path+"."+l, l, id, v)
		if !ok {
			continue
		}
		e.Recorded = e.Recorded || recorded
		e.Note = note
		p.m.entries[l][id] = e
	}
}

// langValue interprets the value of one language of a prompt or fragment.
func (p *parser) langValue(path, lang, id string, v any) (Entry, bool) {
	voice := p.m.Voices[lang]
	e := Entry{Lang: lang, ID: id, Kind: Speech, Voice: voice.Voice, Speed: voice.Speed}
	var tts, ssml string
	switch x := v.(type) {
	case string:
		e.Text = x
	case map[string]any:
		for _, k := range sortedKeys(x) {
			val := x[k]
			bad := func(want string) { p.fail(path+"."+k, "want %s", want) }
			switch k {
			case "text", "tts", "ssml", "voice":
				s, ok := val.(string)
				if !ok {
					bad("a string")
					continue
				}
				switch k {
				case "text":
					e.Text = s
				case "tts":
					tts = s
				case "ssml":
					ssml = s
				case "voice":
					e.Voice = s
				}
			case "speed":
				n, ok := toInt(val)
				if !ok || n < 80 || n > 450 {
					bad("words per minute between 80 and 450")
					continue
				}
				e.Speed = n
			case "recorded":
				b, ok := val.(bool)
				if !ok {
					bad("true or false")
					continue
				}
				e.Recorded = b
			default:
				p.fail(path+"."+k, "unknown key (want text, tts, ssml, voice, speed or recorded)")
			}
		}
	default:
		p.fail(path, "want the text, or a mapping with text")
		return Entry{}, false
	}
	if strings.TrimSpace(e.Text) == "" {
		p.fail(path, "missing text")
		return Entry{}, false
	}
	if tts != "" && ssml != "" {
		p.fail(path, "give tts or ssml, not both")
		return Entry{}, false
	}
	switch {
	case ssml != "":
		e.TTS, e.SSML = ssml, true
	case tts != "":
		e.TTS = tts
	default:
		e.TTS = e.Text
	}
	if !e.SSML && e.Voice == voice.Voice {
		e.TTS = applyLexicon(e.TTS, voice.Lexicon)
	}
	return e, true
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case uint64:
		return int(n), true
	}
	return 0, false
}

// applyLexicon replaces lexicon words, longest first so that overlapping
// entries behave predictably.
func applyLexicon(s string, lex map[string]string) string {
	if len(lex) == 0 {
		return s
	}
	keys := sortedKeys(lex)
	slices.SortStableFunc(keys, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, lex[k])
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// readLock reads outDir/manifest.lock: "<lang>/<id> <input-hash> <file-hash>" lines.
func readLock(path string) (map[string]lockEntry, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]lockEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("prompts: read lock: %w", err)
	}
	out := map[string]lockEntry{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		f := strings.Fields(s)
		if len(f) != 3 {
			return nil, fmt.Errorf("prompts: %s:%d: want \"<lang>/<id> <input-hash> <file-hash>\"", path, i+1)
		}
		out[f[0]] = lockEntry{in: f[1], out: f[2]}
	}
	return out, nil
}

type lockEntry struct{ in, out string }

func writeLock(path string, lock map[string]lockEntry) error {
	var b strings.Builder
	b.WriteString("# careline prompt lock, written by `careline prompts render`; do not edit.\n")
	b.WriteString("# <lang>/<id> <hash of the rendering inputs> <hash of the WAV file>\n")
	for _, k := range sortedKeys(lock) {
		fmt.Fprintf(&b, "%s %s %s\n", k, lock[k].in, lock[k].out)
	}
	return writeFileAtomic(path, []byte(b.String()))
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("prompts: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("prompts: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("prompts: write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("prompts: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("prompts: %w", err)
	}
	return nil
}
