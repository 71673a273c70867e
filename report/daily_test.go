package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

const goldenCSV = "testdata/daily-2026-03-10.csv"

// runDaily seeds a fresh database with the seeded day and builds its report.
func runDaily(t *testing.T) *Report {
	t.Helper()
	pool := newDB(t)
	opts := seedDay(t, pool)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Daily(ctx, pool, testSite(t), opts)
	if err != nil {
		t.Fatalf("Daily: %v", err)
	}
	return r
}

// csvValues reads a report CSV into key → value (key: section/ids.../column, as the
// HTML data-cell attributes), checking that every record has the same width.
func csvValues(t *testing.T, data []byte) map[string]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll() // FieldsPerRecord: all rows as wide as the first
	if err != nil {
		t.Fatalf("csv does not parse as one rectangular table: %v", err)
	}
	ids := map[string][]string{"meta": nil, "queue": {"queue", "language"}, "agent": {"agent"}, "ivr": {"language"},
		"ivr_event": {"event", "language"}, "campaign": {"campaign"}, "campaign_disposition": {"campaign", "disposition"},
		"campaign_blocked": {"campaign", "reason"}}
	out := map[string]string{}
	var hdr []string
	for n, rec := range recs {
		if rec[0] == "section" {
			hdr = rec
			continue
		}
		if hdr == nil {
			t.Fatalf("record %d before any header", n+1)
		}
		idCols, ok := ids[rec[0]]
		if !ok {
			t.Fatalf("record %d: unknown section %q", n+1, rec[0])
		}
		col := map[string]string{}
		for i, h := range hdr[1:] {
			if h != "" {
				col[h] = rec[i+1]
			}
		}
		key := rec[0]
		for _, c := range idCols {
			key += "/" + col[c]
		}
		for h, v := range col {
			out[key+"/"+h] = v
		}
	}
	return out
}

func TestDailyCSVSeededDay(t *testing.T) {
	t.Parallel()
	r := runDaily(t)
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(goldenCSV)
	if err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != string(want) {
		g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(g), len(w)); i++ {
			var gl, wl string
			if i < len(g) {
				gl = g[i]
			}
			if i < len(w) {
				wl = w[i]
			}
			if gl != wl {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, gl, wl)
			}
		}
		t.Fatalf("CSV differs from %s (worked out by hand from seedDay)", goldenCSV)
	}

	// Invariants on every queue row, and no PHI anywhere.
	vals := csvValues(t, buf.Bytes())
	num := func(k string) int {
		n, err := strconv.Atoi(vals[k])
		if err != nil {
			t.Fatalf("%s = %q", k, vals[k])
		}
		return n
	}
	for _, q := range r.Queues {
		p := "queue/" + q.Queue + "/" + q.Language + "/"
		sum := num(p+"answered") + num(p+"abandoned") + num(p+"overflowed") + num(p+"callbacks") + num(p+"unresolved")
		if sum != num(p+"offered") {
			t.Errorf("%s: outcomes add up to %d, offered %d", p, sum, num(p+"offered"))
		}
	}
	for _, phi := range plantedPHI {
		if strings.Contains(buf.String(), phi) {
			t.Errorf("CSV contains PHI %q", phi)
		}
	}
}

func TestDailyEmptyDay(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	site := testSite(t)
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, site.Location) // the day is not over
	r, err := Daily(ctx, pool, site, DailyOptions{Date: seededDay, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if r.Complete() {
		t.Error("a report run at noon says the day is complete")
	}
	var c, h bytes.Buffer
	if err := r.WriteCSV(&c); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	vals := csvValues(t, c.Bytes())
	for k, want := range map[string]string{
		"meta/complete":                        "false",
		"queue/nurse/es/offered":               "0",
		"queue/nurse/es/service_level":         "",
		"queue/all/all/asa_s":                  "",
		"agent/a1/occupancy":                   "",
		"agent/a1/staffed_s":                   "0",
		"ivr/all/ivr_calls":                    "0",
		"ivr_event/refill.requested/all/count": "0",
		"campaign/refills/abandon_rate":        "",
		"campaign/appointments/attempts":       "0",
	} {
		if got, ok := vals[k]; !ok || got != want {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, want)
		}
	}
	if !strings.Contains(h.String(), "figures are partial") {
		t.Error("HTML of an unfinished day does not say the figures are partial")
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		got, want string
	}{
		{fmtMillis(0), "0"}, {fmtMillis(1), "0.001"}, {fmtMillis(1500), "1.5"}, {fmtMillis(60000), "60"},
		{fmtMillis(-2500), "-2.5"}, {avgDur(2340*time.Second, 7), "334.286"}, {avgDur(time.Second, 0), ""},
		{avgDur(1*time.Millisecond, 2), "0.001"}, // half up
		{ratio(2, 3), "0.6667"}, {ratio(1, 3), "0.3333"}, {ratio(3, 3), "1"}, {ratio(0, 5), "0"}, {ratio(1, 0), ""},
		{ratio(1, 8), "0.125"}, {ratio(1, 20000), "0.0001"}, {ratio(1, 20001), "0"},
		{show(kSeconds, "334.286"), "5:34"}, {show(kSeconds, "3725"), "1:02:05"}, {show(kRatio, "0.6667"), "66.7 %"},
		{show(kRatio, ""), "–"}, {spreadsheetSafe("=HYPERLINK(1)"), "'=HYPERLINK(1)"}, {spreadsheetSafe("a-b"), "a-b"},
		{spreadsheetSafe("-x"), "'-x"}, {spreadsheetSafe(""), ""},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
