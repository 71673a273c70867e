package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/careline/careline/app"
	"github.com/careline/careline/calendar"
	"github.com/careline/careline/config"
	"github.com/careline/careline/dialer"
	"github.com/careline/careline/internal/logx"
	"github.com/careline/careline/internal/peers"
	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The test binary runs as a careline node in a child process when childEnv is set, so
// that it can be killed with SIGKILL while it dials. The child takes its clock from
// the parent (anchor + real time since a shared start), so the calling window does not
// depend on when the tests run, and runs its campaigns with a short lease.
const (
	childEnv       = "CARELINE_E2E_CHILD"
	childConfigEnv = "CARELINE_E2E_CONFIG"
	childAnchorEnv = "CARELINE_E2E_ANCHOR" // RFC 3339 nano
	childT0Env     = "CARELINE_E2E_T0"     // unix nanoseconds of the anchor's real instant
)

// childLease is the campaign lease in the child: a node silent this long is presumed dead.
const childLease = 3 * time.Second

func childMain() int {
	lookup := func(k string) (string, bool) { v, ok := testSecrets[k]; return v, ok }
	cfg, issues := config.Load(os.Getenv(childConfigEnv), config.LoadOptions{LookupEnv: lookup})
	if len(issues.Errors()) > 0 {
		fmt.Fprintln(os.Stderr, issues)
		return 1
	}
	anchor, err := time.Parse(time.RFC3339Nano, os.Getenv(childAnchorEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "anchor:", err)
		return 1
	}
	var t0ns int64
	fmt.Sscan(os.Getenv(childT0Env), &t0ns)
	t0 := time.Unix(0, t0ns)
	now := func() time.Time { return anchor.Add(time.Since(t0)) }
	log := logx.New(os.Stderr, logx.Options{})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	eng, err := app.New(ctx, cfg, app.Options{Logger: log, Now: now, DialerLease: childLease,
		DialerPoll: 200 * time.Millisecond})
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := eng.Start(ctx); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = eng.Shutdown(sctx)
	return 0
}

// child is a careline node running in a child process.
type child struct {
	cmd  *exec.Cmd
	http string
	mu   sync.Mutex
	logs strings.Builder
}

func (c *child) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.String()
}

func startChild(t *testing.T, cfgPath string, anchor, t0 time.Time) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(os.Environ(), childEnv+"=1", childConfigEnv+"="+cfgPath,
		childAnchorEnv+"="+anchor.Format(time.RFC3339Nano), fmt.Sprintf("%s=%d", childT0Env, t0.UnixNano()))
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			c.logs.WriteString(line + "\n")
			c.mu.Unlock()
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "careline started" {
				started <- m["http"].(string)
			}
		}
		close(started)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill() // our own child, by PID
		_ = c.cmd.Wait()
		if t.Failed() {
			t.Logf("child %d log:\n%s", c.cmd.Process.Pid, c.log())
		}
	})
	select {
	case addr, ok := <-started:
		if !ok {
			t.Fatalf("careline child exited early:\n%s", c.log())
		}
		c.http = addr
	case <-time.After(30 * time.Second):
		t.Fatalf("careline child did not start:\n%s", c.log())
	}
	return c
}

// kill ends the child with SIGKILL: no shutdown, no final writes.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}

