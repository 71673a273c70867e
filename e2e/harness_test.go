// Package e2e runs careline end to end against real third-party peers (baresip,
// SIPp) and a real PostgreSQL, all on 127.0.0.1.
package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careline/careline/app"
	"github.com/careline/careline/config"
	"github.com/careline/careline/internal/logx"
	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/sip"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) {
	sip.InstallLogging(logx.Discard())
	if os.Getenv(childEnv) == "1" { // the test binary acting as a careline node (dialer_crash_test.go)
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// Engine is a careline node running in the test process.
type Engine struct {
	App  *app.App
	Pool *pgxpool.Pool
	SIP  string // "127.0.0.1:port" (UDP)
	// Stop shuts the engine down gracefully (once; the test's cleanup calls it too).
	Stop func()

	recDir string

	mu     sync.Mutex
	digits map[uuid.UUID][]rune
	notify chan struct{}
}

// API tokens of the example config's users in tests.
const (
	supervisorToken = "test-supervisor-token-0123456789"
	auditorToken    = "test-auditor-token-0123456789ab"
)

const defaultAgents = `skills:
  coordinator: {}
  pharmacist: {role: true}
agents:
  a1001:
    name: Ana Ruiz
    sip: {user: "1001", password: "env:T_AGENT_1001_PW"}
    skills: {coordinator: 3}
    languages: [en, es]
  a1002:
    name: Ben Ortiz
    sip: {user: "1002", password: "env:T_AGENT_1002_PW"}
    skills: {pharmacist: 4}
    languages: [en]
`

// Agent passwords used by the test configs.
var testSecrets = map[string]string{
	"T_AGENT_1001_PW":        "pw-1001-secret",
	"T_AGENT_1002_PW":        "pw-1002-secret",
	"T_AGENT_1003_PW":        "pw-1003-secret",
	"T_AGENT_1004_PW":        "pw-1004-secret",
	"T_SUPERVISOR":           supervisorToken,
	"CARELINE_RECORDING_KEY": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
}

type engineOpts struct {
	extraYAML string
	// agentsYAML, trunksYAML and numbersYAML replace the default sections when set.
	agentsYAML, trunksYAML, numbersYAML string
	dbURL, redisURL, redisPrefix        string
	mediaTimeout                        time.Duration
	now                                 func() time.Time
	// example loads configs/careline.yaml (flows, schedules, queues, agents) and patches
	// only what must differ in a test: ports, database, outbox, prompts path.
	example  bool
	onPrompt func(id uuid.UUID, lang, prompt string, d time.Duration)
}

// exampleSecrets resolves the env: references of configs/careline.yaml in tests.
func exampleSecrets(k string) (string, bool) {
	if v, ok := testSecrets[k]; ok {
		return v, true
	}
	switch k {
	case "CARELINE_NONCE_SECRET":
		return "test-nonce-secret-0123456789", true
	case "CARELINE_RECORDING_KEY":
		return "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", true
	case "CARELINE_SUPERVISOR_TOKEN":
		return supervisorToken, true
	case "CARELINE_AUDITOR_TOKEN":
		return auditorToken, true
	case "CARELINE_DATABASE_URL", "CARELINE_REDIS_URL":
		return "", false
	}
	if strings.HasPrefix(k, "CARELINE_AGENT_") && strings.HasSuffix(k, "_PASSWORD") {
		return "pw-" + strings.TrimSuffix(strings.TrimPrefix(k, "CARELINE_AGENT_"), "_PASSWORD"), true
	}
	return "", false
}

// startEngine writes a config with free ports and a fresh database, loads it through
// the real config path and starts the engine.
func startEngine(t *testing.T, o engineOpts) *Engine {
	t.Helper()
	dir := t.TempDir()
	dbURL := o.dbURL
	if dbURL == "" {
		dbURL = testenv.PostgresURL(t)
	}
	if o.agentsYAML == "" {
		o.agentsYAML = defaultAgents
	}
	if o.trunksYAML == "" {
		o.trunksYAML = "trunks:\n  local: {allow_from: [\"127.0.0.1\"]}\n"
	}
	if o.mediaTimeout == 0 {
		o.mediaTimeout = 20 * time.Second
	}
	if o.numbersYAML == "" {
		o.numbersYAML = "numbers:\n  \"9999\": {app: dtmf_echo}\n"
	}
	base := testenv.FreeUDPRange(t, 400, 10000, 32760)
	yaml := fmt.Sprintf(`version: 1
site: {name: Main Street Pharmacy, timezone: America/Chicago, languages: [en, es]}
log: {level: debug}
http: {listen: "127.0.0.1:0"}
store: {database_url: %q, outbox_dir: %q, fsync_interval: 5ms}
sip:
  listen: [{network: udp, addr: "127.0.0.1:0"}, {network: tcp, addr: "127.0.0.1:0"}]
  realm: careline
  drain_timeout: 3s
media: {ip: 127.0.0.1, rtp_ports: "%d-%d", port_rest: 1s, timeout: %s}
prompts: {dir: %q}
redis: {url: %q, prefix: %q}
%s%s%s%s`, dbURL, filepath.Join(dir, "outbox"), base, base+399, o.mediaTimeout, filepath.Join(repoRoot(), "prompts"), o.redisURL, o.redisPrefix,
		o.trunksYAML, o.numbersYAML, o.agentsYAML, o.extraYAML)
	path := filepath.Join(dir, "careline.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) { v, ok := testSecrets[k]; return v, ok }
	if o.example {
		path, lookup = filepath.Join(repoRoot(), "configs", "careline.yaml"), exampleSecrets
	}
	cfg, issues := config.Load(path, config.LoadOptions{LookupEnv: lookup})
	if len(issues.Errors()) > 0 {
		t.Fatalf("config:\n%v", issues)
	}
	if o.example {
		cfg.HTTP.Listen = "127.0.0.1:0"
		cfg.Store.DatabaseURL.Set(dbURL)
		cfg.Store.OutboxDir = filepath.Join(dir, "outbox")
		cfg.Store.FsyncInterval = 5 * time.Millisecond
		cfg.SIP.Listen = []config.Listener{{Network: "udp", Addr: "127.0.0.1:0"}, {Network: "tcp", Addr: "127.0.0.1:0"}}
		cfg.SIP.DrainTimeout = 3 * time.Second
		cfg.Media.RTPPorts = config.PortRange{Min: base, Max: base + 399}
		cfg.Media.PortRest = time.Second
		cfg.Prompts.Dir = filepath.Join(repoRoot(), "prompts")
		if cfg.Recordings != nil {
			cfg.Recordings.Dir = filepath.Join(dir, "recordings")
		}
		cfg.Trunks = map[string]*config.Trunk{"local": {AllowFrom: []config.Prefix{mustPrefix("127.0.0.1/32")}, Transport: "udp"}}
	}
	e := &Engine{digits: map[uuid.UUID][]rune{}, notify: make(chan struct{}, 1)}
	// The engine's log is kept and shown when the test fails (or always with
	// CARELINE_E2E_LOG=1).
	logBuf := &syncBuffer{}
	var log *slog.Logger
	if os.Getenv("CARELINE_E2E_LOG") != "" {
		log = logx.New(os.Stderr, logx.Options{})
	} else {
		log = logx.New(logBuf, logx.Options{})
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("engine log:\n%s", logBuf.String())
			}
		})
	}
	ctx := context.Background()
	eng, err := app.New(ctx, cfg, app.Options{Logger: log, Now: o.now, OnDigit: e.onDigit, OnPrompt: o.onPrompt})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.Stop = sync.OnceFunc(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		eng.Shutdown(sctx)
	})
	t.Cleanup(e.Stop)
	e.App = eng
	e.SIP = eng.SIPAddr("udp").String()
	if cfg.Recordings != nil {
		e.recDir = cfg.Recordings.Dir
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e.Pool = pool
	return e
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustPrefix(s string) config.Prefix {
	var p config.Prefix
	if err := p.UnmarshalText([]byte(s)); err != nil {
		panic(err)
	}
	return p
}

func (e *Engine) onDigit(id uuid.UUID, d rune) {
	e.mu.Lock()
	e.digits[id] = append(e.digits[id], d)
	e.mu.Unlock()
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

// waitDigits waits until some call has received n digits and returns them.
func (e *Engine) waitDigits(t *testing.T, n int, d time.Duration) (uuid.UUID, string) {
	t.Helper()
	deadline := time.After(d)
	for {
		e.mu.Lock()
		for id, ds := range e.digits {
			if len(ds) >= n {
				e.mu.Unlock()
				return id, string(ds)
			}
		}
		e.mu.Unlock()
		select {
		case <-e.notify:
		case <-deadline:
			e.mu.Lock()
			defer e.mu.Unlock()
			t.Fatalf("timed out waiting for %d digits; got %v", n, e.digits)
		}
	}
}

// drain waits until the interaction log has shipped everything to Postgres.
func (e *Engine) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.App.Log.Drain(ctx); err != nil {
		t.Fatalf("interaction log did not drain: %v", err)
	}
}

// eventTypes returns the event types of an interaction in order.
func (e *Engine) eventTypes(t *testing.T, id uuid.UUID) []string {
	t.Helper()
	rows, err := e.Pool.Query(context.Background(),
		"SELECT type FROM interaction_events WHERE interaction_id=$1 ORDER BY at, id", id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

type interaction struct {
	Direction, DID, EndReason, Language string
	Answered, Ended                     bool
}

func (e *Engine) interaction(t *testing.T, id uuid.UUID) interaction {
	t.Helper()
	var it interaction
	var ans, end *time.Time
	var lang *string
	err := e.Pool.QueryRow(context.Background(), `SELECT direction, did, coalesce(end_reason,''), language, answered_at, ended_at
		FROM interactions WHERE id=$1`, id).Scan(&it.Direction, &it.DID, &it.EndReason, &lang, &ans, &end)
	if err != nil {
		t.Fatalf("interaction %s: %v", id, err)
	}
	if lang != nil {
		it.Language = *lang
	}
	it.Answered, it.Ended = ans != nil, end != nil
	return it
}

// waitEnded waits until the interaction's end is in Postgres.
func (e *Engine) waitEnded(t *testing.T, id uuid.UUID) interaction {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		e.drain(t)
		var n int
		e.Pool.QueryRow(context.Background(), "SELECT count(*) FROM interactions WHERE id=$1 AND ended_at IS NOT NULL", id).Scan(&n)
		if n == 1 {
			return e.interaction(t, id)
		}
		if time.Now().After(deadline) {
			t.Fatalf("interaction %s never ended; events %v", id, e.eventTypes(t, id))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
