package media

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/media/dsp"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPromptCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyFile(t, "testdata/tone440_pcm16.wav", filepath.Join(dir, "en", "welcome.wav"))
	copyFile(t, "testdata/tone440_ulaw.wav", filepath.Join(dir, "en", "goodbye.wav"))
	copyFile(t, "testdata/tone440_alaw.wav", filepath.Join(dir, "es", "welcome.wav"))
	copyFile(t, "testdata/tone440_pcm16.wav", filepath.Join(dir, "en", "digits", "5.wav"))
	if err := os.WriteFile(filepath.Join(dir, "en", "notes.txt"), []byte("ignored"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadPromptCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 4 || strings.Join(c.Langs(), ",") != "en,es" {
		t.Fatalf("loaded %d prompts in %v", c.Len(), c.Langs())
	}
	tests := []struct {
		lang, id     string
		wantLang     string
		wantFallback bool
		wantErr      error
	}{
		{"es", "welcome", "es", false, nil},
		{"en", "digits/5", "en", false, nil},
		{"es", "goodbye", "en", true, nil},    // missing in es: default language
		{"es-US", "welcome", "es", true, nil}, // base language
		{"fr", "welcome", "en", true, nil},
		{"es", "missing", "", false, ErrPromptNotFound},
	}
	for _, tc := range tests {
		p, fb, err := c.Get(tc.lang, tc.id)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.id) {
				t.Errorf("Get(%s,%s): %v", tc.lang, tc.id, err)
			}
			continue
		}
		if err != nil || p.Lang != tc.wantLang || fb != tc.wantFallback || p.ID != tc.id {
			t.Errorf("Get(%s,%s) = %v fallback=%v err=%v", tc.lang, tc.id, p, fb, err)
		}
	}
	p, _, _ := c.Get("en", "welcome")
	if p.Duration != 500*time.Millisecond || p.Frames() != 25 || len(p.payload(PCMA, 24)) != 160 {
		t.Fatalf("prompt %v: %v, %d frames", p, p.Duration, p.Frames())
	}
	if f := dsp.DominantFrequency(p.PCM(), SampleRate); math.Abs(f-440) > 1 {
		t.Fatalf("prompt frequency %.1f", f)
	}
	if !c.Has("es", "welcome") || c.Has("es", "goodbye") {
		t.Fatal("Has")
	}
	// WithDefaultLang changes the fallback.
	c2, _ := LoadPromptCache(dir, WithDefaultLang("es"))
	if p, fb, err := c2.Get("fr", "welcome"); err != nil || !fb || p.Lang != "es" {
		t.Fatalf("fallback to es: %v %v %v", p, fb, err)
	}
}

func TestPromptCacheErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyFile(t, "testdata/tone440_pcm16.wav", filepath.Join(dir, "en", "ok.wav"))
	copyFile(t, "testdata/reject_16k.wav", filepath.Join(dir, "en", "wideband.wav"))
	if err := os.MkdirAll(filepath.Join(dir, "es"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "es", "broken.wav"), []byte("RIFF\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadPromptCache(dir)
	if err == nil {
		t.Fatal("corrupt prompts accepted")
	}
	if c == nil || c.Has("es", "broken") || c.Has("en", "wideband") {
		t.Fatal("partial cache must hold only the good prompts")
	}
	msg := err.Error()
	for _, want := range []string{filepath.Join(dir, "en", "wideband.wav"), "8000 Hz", filepath.Join(dir, "es", "broken.wav"), "malformed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if !errors.Is(err, ErrWAVFormat) || !errors.Is(err, ErrBadWAV) {
		t.Errorf("error does not wrap both causes: %v", err)
	}
	if _, err := LoadPromptCache(filepath.Join(dir, "nope")); err == nil {
		t.Error("missing directory accepted")
	}
}

func TestSyntheticPrompts(t *testing.T) {
	t.Parallel()
	tone := Tone(1000, 95*time.Millisecond) // padded to whole frames
	if tone.Frames() != 5 || tone.Duration != 100*time.Millisecond || tone.ID != "tone:1000" {
		t.Fatalf("tone %v %d %v", tone, tone.Frames(), tone.Duration)
	}
	if f := dsp.DominantFrequency(tone.PCM()[:760], SampleRate); math.Abs(f-1000) > 5 {
		t.Fatalf("tone at %.1f", f)
	}
	if d := dsp.DBFS(tone.PCM()[:760]); d < -14 || d > -10 {
		t.Fatalf("tone level %.1f dBFS", d)
	}
	s := Silence(time.Second)
	if s.Frames() != 50 || s.payload(PCMU, 3)[0] != 0xFF || s.payload(PCMA, 3)[0] != 0xD5 {
		t.Fatal("silence")
	}
	if p := NewPrompt("x", "en", nil); p.Frames() != 0 || p.String() != "en/x" {
		t.Fatal("empty prompt")
	}
}