// Crash: careline is killed with SIGKILL while a campaign call is up, and restarted.
// The attempt it left open is closed as failed/unknown once its lease expires (the
// patient may have been called) and is not re-dialed within the spacing; the other
// patient is dialed by the new process; nobody is dialed twice.
func TestDialerCrashNoDoubleDial(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 120*time.Second)
	phones := []string{"+13125550111", "+13125550112"}
	// One baresip answers for both patients (one account each). It hangs up when its
	// greeting file ends: "hello", then 6 s of listening.
	greeting := writeWAV(t, filepath.Join(t.TempDir(), "hello.wav"), append(append(silence(300), tone(300, 500, 0.3)...), silence(6000)...))
	var accts []string
	for _, p := range phones {
		accts = append(accts, fmt.Sprintf("<sip:%s@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU", p))
	}
	pat := peers.StartBaresip(ctx, t, peers.BaresipConfig{Account: strings.Join(accts, "\n"), AudioSource: greeting})

	dbURL := testenv.PostgresURL(t)
	dir := t.TempDir()
	base := testenv.FreeUDPRange(t, 200, 10000, 32760)
	cfgText := fmt.Sprintf(`version: 1
site: {name: Main Street Pharmacy, timezone: America/Chicago, languages: [en, es]}
http: {listen: "127.0.0.1:%d"}
store: {database_url: %q, outbox_dir: %q, fsync_interval: 5ms}
sip:
  listen: [{network: udp, addr: "127.0.0.1:%d"}]
  drain_timeout: 2s
media: {ip: 127.0.0.1, rtp_ports: "%d-%d", port_rest: 1s, timeout: 20s}
prompts: {dir: %q}
trunks:
  patients: {address: %q}
%s%s
dialer: {daily_cap: 1, weekly_cap: 3}
campaigns:
%s`, testenv.FreePort(t, "tcp"), dbURL, filepath.Join(dir, "outbox"), testenv.FreePort(t, "udp"), base, base+199,
		filepath.Join(repoRoot(), "prompts"), pat.SIPAddr(), dialerFlows, dialerUsers(),
		refillCampaign("refills", "    max_channels: 1\n"))
	cfgPath := filepath.Join(dir, "careline.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}

	// The contacts, imported before any node runs.
	lookup := func(k string) (string, bool) { v, ok := testSecrets[k]; return v, ok }
	cfg, issues := config.Load(cfgPath, config.LoadOptions{LookupEnv: lookup})
	if len(issues.Errors()) > 0 {
		t.Fatalf("config: %v", issues)
	}
	camps, err := dialer.CampaignsFromConfig(cfg, func(string) (*calendar.Calendar, bool) { return nil, false })
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	clock := newTestClock(openAnchor(t))
	csv := "patient_ref,phone,time_zone\nC1," + phones[0] + ",America/Chicago\nC2," + phones[1] + ",America/Chicago\n"
	if rep, err := dialer.ImportWith(ctx, pool, camps["refills"], strings.NewReader(csv), dialer.ImportOptions{Now: clock.Now}); err != nil || rep.Added != 2 {
		t.Fatalf("import %+v %v", rep, err)
	}

	first := startChild(t, cfgPath, clock.anchor, clock.t0)
	e := &Engine{Pool: pool}
	if code, body := campaignAPIAt(t, first.http, "refills", "start", supervisorToken); code != 200 {
		t.Fatalf("start: %d %v", code, body)
	}
	// One call at a time (max_channels 1): kill the node while the first is up.
	var open string
	deadline := time.Now().Add(30 * time.Second)
	for open == "" {
		// Answered, and heartbeated at least once (the lease no longer covers the ring time).
		_ = pool.QueryRow(ctx, `SELECT phone FROM contact_attempts WHERE state = 'answered'
			AND lease_until < started_at + interval '10 seconds'`).Scan(&open)
		if time.Now().After(deadline) {
			t.Fatalf("no call answered:\n%s", first.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.kill(t)
	other := phones[0]
	if open == phones[0] {
		other = phones[1]
	}

	second := startChild(t, cfgPath, clock.anchor, clock.t0)
	// The new node dials the other patient and recovers the open attempt.
	deadline = time.Now().Add(40 * time.Second)
	for {
		recovered := e.count(t, `SELECT count(*) FROM contact_attempts WHERE phone = $1 AND state = 'done'
			AND dial_result = 'unknown' AND disposition = 'failed'`, open)
		otherDone := e.count(t, `SELECT count(*) FROM contact_attempts WHERE phone = $1 AND state = 'done'`, other)
		if recovered == 1 && otherDone == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recovered %d, other patient's attempts done %d\nsecond node:\n%s", recovered, otherDone, second.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A few more runner steps: nobody is called again.
	time.Sleep(1500 * time.Millisecond)
	for _, p := range phones {
		if n := e.count(t, `SELECT count(*) FROM contact_attempts WHERE phone = $1`, p); n != 1 {
			t.Fatalf("patient %s: %d attempts", p, n)
		}
		if n := e.count(t, `SELECT count(*) FROM dial_decisions d JOIN campaign_contacts c ON c.id = d.contact_id
			WHERE c.phone = $1 AND d.allowed`, p); n != 1 {
			t.Fatalf("%d dials allowed for one patient", n)
		}
	}
	if n := strings.Count(pat.Log.String(), "answering call"); n != 2 {
		t.Fatalf("the patients' phone answered %d calls, want 2:\n%s", n, pat.Log)
	}
	for _, p := range phones {
		if n := strings.Count(pat.Log.String(), p+"@127.0.0.1: Call established"); n != 1 {
			t.Fatalf("patient %s was called %d times", p, n)
		}
	}
	var status, detail string
	var next, started time.Time
	if err := pool.QueryRow(ctx, `SELECT c.status, c.next_attempt_at, a.started_at, a.detail FROM campaign_contacts c
		JOIN contact_attempts a ON a.contact_id = c.id WHERE c.phone = $1`, open).Scan(&status, &next, &started, &detail); err != nil {
		t.Fatal(err)
	}
	if status != "pending" || next.Before(started.Add(camps["refills"].MinSpacing)) || detail != "node lost after answer" {
		t.Fatalf("recovered contact: %s, next %s (attempt at %s: %q)", status, next, started, detail)
	}
	// What the killed node had logged reached Postgres through its outbox.
	var id string
	_ = pool.QueryRow(ctx, `SELECT id FROM contact_attempts WHERE phone = $1`, open).Scan(&id)
	deadline = time.Now().Add(20 * time.Second)
	for {
		n := e.count(t, `SELECT count(*) FROM interaction_events WHERE interaction_id = $1
			AND type IN ('dialer.attempt.started', 'dialer.attempt.answered', 'dialer.attempt.recovered')`, id)
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events of the killed node's attempt: %d of 3", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
