package dialer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestControlHTTP(t *testing.T) {
	t.Parallel()
	pool := testDB(t)
	now := at(t, ny, "2026-06-10 10:00")
	c := testCampaign("refills", RefillReminder)
	other := testCampaign("appts", AppointmentConfirmation)
	if _, err := ImportWith(context.Background(), pool, c, strings.NewReader("patient_ref,phone,time_zone\nP1,"+phoneA+","+ny+"\n"),
		ImportOptions{Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	ctl := NewControl(pool, map[string]*Campaign{"refills": c, "appts": other}, WithControlClock(func() time.Time { return now }),
		WithActor(func(r *http.Request) string { return r.Header.Get("X-User") }))
	srv := httptest.NewServer(ctl.Handler())
	defer srv.Close()
	do := func(method, path string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		req.Header.Set("X-User", "ana")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	steps := []struct {
		method, path string
		code         int
		state        string
	}{
		{"POST", "/api/v1/campaigns/refills/resume", 409, "stopped"},
		{"POST", "/api/v1/campaigns/refills/start", 200, "running"},
		{"POST", "/api/v1/campaigns/refills/start", 200, "running"}, // already there: no error
		{"POST", "/api/v1/campaigns/refills/pause", 200, "paused"},
		{"POST", "/api/v1/campaigns/refills/start", 409, "paused"},
		{"POST", "/api/v1/campaigns/refills/resume", 200, "running"},
		{"POST", "/api/v1/campaigns/refills/stop", 200, "stopped"},
		{"POST", "/api/v1/campaigns/nope/start", 404, ""},
		{"GET", "/api/v1/campaigns/refills/start", 405, ""},
	}
	for _, s := range steps {
		code, body := do(s.method, s.path)
		if code != s.code || (s.state != "" && body["state"] != s.state) {
			t.Fatalf("%s %s: %d %v, want %d %s", s.method, s.path, code, body, s.code, s.state)
		}
	}
	var by string
	_ = pool.QueryRow(context.Background(), `SELECT changed_by FROM campaigns WHERE name = 'refills'`).Scan(&by)
	if by != "ana" {
		t.Fatalf("changed_by %q", by)
	}
	code, body := do("GET", "/api/v1/campaigns")
	if code != 200 {
		t.Fatalf("list: %d", code)
	}
	list := body["campaigns"].([]any)
	if len(list) != 2 {
		t.Fatalf("list %v", list)
	}
	first := list[0].(map[string]any) // sorted: appts, refills
	second := list[1].(map[string]any)
	if first["name"] != "appts" || first["state"] != "stopped" || second["name"] != "refills" ||
		second["contacts"].(map[string]any)["pending"].(float64) != 1 || second["abandon_target"].(float64) != 0.01 {
		t.Fatalf("list %v", list)
	}
}
