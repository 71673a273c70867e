package dialer

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Control starts, pauses, resumes and stops campaigns and lists them, for the HTTP
// API and the CLI. State lives in Postgres, so every node's runners follow it.
type Control struct {
	pool      *pgxpool.Pool
	campaigns map[string]*Campaign
	now       func() time.Time
	log       *slog.Logger
	actor     func(*http.Request) string
}

// ControlOption configures NewControl.
type ControlOption func(*Control)

// WithControlClock sets the clock (for the 30-day abandon window).
func WithControlClock(now func() time.Time) ControlOption { return func(c *Control) { c.now = now } }

// WithControlLogger sets the logger.
func WithControlLogger(l *slog.Logger) ControlOption { return func(c *Control) { c.log = l } }

// WithActor names who made an HTTP request, for the campaigns.changed_by column
// (default "api").
func WithActor(f func(*http.Request) string) ControlOption { return func(c *Control) { c.actor = f } }

// NewControl returns a Control over the configured campaigns.
func NewControl(pool *pgxpool.Pool, campaigns map[string]*Campaign, opts ...ControlOption) *Control {
	c := &Control{pool: pool, campaigns: campaigns, now: time.Now, log: slog.New(slog.DiscardHandler),
		actor: func(*http.Request) string { return "api" }}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Action is a state change.
type Action string

// The actions.
const (
	ActionStart  Action = "start"
	ActionPause  Action = "pause"
	ActionResume Action = "resume"
	ActionStop   Action = "stop"
)

// Do applies an action to a configured campaign and returns the state before it.
func (c *Control) Do(ctx context.Context, name string, a Action, by string) (State, error) {
	camp, ok := c.campaigns[name]
	if !ok {
		return "", ErrUnknownCampaign
	}
	if err := EnsureCampaign(ctx, c.pool, camp); err != nil {
		return "", err
	}
	var prev State
	var err error
	switch a {
	case ActionStart:
		prev, err = Start(ctx, c.pool, name, by)
	case ActionPause:
		prev, err = Pause(ctx, c.pool, name, by)
	case ActionResume:
		prev, err = Resume(ctx, c.pool, name, by)
	case ActionStop:
		prev, err = Stop(ctx, c.pool, name, by)
	default:
		return "", ErrTransition
	}
	if err == nil {
		c.log.Info("dialer: campaign state changed", "campaign", name, "action", string(a), "from", string(prev), "by", by)
	}
	return prev, err
}

// CampaignStatus is one campaign in the list.
type CampaignStatus struct {
	Name         string        `json:"name"`
	Purpose      Purpose       `json:"purpose"`
	Pacing       Pacing        `json:"pacing"`
	State        State         `json:"state"`
	Contacts     ContactCounts `json:"contacts"`
	Live30d      int           `json:"live_answers_30d"`
	Abandoned30d int           `json:"abandoned_30d"`
	AbandonRate  float64       `json:"abandon_rate_30d"`
	AbandonUpper float64       `json:"abandon_rate_upper95"`
	Target       float64       `json:"abandon_target"`
}

// List returns every configured campaign with its state and counts, by name.
func (c *Control) List(ctx context.Context) ([]CampaignStatus, error) {
	names := make([]string, 0, len(c.campaigns))
	for n := range c.campaigns {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]CampaignStatus, 0, len(names))
	for _, n := range names {
		camp := c.campaigns[n]
		st := CampaignStatus{Name: n, Purpose: camp.Purpose, Pacing: camp.Pacing, State: Stopped, Target: camp.AbandonTarget}
		s, err := CampaignState(ctx, c.pool, n)
		switch {
		case errors.Is(err, ErrUnknownCampaign):
		case err != nil:
			return nil, err
		default:
			st.State = s
		}
		if st.Contacts, err = loadCounts(ctx, c.pool, n); err != nil {
			return nil, err
		}
		ab, err := LoadAbandonStats(ctx, c.pool, n, c.now())
		if err != nil {
			return nil, err
		}
		st.Live30d, st.Abandoned30d, st.AbandonRate, st.AbandonUpper = ab.Live, ab.Abandoned, ab.Ratio(), ab.Upper()
		out = append(out, st)
	}
	return out, nil
}

// Mux is where Register adds routes (*http.ServeMux, httpx.Server).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register adds the campaign API:
//
//	GET  /api/v1/campaigns
//	POST /api/v1/campaigns/{name}/start|pause|resume|stop
//
// Changes answer 200 {"campaign","state","previous"}; 404 for an unknown campaign;
// 409 with the current state when the change is not allowed (e.g. resume a stopped
// campaign). Mount it behind the operator API's authentication.
func (c *Control) Register(mux Mux) {
	mux.Handle("GET /api/v1/campaigns", http.HandlerFunc(c.list))
	for _, a := range []Action{ActionStart, ActionPause, ActionResume, ActionStop} {
		mux.Handle("POST /api/v1/campaigns/{name}/"+string(a), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.change(w, r, a)
		}))
	}
}

// Handler returns the API on its own mux.
func (c *Control) Handler() http.Handler {
	m := http.NewServeMux()
	c.Register(m)
	return m
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (c *Control) list(w http.ResponseWriter, r *http.Request) {
	l, err := c.List(r.Context())
	if err != nil {
		c.log.Error("dialer: list campaigns", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot read campaigns"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"campaigns": l})
}

func (c *Control) change(w http.ResponseWriter, r *http.Request, a Action) {
	name := r.PathValue("name")
	to := map[Action]State{ActionStart: Running, ActionPause: Paused, ActionResume: Running, ActionStop: Stopped}[a]
	prev, err := c.Do(r.Context(), name, a, c.actor(r))
	switch {
	case errors.Is(err, ErrUnknownCampaign):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown campaign", "campaign": name})
	case errors.Is(err, ErrTransition):
		writeJSON(w, http.StatusConflict, map[string]string{"error": "cannot " + string(a) + " a " + string(prev) + " campaign",
			"campaign": name, "state": string(prev)})
	case err != nil:
		c.log.Error("dialer: change campaign state", "campaign", name, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot change the campaign state"})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"campaign": name, "state": string(to), "previous": string(prev)})
	}
}
