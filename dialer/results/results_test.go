package results

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

func seed(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := testenv.Postgres(t)
	ctx := context.Background()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO campaigns (name, purpose) VALUES ('refills', 'refill_reminder')`)
	// 5 contacts: 2 done (refill_requested on Dec 7), 1 exhausted (no_answer, Dec 8), 2 pending.
	for i, c := range []struct{ status, disp, last string }{
		{"done", "refill_requested", "2026-12-07T15:00:00Z"}, {"done", "refill_requested", "2026-12-07T16:00:00Z"},
		{"exhausted", "no_answer", "2026-12-08T15:00:00Z"}, {"pending", "", ""}, {"pending", "", ""},
	} {
		var last any
		if c.last != "" {
			last = c.last
		}
		var disp any
		if c.disp != "" {
			disp = c.disp
		}
		exec(`INSERT INTO campaign_contacts (campaign, patient_ref, phone, language, time_zones, tz_source, dedupe_key,
			status, attempts, last_attempt_at, final_disposition, import_line, next_attempt_at)
			VALUES ('refills', $1, $2, 'en', '{America/Chicago}', 'record', $1, $3, $4, $5, $6, $7, '2026-12-09T15:00:00Z')`,
			"MRN-"+string(rune('A'+i)), "+1312555010"+string(rune('0'+i)), c.status, min(i, 3), last, disp, i+2)
	}
	return pool
}

func TestContactsFilterAndPaginate(t *testing.T) {
	t.Parallel()
	pool := seed(t)
	ctx := context.Background()
	p, err := Contacts(ctx, pool, "refills", Filter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	var all []Contact
	for pages := 1; ; pages++ {
		all = append(all, p.Contacts...)
		if p.Next == "" {
			if pages != 3 {
				t.Fatalf("%d pages of 2 for 5 contacts", pages)
			}
			break
		}
		if p, err = Contacts(ctx, pool, "refills", Filter{Limit: 2, Cursor: p.Next}); err != nil {
			t.Fatal(err)
		}
	}
	if len(all) != 5 || all[0].PatientRef != "MRN-A" || all[4].PatientRef != "MRN-E" {
		t.Fatalf("contacts %+v", all)
	}
	if all[0].NextDueAt != nil || all[3].NextDueAt == nil {
		t.Fatalf("next due only for pending contacts: %+v %+v", all[0], all[3])
	}
	p, _ = Contacts(ctx, pool, "refills", Filter{Disposition: "refill_requested"})
	if len(p.Contacts) != 2 {
		t.Fatalf("refill_requested: %d", len(p.Contacts))
	}
	p, _ = Contacts(ctx, pool, "refills", Filter{Day: "2026-12-08"})
	if len(p.Contacts) != 1 || p.Contacts[0].FinalDisposition != "no_answer" {
		t.Fatalf("day filter: %+v", p.Contacts)
	}
	p, _ = Contacts(ctx, pool, "refills", Filter{Disposition: "pending"})
	if len(p.Contacts) != 2 {
		t.Fatalf("pending: %d", len(p.Contacts))
	}
	if _, err := Contacts(ctx, pool, "refills", Filter{Cursor: "!!"}); err == nil {
		t.Fatal("bad cursor accepted")
	}

	var buf bytes.Buffer
	n, err := ExportCSV(ctx, pool, "refills", Filter{Disposition: "refill_requested"}, &buf)
	if err != nil || n != 2 {
		t.Fatalf("export %d %v", n, err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 3 || strings.Join(recs[0], ",") != strings.Join(Columns, ",") ||
		recs[1][1] != "MRN-A" || recs[1][8] != "refill_requested" || recs[1][11] != "2" {
		t.Fatalf("csv %v %v", recs, err)
	}
}

func TestAPIContactsAndOptOuts(t *testing.T) {
	t.Parallel()
	pool := seed(t)
	mux := http.NewServeMux()
	NewAPI(pool, nil).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string, v any) int {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v != nil {
			_ = json.NewDecoder(resp.Body).Decode(v)
		}
		return resp.StatusCode
	}
	var p Page
	if code := get("/api/v1/campaigns/refills/contacts?disposition=no_answer", &p); code != 200 || len(p.Contacts) != 1 {
		t.Fatalf("contacts: %d %+v", code, p)
	}
	if code := get("/api/v1/campaigns/nope/contacts", nil); code != 404 {
		t.Fatalf("unknown campaign: %d", code)
	}
	if code := get("/api/v1/campaigns/refills/contacts?day=yesterday", nil); code != 400 {
		t.Fatalf("bad day: %d", code)
	}
	post := func(body string) int {
		resp, err := http.Post(srv.URL+"/api/v1/optouts", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post(`{"phone": "(312) 555-0142", "patient_ref": "MRN-Z"}`); c != 201 {
		t.Fatalf("opt-out: %d", c)
	}
	if c := post(`{"phone": "+13125550142"}`); c != 200 {
		t.Fatalf("repeat opt-out: %d", c)
	}
	if c := post(`{"phone": "12"}`); c != 400 {
		t.Fatalf("bad number: %d", c)
	}
	var l struct{ Optouts []OptOutEntry }
	if code := get("/api/v1/optouts", &l); code != 200 || len(l.Optouts) != 1 || l.Optouts[0].Phone != "+13125550142" ||
		l.Optouts[0].Source != "api" {
		t.Fatalf("opt-outs: %d %+v", code, l)
	}
}

func TestImportOptOutsKeepsGoodRowsAndReportsBadLines(t *testing.T) {
	t.Parallel()
	pool := seed(t)
	in := "phone,patient_ref\n" +
		"312-555-0150,MRN-1\n" + // line 2 ok
		"not a number,MRN-2\n" + // line 3 bad number
		"312-555-0151,MRN-3,extra\n" + // line 4 more fields than the header
		"\n" +
		"+1 312 555 0150,MRN-1\n" + // line 6 same number again
		"312 555 0152,\n" // line 7 ok
	rep, err := ImportOptOuts(context.Background(), pool, strings.NewReader(in), "import")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 5 || rep.Added != 2 || rep.Existing != 1 || len(rep.Bad) != 2 ||
		rep.Bad[0].Line != 3 || rep.Bad[1].Line != 4 || !strings.Contains(rep.Bad[1].Msg, "3 fields, the header has 2") {
		t.Fatalf("report %+v", rep)
	}
	rep, err = ImportOptOuts(context.Background(), pool, strings.NewReader(in), "import")
	if err != nil || rep.Added != 0 || rep.Existing != 3 {
		t.Fatalf("re-import %+v %v", rep, err)
	}
	if _, err := ImportOptOuts(context.Background(), pool, strings.NewReader("number\n3125550150\n"), "import"); err == nil {
		t.Fatal("file without a phone column accepted")
	}
}
