package media

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careline/careline/media/dsp"
)

// ErrPromptNotFound means neither the requested language nor the fallback has the prompt.
var ErrPromptNotFound = errors.New("media: prompt not found")

// Prompt is audio ready to play: 8 kHz PCM padded to whole 20 ms frames and pre-encoded
// for every codec, so playback only slices bytes. Prompts are immutable and shared by all
// calls.
type Prompt struct {
	ID       string
	Lang     string
	Duration time.Duration // whole frames, padding included
	pcm      []int16
	ulaw     []byte
	alaw     []byte
}

// NewPrompt builds a prompt from PCM (copied and padded with silence to whole frames).
func NewPrompt(id, lang string, pcm []int16) *Prompt {
	frames := (len(pcm) + FrameSamples - 1) / FrameSamples
	p := &Prompt{ID: id, Lang: lang, pcm: make([]int16, frames*FrameSamples)}
	copy(p.pcm, pcm)
	p.ulaw = PCMU.Encode(make([]byte, 0, len(p.pcm)), p.pcm)
	p.alaw = PCMA.Encode(make([]byte, 0, len(p.pcm)), p.pcm)
	p.Duration = time.Duration(frames) * FrameDuration
	return p
}

// Tone is a synthetic prompt: a sine at freqHz at about -10 dBFS, for tests and as an
// audible fallback.
func Tone(freqHz float64, dur time.Duration) *Prompt {
	return NewPrompt("tone:"+strconv.FormatFloat(freqHz, 'f', -1, 64), "", dsp.Tone(freqHz, dur, SampleRate, 0.3))
}

// Silence is a synthetic prompt of dur of silence (sent as encoded silence frames).
func Silence(dur time.Duration) *Prompt {
	return NewPrompt("silence", "", make([]int16, int(dur.Seconds()*SampleRate)))
}

// Frames is the number of 20 ms frames.
func (p *Prompt) Frames() int { return len(p.pcm) / FrameSamples }

// PCM returns the prompt's samples. The slice is shared: do not modify it.
func (p *Prompt) PCM() []int16 { return p.pcm }

// String names the prompt for logs.
func (p *Prompt) String() string {
	if p.Lang == "" {
		return p.ID
	}
	return p.Lang + "/" + p.ID
}

// payload returns frame i encoded for c.
func (p *Prompt) payload(c Codec, i int) []byte {
	b := p.ulaw
	if c == PCMA {
		b = p.alaw
	}
	return b[i*FrameSamples : (i+1)*FrameSamples]
}

// PromptCache holds every prompt under a directory, decoded and encoded once at start.
// The layout is <dir>/<lang>/<id>.wav, where id may contain slashes (digits/5). Safe for
// concurrent use (read-only after load).
type PromptCache struct {
	dir         string
	defaultLang string
	prompts     map[string]*Prompt // "lang\x00id"
	langs       []string
	log         *slog.Logger
}

// LoadPromptCache reads every .wav under dir/<lang>/. Each file must be an 8 kHz mono WAV
// (PCM16, µ-law or A-law). A file that is not is left out; the returned error lists every
// bad file with its path and the reason, beside a cache holding all the good ones (nil
// only when dir itself cannot be read). Options read: WithDefaultLang, WithLogger.
func LoadPromptCache(dir string, opts ...Option) (*PromptCache, error) {
	o := buildOptions(opts)
	c := &PromptCache{dir: dir, defaultLang: o.defaultLang, prompts: map[string]*Prompt{}, log: o.logger}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("media: prompt directory: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		lang := e.Name()
		root := filepath.Join(dir, lang)
		n := 0
		werr := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, fmt.Errorf("media: prompt %s: %w", path, err))
				return nil
			}
			if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".wav") {
				return nil
			}
			rel, _ := filepath.Rel(root, path)
			id := filepath.ToSlash(strings.TrimSuffix(rel, filepath.Ext(rel)))
			p, err := loadPrompt(path, id, lang)
			if err != nil {
				errs = append(errs, err)
				return nil
			}
			c.prompts[lang+"\x00"+id] = p
			n++
			return nil
		})
		if werr != nil {
			errs = append(errs, werr)
		}
		if n > 0 {
			c.langs = append(c.langs, lang)
		}
	}
	slices.Sort(c.langs)
	if len(errs) > 0 {
		// The cache still holds every good prompt: the engine logs the bad files and
		// calls fall back to the default language or a tone for them.
		return c, errors.Join(errs...)
	}
	return c, nil
}

func loadPrompt(path, id, lang string) (*Prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: prompt %s: %w", path, err)
	}
	defer f.Close()
	pcm, err := DecodeWAV(f)
	if err != nil {
		return nil, fmt.Errorf("media: prompt %s: %w", path, err)
	}
	if len(pcm) == 0 {
		return nil, fmt.Errorf("media: prompt %s: %w: no audio", path, ErrBadWAV)
	}
	return NewPrompt(id, lang, pcm), nil
}

// Get returns prompt id in lang. When lang lacks it, Get tries the base language ("es"
// for "es-US") and then the default language; fallback reports that the prompt returned
// is not in lang, so the caller can log a warning. A prompt in neither is
// ErrPromptNotFound.
func (c *PromptCache) Get(lang, id string) (p *Prompt, fallback bool, err error) {
	if p, ok := c.prompts[lang+"\x00"+id]; ok {
		return p, false, nil
	}
	if base, _, ok := strings.Cut(lang, "-"); ok {
		if p, ok := c.prompts[base+"\x00"+id]; ok {
			return p, true, nil
		}
	}
	if p, ok := c.prompts[c.defaultLang+"\x00"+id]; ok {
		return p, true, nil
	}
	return nil, false, fmt.Errorf("%w: %q in %q or default %q (under %s)", ErrPromptNotFound, id, lang, c.defaultLang, c.dir)
}

// Has reports whether lang itself has prompt id (no fallback).
func (c *PromptCache) Has(lang, id string) bool {
	_, ok := c.prompts[lang+"\x00"+id]
	return ok
}

// Langs lists the languages that have at least one prompt.
func (c *PromptCache) Langs() []string { return slices.Clone(c.langs) }

// Len is the number of prompts loaded.
func (c *PromptCache) Len() int { return len(c.prompts) }
