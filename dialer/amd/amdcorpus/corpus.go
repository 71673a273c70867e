// Package amdcorpus synthesises a labelled corpus for the answering-machine detector:
// short live answers and long voicemail greetings followed by a beep, in English and
// Spanish, with espeak-ng at several voices, speeds and pitches, band-limited and
// resampled to 8 kHz with sox. Files are cached in a directory keyed by the corpus
// definition, so only the first run pays for synthesis. Tests and the benchmark
// harness share it.
package amdcorpus

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/careline/careline/dialer/amd"
)

// Spec is one sample to synthesise.
type Spec struct {
	Name  string
	Truth amd.Result
	Voice string // espeak-ng voice, e.g. en-us+f3
	Text  string
	Speed int // words per minute
	Pitch int // 0-99
	Gain  int // peak level in dBFS (negative)
	// Lead is the silence before the first word (the callee lifting the handset).
	Lead time.Duration
	// BeepHz and Beep describe the tone after a machine greeting (0: none).
	BeepHz float64
	Beep   time.Duration
}

var (
	humanEN = []string{"Hello?", "Hi, this is Maria.", "Yes?", "Hello, who's this?"}
	humanES = []string{"¿Bueno?", "¿Aló?", "Sí, diga.", "¿Hola?"}
	machEN  = []string{
		"Hi, you've reached the Smith residence, we can't come to the phone right now, please leave a message after the tone.",
		"Hello, this is John. I'm not available right now. Leave your name and number and I'll call you back.",
		"The person you are calling is not available. Please record your message after the tone.",
	}
	machES = []string{
		"Hola, ha llamado a la casa de la familia García. En este momento no podemos atenderle, por favor deje su mensaje después del tono.",
		"Hola, soy Carlos. No estoy disponible, deje su nombre y número y le devuelvo la llamada.",
	}
)

// Default returns the standard corpus: 24 live answers and 20 machine greetings.
func Default() []Spec {
	var out []Spec
	type combo struct {
		suffix       string
		speed, pitch int
		gain         int
	}
	humanCombos := []combo{{"", 150, 50, -3}, {"+f3", 175, 70, -12}, {"+m3", 200, 35, -20}}
	machCombos := []combo{{"", 160, 50, -6}, {"+f3", 185, 65, -14}, {"+m3", 140, 40, -3}, {"+f2", 200, 55, -18}}
	beeps := []float64{1000, 1400, 850, 1000}
	n := 0
	add := func(truth amd.Result, lang, text string, c combo, i int) {
		voice := map[string]string{"en": "en-us", "es": "es-419"}[lang] + c.suffix
		s := Spec{Name: fmt.Sprintf("%s-%s-%02d", truth, lang, n), Truth: truth, Voice: voice, Text: text,
			Speed: c.speed, Pitch: c.pitch, Gain: c.gain, Lead: time.Duration(200+137*(n%5)) * time.Millisecond}
		if truth == amd.Machine {
			s.BeepHz, s.Beep = beeps[i%len(beeps)], time.Duration(300+100*(n%4))*time.Millisecond
		}
		out = append(out, s)
		n++
	}
	for i, c := range humanCombos {
		for _, t := range humanEN {
			add(amd.Human, "en", t, c, i)
		}
		for _, t := range humanES {
			add(amd.Human, "es", t, c, i)
		}
	}
	for i, c := range machCombos {
		for _, t := range machEN {
			add(amd.Machine, "en", t, c, i)
		}
		for _, t := range machES {
			add(amd.Machine, "es", t, c, i)
		}
	}
	return out
}

// Options configures Build.
type Options struct {
	// Dir is the cache root (default os.TempDir()); samples go in a subdirectory named
	// after a hash of the specs.
	Dir string
	// Parallel is the number of espeak-ng/sox pipelines run at once (default 4).
	Parallel int
	// Specs default to Default().
	Specs []Spec
	// Seed makes the line noise reproducible.
	Seed uint64
}

