package routing_test

import (
	"strings"
	"testing"

	"github.com/careline/careline/config"
	"github.com/careline/careline/routing"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	// Only an English coordinator: rx (pharmacist role) can never be served; coord has
	// no Spanish speaker; vm (no requirements, language caller) neither.
	c := configFor(t, []agentDef{{"a1", "coordinator: 1", "en"}})
	is := routing.Validate(c)
	var got []string
	for _, i := range is {
		if i.Severity != config.Warning || i.Line == 0 {
			t.Errorf("issue %v: want a located warning", i)
		}
		got = append(got, i.Path+": "+i.Msg)
	}
	want := []string{
		"queues.coord.language: no agent of queue coord speaks es",
		"queues.rx.require: no configured agent can ever serve queue rx (callers will overflow)",
		"queues.vm.language: no agent of queue vm speaks es",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The example configuration is fully staffed.
	ex, is := config.Load("../configs/careline.yaml", config.LoadOptions{AllowMissingSecrets: true, LookupEnv: func(string) (string, bool) { return "", false }})
	if len(is.Errors()) != 0 {
		t.Fatal(is)
	}
	if is := routing.Validate(ex); len(is) != 0 {
		t.Fatalf("example config: %v", is)
	}
}
