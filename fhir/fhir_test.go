package fhir

import (
	"context"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
)

func create(t *testing.T, c *Client, typ string, r map[string]any) string {
	t.Helper()
	r["resourceType"] = typ
	var out struct{ ID string }
	if err := c.do(context.Background(), "POST", typ, r, &out); err != nil || out.ID == "" {
		t.Fatalf("create %s: %v", typ, err)
	}
	return typ + "/" + out.ID
}

// Against a real FHIR server (@medplum/fhir-router from npm): tomorrow's booked
// appointments come back with the patient's name, best phone and language, the
// practitioner and the location; another day's and a cancelled one do not; a cancel
// written back shows on the server, and confirm / reschedule create their resources.
func TestBookedAppointmentsAndWriteBack(t *testing.T) {
	t.Parallel()
	c := NewClient(testenv.FHIRServer(t))
	ctx := context.Background()
	pat := create(t, c, "Patient", map[string]any{"name": []any{map[string]any{"given": []string{"Ana"}, "family": "Ruiz"}},
		"telecom": []any{map[string]any{"system": "phone", "value": "+13125550190", "use": "work"},
			map[string]any{"system": "phone", "value": "+13125550191", "use": "mobile"}},
		"communication": []any{map[string]any{"language": map[string]any{"coding": []any{map[string]any{"code": "es-MX"}}}, "preferred": true}}})
	doc := create(t, c, "Practitioner", map[string]any{"name": []any{map[string]any{"text": "Dr. Lee"}}})
	loc := create(t, c, "Location", map[string]any{"name": "Main Street Clinic"})
	tomorrow := time.Date(2026, 12, 9, 15, 30, 0, 0, time.UTC)
	appt := func(start time.Time, status string) string {
		return create(t, c, "Appointment", map[string]any{"status": status, "start": start.Format(time.RFC3339),
			"end": start.Add(20 * time.Minute).Format(time.RFC3339), "participant": []any{
				map[string]any{"actor": map[string]any{"reference": pat}, "status": "accepted"},
				map[string]any{"actor": map[string]any{"reference": doc}, "status": "accepted"},
				map[string]any{"actor": map[string]any{"reference": loc}, "status": "accepted"}}})
	}
	booked := appt(tomorrow, "booked")
	appt(tomorrow.Add(time.Hour), "cancelled")
	appt(tomorrow.Add(48*time.Hour), "booked")

	got, err := c.BookedAppointments(ctx, tomorrow)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d booked appointments, want 1: %+v", len(got), got)
	}
	b := got[0]
	if "Appointment/"+b.AppointmentID != booked || b.PatientRef != pat || b.Name != "Ana Ruiz" || b.Phone != "+13125550191" ||
		b.Language != "es" || b.Provider != "Dr. Lee" || b.Location != "Main Street Clinic" || !b.Start.Equal(tomorrow) {
		t.Fatalf("booked %+v", b)
	}
	if err := c.Cancel(ctx, b.AppointmentID); err != nil {
		t.Fatal(err)
	}
	var a map[string]any
	if err := c.do(ctx, "GET", booked, nil, &a); err != nil || a["status"] != "cancelled" || a["participant"] == nil {
		t.Fatalf("after cancel: %v %v", a, err)
	}
	if got, _ := c.BookedAppointments(ctx, tomorrow); len(got) != 0 {
		t.Fatalf("cancelled appointment still booked: %+v", got)
	}
	if err := c.RequestReschedule(ctx, b.AppointmentID, pat); err != nil {
		t.Fatal(err)
	}
	if err := c.Confirm(ctx, b.AppointmentID, pat); err != nil {
		t.Fatal(err)
	}
	var tasks struct{ Entry []any }
	if err := c.do(ctx, "GET", "Task?focus="+booked, nil, &tasks); err != nil || len(tasks.Entry) != 1 {
		t.Fatalf("tasks %d %v", len(tasks.Entry), err)
	}
	if err := c.Cancel(ctx, "no-such-id"); err != ErrNotFound {
		t.Fatalf("cancel unknown: %v", err)
	}
}
