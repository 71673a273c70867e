package prompts

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testWAV is the test's own minimal WAV reader: header fields and samples.
type testWAV struct {
	format, channels, bits uint16
	rate                   uint32
	samples                []int16
}

func readTestWAV(t *testing.T, path string) testWAV {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: not RIFF/WAVE", path)
	}
	var w testWAV
	for p := 12; p+8 <= len(b); {
		id, n := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := b[p+8 : min(p+8+n, len(b))]
		switch id {
		case "fmt ":
			w.format = binary.LittleEndian.Uint16(body[0:])
			w.channels = binary.LittleEndian.Uint16(body[2:])
			w.rate = binary.LittleEndian.Uint32(body[4:])
			w.bits = binary.LittleEndian.Uint16(body[14:])
		case "data":
			for i := 0; i+1 < len(body); i += 2 {
				w.samples = append(w.samples, int16(binary.LittleEndian.Uint16(body[i:])))
			}
		}
		p += 8 + n + n%2
	}
	return w
}

func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}

const renderManifest = `
version: 1
voices:
  en: {voice: en-us, speed: 155}
  es: {voice: es-419, speed: 145}
prompts:
  welcome:
    en: "Thank you for calling Main Street Pharmacy."
    es: "Gracias por llamar a Farmacia Main Street."
  menu/short:
    en: "Press 1 for refills."
    es: "Oprima 1 para resurtir."
  tone/beep:
    sox: "synth 0.3 sine 1000 gain -10"
`

