package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
)

func fhirCreate(t *testing.T, base, typ string, r map[string]any) string {
	t.Helper()
	r["resourceType"] = typ
	b, _ := json.Marshal(r)
	resp, err := http.Post(base+"/"+typ, "application/fhir+json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.ID == "" {
		t.Fatalf("create %s: %d %v", typ, resp.StatusCode, err)
	}
	return typ + "/" + out.ID
}

// Not parallel: CARELINE_DATABASE_URL is set for the test's own database.
func TestFHIRPullAddsBookedAppointmentsToACampaign(t *testing.T) {
	base := testenv.FHIRServer(t)
	dbURL := testenv.PostgresURL(t)
	t.Setenv("CARELINE_DATABASE_URL", dbURL)
	cfg := campaignConfig(t, dbURL)
	b, _ := os.ReadFile(cfg)
	b = append(b, []byte(`  appts:
    purpose: appointment_confirmation
    flow: refill
    trunk: out
    caller_id: "+15125550100"
    pharmacy_name: Test Clinic
    callback_number: "+15125550100"
`)...)
	os.WriteFile(cfg, b, 0o600)
	pat := fhirCreate(t, base, "Patient", map[string]any{"name": []any{map[string]any{"text": "Ana Ruiz"}},
		"telecom": []any{map[string]any{"system": "phone", "value": "(312) 555-0177", "use": "mobile"}}})
	doc := fhirCreate(t, base, "Practitioner", map[string]any{"name": []any{map[string]any{"text": "Dr. Lee"}}})
	loc := fhirCreate(t, base, "Location", map[string]any{"name": "Main Street Clinic"})
	day := time.Now().AddDate(0, 0, 2).Format(time.DateOnly)
	start, _ := time.ParseInLocation(time.DateOnly+" 15:04", day+" 10:30", mustLoc(t, "America/Chicago"))
	fhirCreate(t, base, "Appointment", map[string]any{"status": "booked", "start": start.Format(time.RFC3339),
		"participant": []any{map[string]any{"actor": map[string]any{"reference": pat}, "status": "accepted"},
			map[string]any{"actor": map[string]any{"reference": doc}, "status": "accepted"},
			map[string]any{"actor": map[string]any{"reference": loc}, "status": "accepted"}}})
	for i, want := range []string{"1 added, 0 already imported", "0 added, 1 already imported"} {
		code, out, errs := runCmd(t, "fhir", "pull", "appts", "--base", base, "--date", day, "--config", cfg)
		if code != 0 || !strings.Contains(out, "1 booked appointments on "+day+": "+want) {
			t.Fatalf("pull %d: exit %d\n%s\n%s", i, code, out, errs)
		}
	}
	code, out, errs := runCmd(t, "campaign", "export", "appts", "--config", cfg)
	if code != 0 || !strings.Contains(out, ","+pat+",+13125550177,") {
		t.Fatalf("export: %d\n%s\n%s", code, out, errs)
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
