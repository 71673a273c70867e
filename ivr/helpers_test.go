package ivr_test

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/ivr"
	"github.com/careline/careline/ivr/ivrtest"
	"github.com/careline/careline/ivr/prompts"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

type configFlow = config.Flow

// head is the smallest valid config; flows and schedules are appended.
const head = `version: 1
site: {name: Test Pharmacy, timezone: America/Chicago, languages: [en, es]}
sip:
  listen: [{network: udp, addr: "127.0.0.1:0"}]
`

func noEnv(string) (string, bool) { return "", false }

func repoPath(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), ".."}, parts...)...)
}

func parseConfig(t testing.TB, src string) *config.Config {
	t.Helper()
	cfg, is := config.Parse("careline.yaml", []byte(src), config.LoadOptions{LookupEnv: noEnv, AllowMissingSecrets: true})
	if errs := is.Errors(); len(errs) > 0 {
		t.Fatalf("config errors:\n%v", errs)
	}
	return cfg
}

func loadExample(t testing.TB) *config.Config {
	t.Helper()
	cfg, is := config.Load(repoPath("configs", "careline.yaml"), config.LoadOptions{LookupEnv: noEnv, AllowMissingSecrets: true})
	if errs := is.Errors(); len(errs) > 0 {
		t.Fatalf("example config errors:\n%v", errs)
	}
	return cfg
}

func loadManifest(t testing.TB) *prompts.Manifest {
	t.Helper()
	m, err := prompts.Load(repoPath("prompts", "manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var chicago = func() *time.Location {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		panic(err)
	}
	return loc
}()

// Fixed instants for the example pharmacy schedule.
var (
	mondayOpen    = time.Date(2026, 11, 23, 10, 0, 0, 0, chicago) // Monday 10:00
	mondayNight   = time.Date(2026, 11, 23, 22, 0, 0, 0, chicago) // Monday 22:00
	sundayNoon    = time.Date(2026, 11, 22, 12, 0, 0, 0, chicago)
	thanksgiving  = time.Date(2026, 11, 26, 10, 0, 0, 0, chicago) // holiday
	saturdayEvent = time.Date(2026, 11, 28, 16, 30, 0, 0, chicago)
)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// harness is an interpreter with an event recorder and metrics.
type harness struct {
	in     *ivr.Interpreter
	events *ivrtest.Events
	reg    *prometheus.Registry
}

func newHarness(t testing.TB, cfg *config.Config, opts ...ivr.Option) *harness {
	t.Helper()
	h := &harness{events: &ivrtest.Events{}, reg: prometheus.NewRegistry()}
	base := []ivr.Option{ivr.WithEventLog(h.events), ivr.WithMetrics(ivr.NewMetrics(h.reg)), ivr.WithClock(fixedClock(mondayOpen))}
	in, err := ivr.FromConfig(cfg, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.in = in
	return h
}

var testIID = uuid.MustParse("0190f0c0-0000-7000-8000-000000000001")

func (h *harness) run(t testing.TB, flow string, ch ivr.Channel, call ...ivr.CallInfo) (ivr.Outcome, error) {
	t.Helper()
	ci := ivr.CallInfo{InteractionID: testIID}
	if len(call) > 0 {
		ci = call[0]
		ci.InteractionID = testIID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return h.in.Run(ctx, flow, ch, ci)
}

func exitStrings(xs []ivr.NodeExit) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return out
}

func wantStrings(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %s\n want %s", what, strings.Join(got, " "), strings.Join(want, " "))
	}
}

func en(ids ...string) []string { return langIDs("en", ids...) }
func es(ids ...string) []string { return langIDs("es", ids...) }
func langIDs(l string, ids ...string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = l + ":" + id
	}
	return out
}
func cat(parts ...[]string) []string { return slices.Concat(parts...) }

func inbound(callerID bool) ivr.Facts {
	return ivr.Facts{DID: "+15125550100", Trunk: "local-sipp", Direction: "inbound", CallerIDPresent: callerID, Start: mondayOpen}
}

// metricValue returns the value of the counter name with the given label pairs.
func metricValue(t testing.TB, h *harness, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