func mustParse(t *testing.T, s string) *Manifest {
	t.Helper()
	m, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRender(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	m := mustParse(t, renderManifest)

	rep, err := Render(ctx, m, dir, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"en/menu/short", "en/tone/beep", "en/welcome", "es/menu/short", "es/tone/beep", "es/welcome"}
	if !slices.Equal(rep.Rendered, want) || rep.Files != 6 || rep.Bytes == 0 || rep.Audio <= 0 {
		t.Fatalf("first render: %v (%+v)", rep, rep.Rendered)
	}
	for _, key := range want {
		w := readTestWAV(t, filepath.Join(dir, filepath.FromSlash(key)+".wav"))
		if w.format != 1 || w.rate != 8000 || w.channels != 1 || w.bits != 16 {
			t.Errorf("%s: format %d rate %d channels %d bits %d", key, w.format, w.rate, w.channels, w.bits)
		}
		if len(w.samples) < 8000/4 {
			t.Errorf("%s: only %d samples", key, len(w.samples))
		}
		if r := rms(w.samples); r < 300 { // ≈ -41 dBFS
			t.Errorf("%s: RMS %.0f, want audible", key, r)
		}
		peak := 0
		for _, v := range w.samples {
			peak = max(peak, int(math.Abs(float64(v))))
		}
		if peak > 32767*9/10 {
			t.Errorf("%s: peak %d is too close to clipping", key, peak)
		}
		if strings.HasSuffix(key, "beep") {
			continue
		}
		// ~100 ms lead-in of silence, then speech within the first half second.
		if r := rms(w.samples[:640]); r > 30 {
			t.Errorf("%s: lead-in RMS %.0f, want silence", key, r)
		}
		if r := rms(w.samples[800:4000]); r < 300 {
			t.Errorf("%s: speech does not start promptly (RMS %.0f)", key, r)
		}
	}
	if err := Verify(m, dir); err != nil {
		t.Fatalf("Verify after render: %v", err)
	}

	// Second run: nothing to do.
	rep, err = Render(ctx, m, dir, RenderOptions{})
	if err != nil || len(rep.Rendered) != 0 || rep.UpToDate != 6 {
		t.Fatalf("second render: %v %v", rep, err)
	}

	// A text change re-renders that one file only; Verify notices before.
	m2 := mustParse(t, strings.Replace(renderManifest, "Press 1 for refills.", "Press 1 to refill a prescription.", 1))
	if err := Verify(m2, dir); err == nil || !strings.Contains(err.Error(), "en/menu/short: stale") {
		t.Errorf("Verify of changed manifest: %v", err)
	}
	rep, err = Render(ctx, m2, dir, RenderOptions{})
	if err != nil || !slices.Equal(rep.Rendered, []string{"en/menu/short"}) || rep.UpToDate != 5 {
		t.Fatalf("after text change: %v %v", rep.Rendered, err)
	}

	// A file replaced by hand is left alone (and reported) unless Force.
	hand := filepath.Join(dir, "es", "welcome.wav")
	handWAV, err := os.ReadFile(filepath.Join(dir, "es", "tone", "beep.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hand, handWAV, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = Render(ctx, m2, dir, RenderOptions{})
	if err != nil || len(rep.Rendered) != 0 || !slices.Equal(rep.Modified, []string{"es/welcome"}) {
		t.Fatalf("hand-edited: %v %v", rep, err)
	}
	if err := Verify(m2, dir); err == nil || !strings.Contains(err.Error(), "es/welcome: file differs") {
		t.Errorf("Verify hand-edited: %v", err)
	}
	rep, err = Render(ctx, m2, dir, RenderOptions{Force: true, IDs: []string{"welcome"}, Langs: []string{"es"}})
	if err != nil || !slices.Equal(rep.Rendered, []string{"es/welcome"}) {
		t.Fatalf("force: %v %v", rep, err)
	}

	// Recorded prompts are never written, even with Force; orphans are reported.
	m3 := mustParse(t, strings.Replace(renderManifest, "  welcome:\n", "  welcome:\n    recorded: true\n", 1)+
		"  custom/new:\n    recorded: true\n    en: New.\n    es: Nuevo.\n")
	before, _ := os.ReadFile(hand)
	if err := os.WriteFile(filepath.Join(dir, "en", "old.wav"), handWAV, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = Render(ctx, m3, dir, RenderOptions{Force: true, IDs: []string{"welcome", "custom/"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rendered) != 0 || !slices.Equal(rep.Recorded, []string{"en/welcome", "es/welcome"}) ||
		!slices.Equal(rep.MissingRecorded, []string{"en/custom/new", "es/custom/new"}) ||
		!slices.Equal(rep.Orphans, []string{"en/old"}) {
		t.Fatalf("recorded: %+v", rep)
	}
	if after, _ := os.ReadFile(hand); !slices.Equal(before, after) {
		t.Error("a recorded prompt was overwritten")
	}
	if _, err := os.Stat(filepath.Join(dir, "en", "custom", "new.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a missing recorded prompt was rendered")
	}
	lock, _ := os.ReadFile(filepath.Join(dir, LockFileName))
	if strings.Contains(string(lock), "/welcome ") {
		t.Errorf("lock keeps recorded prompts:\n%s", lock)
	}

	// DryRun reports without writing.
	m4 := mustParse(t, strings.Replace(strings.Replace(renderManifest,
		"Press 1 for refills.", "Press 1 to refill a prescription.", 1), "gain -10", "gain -12", 1))
	rep, err = Render(ctx, m4, dir, RenderOptions{DryRun: true})
	if err != nil || !slices.Equal(rep.Rendered, []string{"en/tone/beep", "es/tone/beep"}) {
		t.Fatalf("dry run: %v %v", rep.Rendered, err)
	}
	if err := Verify(m4, dir); err == nil {
		t.Error("dry run changed files")
	}
}

func TestRenderMissingTools(t *testing.T) {
	t.Parallel()
	m := mustParse(t, renderManifest)
	for _, opts := range []RenderOptions{
		{Espeak: "/nonexistent/espeak-ng"},
		{Sox: "careline-no-such-sox"},
	} {
		dir := t.TempDir()
		_, err := Render(t.Context(), m, dir, opts)
		if !errors.Is(err, ErrToolMissing) || !strings.Contains(err.Error(), "install the Debian package") {
			t.Errorf("%+v: err = %v", opts, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "en", "welcome.wav")); !errors.Is(err, os.ErrNotExist) {
			t.Error("rendered without tools")
		}
	}
	// Only generated prompts to render: espeak-ng is not needed.
	beepOnly := mustParse(t, "version: 1\nvoices:\n  en: {voice: en-us, speed: 155}\nprompts:\n  beep:\n    sox: synth 0.2 sine 800\n")
	if _, err := Render(t.Context(), beepOnly, t.TempDir(), RenderOptions{Espeak: "/nonexistent/espeak-ng"}); err != nil {
		t.Errorf("generated only: %v", err)
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	m := mustParse(t, renderManifest)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	dir := t.TempDir()
	rep, err := Render(ctx, m, dir, RenderOptions{})
	if !errors.Is(err, context.Canceled) || len(rep.Rendered) != 0 {
		t.Errorf("cancelled: %v %v", rep.Rendered, err)
	}
	bad := mustParse(t, "version: 1\nvoices:\n  en: {voice: no-such-voice, speed: 155}\nprompts:\n  a:\n    en: Hello.\n")
	_, err = Render(t.Context(), bad, t.TempDir(), RenderOptions{})
	if !errors.Is(err, ErrUnknownVoice) || !strings.Contains(err.Error(), `"no-such-voice" (used by en/a`) {
		t.Errorf("bad voice: %v", err)
	}
	_, err = Render(t.Context(), m, t.TempDir(), RenderOptions{Espeak: "false"})
	if err == nil || !strings.Contains(err.Error(), "espeak-ng --voices") {
		t.Errorf("failing espeak-ng: %v", err)
	}
	badSox := mustParse(t, "version: 1\nvoices:\n  en: {voice: en-us, speed: 155}\nprompts:\n  a:\n    sox: nosucheffect 1\n")
	_, err = Render(t.Context(), badSox, t.TempDir(), RenderOptions{})
	if err == nil || !strings.Contains(err.Error(), "en/a: sox") {
		t.Errorf("bad sox: %v", err)
	}
	if _, err := RenderFile(t.Context(), filepath.Join(t.TempDir(), "missing.yaml"), t.TempDir(), RenderOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing manifest: %v", err)
	}
}
