package say_test

import (
	"path/filepath"
	"testing"

	"github.com/careline/careline/ivr/prompts"
	"github.com/careline/careline/say"
)

// Every fragment a Say function can emit exists in the manifest in its language,
// with the same text (pause/short is generated silence).
func TestFragmentsInManifest(t *testing.T) {
	t.Parallel()
	m, err := prompts.Load(filepath.Join("..", prompts.DefaultManifestPath))
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range say.Langs() {
		for _, id := range say.FragmentIDs(lang) {
			e, ok := m.Lookup(lang.String(), id)
			if !ok {
				t.Errorf("%s/%s: not in the manifest", lang, id)
				continue
			}
			if id == say.PauseShort {
				if e.Kind != prompts.Generated {
					t.Errorf("%s/%s: want generated silence", lang, id)
				}
				continue
			}
			if want, _ := say.FragmentText(lang, id); e.Text != want {
				t.Errorf("%s/%s: manifest text %q, say text %q", lang, id, e.Text, want)
			}
		}
	}
}