// Build synthesises (or loads from the cache) every sample.
func Build(ctx context.Context, o Options) ([]amd.Sample, error) {
	if o.Specs == nil {
		o.Specs = Default()
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	espeak, err := exec.LookPath("espeak-ng")
	if err != nil {
		return nil, fmt.Errorf("amdcorpus: espeak-ng not found (Debian package espeak-ng): %w", err)
	}
	sox, err := exec.LookPath("sox")
	if err != nil {
		return nil, fmt.Errorf("amdcorpus: sox not found (Debian package sox): %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "v1 %d\n", o.Seed)
	for _, s := range o.Specs {
		fmt.Fprintf(h, "%+v\n", s)
	}
	dir := filepath.Join(o.Dir, "careline-amd-corpus-"+hex.EncodeToString(h.Sum(nil))[:16])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("amdcorpus: %w", err)
	}
	out := make([]amd.Sample, len(o.Specs))
	errs := make([]error, len(o.Specs))
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, s := range o.Specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			speech, err := speech(ctx, espeak, sox, dir, s)
			if err != nil {
				errs[i] = fmt.Errorf("amdcorpus: %s: %w", s.Name, err)
				return
			}
			out[i] = assemble(s, speech, o.Seed+uint64(i))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// speech returns the spoken text as 8 kHz PCM, from the cache or synthesised.
func speech(ctx context.Context, espeak, sox, dir string, s Spec) ([]int16, error) {
	raw := filepath.Join(dir, s.Name+".raw")
	if b, err := os.ReadFile(raw); err == nil && len(b) > 0 {
		return decode(b), nil
	}
	// Unique temporary names: several builds may run at once (parallel tests, processes).
	wf, err := os.CreateTemp(dir, s.Name+"-*.wav")
	if err != nil {
		return nil, err
	}
	wav := wf.Name()
	wf.Close()
	defer os.Remove(wav)
	cmd := exec.CommandContext(ctx, espeak, "-v", s.Voice, "-s", fmt.Sprint(s.Speed), "-p", fmt.Sprint(s.Pitch), "-w", wav, s.Text)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("espeak-ng: %w: %s", err, strings.TrimSpace(string(b)))
	}
	rf, err := os.CreateTemp(dir, s.Name+"-*.raw.tmp")
	if err != nil {
		return nil, err
	}
	tmp := rf.Name()
	rf.Close()
	defer os.Remove(tmp)
	// Telephone band, 8 kHz, then a peak level: what a trunk delivers.
	cmd = exec.CommandContext(ctx, sox, wav, "-r", "8000", "-c", "1", "-e", "signed-integer", "-b", "16", "-t", "raw", tmp,
		"sinc", "300-3400", "gain", "-n", fmt.Sprint(s.Gain))
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sox: %w: %s", err, strings.TrimSpace(string(b)))
	}
	if err := os.Rename(tmp, raw); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		return nil, err
	}
	return decode(b), nil
}

func decode(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

func samples(d time.Duration) int { return int(d * amd.SampleRate / time.Second) }

// assemble frames the speech as a call: lead silence, speech, then 3 s of a person
// waiting, or a pause, the beep and 3 s of silence; all over faint line noise.
func assemble(s Spec, speech []int16, seed uint64) amd.Sample {
	pcm := make([]int16, 0, samples(s.Lead)+len(speech)+samples(5*time.Second))
	pcm = append(pcm, make([]int16, samples(s.Lead))...)
	pcm = append(pcm, speech...)
	smp := amd.Sample{Name: s.Name, Truth: s.Truth}
	if s.BeepHz > 0 {
		pcm = append(pcm, make([]int16, samples(400*time.Millisecond))...)
		n := samples(s.Beep)
		for i := range n {
			pcm = append(pcm, int16(8000*math.Sin(2*math.Pi*s.BeepHz*float64(i)/amd.SampleRate)))
		}
		smp.BeepEnd = time.Duration(len(pcm)) * time.Second / amd.SampleRate
	}
	pcm = append(pcm, make([]int16, samples(3*time.Second))...)
	r := rand.New(rand.NewPCG(seed, 0x616d64))
	for i := range pcm {
		v := float64(pcm[i]) + r.NormFloat64()*20
		pcm[i] = int16(max(-32768, min(32767, v)))
	}
	smp.PCM = pcm
	return smp
}
