package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/careline/careline/internal/logx"
	"github.com/prometheus/client_golang/prometheus"
)

func TestReadyzDegradedStillReady(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "careline_test_total", Help: "x"})
	reg.MustRegister(c)
	s := New(reg, logx.Discard())
	s.AddCheck("config", func() Check { return Check{Ready: true, Status: "loaded"} })
	s.AddCheck("interaction_log", func() Check {
		return Check{Ready: true, Degraded: true, Status: "postgres down; events kept in outbox"}
	})
	rr := httptest.NewRecorder()
	s.mux.ServeHTTP(rr, httptest.NewRequest("GET", "/readyz", nil))
	var body struct {
		Status     string
		Components map[string]Check
	}
	json.Unmarshal(rr.Body.Bytes(), &body)
	if rr.Code != http.StatusOK || body.Status != "degraded" || !strings.Contains(body.Components["interaction_log"].Status, "postgres down") {
		t.Fatalf("readyz %d %s", rr.Code, rr.Body)
	}
	s.AddCheck("interaction_log", func() Check { return Check{Ready: false, Status: "outbox not writable"} })
	rr = httptest.NewRecorder()
	s.mux.ServeHTTP(rr, httptest.NewRequest("GET", "/readyz", nil))
	if rr.Code != http.StatusServiceUnavailable {
		t.Fatalf("want 503, got %d", rr.Code)
	}
	rr = httptest.NewRecorder()
	s.mux.ServeHTTP(rr, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rr.Body.String(), "careline_test_total 0") {
		t.Fatalf("metrics: %s", rr.Body)
	}
}
