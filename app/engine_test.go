package app

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/careline/careline/config"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The live registry must pass promlint: careline_ prefix, units, help, no bad names.
func TestMetricsLint(t *testing.T) {
	cfg, is := config.Parse("t.yaml", []byte(`version: 1
sip:
  listen: [{network: udp, addr: "127.0.0.1:0"}]
`), config.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	if len(is.Errors()) > 0 {
		t.Fatal(is)
	}
	cfg.Store.OutboxDir = filepath.Join(t.TempDir(), "outbox")
	cfg.Prompts.Dir = filepath.Join("..", "prompts")
	a, err := New(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	problems, err := testutil.GatherAndLint(a.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	mfs, _ := a.Registry().Gather()
	var ours int
	for _, mf := range mfs {
		if len(mf.GetName()) > 9 && mf.GetName()[:9] == "careline_" {
			ours++
		}
	}
	if ours == 0 {
		t.Fatal("no careline_ metrics registered")
	}
}
