package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestReportUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"report"}, {"report", "weekly"}, {"report", "daily", "--format", "pdf"},
		{"report", "daily", "--date", "10/03/2026"}, {"report", "daily", "--short-abandon", "-1s"},
		{"report", "daily", "extra"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
		}
	}
}

// reportCmd runs the test binary as `careline report daily` with the example config and
// CARELINE_DATABASE_URL pointing at dbURL, from the repository root.
func reportCmd(t *testing.T, dbURL string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"report", "daily", "--config", "configs/careline.yaml"}, args...)...)
	cmd.Dir = repoFile(t, ".")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CARELINE_DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "CARELINE_BE_MAIN=1", "CARELINE_DATABASE_URL="+dbURL)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("careline report daily %v: %v\n%s", args, err, errb.String())
	}
	return out.String(), errb.String()
}

// TestReportDaily runs the command on the example configuration against a database with
// one pharmacist call answered by Ben Ortiz (a1002) and one Spanish IVR refill.
func TestReportDaily(t *testing.T) {
	t.Parallel()
	dbURL := testenv.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("America/Chicago")
	at := func(hms string) time.Time {
		tm, _ := time.ParseInLocation("2006-01-02 15:04:05", "2026-03-10 "+hms, loc)
		return tm
	}
	call, ivrCall := store.NewID(), store.NewID()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	ev := func(iid any, typ string, tm time.Time, detail string) {
		exec(`INSERT INTO interaction_events (id, interaction_id, type, at, detail) VALUES ($1, $2, $3, $4, $5::jsonb)`,
			store.NewID(), iid, typ, tm, detail)
	}
	state := func(tm time.Time, from, to string, iid any) {
		exec(`INSERT INTO agent_state_changes (event_id, at, agent_id, from_state, to_state, interaction_id)
			VALUES ($1, $2, 'a1002', $3, $4, $5)`, store.NewID(), tm, from, to, iid)
	}
	exec(`INSERT INTO interactions (id, kind, direction, started_at, language, remote_party) VALUES
		($1, 'call', 'inbound', $2, 'en', '+15125559876'), ($3, 'call', 'inbound', $4, 'es', '+15125559877')`,
		call, at("10:00:00"), ivrCall, at("11:00:00"))
	ev(call, "ivr.node_exit", at("10:00:20"), `{"flow": "pharmacy", "node": "pharmacist", "kind": "queue", "exit": "ok"}`)
	ev(call, "queue.enter", at("10:00:20"), `{"queue": "pharmacist", "language": "en", "priority": 0}`)
	ev(call, "queue.leave", at("10:00:50"), `{"queue": "pharmacist", "outcome": "answered", "wait_ms": 30000, "agent": "a1002"}`)
	state(at("09:00:00"), "logged_out", "ready", nil)
	state(at("10:00:45"), "ready", "offered", call)
	state(at("10:00:50"), "offered", "on_call", call)
	state(at("10:05:50"), "on_call", "wrap_up", call)
	state(at("10:06:20"), "wrap_up", "ready", call)
	state(at("12:00:00"), "ready", "logged_out", nil)
	ev(ivrCall, "ivr.node_exit", at("11:00:30"), `{"flow": "pharmacy", "node": "refill", "kind": "collect", "exit": "ok"}`)
	ev(ivrCall, "refill.requested", at("11:00:30"), `{"flow": "pharmacy", "node": "refill", "value": "len:7"}`)
	ev(ivrCall, "ivr.node_exit", at("11:00:40"), `{"flow": "pharmacy", "node": "goodbye", "kind": "hangup", "exit": "ok"}`)

	csvPath := filepath.Join(t.TempDir(), "daily.csv")
	_, stderr := reportCmd(t, dbURL, "--date", "2026-03-10", "--out", csvPath)
	if !strings.Contains(stderr, "written to "+csvPath) {
		t.Errorf("stderr: %s", stderr)
	}
	data, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	for _, want := range []string{
		"meta,Main Street Pharmacy,2026-03-10,America/Chicago,2026-03-10T00:00:00-05:00,2026-03-11T00:00:00-05:00,24,10,",
		"\nqueue,pharmacist,Pharmacist,en,1,1,0,0,0,0,0,90,1,1,1,30,,1,330,300,30\n",
		"\nqueue,billing,Billing,es,0,0,0,0,0,0,0,120,0,0,,,,0,,,\n",
		"\nagent,a1002,Ben Ortiz,1,300,30,10465,5,0,10800,10800,0,0.0306,",
		"\nagent,a1001,Ana Ruiz,0,0,0,0,0,0,0,0,0,,",
		"\nivr,es,1,0,1,1,0,0,0,0,0,1,",
		"\nivr_event,refill.requested,es,1,",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("CSV lacks %q:\n%s", want, got)
		}
	}
	html, _ := reportCmd(t, dbURL, "--date", "2026-03-10", "--format", "html", "--short-abandon", "0")
	for _, want := range []string{"<svg", `data-cell="queue/pharmacist/en/offered" data-value="1"`, "Ben Ortiz", "Main Street Pharmacy"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, phi := range []string{"5125559876", "5125559877"} {
		if strings.Contains(got, phi) || strings.Contains(html, phi) {
			t.Errorf("report contains the caller's number %s", phi)
		}
	}
}
