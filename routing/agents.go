package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// The agent API: SIP feature codes (through the call glue) and the HTTP handlers both
// call these. Repeating a request that is already satisfied (ready when ready, login
// when logged in) is not an error. Refused transitions return a *TransitionError
// (errors.Is ErrIllegalTransition).

// agentLegal lists the transitions an agent may ask for (a subset of legal: offered
// and on_call are left only by the Router).
var agentLegal = map[State]map[State]bool{
	Ready:     {Away: true, LoggedOut: true},
	WrapUp:    {Ready: true, Away: true, LoggedOut: true},
	Away:      {Ready: true, Away: true, LoggedOut: true},
	LoggedOut: {},
}

func checkAgentTransition(id string, from, to State) error {
	if agentLegal[from][to] {
		return nil
	}
	return &TransitionError{Agent: id, From: from, To: to}
}

func (r *Router) agentOp(ctx context.Context, id string, f func(rc context.Context, a *agentSpec, now time.Time) error) error {
	a := r.spec.agents[id]
	if a == nil {
		return fmt.Errorf("%w: %s", ErrUnknownAgent, id)
	}
	return r.do(ctx, func(rc context.Context) error { return f(rc, a, r.clock.Now()) })
}

// Login logs an agent in; it becomes ready.
func (r *Router) Login(ctx context.Context, id string) error {
	return r.agentOp(ctx, id, func(rc context.Context, a *agentSpec, now time.Time) error {
		_, _, err := r.update(rc, id, now, func(cur AgentRecord, next *AgentRecord) error {
			if cur.State != LoggedOut {
				return errNoChange
			}
			toReady(next, now, "login", true)
			return nil
		})
		return err
	})
}

// Ready makes an agent available: from away, or from wrap-up (ending it early).
func (r *Router) Ready(ctx context.Context, id string) error {
	return r.agentOp(ctx, id, func(rc context.Context, a *agentSpec, now time.Time) error {
		_, _, err := r.update(rc, id, now, func(cur AgentRecord, next *AgentRecord) error {
			if cur.State == Ready {
				return errNoChange
			}
			if err := checkAgentTransition(id, cur.State, Ready); err != nil {
				return err
			}
			toReady(next, now, "agent", true)
			return nil
		})
		return err
	})
}

// Away makes an agent unavailable with a configured reason (break, lunch, ...). An
// agent being offered a call or on a call cannot go away.
func (r *Router) Away(ctx context.Context, id, reason string) error {
	if !r.spec.awayReasons[reason] {
		return fmt.Errorf("%w: %q", ErrBadReason, reason)
	}
	return r.agentOp(ctx, id, func(rc context.Context, a *agentSpec, now time.Time) error {
		_, _, err := r.update(rc, id, now, func(cur AgentRecord, next *AgentRecord) error {
			if cur.State == Away && cur.Reason == reason {
				return errNoChange
			}
			if err := checkAgentTransition(id, cur.State, Away); err != nil {
				return err
			}
			next.State, next.Reason, next.Since = Away, reason, now
			next.Call, next.Queue, next.Node, next.Until = "", "", "", time.Time{}
			return nil
		})
		return err
	})
}

// Logout logs an agent out (not while offered or on a call).
func (r *Router) Logout(ctx context.Context, id string) error {
	return r.agentOp(ctx, id, func(rc context.Context, a *agentSpec, now time.Time) error {
		_, _, err := r.update(rc, id, now, func(cur AgentRecord, next *AgentRecord) error {
			if cur.State == LoggedOut {
				return errNoChange
			}
			if err := checkAgentTransition(id, cur.State, LoggedOut); err != nil {
				return err
			}
			next.State, next.Reason, next.Since = LoggedOut, "logout", now
			next.Call, next.Queue, next.Node, next.Until = "", "", "", time.Time{}
			return nil
		})
		return err
	})
}

// Disposition records a disposition (by name) for the agent's current call, during
// the call or its wrap-up. The name must be one of the queue's dispositions.
func (r *Router) Disposition(ctx context.Context, id, name string) error {
	return r.agentOp(ctx, id, func(rc context.Context, a *agentSpec, now time.Time) error {
		_, err := r.dispose(rc, id, now, func(q *queueSpec) (string, error) {
			if q != nil && len(q.dispNames) > 0 && !q.dispNames[name] {
				return "", fmt.Errorf("%w: %q", ErrUnknownDisposition, name)
			}
			return name, nil
		})
		return err
	})
}

// DispositionDigits records the disposition an agent keyed in as DTMF digits (mapped by
// the queue's dispositions) and returns its name. Digits never reach logs.
func (r *Router) DispositionDigits(ctx context.Context, id, digits string) (string, error) {
	var name string
	err := r.agentOp(ctx, id, func(rc context.Context, a *agentSpec, now time.Time) error {
		var err error
		name, err = r.dispose(rc, id, now, func(q *queueSpec) (string, error) {
			if q == nil || q.dispositions[digits] == "" {
				return "", ErrUnknownDisposition
			}
			return q.dispositions[digits], nil
		})
		return err
	})
	return name, err
}

