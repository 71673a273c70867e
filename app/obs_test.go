package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/calendar"
	"github.com/careline/careline/config"
	"github.com/careline/careline/dialer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// This file checks careline's observability surface as one piece: the registry of a
// fully configured engine (queues, flows, campaigns), the metrics catalog in
// docs/metrics.md, the Prometheus rules in configs/prometheus and the Grafana
// dashboards in configs/grafana.

const repoRoot = ".."

// exampleCampaigns are added to configs/careline.yaml (which has none) so that every
// campaign-labelled family exists.
const exampleCampaigns = `
campaigns:
  refills:
    purpose: refill_reminder
    flow: pharmacy
    trunk: carrier
    caller_id: "+15125550100"
    pharmacy_name: Main Street Pharmacy
    callback_number: "+15125550100"
    schedule: pharmacy
  confirmations:
    purpose: appointment_confirmation
    pacing: progressive
    queue: appointments
    trunk: carrier
    caller_id: "+15125550100"
    pharmacy_name: Main Street Pharmacy
    callback_number: "+15125550100"
`

// exampleEnv resolves the env: references of configs/careline.yaml with test values.
func exampleEnv(k string) (string, bool) {
	switch k {
	case "CARELINE_DATABASE_URL", "CARELINE_REDIS_URL":
		return "", false
	case "CARELINE_RECORDING_KEY":
		return "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", true
	}
	return "test-secret-" + strings.ToLower(k), true
}

// fullEngine builds (without starting) an engine from configs/careline.yaml plus two
// campaigns, so every labelled metric family has its series.
func fullEngine(t *testing.T) *App {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "configs", "careline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	y := string(b)
	if !regexp.MustCompile(`(?m)^campaigns:`).MatchString(y) {
		y = strings.Replace(y, "\ntrunks:\n", "\ntrunks:\n  carrier: {address: \"127.0.0.1:5080\"}\n", 1) + exampleCampaigns
	}
	cfg, is := config.Parse("careline.yaml", []byte(y), config.LoadOptions{LookupEnv: exampleEnv})
	if len(is.Errors()) > 0 {
		t.Fatalf("config:\n%v", is)
	}
	dir := t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Store.OutboxDir = filepath.Join(dir, "outbox")
	cfg.SIP.Listen = []config.Listener{{Network: "udp", Addr: "127.0.0.1:0"}}
	cfg.Prompts.Dir = filepath.Join(repoRoot, "prompts")
	// The pool connects lazily and the engine is not started: nothing dials this.
	cfg.Store.DatabaseURL.Set("postgres://careline@127.0.0.1:1/careline?connect_timeout=1")
	if cfg.Recordings != nil {
		cfg.Recordings.Dir = filepath.Join(dir, "recordings")
	}
	a, err := New(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	if !gathered(t, a.Registry())["careline_dialer_attempts_total"] {
		// The engine does not run campaigns (yet): register the dialer's metrics the
		// way a campaign runner does, so the catalog covers them.
		registerDialer(t, a.Registry(), cfg)
	}
	return a
}

func registerDialer(t *testing.T, reg prometheus.Registerer, cfg *config.Config) {
	t.Helper()
	cals := cfg.Calendars()
	camps, err := dialer.CampaignsFromConfig(cfg, func(n string) (*calendar.Calendar, bool) { c, ok := cals[n]; return c, ok })
	if err != nil {
		t.Fatal(err)
	}
	m := dialer.NewMetrics(reg)
	for _, c := range camps {
		if _, err := dialer.NewRunner(c, nil, dialer.WithMetrics(m), dialer.WithDialer(nopDialer{}),
			dialer.WithAgents(nopAgents{}), dialer.WithFlows(nopFlows{})); err != nil {
			t.Fatal(err)
		}
	}
}

type nopDialer struct{}

func (nopDialer) Dial(context.Context, dialer.DialRequest) (dialer.Call, error) {
	return nil, errors.New("not dialing")
}

type nopAgents struct{}

func (nopAgents) Snapshot() dialer.AgentSnapshot                { return dialer.AgentSnapshot{} }
func (nopAgents) TryReserve() (dialer.Agent, bool)              { return nil, false }
func (nopAgents) Reserve(context.Context) (dialer.Agent, error) { return nil, errors.New("none") }

type nopFlows struct{}

func (nopFlows) RunFlow(context.Context, dialer.Call, dialer.FlowRequest) (dialer.FlowResult, error) {
	return dialer.FlowResult{}, errors.New("no flows")
}

func gathered(t *testing.T, g prometheus.Gatherer) map[string]bool {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		out[mf.GetName()] = true
	}
	return out
}

// family is what the catalog says about one metric (and what the registry shows).
type family struct {
	name, typ string
	labels    []string // sorted
}

