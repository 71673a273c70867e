package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/careline/careline/internal/httpx"
)

// Principal is who an API request acts as.
type Principal struct {
	Subject    string // names the token holder in logs; never a secret
	AgentID    string // an agent's own token: it may act only on this agent
	Supervisor bool   // may act on every agent
}

// Authenticator checks a bearer token; any error means 401.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, token string) (Principal, error)

// Authenticate implements Authenticator.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, token string) (Principal, error) {
	return f(ctx, token)
}

// Mux is where the handlers are mounted: *httpx.Server or *http.ServeMux.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Mount registers the agent and queue API on m:
//
//	GET  /api/v1/agents                   every agent's state
//	GET  /api/v1/agents/{id}              one agent
//	POST /api/v1/agents/{id}/login
//	POST /api/v1/agents/{id}/ready
//	POST /api/v1/agents/{id}/away         {"reason": "break"}
//	POST /api/v1/agents/{id}/logout
//	POST /api/v1/agents/{id}/disposition  {"code": "resolved"} or {"digits": "1"}
//	GET  /api/v1/queues                   every queue's summary
//
// Every request needs "Authorization: Bearer <token>" accepted by auth. An agent's
// token acts only on that agent; a supervisor's on any. POSTs answer with the agent's
// new state. Errors are {"error": "...", "code": "..."} with 401, 403, 404, 409
// (illegal transition, no call), 422 (bad reason or disposition), 503 (not running).
func (r *Router) Mount(m Mux, auth Authenticator) {
	a := &api{r: r, auth: auth}
	m.Handle("GET /api/v1/agents", a.handle(false, a.listAgents))
	m.Handle("GET /api/v1/agents/{id}", a.handle(true, a.getAgent))
	m.Handle("POST /api/v1/agents/{id}/login", a.handle(true, a.simple(r.Login)))
	m.Handle("POST /api/v1/agents/{id}/ready", a.handle(true, a.simple(r.Ready)))
	m.Handle("POST /api/v1/agents/{id}/logout", a.handle(true, a.simple(r.Logout)))
	m.Handle("POST /api/v1/agents/{id}/away", a.handle(true, a.away))
	m.Handle("POST /api/v1/agents/{id}/disposition", a.handle(true, a.disposition))
	m.Handle("GET /api/v1/queues", a.handle(false, a.queues))
}

type api struct {
	r    *Router
	auth Authenticator
}

type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	httpx.WriteJSON(w, status, apiError{Error: msg, Code: code})
}

// handle authenticates, authorises (perAgent: the {id} in the path) and runs h.
func (a *api) handle(perAgent bool, h func(w http.ResponseWriter, req *http.Request, id string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="careline"`)
			fail(w, http.StatusUnauthorized, "unauthenticated", "bearer token required")
			return
		}
		p, err := a.auth.Authenticate(req.Context(), strings.TrimSpace(token))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="careline", error="invalid_token"`)
			fail(w, http.StatusUnauthorized, "unauthenticated", "invalid token")
			return
		}
		id := ""
		if perAgent {
			id = req.PathValue("id")
			if a.r.spec.agents[id] == nil {
				fail(w, http.StatusNotFound, "unknown_agent", "no such agent")
				return
			}
			if !p.Supervisor && p.AgentID != id {
				fail(w, http.StatusForbidden, "forbidden", "this token may not act on that agent")
				return
			}
		} else if !p.Supervisor && p.AgentID == "" {
			fail(w, http.StatusForbidden, "forbidden", "no agent or supervisor rights")
			return
		}
		h(w, req, id)
	})
}

// reply writes the agent's state after a successful call, or maps err to a status.
func (a *api) reply(w http.ResponseWriter, req *http.Request, id string, err error) {
	if err != nil {
		var te *TransitionError
		switch {
		case errors.As(err, &te):
			fail(w, http.StatusConflict, "illegal_transition", fmt.Sprintf("cannot go from %s to %s", te.From, te.To))
		case errors.Is(err, ErrUnknownAgent):
			fail(w, http.StatusNotFound, "unknown_agent", "no such agent")
		case errors.Is(err, ErrNoCall):
			fail(w, http.StatusConflict, "no_call", "the agent has no call to disposition")
		case errors.Is(err, ErrBadReason):
			fail(w, http.StatusUnprocessableEntity, "bad_reason", "reason not allowed; use one of: "+strings.Join(sortedSet(a.r.spec.awayReasons), ", "))
		case errors.Is(err, ErrUnknownDisposition):
			fail(w, http.StatusUnprocessableEntity, "unknown_disposition", "unknown disposition")
		case errors.Is(err, ErrStopped), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			fail(w, http.StatusServiceUnavailable, "unavailable", "routing is not running")
		default:
			a.r.log.Error("agent API", "path", req.URL.Path, "err", err)
			fail(w, http.StatusInternalServerError, "internal", "internal error")
		}
		return
	}
	st, err := a.r.Agent(req.Context(), id)
	if err != nil {
		a.reply(w, req, id, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, st)
}

func (a *api) simple(f func(context.Context, string) error) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, req *http.Request, id string) {
		a.reply(w, req, id, f(req.Context(), id))
	}
}

func decodeBody(w http.ResponseWriter, req *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fail(w, http.StatusBadRequest, "bad_request", "body must be a small JSON object with known fields")
		return false
	}
	return true
}

func (a *api) away(w http.ResponseWriter, req *http.Request, id string) {
	var body struct {
		Reason string `json:"reason"`
	}
	if !decodeBody(w, req, &body) {
		return
	}
	a.reply(w, req, id, a.r.Away(req.Context(), id, body.Reason))
}

func (a *api) disposition(w http.ResponseWriter, req *http.Request, id string) {
	var body struct {
		Code   string `json:"code"`
		Digits string `json:"digits"`
	}
	if !decodeBody(w, req, &body) {
		return
	}
	var err error
	switch {
	case body.Code != "" && body.Digits == "":
		err = a.r.Disposition(req.Context(), id, body.Code)
	case body.Digits != "" && body.Code == "":
		_, err = a.r.DispositionDigits(req.Context(), id, body.Digits)
	default:
		fail(w, http.StatusBadRequest, "bad_request", `give exactly one of "code" and "digits"`)
		return
	}
	a.reply(w, req, id, err)
}

func (a *api) listAgents(w http.ResponseWriter, req *http.Request, _ string) {
	st, err := a.r.Agents(req.Context())
	if err != nil {
		a.reply(w, req, "", err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"agents": st})
}

func (a *api) getAgent(w http.ResponseWriter, req *http.Request, id string) {
	a.reply(w, req, id, nil)
}

func (a *api) queues(w http.ResponseWriter, req *http.Request, _ string) {
	qs, err := a.r.Queues(req.Context())
	if err != nil {
		a.reply(w, req, "", err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"queues": qs})
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
