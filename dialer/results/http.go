package results

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/careline/careline/dialer"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Mux is where Register adds routes.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// API serves the results routes. Mount it behind the operator API's authentication
// (supervisors and admins).
type API struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

// NewAPI builds the API over pool.
func NewAPI(pool *pgxpool.Pool, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{pool: pool, log: log}
}

// Register adds:
//
//	GET  /api/v1/campaigns/{name}/contacts?disposition=&day=YYYY-MM-DD&limit=&cursor=
//	     {"contacts": [...], "next_cursor": "..."}; 404 for an unknown campaign
//	GET  /api/v1/optouts?after=PHONE&limit=     {"optouts": [...]}
//	POST /api/v1/optouts  {"phone": "...", "patient_ref": "..."}  201 new, 200 existing, 400 bad number
func (a *API) Register(mux Mux) {
	mux.Handle("GET /api/v1/campaigns/{name}/contacts", http.HandlerFunc(a.contacts))
	mux.Handle("GET /api/v1/optouts", http.HandlerFunc(a.listOptOuts))
	mux.Handle("POST /api/v1/optouts", http.HandlerFunc(a.addOptOut))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *API) contacts(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var exists bool
	if err := a.pool.QueryRow(r.Context(), `SELECT EXISTS (SELECT 1 FROM campaigns WHERE name = $1)`, name).Scan(&exists); err != nil {
		a.log.Error("results: campaign lookup", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot read campaigns"})
		return
	}
	if !exists {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown campaign", "campaign": name})
		return
	}
	q := r.URL.Query()
	f := Filter{Disposition: q.Get("disposition"), Day: q.Get("day"), Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be 1 to 1000"})
			return
		}
		f.Limit = n
	}
	p, err := Contacts(r.Context(), a.pool, name, f)
	switch {
	case errors.Is(err, ErrBadFilter):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case err != nil:
		a.log.Error("results: contacts", "campaign", name, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot read contacts"})
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

func (a *API) listOptOuts(w http.ResponseWriter, r *http.Request) {
	limit := 1000
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be 1 to 1000"})
			return
		}
		limit = n
	}
	l, err := OptOuts(r.Context(), a.pool, r.URL.Query().Get("after"), limit)
	if err != nil {
		a.log.Error("results: opt-outs", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot read opt-outs"})
		return
	}
	if l == nil {
		l = []OptOutEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"optouts": l})
}

func (a *API) addOptOut(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Phone      string `json:"phone"`
		PatientRef string `json:"patient_ref"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `send {"phone": "...", "patient_ref": "..."}`})
		return
	}
	e164, added, err := AddOptOut(r.Context(), a.pool, in.Phone, in.PatientRef, "api")
	switch {
	case errors.Is(err, dialer.ErrBadPhone):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case err != nil:
		a.log.Error("results: add opt-out", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot record the opt-out"})
	case added:
		writeJSON(w, http.StatusCreated, map[string]any{"phone": e164, "added": true})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"phone": e164, "added": false})
	}
}
