package routing_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/careline/careline/routing"
)

func apiMux(h *harness) *http.ServeMux {
	mux := http.NewServeMux()
	h.r.Mount(mux, routing.AuthenticatorFunc(func(_ context.Context, tok string) (routing.Principal, error) {
		switch tok {
		case "sup":
			return routing.Principal{Subject: "sup", Supervisor: true}, nil
		case "tok-a1":
			return routing.Principal{Subject: "a1", AgentID: "a1"}, nil
		case "nobody":
			return routing.Principal{Subject: "nobody"}, nil
		}
		return routing.Principal{}, errors.New("bad token")
	}))
	return mux
}

func TestHTTPAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators)
	mux := apiMux(h)
	call := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: %d %q", method, path, rec.Code, rec.Body.String())
		}
		return rec.Code, out
	}
	cases := []struct {
		method, path, token, body string
		status                    int
		check                     func(map[string]any) bool
	}{
		{"GET", "/api/v1/agents", "", "", 401, nil},
		{"GET", "/api/v1/agents", "wrong", "", 401, nil},
		{"GET", "/api/v1/agents", "nobody", "", 403, nil},
		{"POST", "/api/v1/agents/a2/login", "tok-a1", "", 403, nil},
		{"POST", "/api/v1/agents/zz/login", "sup", "", 404, nil},
		{"POST", "/api/v1/agents/a1/ready", "tok-a1", "", 409, func(m map[string]any) bool { return m["code"] == "illegal_transition" }},
		{"POST", "/api/v1/agents/a1/login", "tok-a1", "", 200, func(m map[string]any) bool { return m["state"] == "ready" && m["id"] == "a1" }},
		{"POST", "/api/v1/agents/a1/away", "tok-a1", `{"reason":"lunch"}`, 200, func(m map[string]any) bool { return m["state"] == "away" && m["reason"] == "lunch" }},
		{"POST", "/api/v1/agents/a1/away", "tok-a1", `{"reason":"rona"}`, 422, func(m map[string]any) bool { return m["code"] == "bad_reason" }},
		{"POST", "/api/v1/agents/a1/away", "tok-a1", `{"why":"x"}`, 400, nil},
		{"POST", "/api/v1/agents/a1/ready", "sup", "", 200, func(m map[string]any) bool { return m["state"] == "ready" }},
		{"POST", "/api/v1/agents/a1/disposition", "tok-a1", `{"code":"resolved"}`, 409, func(m map[string]any) bool { return m["code"] == "no_call" }},
		{"POST", "/api/v1/agents/a1/disposition", "tok-a1", `{"code":"resolved","digits":"1"}`, 400, nil},
		{"GET", "/api/v1/agents/a1", "tok-a1", "", 200, func(m map[string]any) bool {
			return m["name"] == "Agent a1" && m["sip_user"] == "1001" && m["skills"].(map[string]any)["coordinator"] == 3.0
		}},
		{"GET", "/api/v1/agents", "tok-a1", "", 200, func(m map[string]any) bool { return len(m["agents"].([]any)) == 2 }},
		{"GET", "/api/v1/queues", "sup", "", 200, func(m map[string]any) bool {
			qs := m["queues"].([]any)
			q := qs[0].(map[string]any)
			return len(qs) == 3 && q["name"] == "coord" && q["max_wait"] == 300.0 && q["callback"] == true &&
				q["agents_ready"] == 1.0 && q["overflow"] == "callback"
		}},
		{"POST", "/api/v1/agents/a1/logout", "tok-a1", "", 200, func(m map[string]any) bool { return m["state"] == "logged_out" }},
	}
	for _, tc := range cases {
		code, body := call(tc.method, tc.path, tc.token, tc.body)
		if code != tc.status || (tc.check != nil && !tc.check(body)) {
			t.Errorf("%s %s (%s): %d %v, want %d", tc.method, tc.path, tc.token, code, body, tc.status)
		}
	}
	// Disposition over HTTP during wrap-up.
	h.login("a2")
	c := h.enqueue("coord")
	h.expectOffer("a2", c).answer()
	until[routing.Connected](t, c)
	if err := c.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	if code, body := call("POST", "/api/v1/agents/a2/disposition", "sup", `{"digits":"1"}`); code != 200 || body["state"] != "wrap_up" {
		t.Fatalf("disposition: %d %v", code, body)
	}
	if code, body := call("POST", "/api/v1/agents/a2/disposition", "sup", `{"code":"nope"}`); code != 422 {
		t.Fatalf("bad disposition: %d %v", code, body)
	}
	if ev := h.events.Match("agent.disposition", map[string]any{"agent": "a2", "disposition": "resolved"}); len(ev) != 1 {
		t.Fatalf("disposition events %v", ev)
	}
}