func (r *Router) dispose(ctx context.Context, id string, now time.Time, pick func(*queueSpec) (string, error)) (string, error) {
	cur, err := r.store.Agent(ctx, id)
	if err != nil {
		return "", err
	}
	if (cur.State != OnCall && cur.State != WrapUp) || cur.Call == "" {
		return "", fmt.Errorf("%w: agent %s is %s", ErrNoCall, id, cur.State)
	}
	name, err := pick(r.spec.queues[cur.Queue])
	if err != nil {
		return "", err
	}
	iid, _ := uuid.Parse(cur.Call)
	r.emit(iid, "agent.disposition", now, map[string]any{"agent": id, "queue": cur.Queue, "disposition": name},
		&store.InteractionPatch{Disposition: name, AgentID: id})
	return name, nil
}

// AgentStatus is an agent's configuration and current state.
type AgentStatus struct {
	AgentInfo
	Skills    map[string]int `json:"skills"`
	Languages []string       `json:"languages"`
	State     State          `json:"state"`
	Reason    string         `json:"reason,omitempty"`
	Since     time.Time      `json:"since"`
	Queue     string         `json:"queue,omitempty"`
	Call      string         `json:"call,omitempty"`
	Until     *time.Time     `json:"until,omitempty"`
}

func (r *Router) status(rec AgentRecord) AgentStatus {
	a := r.spec.agents[rec.ID]
	st := AgentStatus{AgentInfo: a.info, Skills: a.skills, State: rec.State, Reason: rec.Reason, Since: rec.Since,
		Queue: rec.Queue, Call: rec.Call}
	for l := range a.langs {
		st.Languages = append(st.Languages, l)
	}
	slices.Sort(st.Languages)
	if !rec.Until.IsZero() {
		u := rec.Until
		st.Until = &u
	}
	return st
}

// Agents returns every configured agent's state, ordered by id (read from the shared
// store: it reflects every node).
func (r *Router) Agents(ctx context.Context) ([]AgentStatus, error) {
	recs, err := r.store.Agents(ctx)
	if err != nil {
		return nil, fmt.Errorf("routing: agents: %w", err)
	}
	var out []AgentStatus
	for _, rec := range recs {
		if r.spec.agents[rec.ID] != nil {
			out = append(out, r.status(rec))
		}
	}
	return out, nil
}

// Agent returns one agent's state.
func (r *Router) Agent(ctx context.Context, id string) (AgentStatus, error) {
	if r.spec.agents[id] == nil {
		return AgentStatus{}, fmt.Errorf("%w: %s", ErrUnknownAgent, id)
	}
	rec, err := r.store.Agent(ctx, id)
	if err != nil {
		return AgentStatus{}, err
	}
	return r.status(rec), nil
}

// QueueStatus summarises a queue.
type QueueStatus struct {
	Name         string        `json:"name"`
	Display      string        `json:"display"`
	Priority     string        `json:"priority"`
	Waiting      int           `json:"waiting"`        // places in line, all nodes, callbacks included
	Callbacks    int           `json:"callbacks"`      // of which callbacks
	WaitingHere  int           `json:"waiting_here"`   // live callers on this node
	OldestWait   time.Duration `json:"oldest_wait"`    // on this node
	AgentsReady  int           `json:"agents_ready"`   // ready agents holding the base skills
	AgentsStaff  int           `json:"agents_staffed"` // logged in and not away
	ServiceLevel time.Duration `json:"-"`
	MaxWait      time.Duration `json:"-"`
	Overflow     string        `json:"overflow"`
	Callback     bool          `json:"callback"`
	Estimate     Estimate      `json:"estimate"` // for a caller joining now
}

// MarshalJSON writes durations in seconds.
func (q QueueStatus) MarshalJSON() ([]byte, error) {
	type plain QueueStatus
	return json.Marshal(struct {
		plain
		OldestWait   float64 `json:"oldest_wait"`
		ServiceLevel float64 `json:"service_level"`
		MaxWait      float64 `json:"max_wait"`
	}{plain(q), q.OldestWait.Seconds(), q.ServiceLevel.Seconds(), q.MaxWait.Seconds()})
}

// Queues summarises every queue, ordered by name.
func (r *Router) Queues(ctx context.Context) ([]QueueStatus, error) {
	var out []QueueStatus
	err := r.do(ctx, func(rc context.Context) error {
		now := r.clock.Now()
		for _, name := range r.spec.queueNames {
			q := r.spec.queues[name]
			es, err := r.store.Entries(rc, name, now)
			if err != nil {
				return fmt.Errorf("routing: queue %s: %w", name, err)
			}
			st := QueueStatus{Name: name, Display: q.display, Priority: "normal", Waiting: len(es), ServiceLevel: q.serviceLevel,
				MaxWait: q.maxWait, Overflow: q.overflow.String(), Callback: q.callback != nil}
			if q.priority > 0 {
				st.Priority = "urgent"
			}
			for _, e := range es {
				if e.Callback {
					st.Callbacks++
				}
			}
			for _, w := range r.waiting {
				if w.q == q && w.cb == nil {
					st.WaitingHere++
					st.OldestWait = max(st.OldestWait, now.Sub(w.entry.EnqueuedAt))
				}
			}
			st.AgentsReady, st.AgentsStaff = r.staffed(q)
			st.Estimate = r.est[name].estimate(len(es)+1, now, st.AgentsStaff > 0)
			out = append(out, st)
		}
		return nil
	})
	return out, err
}
