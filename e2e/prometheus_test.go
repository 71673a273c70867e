package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
)

// promServer is Debian's prometheus binary scraping one careline engine every second,
// with careline's recording and alerting rules loaded.
type promServer struct {
	base string // http://127.0.0.1:port
}

func startPrometheus(t *testing.T, ctx context.Context, target string) *promServer {
	t.Helper()
	bin := testenv.Lookup(t, "prometheus", "prometheus")
	dir := t.TempDir()
	rules := filepath.Join(repoRoot(), "configs", "prometheus", "rules")
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files:
  - %q
  - %q
scrape_configs:
  - job_name: careline
    static_configs:
      - targets: [%q]
`, filepath.Join(rules, "careline-recording.yml"), filepath.Join(rules, "careline-alerts.yml"), target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	log := &syncBuffer{}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--storage.tsdb.retention.time=1h", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	p := &promServer{base: "http://" + addr}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := http.Get(p.base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited: %v\n%s", err, log.String())
		case <-ctx.Done():
			t.Fatalf("prometheus not ready: %v\n%s", ctx.Err(), log.String())
		case <-tick.C:
		}
	}
}

// get fetches a Prometheus API path and decodes its data field into v.
func (p *promServer) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return err
	}
	if body.Status != "success" {
		return fmt.Errorf("prometheus %s: %s", path, body.Error)
	}
	return json.Unmarshal(body.Data, v)
}

// query evaluates an instant query that must return at most one sample.
func (p *promServer) query(ctx context.Context, q string) (float64, bool, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query?query="+url.QueryEscape(q), &data); err != nil {
		return 0, false, err
	}
	switch len(data.Result) {
	case 0:
		return 0, false, nil
	case 1:
		s, _ := data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil, err
	}
	return 0, false, fmt.Errorf("%s: %d series, want one", q, len(data.Result))
}

// waitFor polls q (Prometheus scrapes and evaluates every second) until ok accepts its
// value, and returns the value.
func (p *promServer) waitFor(t *testing.T, ctx context.Context, q string, what string, ok func(float64) bool) float64 {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		v, found, err := p.query(ctx, q)
		switch {
		case err != nil:
			last = err.Error()
		case !found:
			last = "no sample"
		case ok(v):
			return v
		default:
			last = strconv.FormatFloat(v, 'g', -1, 64)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %s never became %s (last: %s)", ctx.Err(), q, what, last)
		case <-tick.C:
		}
	}
}

// rules returns every loaded rule's name and health.
func (p *promServer) rules(ctx context.Context) (map[string]string, error) {
	var data struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get(ctx, "/api/v1/rules", &data); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			out[r.Name] = r.Health + r.LastError
		}
	}
	return out, nil
}

// A real Prometheus scrapes a running careline while a caller waits in a queue with no
// agent ready, then an agent answers: the waiting gauge reads 1 while the caller
// waits, the answered counters count the call, the service-level recording rule
// evaluates to 1 (answered within 30 s), and every careline rule loads and evaluates
// without error.
func TestPrometheusScrapesQueueCall(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOpts{numbersYAML: routingNumbers, extraYAML: routingYAML("never"),
		agentsYAML: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en]"))})
	ctx := ctxT(t, 45*time.Second)
	prom := startPrometheus(t, ctx, e.App.HTTPAddr)
	ana := startPhone(t, ctx, e, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000})
	e.agentAPI(t, "ana", "login")
	e.agentAPI(t, "ana", "away")
	prom.waitFor(t, ctx, `careline_queue_calls_waiting{queue="coordinator"}`, "0", func(v float64) bool { return v == 0 })

	patient := startPhone(t, ctx, e, phoneOpts{user: "5550701", tone: 440})
	patient.dial(t, ctx, e, "7003")
	prom.waitFor(t, ctx, `careline_queue_calls_waiting{queue="coordinator"}`, "1", func(v float64) bool { return v == 1 })
	prom.waitFor(t, ctx, `careline_queue_oldest_wait_seconds{queue="coordinator"}`, "> 0", func(v float64) bool { return v > 0 })
	prom.waitFor(t, ctx, `careline_agents{state="away"}`, "1", func(v float64) bool { return v == 1 })

	e.agentAPI(t, "ana", "ready")
	if _, err := ana.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("the agent was not connected: %v", err)
	}
	prom.waitFor(t, ctx, `careline_queue_wait_seconds_count{queue="coordinator",outcome="answered"}`, ">= 1",
		func(v float64) bool { return v >= 1 })
	prom.waitFor(t, ctx, `careline_calls_answered_total{direction="inbound"}`, ">= 1", func(v float64) bool { return v >= 1 })
	prom.waitFor(t, ctx, `careline_queue_calls_waiting{queue="coordinator"}`, "0", func(v float64) bool { return v == 0 })
	prom.waitFor(t, ctx, `careline_agent_state_seconds_total{state="away"}`, "> 0", func(v float64) bool { return v > 0 })
	// The recording rule: one caller, answered within the 30 s service level.
	sl := prom.waitFor(t, ctx, `queue:careline_queue_service_level:ratio_rate15m{queue="coordinator"}`, "1",
		func(v float64) bool { return math.Abs(v-1) < 1e-9 })
	t.Logf("service level rule: %v", sl)

	rules, err := prom.rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) < 10 {
		t.Fatalf("only %d rules loaded: %v", len(rules), rules)
	}
	for name, health := range rules {
		if health != "ok" {
			t.Errorf("rule %s: %s", name, health)
		}
	}
	if _, err := patient.Command(ctx, "hangup", ""); err != nil {
		t.Fatal(err)
	}
}
