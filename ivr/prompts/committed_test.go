package prompts

import (
	"path/filepath"
	"strings"
	"testing"
)

// The repository's prompts folder must match its manifest: every prompt in every
// language rendered from the current text, valid 8 kHz mono 16-bit, no orphans.
// Runs without espeak-ng or sox.
func TestCommittedPrompts(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", DefaultOutDir)
	m, err := Load(filepath.Join("..", "..", DefaultManifestPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(m, dir); err != nil {
		t.Fatal(err)
	}
	rep, err := Render(t.Context(), m, dir, RenderOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rendered)+len(rep.Modified)+len(rep.Orphans)+len(rep.MissingRecorded) > 0 {
		t.Errorf("prompts folder out of date: %v\nrender: %v\nmodified: %v\norphans: %v\nmissing: %v",
			rep, rep.Rendered, rep.Modified, rep.Orphans, rep.MissingRecorded)
	}
	if rep.Bytes > 25<<20 {
		t.Errorf("prompts take %d bytes; keep them small", rep.Bytes)
	}
	for _, id := range ProductIDs() {
		for _, l := range m.Langs() {
			if e, ok := m.Lookup(l, id); !ok || e.Fragment {
				t.Errorf("product prompt %s/%s missing from the manifest", l, id)
			}
		}
	}
	// Language menu lines are in their own language in both folders.
	for _, l := range m.Langs() {
		en, _ := m.Lookup(l, LangEnglish)
		es, _ := m.Lookup(l, LangSpanish)
		if en.Voice != "en-us" || es.Voice != "es-419" {
			t.Errorf("%s: language menu voices %s/%s", l, en.Voice, es.Voice)
		}
	}
	// Spanish uses the Latin-American terms.
	for _, id := range []string{MainMenu, RefillEnterRx, TransferPharmacist} {
		e, _ := m.Lookup("es", id)
		if strings.Contains(e.Text, "pulse") || strings.Contains(e.Text, "marque la opción") {
			t.Errorf("es/%s uses Spain wording: %s", id, e.Text)
		}
	}
}
