package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careline/careline/internal/testenv"
)

// campaignConfig is a runnable config with one refill campaign on a trunk.
func campaignConfig(t *testing.T, dbURL string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`version: 1
site: {name: Test Pharmacy, timezone: America/Chicago, languages: [en, es]}
store: {database_url: %q, outbox_dir: %q}
sip:
  listen: [{network: udp, addr: "127.0.0.1:%d"}]
prompts: {dir: %q}
trunks:
  out: {address: "127.0.0.1:5080"}
flows:
  refill:
    start: identify
    nodes:
      identify: {play: {prompts: [dialer/identification]}, next: menu}
      menu:
        menu:
          prompts: [dialer/refill_ready]
          options:
            "1": {next: requested}
            "9": {next: opt_out}
          on_failure: bye
      requested: {play: {prompts: [dialer/refill_requested]}, event: refill.requested, next: bye}
      opt_out: {play: {prompts: [dialer/opted_out]}, event: dialer.opt_out, next: bye}
      bye: {hangup: {}}
campaigns:
  refills:
    purpose: refill_reminder
    flow: refill
    trunk: out
    caller_id: "+15125550100"
    pharmacy_name: Test Pharmacy
    callback_number: "+15125550100"
`, dbURL, filepath.Join(dir, "outbox"), testenv.FreePort(t, "udp"), repoFile(t, "prompts"))
	path := filepath.Join(dir, "careline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// Not parallel: CARELINE_DATABASE_URL (which overrides the file) must name the test's
// own database, never the developer's.
func TestCampaignCommands(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	t.Setenv("CARELINE_DATABASE_URL", dbURL)
	cfg := campaignConfig(t, dbURL)
	csv := filepath.Join(t.TempDir(), "patients.csv")
	os.WriteFile(csv, []byte("patient_ref,phone,time_zone\n"+
		"P1,(312) 555-0101,America/Chicago\n"+
		"P2,not a phone,America/Chicago\n"+
		"P3,+1 212 555 0103,\n"+
		"P4,312-555-0104,Mars/Olympus\n"), 0o600)

	steps := []struct {
		args     []string
		code     int
		out, err []string
	}{
		{[]string{"campaign", "list", "--config", cfg}, 0, []string{"refills", "refill_reminder", "agentless", "stopped"}, nil},
		{[]string{"campaign", "import", "refills", csv, "--config", cfg}, exitPartial,
			[]string{"refills: 4 rows: 2 added, 0 already imported, 2 refused"},
			[]string{csv + ":3: bad_phone (phone)", csv + ":5: unknown_time_zone (time_zone)"}},
		{[]string{"campaign", "--config", cfg, "import", "refills", csv}, exitPartial,
			[]string{"0 added, 2 already imported, 2 refused"}, nil},
		{[]string{"campaign", "resume", "refills", "--config", cfg}, 1, nil, []string{"cannot resume campaign refills: it is stopped"}},
		{[]string{"campaign", "start", "refills", "--config", cfg}, 0, []string{"campaign refills: running (was stopped)"}, nil},
		{[]string{"campaign", "pause", "refills", "--config", cfg}, 0, []string{"campaign refills: paused (was running)"}, nil},
		{[]string{"campaign", "list", "--config", cfg}, 0, []string{"paused", "  2  "}, nil},
		{[]string{"campaign", "resume", "refills", "--config", cfg}, 0, []string{"running (was paused)"}, nil},
		{[]string{"campaign", "stop", "refills", "--config", cfg}, 0, []string{"stopped (was running)"}, nil},
		{[]string{"campaign", "start", "nope", "--config", cfg}, 1, nil, []string{`unknown campaign "nope" (configured: refills)`}},
		{[]string{"campaign", "import", "refills", "--config", cfg}, 2, nil, []string{"usage: careline campaign"}},
		{[]string{"campaign", "frobnicate", "--config", cfg}, 2, nil, []string{"usage: careline campaign"}},
	}
	for _, s := range steps {
		code, out, errs := runCmd(t, s.args...)
		if code != s.code {
			t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", s.args, code, s.code, out, errs)
		}
		for _, w := range s.out {
			if !strings.Contains(out, w) {
				t.Fatalf("%v: stdout lacks %q:\n%s", s.args, w, out)
			}
		}
		for _, w := range s.err {
			if !strings.Contains(errs, w) {
				t.Fatalf("%v: stderr lacks %q:\n%s", s.args, w, errs)
			}
		}
		if strings.Contains(out+errs, "555-01") || strings.Contains(out+errs, "5550101") {
			t.Fatalf("%v: a phone number was printed:\n%s%s", s.args, out, errs)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("patient,phone_number\nP1,3125550101\n"), 0o600)
	if code, _, errs := runCmd(t, "campaign", "import", "refills", bad, "--config", cfg); code != 1 || !strings.Contains(errs, bad+":1: dialer: bad CSV header") {
		t.Fatalf("bad header: exit %d: %s", code, errs)
	}
}

func TestDialerSimulate(t *testing.T) {
	t.Parallel()
	code, out, errs := runCmd(t, "dialer", "simulate", "--agents", "5", "--days", "1", "--hours", "2", "--seed", "7")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, w := range []string{"5 agents, 1 days of 2.0 h", "| mode | target |", "| progressive | 3% |", "| predictive | 3% |"} {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}
	if _, again, _ := runCmd(t, "dialer", "simulate", "--agents", "5", "--days", "1", "--hours", "2", "--seed", "7"); again != out {
		t.Fatalf("same seed, different tables:\n%s\n%s", out, again)
	}
	for _, bad := range [][]string{{"dialer"}, {"dialer", "simulate", "--mode", "fast"}, {"dialer", "simulate", "--handle", "x"},
		{"dialer", "simulate", "--live", "0.9", "--machine", "0.2"}, {"dialer", "simulate", "--target", "0.05"}} {
		if code, _, _ := runCmd(t, bad...); code != 2 {
			t.Fatalf("%v: exit %d, want 2", bad, code)
		}
	}
}
