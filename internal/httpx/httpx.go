// Package httpx serves careline's HTTP surface: /metrics, /healthz, /readyz and the
// operator API routes other packages register.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one component's readiness.
type Check struct {
	Ready    bool   `json:"ready"`
	Degraded bool   `json:"degraded,omitempty"`
	Status   string `json:"status"`
	Detail   any    `json:"detail,omitempty"`
}

// Checker reports a component's readiness; it must be fast and never block.
type Checker func() Check

// Server is the HTTP listener.
type Server struct {
	mux    *http.ServeMux
	log    *slog.Logger
	mu     sync.RWMutex
	checks map[string]Checker
	srv    *http.Server
	ln     net.Listener
}

// New builds a server exposing gatherer's metrics.
func New(gatherer prometheus.Gatherer, log *slog.Logger) *Server {
	s := &Server{mux: http.NewServeMux(), log: log, checks: map[string]Checker{}}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: slogAdapter{log}}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	return s
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Println(v ...any) { a.l.Error("metrics handler", "err", fmt.Sprint(v...)) }

// AddCheck registers a readiness component.
func (s *Server) AddCheck(name string, c Checker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// Handle registers an API route (Go 1.22 pattern syntax, e.g. "POST /api/v1/agents/{id}/ready").
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleFunc registers an API route function.
func (s *Server) HandleFunc(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }

// Readiness runs every check: ready only if all are ready; degraded if any is.
func (s *Server) Readiness() (ready bool, status string, comps map[string]Check) {
	s.mu.RLock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	s.mu.RUnlock()
	sort.Strings(names)
	ready, status, comps = true, "ready", map[string]Check{}
	for _, n := range names {
		s.mu.RLock()
		c := s.checks[n]()
		s.mu.RUnlock()
		comps[n] = c
		if !c.Ready {
			ready, status = false, "not ready"
		} else if c.Degraded && status == "ready" {
			status = "degraded"
		}
	}
	return ready, status, comps
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ready, status, comps := s.Readiness()
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	WriteJSON(w, code, map[string]any{"status": status, "components": comps})
}

// WriteJSON writes v as JSON with the status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Listen binds addr (port 0 allowed) and returns the bound address.
func (s *Server) Listen(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("httpx: listen %s: %w", addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: nil, BaseContext: func(net.Listener) context.Context { return context.Background() }}
	return ln.Addr().String(), nil
}

// Serve serves until Shutdown.
func (s *Server) Serve() error {
	if s.srv == nil {
		return errors.New("httpx: Serve before Listen")
	}
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("httpx: serve: %w", err)
	}
	return nil
}

// Shutdown stops the listener, letting requests in flight finish until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}
