package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careline/careline/internal/testenv"
)

// Not parallel: CARELINE_DATABASE_URL is set for the test's own database.
func TestExportOptOutAndDeadLetterCommands(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	t.Setenv("CARELINE_DATABASE_URL", dbURL)
	cfg := campaignConfig(t, dbURL)
	dir := t.TempDir()
	patients := filepath.Join(dir, "patients.csv")
	os.WriteFile(patients, []byte("patient_ref,phone,time_zone\nP1,(312) 555-0101,America/Chicago\nP2,312-555-0102,America/Chicago\n"), 0o600)
	dnc := filepath.Join(dir, "dnc.csv")
	os.WriteFile(dnc, []byte("phone,patient_ref\n312-555-0101,P1\nbogus,P9\n312-555-0109,P7,extra\n"), 0o600)
	steps := []struct {
		args     []string
		code     int
		out, err []string
	}{
		{[]string{"campaign", "import", "refills", patients, "--config", cfg}, 0, []string{"2 added"}, nil},
		{[]string{"campaign", "export", "refills", "--format", "csv", "--config", cfg}, 0,
			[]string{"id,patient_ref,phone,language,status,attempts", ",P1,+13125550101,en,pending,0,", ",P2,"}, nil},
		{[]string{"campaign", "export", "refills", "--format", "xlsx", "--config", cfg}, 2, nil, []string{"use --format csv"}},
		{[]string{"optout", "import", dnc, "--config", cfg}, exitPartial, []string{"3 rows: 1 added, 0 already on the list, 2 refused"},
			[]string{dnc + ":3: phone:", dnc + ":4: 3 fields, the header has 2"}},
		{[]string{"webhooks", "deadletter", "list", "--config", cfg}, 0, []string{"no dead deliveries"}, nil},
		{[]string{"webhooks", "deadletter", "replay", "7", "--config", cfg}, 1, []string{"0 dead deliveries due again"}, nil},
		{[]string{"webhooks", "deadletter", "replay", "x", "--config", cfg}, 2, nil, []string{`"x" is not a delivery id`}},
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
	}
}