func (f family) String() string {
	return fmt.Sprintf("%s %s {%s}", f.name, f.typ, strings.Join(f.labels, ","))
}

// registryFamilies lists the careline_ families of the registry with their type and
// label names (le excluded).
func registryFamilies(t *testing.T, reg *prometheus.Registry) map[string]family {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]family{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "careline_") {
			continue
		}
		f := family{name: mf.GetName(), typ: strings.ToLower(mf.GetType().String())}
		seen := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if !seen[lp.GetName()] {
					seen[lp.GetName()] = true
					f.labels = append(f.labels, lp.GetName())
				}
			}
		}
		slices.Sort(f.labels)
		out[f.name] = f
	}
	return out
}

// describedNames lists every metric name registered (whether or not it has series).
func describedNames(reg *prometheus.Registry) []string {
	ch := make(chan *prometheus.Desc)
	go func() { reg.Describe(ch); close(ch) }()
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	var out []string
	for d := range ch {
		if m := re.FindStringSubmatch(d.String()); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// Labels careline metrics may carry: bounded by configuration (queue, campaign, flow,
// node, ...) or by a fixed set of words in the code. Anything else (agent, user, number,
// call id) fails the test.
var allowedLabels = map[string]bool{
	"queue": true, "campaign": true, "trunk": true, "flow": true, "node": true, "language": true,
	"exit": true, "outcome": true, "result": true, "reason": true, "state": true, "direction": true,
	"method": true, "status_class": true, "kind": true, "cause": true, "verdict": true, "source": true,
	"role": true, "window": true,
}

// The full registry passes promlint, every registered family has series from the start
// (so the lint and the catalog see all of them), and labels are only bounded ones.
func TestFullRegistryLint(t *testing.T) {
	a := fullEngine(t)
	reg := a.Registry()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	have := gathered(t, reg)
	for _, n := range describedNames(reg) {
		if !have[n] {
			t.Errorf("%s is registered but has no series in a fully configured engine: pre-create its bounded label values", n)
		}
	}
	for _, f := range registryFamilies(t, reg) {
		for _, l := range f.labels {
			if !allowedLabels[l] {
				t.Errorf("%s has label %q, which is not a bounded dimension", f.name, l)
			}
		}
	}
}

// catalogRow matches a table row of docs/metrics.md:
// | `name` | type | `label`, `label` | meaning | package |
var catalogRow = regexp.MustCompile("^\\|\\s*`(careline_[a-z0-9_]+)`\\s*\\|\\s*([a-z]+)\\s*\\|([^|]*)\\|")

func readCatalog(t *testing.T) map[string]family {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]family{}
	for i, line := range strings.Split(string(b), "\n") {
		m := catalogRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := family{name: m[1], typ: m[2]}
		for _, l := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(m[3], -1) {
			f.labels = append(f.labels, l[1])
		}
		slices.Sort(f.labels)
		if _, dup := out[f.name]; dup {
			t.Errorf("docs/metrics.md:%d: %s listed twice", i+1, f.name)
		}
		out[f.name] = f
	}
	if len(out) == 0 {
		t.Fatal("docs/metrics.md: no metric rows found")
	}
	return out
}

// Every metric careline exports is in docs/metrics.md with its type and labels, and
// the catalog lists nothing careline does not export.
func TestMetricsCatalogMatchesRegistry(t *testing.T) {
	a := fullEngine(t)
	reg, doc := registryFamilies(t, a.Registry()), readCatalog(t)
	for _, name := range sortedNames(reg) {
		r := reg[name]
		d, ok := doc[name]
		switch {
		case !ok:
			t.Errorf("not in docs/metrics.md: %s", r)
		case d.String() != r.String():
			t.Errorf("docs/metrics.md says %s; the registry has %s", d, r)
		}
	}
	for _, name := range sortedNames(doc) {
		if _, ok := reg[name]; !ok {
			t.Errorf("docs/metrics.md lists %s, which careline does not export", name)
		}
	}
}

// knownSeries is every series name a PromQL expression may use: the registry's
// families (histograms with their _bucket/_sum/_count), the recording rules, and
// Prometheus's own scrape series.
func knownSeries(t *testing.T, reg *prometheus.Registry) map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true}
	for _, mf := range mfs {
		n := mf.GetName()
		out[n] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM || mf.GetType() == dto.MetricType_SUMMARY {
			out[n+"_sum"], out[n+"_count"] = true, true
			if mf.GetType() == dto.MetricType_HISTOGRAM {
				out[n+"_bucket"] = true
			}
		}
	}
	for _, g := range loadRuleFiles(t) {
		for _, r := range g.rules {
			if r.Record != "" {
				out[r.Record] = true
			}
		}
	}
	return out
}

var _ = time.Second
