package recordings

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/google/uuid"
)

// Registrar is where API routes go (*http.ServeMux, *httpx.Server).
type Registrar interface {
	Handle(pattern string, h http.Handler)
}

// API serves the recordings HTTP endpoints:
//
//	GET    /api/v1/recordings/{id}                           audio/wav    supervisor, auditor
//	POST   /api/v1/recordings/active/{interaction}/pause     204          supervisor, agent
//	POST   /api/v1/recordings/active/{interaction}/resume    204          supervisor, agent
//	PUT    /api/v1/recordings/{id}/legal_hold?reason=...     204          admin, auditor
//	DELETE /api/v1/recordings/{id}/legal_hold                204          admin, auditor
//
// Every request needs "Authorization: Bearer <token>". A missing, unknown or expired
// token gets a bare 401 and a security log line (remote address and reason, never the
// token); a role that may not do something gets 403 (audited for recordings).
type API struct {
	s    *Store
	auth *Authenticator
	log  *slog.Logger
}

// NewAPI returns the API over s, authenticating with auth.
func NewAPI(s *Store, auth *Authenticator) *API {
	return &API{s: s, auth: auth, log: s.log.With("component", "recordings-api")}
}

// Register adds the routes to mux.
func (a *API) Register(mux Registrar) {
	mux.Handle("GET /api/v1/recordings/{id}", http.HandlerFunc(a.get))
	mux.Handle("POST /api/v1/recordings/active/{interaction}/pause", a.pauseHandler(true))
	mux.Handle("POST /api/v1/recordings/active/{interaction}/resume", a.pauseHandler(false))
	mux.Handle("PUT /api/v1/recordings/{id}/legal_hold", a.holdHandler(true))
	mux.Handle("DELETE /api/v1/recordings/{id}/legal_hold", a.holdHandler(false))
}

// Handler returns the routes as one http.Handler.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	a.Register(mux)
	return mux
}

func writeError(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": http.StatusText(code)})
}

// authenticate returns the user or answers 401 and logs a security event.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (User, bool) {
	u, err := a.auth.Authenticate(r)
	if err == nil {
		return u, true
	}
	reason := "unknown_token"
	switch {
	case errors.Is(err, errNoToken):
		reason = "no_token"
	case errors.Is(err, errExpiredToken):
		reason = "expired_token"
	}
	attrs := []any{"event", "auth_failed", "reason", reason, "remote", r.RemoteAddr, "method", r.Method, "route", r.Pattern}
	if reason == "expired_token" {
		attrs = append(attrs, "user", u.ID)
	}
	a.log.Warn("security: recordings API authentication failed", attrs...)
	a.s.m.accessed("", "unauthenticated")
	w.Header().Set("WWW-Authenticate", `Bearer realm="careline"`)
	writeError(w, http.StatusUnauthorized)
	return User{}, false
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	u, ok := a.authenticate(w, r)
	if !ok {
		return
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound)
		return
	}
	opts := AccessOptions{Actor: u.ID, Role: u.Role, Remote: r.RemoteAddr, Action: ActionPlay, Purpose: trimPurpose(r.URL.Query().Get("purpose"))}
	if u.Role != RoleSupervisor && u.Role != RoleAuditor {
		opts.Role = u.Role
		a.deny(r, id, opts)
		writeError(w, http.StatusForbidden)
		return
	}
	pb, err := a.s.Open(r.Context(), id, opts)
	if err != nil {
		writeError(w, statusOf(err))
		return
	}
	// The granted audit row is committed and the file authenticated: stream it.
	h := w.Header()
	h.Set("Content-Type", "audio/wav")
	h.Set("Content-Length", strconv.FormatInt(pb.Size(), 10))
	h.Set("Content-Disposition", `attachment; filename="`+id.String()+`.wav"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, cerr := io.Copy(w, pb)
	_ = pb.Close()
	if cerr != nil {
		// Tampering found mid-stream (or the client left): abort the connection so the
		// client sees a broken response, never a short file that looks whole.
		panic(http.ErrAbortHandler)
	}
}

// deny audits a refused access by an authenticated user.
func (a *API) deny(r *http.Request, id uuid.UUID, opts AccessOptions) {
	a.s.m.accessed(opts.Role, OutcomeDenied)
	e := AuditEntry{Actor: opts.Actor, Role: opts.Role, RecordingID: id, Action: opts.Action, Outcome: OutcomeDenied, Remote: opts.Remote}
	if err := a.s.audit(r.Context(), e); err != nil {
		a.log.Error("recordings: audit row not written", "recording", id, "err", err)
	}
	a.log.Warn("security: recording access denied", "event", "access_denied", "user", opts.Actor, "role", opts.Role,
		"recording", id, "remote", opts.Remote)
}

func trimPurpose(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrDenied):
		return http.StatusForbidden
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrDeleted):
		return http.StatusGone
	case errors.Is(err, ErrInProgress), errors.Is(err, ErrLegalHold):
		return http.StatusConflict
	case errors.Is(err, ErrAudit):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (a *API) pauseHandler(pause bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.authenticate(w, r)
		if !ok {
			return
		}
		if u.Role != RoleSupervisor && u.Role != RoleAgent {
			a.log.Warn("security: recording pause/resume denied", "event", "access_denied", "user", u.ID, "role", u.Role, "remote", r.RemoteAddr)
			writeError(w, http.StatusForbidden)
			return
		}
		iid, err := uuid.Parse(r.PathValue("interaction"))
		if err != nil {
			writeError(w, http.StatusNotFound)
			return
		}
		rec, ok := a.s.Active(iid)
		if !ok {
			writeError(w, http.StatusNotFound)
			return
		}
		if pause {
			err = rec.Pause(u.ID)
		} else {
			err = rec.Resume(u.ID)
		}
		if err != nil {
			writeError(w, http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (a *API) holdHandler(hold bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.authenticate(w, r)
		if !ok {
			return
		}
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			writeError(w, http.StatusNotFound)
			return
		}
		if u.Role != RoleAdmin && u.Role != RoleAuditor {
			action := ActionLegalHoldClear
			if hold {
				action = ActionLegalHoldSet
			}
			a.deny(r, id, AccessOptions{Actor: u.ID, Role: u.Role, Remote: r.RemoteAddr, Action: action})
			writeError(w, http.StatusForbidden)
			return
		}
		err = a.s.SetLegalHold(r.Context(), id, hold, HoldOptions{Actor: u.ID, Role: u.Role, Reason: trimPurpose(r.URL.Query().Get("reason"))})
		if err != nil {
			writeError(w, statusOf(err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
