package dialer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestImportRefills(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	ctx := context.Background()
	c := testCampaign("refills", RefillReminder)
	csv := strings.Join([]string{
		"Patient Ref,Phone,Language,Time Zone,State,ZIP",
		"P001,(512) 555-0143,es,,TX,",              // ok: state TX -> Chicago+Denver
		"P002,555-0143,en,,,",                      // line 3: bad phone
		"P003,+1 212 555 0100,,America/New_York,,", // ok
		"P004,212-555-0101,en,Mars/Base,,",         // line 5: unknown zone
		"P005,305-555-0102,english,,,32501",        // ok: panhandle ZIP
		",305-555-0103,en,,,",                      // line 7: missing patient ref
		"P007,305-555-0104,fr,,,",                  // line 8: bad language
		"P008,\"415-555-0105\",EN,,CA,",            // ok
		"",                                         // blank line skipped
		"P009,800-555-0100,en,,,",                  // line 11: toll-free
		"P010,212-555-0106,es,,,1234",              // line 12: bad ZIP -> unknown zone
	}, "\n")
	var calls []int
	rep, err := Import(ctx, pool, c, strings.NewReader(csv), func(done, total int) { calls = append(calls, done, total) })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 10 || rep.Added != 4 || rep.Duplicates != 0 || len(rep.Bad) != 6 {
		t.Fatalf("report %+v", rep)
	}
	want := []struct {
		line   int
		reason RowReason
		col    string
	}{{3, RowBadPhone, ColPhone}, {5, RowUnknownTimeZone, ColTimeZone}, {7, RowMissingField, ColPatientRef},
		{8, RowBadLanguage, ColLanguage}, {11, RowBadPhone, ColPhone}, {12, RowUnknownTimeZone, ColZIP}}
	for i, w := range want {
		if b := rep.Bad[i]; b.Line != w.line || b.Reason != w.reason || b.Column != w.col {
			t.Errorf("bad[%d] = %v, want line %d %s (%s)", i, b, w.line, w.reason, w.col)
		}
		if strings.Contains(rep.Bad[i].String(), "555") {
			t.Errorf("row error repeats PHI: %s", rep.Bad[i])
		}
	}
	if len(calls) < 2 || calls[len(calls)-2] != 10 || calls[len(calls)-1] != 10 {
		t.Fatalf("progress calls %v", calls)
	}
	var zones []string
	var src, state, lang, phone string
	if err := pool.QueryRow(ctx, `SELECT time_zones, tz_source, state_code, language, phone FROM campaign_contacts WHERE patient_ref = 'P005'`).
		Scan(&zones, &src, &state, &lang, &phone); err != nil {
		t.Fatal(err)
	}
	if len(zones) != 1 || zones[0] != "America/Chicago" || src != "zip" || state != "FL" || lang != "en" || phone != "+13055550102" {
		t.Fatalf("P005 stored as %v %s %s %s %s", zones, src, state, lang, phone)
	}
	// Re-import: nothing new.
	rep2, err := Import(ctx, pool, c, strings.NewReader(csv), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Added != 0 || rep2.Duplicates != 4 || len(rep2.Bad) != 6 {
		t.Fatalf("re-import %+v", rep2)
	}
	var n int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM campaign_contacts`).Scan(&n)
	if n != 4 {
		t.Fatalf("%d contacts after re-import", n)
	}
}

func TestImportAppointments(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	ctx := context.Background()
	c := testCampaign("appts", AppointmentConfirmation)
	now := at(t, "America/Chicago", "2026-06-10 12:00")
	csv := "patient_ref,phone,time_zone,appointment_date,appointment_time,provider,location\n" +
		"A1,512-555-0143,America/Chicago,2026-06-12,3:30 PM,Dr. Lee,Main St\n" +
		"A2,512-555-0144,America/Chicago,2026-06-01,09:00,Dr. Lee,Main St\n" + // past
		"A3,512-555-0145,America/Chicago,2026-13-01,09:00,Dr. Lee,Main St\n" + // bad date
		"A4,512-555-0146,America/Chicago,06/15/2026,25:00,Dr. Lee,Main St\n" + // bad time
		"A5,512-555-0147,America/Chicago,,09:00,Dr. Lee,Main St\n" + // missing date
		"A6,512-555-0148,America/Chicago,06/15/2026,09:00,,\n" // ok: provider/location may be empty
	rep, err := ImportWith(ctx, pool, c, strings.NewReader(csv), ImportOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 2 || len(rep.Bad) != 4 {
		t.Fatalf("report %+v", rep)
	}
	for i, w := range []RowReason{RowPastAppointment, RowBadDate, RowBadTime, RowMissingField} {
		if rep.Bad[i].Reason != w || rep.Bad[i].Line != i+3 {
			t.Errorf("bad[%d] = %v, want line %d %s", i, rep.Bad[i], i+3, w)
		}
	}
	var appt time.Time
	if err := pool.QueryRow(ctx, `SELECT appointment_at FROM campaign_contacts WHERE patient_ref = 'A1'`).Scan(&appt); err != nil {
		t.Fatal(err)
	}
	if !appt.Equal(at(t, "America/Chicago", "2026-06-12 15:30")) {
		t.Fatalf("appointment %s", appt)
	}
}

func TestImportBadHeader(t *testing.T) {
	t.Parallel()
	c := testCampaign("appts", AppointmentConfirmation)
	cases := []struct {
		header           string
		missing, unknown string
	}{
		{"patient,phone,appointment_date,appointment_time,provider,location", "patient_ref", "patient"},
		{"patient_ref,phone,appointment_date,appointment_time,provider,location,drug_name", "", "drug_name"},
		{"patient_ref,phone", "appointment_date", ""},
		{"", "patient_ref", ""},
	}
	for _, tc := range cases {
		// The header is checked before the database is touched: no pool needed.
		_, err := Import(context.Background(), nil, c, strings.NewReader(tc.header+"\nx,y\n"), nil)
		var he *HeaderError
		if !errors.Is(err, ErrBadHeader) || !errors.As(err, &he) {
			t.Fatalf("%q: got %v", tc.header, err)
		}
		if tc.missing != "" && !strings.Contains(strings.Join(he.Missing, ","), tc.missing) ||
			tc.unknown != "" && !strings.Contains(strings.Join(he.Unknown, ","), tc.unknown) {
			t.Fatalf("%q: %+v", tc.header, he)
		}
		if !strings.Contains(err.Error(), "expected columns: patient_ref,phone,appointment_date,appointment_time,provider,location") {
			t.Fatalf("error does not list the expected columns: %v", err)
		}
	}
}
