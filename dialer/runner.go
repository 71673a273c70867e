package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/careline/careline/dialer/amd"
	"github.com/careline/careline/say"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nyaruka/phonenumbers"
	"golang.org/x/time/rate"
)

// Limiter bounds concurrent calls and calls per second (a trunk, or a campaign). It is
// safe for concurrent use; share one per trunk among the runners of a node.
type Limiter struct {
	mu   sync.Mutex
	used int
	max  int // 0: unlimited
	cps  *rate.Limiter
}

// NewLimiter allows maxChannels concurrent calls (0: unlimited) and cps new calls per
// second (0: unlimited).
func NewLimiter(maxChannels int, cps float64) *Limiter {
	l := &Limiter{max: maxChannels}
	if cps > 0 {
		l.cps = rate.NewLimiter(rate.Limit(cps), max(1, int(cps)))
	}
	return l
}

// Free returns the channels left (-1: unlimited).
func (l *Limiter) Free() int {
	if l == nil {
		return -1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max == 0 {
		return -1
	}
	return max(0, l.max-l.used)
}

// TryAcquire takes a channel and a CPS token if both are available now.
func (l *Limiter) TryAcquire() bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.used >= l.max {
		return false
	}
	if l.cps != nil && !l.cps.Allow() {
		return false
	}
	l.used++
	return true
}

// Release gives a channel back.
func (l *Limiter) Release() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used = max(0, l.used-1)
}

// String describes the limiter.
func (l *Limiter) String() string {
	if l == nil {
		return "limiter(none)"
	}
	return fmt.Sprintf("limiter(%d channels)", l.max)
}

// Runner dials one campaign: it leases due contacts from Postgres (FOR UPDATE SKIP
// LOCKED, so runners on several nodes share a campaign), asks the compliance gate
// about each (recording every decision), commits the attempt before the call is
// placed, paces with a Pacer, classifies answers with AMD, runs the flow, connects
// agents or plays the abandon message, leaves voicemails, and writes dispositions.
// Attempts left open by a crashed node are closed as failed/unknown and retried after
// the campaign's spacing, never silently re-dialed.
type Runner struct {
	c       *Campaign
	pool    *pgxpool.Pool
	gate    *Gate
	dialer  Dialer
	agents  AgentPool
	flows   FlowRunner
	events  EventLog
	now     func() time.Time
	log     *slog.Logger
	m       *Metrics
	node    string
	poll    time.Duration
	lease   time.Duration
	pacer   *Pacer
	est     *Estimator
	trunk   *Limiter
	own     *Limiter
	pacerO  PacerOptions
	grace   time.Duration
	drain   time.Duration
	abandon AbandonStats

	mu    sync.Mutex
	calls map[uuid.UUID]*callTrack
	wg    sync.WaitGroup
	wake  chan struct{}
}

type callTrack struct {
	started  time.Time // real time
	reserved bool
	phase    int // 0 ringing, 1 classifying, 2 waiting for an agent, 3 connected/other
}

// RunnerOption configures NewRunner.
type RunnerOption func(*Runner)

// WithDialer sets how calls are placed (required).
func WithDialer(d Dialer) RunnerOption { return func(r *Runner) { r.dialer = d } }

// WithAgents sets the campaign's agents (progressive and predictive).
func WithAgents(a AgentPool) RunnerOption { return func(r *Runner) { r.agents = a } }

// WithFlows sets the IVR flow runner (agentless).
func WithFlows(f FlowRunner) RunnerOption { return func(r *Runner) { r.flows = f } }

// WithEvents sets the interaction log.
func WithEvents(e EventLog) RunnerOption { return func(r *Runner) { r.events = e } }

// WithClock sets the clock used for compliance decisions and stored times.
func WithClock(now func() time.Time) RunnerOption { return func(r *Runner) { r.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) RunnerOption { return func(r *Runner) { r.log = l } }

// WithMetrics sets the metrics.
func WithMetrics(m *Metrics) RunnerOption { return func(r *Runner) { r.m = m } }

// WithGate sets the compliance gate (default: NewGate(DefaultRules())). Share one gate
// among runners.
func WithGate(g *Gate) RunnerOption { return func(r *Runner) { r.gate = g } }

// WithNode names this node in leases and decisions (default: a random id).
func WithNode(id string) RunnerOption { return func(r *Runner) { r.node = id } }

// WithPollInterval sets how often Run looks for work (default 1s).
func WithPollInterval(d time.Duration) RunnerOption { return func(r *Runner) { r.poll = d } }

// WithLease sets how long an attempt's lease lasts without a heartbeat (default 60s);
// a node that stops heartbeating for that long is presumed dead.
func WithLease(d time.Duration) RunnerOption { return func(r *Runner) { r.lease = d } }

// WithTrunkLimiter bounds calls by the trunk's channels and CPS (share one per trunk).
func WithTrunkLimiter(l *Limiter) RunnerOption { return func(r *Runner) { r.trunk = l } }

// WithPacer tunes pacing (Mode and Target come from the campaign).
func WithPacer(o PacerOptions) RunnerOption { return func(r *Runner) { r.pacerO = o } }

// WithAgentGrace sets how long after the end of a live answer's greeting an agent may
// take to come on the line before the call counts as abandoned. The rule is 2 s
// (47 CFR 64.1200(a)(7)); longer values are capped at 2 s.
func WithAgentGrace(d time.Duration) RunnerOption { return func(r *Runner) { r.grace = d } }

// WithDrain sets how long Run lets calls in progress go on after its context ends
// (default 30s).
func WithDrain(d time.Duration) RunnerOption { return func(r *Runner) { r.drain = d } }

// NewRunner returns a runner for campaign c.
func NewRunner(c *Campaign, pool *pgxpool.Pool, opts ...RunnerOption) (*Runner, error) {
	r := &Runner{c: c, pool: pool, now: time.Now, poll: time.Second, lease: time.Minute,
		calls: map[uuid.UUID]*callTrack{}, wake: make(chan struct{}, 1)}
	for _, o := range opts {
		o(r)
	}
	if r.dialer == nil {
		return nil, fmt.Errorf("dialer: runner %s: no Dialer", c.Name)
	}
	switch c.Pacing {
	case Agentless:
		if r.flows == nil {
			return nil, fmt.Errorf("dialer: runner %s: agentless pacing needs a FlowRunner", c.Name)
		}
	case Progressive, Predictive:
		if r.agents == nil {
			return nil, fmt.Errorf("dialer: runner %s: %s pacing needs an AgentPool", c.Name, c.Pacing)
		}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("campaign", c.Name)
	if r.m == nil {
		r.m = NewMetrics(nil)
	}
	r.m.register(c)
	if r.gate == nil {
		r.gate = NewGate(DefaultRules())
	}
	if r.node == "" {
		r.node = "node-" + newID().String()[:8]
	}
	if r.drain <= 0 {
		r.drain = 30 * time.Second
	}
	if r.grace <= 0 || r.grace > 2*time.Second {
		r.grace = 2 * time.Second
	}
	if r.lease < 3*time.Second {
		r.lease = 3 * time.Second
	}
	r.est = NewEstimator(1000)
	po := r.pacerO
	po.Mode, po.Target, po.Grace = c.Pacing, c.AbandonTarget, r.grace
	r.pacer = NewPacer(po, r.est)
	r.own = NewLimiter(c.MaxChannels, c.MaxCPS)
	return r, nil
}

// String names the runner.
func (r *Runner) String() string { return fmt.Sprintf("runner(%s@%s)", r.c.Name, r.node) }

// Campaign returns the runner's campaign.
func (r *Runner) Campaign() *Campaign { return r.c }

// Run dials until ctx ends. Calls in progress then go on (a patient is never cut off
// mid-sentence by a shutdown) for up to the drain time (WithDrain, default 30s), after
// which they are cancelled; Run returns when all have ended. It seeds the pacing
// estimator from the campaign's last week first.
func (r *Runner) Run(ctx context.Context) error {
	if err := EnsureCampaign(ctx, r.pool, r.c); err != nil {
		return err
	}
	if err := r.seed(ctx); err != nil {
		r.log.Warn("dialer: cannot seed pacing estimates", "err", err)
	}
	callCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	hb := time.NewTicker(r.lease / 3)
	defer hb.Stop()
	t := time.NewTicker(r.poll)
	defer t.Stop()
	for ctx.Err() == nil {
		if _, err := r.step(ctx, callCtx); err != nil && ctx.Err() == nil {
			r.log.Error("dialer: step failed", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-hb.C:
			r.beat(callCtx)
		case <-t.C:
		case <-r.wake:
		}
	}
	// Drain: no new dials; keep the leases of the calls in progress alive.
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	drain := time.NewTimer(r.drain)
	defer drain.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-hb.C:
			r.beat(callCtx)
		case <-drain.C:
			r.log.Warn("dialer: drain time over; cancelling the calls still in progress")
			cancelCalls()
		}
	}
}

func (r *Runner) beat(ctx context.Context) {
	if err := r.heartbeat(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("dialer: lease heartbeat failed", "err", err)
	}
}

// Wait blocks until every call launched by Step has finished.
func (r *Runner) Wait() { r.wg.Wait() }

func (r *Runner) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// StepReport says what one Step did.
type StepReport struct {
	State     State
	Plan      Plan
	Recovered int // open attempts of dead nodes closed as failed/unknown
	Allowed   int // attempts committed and dials launched
	Refused   int // contacts refused by the gate (each recorded)
}

// Step does one round: recover attempts of dead nodes, read the campaign state and
// abandon statistics, plan, lease and gate contacts, and launch the allowed dials
// (which run in their own goroutines under ctx; see Wait).
func (r *Runner) Step(ctx context.Context) (StepReport, error) { return r.step(ctx, ctx) }

func (r *Runner) step(ctx, callCtx context.Context) (StepReport, error) {
	var rep StepReport
	now := r.now()
	n, err := r.recover(ctx, now)
	rep.Recovered = n
	if err != nil {
		return rep, err
	}
	rep.State, err = CampaignState(ctx, r.pool, r.c.Name)
	if errors.Is(err, ErrUnknownCampaign) {
		rep.State, err = Stopped, EnsureCampaign(ctx, r.pool, r.c)
	}
	if err != nil {
		return rep, err
	}
	if r.abandon, err = LoadAbandonStats(ctx, r.pool, r.c.Name, now); err != nil {
		return rep, err
	}
	r.m.setAbandon(r.c, r.abandon)
	if rep.State != Running {
		return rep, nil
	}
	rep.Plan = r.pacer.Plan(r.paceInput())
	r.m.threshold.WithLabelValues(r.c.Name).Set(rep.Plan.Threshold)
	if rep.Plan.Dials <= 0 {
		return rep, nil
	}
	// Take channels, CPS tokens and (progressive) agents before leasing: what is
	// leased is dialed at once.
	type slot struct{ agent Agent }
	var slots []slot
	for range rep.Plan.Dials {
		if !r.own.TryAcquire() {
			break
		}
		if !r.trunk.TryAcquire() {
			r.own.Release()
			break
		}
		var ag Agent
		if rep.Plan.Reserve {
			a, ok := r.agents.TryReserve()
			if !ok {
				r.own.Release()
				r.trunk.Release()
				break
			}
			ag = a
		}
		slots = append(slots, slot{ag})
	}
	atts, refused, err := r.leaseContacts(ctx, len(slots), now)
	rep.Refused = refused
	for i := len(atts); i < len(slots); i++ {
		r.own.Release()
		r.trunk.Release()
		if slots[i].agent != nil {
			slots[i].agent.Release()
		}
	}
	if err != nil {
		return rep, err
	}
	for i, a := range atts {
		rep.Allowed++
		r.launch(callCtx, a, slots[i].agent)
	}
	return rep, nil
}

func (r *Runner) paceInput() PaceInput {
	in := PaceInput{Now: r.now(), FreeChannels: r.own.Free(), Abandon: r.abandon}
	if tf := r.trunk.Free(); tf >= 0 && (in.FreeChannels < 0 || tf < in.FreeChannels) {
		in.FreeChannels = tf
	}
	if r.agents != nil {
		s := r.agents.Snapshot()
		in.Ready, in.Busy = s.Ready, s.Busy
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.calls {
		if c.reserved {
			continue
		}
		switch c.phase {
		case 0:
			in.Ringing = append(in.Ringing, time.Since(c.started))
		case 1:
			in.Classifying++
		case 2:
			in.Waiting++
		}
	}
	return in
}

// attempt is one committed dial attempt.
type attempt struct {
	id      uuid.UUID
	no      int
	contact Contact
	started time.Time
}

// leaseContacts picks up to n due contacts, gates each and commits the allowed
// attempts (state dialing) in one transaction. It returns the attempts to dial.
func (r *Runner) leaseContacts(ctx context.Context, n int, now time.Time) ([]attempt, int, error) {
	if n <= 0 {
		return nil, 0, nil
	}
	var out []attempt
	type rec struct {
		ct Contact
		d  Decision
		a  *attempt
	}
	var recs []rec
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		out, recs = out[:0], recs[:0]
		rows, err := tx.Query(ctx, `SELECT cc.id, cc.patient_ref, cc.phone, cc.language, cc.time_zones, cc.state_code,
				cc.fields, cc.appointment_at, cc.attempts, cc.last_attempt_at
			FROM campaign_contacts cc
			WHERE cc.campaign = $1 AND cc.status = 'pending' AND cc.next_attempt_at <= $2
			  AND EXISTS (SELECT 1 FROM campaigns WHERE name = $1 AND state = 'running')
			ORDER BY cc.next_attempt_at, cc.id
			LIMIT $3
			FOR UPDATE OF cc SKIP LOCKED`, r.c.Name, now, 3*n+5)
		if err != nil {
			return err
		}
		cts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Contact, error) {
			ct := Contact{Campaign: r.c.Name}
			err := row.Scan(&ct.ID, &ct.PatientRef, &ct.Phone, &ct.Language, &ct.Zones, &ct.State, &ct.Fields,
				&ct.AppointmentAt, &ct.Attempts, &ct.LastAttemptAt)
			return ct, err
		})
		if err != nil {
			return err
		}
		for _, ct := range cts {
			if len(out) >= n {
				break
			}
			// One phone at a time across campaigns and nodes: the caps are counted and
			// the attempt inserted under this lock. Busy elsewhere: skip for now.
			var locked bool
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 7))`, ct.Phone).Scan(&locked); err != nil {
				return err
			}
			if !locked {
				continue
			}
			d, err := r.gate.check(ctx, tx, r.c, &ct, now)
			if err != nil {
				return err
			}
			if !d.Allowed {
				status, final := "pending", ""
				next := d.Next
				if d.Final {
					status, final = "exhausted", string(BlockedByCompliance)
					switch d.Reason {
					case ReasonOptedOut:
						status = "opted_out"
					case ReasonExpired:
						status = "expired"
					}
				}
				if next.IsZero() {
					next = now.Add(24 * time.Hour)
				}
				if _, err := tx.Exec(ctx, `UPDATE campaign_contacts SET status = $2, next_attempt_at = $3,
					final_disposition = NULLIF($4, '') WHERE id = $1`, ct.ID, status, next, final); err != nil {
					return err
				}
				if err := recordDecision(ctx, tx, r.node, r.c, &ct, d, nil); err != nil {
					return err
				}
				recs = append(recs, rec{ct: ct, d: d})
				continue
			}
			a := attempt{id: newID(), no: ct.Attempts + 1, contact: ct, started: now}
			today, _ := localDay(&ct, now)
			if _, err := tx.Exec(ctx, `INSERT INTO contact_attempts (id, contact_id, campaign, phone, attempt_no, node,
				lease_until, started_at, local_date) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::date)`,
				a.id, ct.ID, r.c.Name, ct.Phone, a.no, r.node, now.Add(r.c.RingTimeout+r.lease), now,
				today.Format("2006-01-02")); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE campaign_contacts SET status = 'dialing', attempts = attempts + 1,
				last_attempt_at = $2, current_attempt = $3 WHERE id = $1`, ct.ID, now, a.id); err != nil {
				return err
			}
			if err := recordDecision(ctx, tx, r.node, r.c, &ct, d, &a.id); err != nil {
				return err
			}
			out = append(out, a)
			recs = append(recs, rec{ct: ct, d: d, a: &out[len(out)-1]})
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("dialer: lease: %w", err)
	}
	refused := 0
	for _, x := range recs {
		detail := map[string]any{"campaign": r.c.Name, "contact_id": x.ct.ID, "allowed": x.d.Allowed,
			"reason": string(x.d.Reason), "local_time": x.d.LocalTime}
		ev := store.Event{ID: x.d.ID, Type: "dialer.decision", At: now, Detail: detail}
		if x.a != nil {
			ev.InteractionID = x.a.id
		} else {
			refused++
			r.m.blocked.WithLabelValues(r.c.Name, string(x.d.Reason)).Inc()
			r.m.attempts.WithLabelValues(r.c.Name, string(BlockedByCompliance)).Inc()
			if !x.d.Next.IsZero() {
				detail["next_at"] = x.d.Next
			}
		}
		r.emit(ev)
	}
	return out, refused, nil
}

func (r *Runner) emit(ev store.Event) {
	if r.events == nil {
		return
	}
	if err := r.events.Append(ev); err != nil {
		r.log.Error("dialer: event not logged", "type", ev.Type, "err", err)
	}
}

// launch runs one attempt's call in its own goroutine.
func (r *Runner) launch(ctx context.Context, a attempt, ag Agent) {
	r.mu.Lock()
	r.calls[a.id] = &callTrack{started: time.Now(), reserved: ag != nil}
	r.m.inFlight.WithLabelValues(r.c.Name).Set(float64(len(r.calls)))
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		o := r.call(ctx, a, ag)
		// The outcome is written even when ctx was cancelled (shutdown).
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.finish(fctx, a, o); err != nil {
			r.log.Error("dialer: attempt outcome not stored; it will be recovered as failed/unknown",
				"attempt", a.id, "err", err)
		}
		r.mu.Lock()
		delete(r.calls, a.id)
		r.m.inFlight.WithLabelValues(r.c.Name).Set(float64(len(r.calls)))
		r.mu.Unlock()
		r.own.Release()
		r.trunk.Release()
		r.kick()
	}()
}

func (r *Runner) setPhase(id uuid.UUID, phase int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.calls[id]; ok {
		c.phase = phase
	}
}

// outcome is how an attempt ended.
type outcome struct {
	disp       Disposition
	dialResult string
	amd        string
	answeredAt *time.Time
	live       bool
	abandoned  bool
	machine    bool
	optOut     string // source, "" none
	detail     string
	noRetry    bool
}

func (r *Runner) vars(ct *Contact) map[string]string {
	v := map[string]string{"pharmacy_name": r.c.PharmacyName, "callback_number": r.c.CallbackNumber,
		"opt_out_key": r.c.OptOutKey, "language": ct.Language}
	for k, x := range ct.Fields {
		if x != "" {
			v[k] = x
		}
	}
	if ct.AppointmentAt != nil {
		at := *ct.AppointmentAt
		if len(ct.Zones) > 0 {
			if loc, err := time.LoadLocation(ct.Zones[0]); err == nil {
				at = at.In(loc)
			}
		}
		v["appointment_at"] = at.Format(time.RFC3339)
	}
	return v
}

// call places the call and handles it to the end.
func (r *Runner) call(ctx context.Context, a attempt, ag Agent) (o outcome) {
	defer func() {
		if ag != nil {
			ag.Release()
		}
	}()
	ct := &a.contact
	r.emit(store.Event{InteractionID: a.id, Type: "dialer.attempt.started", At: a.started,
		Detail: map[string]any{"campaign": r.c.Name, "contact_id": ct.ID, "attempt_no": a.no, "pacing": string(r.c.Pacing)},
		Interaction: &store.InteractionPatch{Kind: "dial_attempt", Direction: "outbound", StartedAt: &a.started,
			Trunk: r.c.Trunk, Campaign: r.c.Name, RemoteParty: ct.Phone, Language: ct.Language}})
	dialStart := time.Now()
	call, err := r.dialer.Dial(ctx, DialRequest{AttemptID: a.id, Campaign: r.c.Name, Trunk: r.c.Trunk,
		CallerID: r.c.CallerID, To: ct.Phone, RingTimeout: r.c.RingTimeout, Recording: r.c.Recording})
	if err != nil {
		res, disp, retry := classifyDial(err)
		r.est.ObserveDial(DialObservation{})
		return outcome{disp: disp, dialResult: string(res), noRetry: !retry, detail: string(res)}
	}
	ring := time.Since(dialStart)
	answered := r.now()
	o.answeredAt, o.dialResult = &answered, "answered"
	r.setPhase(a.id, 1)
	if _, err := r.pool.Exec(ctx, `UPDATE contact_attempts SET state = 'answered', answered_at = $2 WHERE id = $1 AND state = 'dialing'`,
		a.id, answered); err != nil {
		r.log.Warn("dialer: cannot mark attempt answered", "attempt", a.id, "err", err)
	}
	r.emit(store.Event{InteractionID: a.id, Type: "dialer.attempt.answered", At: answered,
		Interaction: &store.InteractionPatch{AnsweredAt: &answered}})
	defer func() {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = call.Hangup(hctx)
	}()
	answeredReal := time.Now()
	verdict := amd.Decision{Result: amd.Human, Cause: "disabled"}
	if r.c.AMD != nil {
		verdict = r.detect(ctx, call)
		o.amd = verdict.Result.String()
		r.m.amdResults.WithLabelValues(o.amd).Inc()
		r.emit(store.Event{InteractionID: a.id, Type: "dialer.amd", Detail: map[string]any{
			"result": o.amd, "cause": string(verdict.Cause), "decided_ms": verdict.At.Milliseconds(),
			"greeting_end_ms": verdict.GreetingEnd.Milliseconds(), "words": verdict.Words}})
	}
	if ctx.Err() != nil {
		return outcome{disp: Failed, dialResult: "answered", answeredAt: &answered, detail: "cancelled", amd: o.amd}
	}
	if verdict.Result == amd.Machine {
		r.est.ObserveDial(DialObservation{Answered: true, Ring: ring})
		return r.machine(ctx, call, ct, o)
	}
	r.est.ObserveDial(DialObservation{Answered: true, Live: true, Ring: ring})
	o.live = true
	switch r.c.Pacing {
	case Agentless:
		r.setPhase(a.id, 3)
		return r.runFlow(ctx, call, a, o)
	default:
		// The agent must be on the line within 2 s of the end of the greeting.
		deadline := answeredReal.Add(verdict.GreetingEnd + r.grace)
		if ag == nil {
			r.setPhase(a.id, 2)
			actx, cancel := context.WithDeadline(ctx, deadline)
			got, err := r.agents.Reserve(actx)
			cancel()
			if err != nil {
				return r.abandonCall(ctx, call, a, o)
			}
			ag = got
		}
		r.setPhase(a.id, 3)
		start := time.Now()
		disp, err := ag.Connect(ctx, call, ConnectInfo{Campaign: r.c.Name, AttemptID: a.id, ContactID: ct.ID,
			Language: ct.Language, Vars: r.vars(ct), ConnectBy: deadline})
		ag = nil // connected: nothing to release
		if errors.Is(err, ErrNoAgent) {
			return r.abandonCall(ctx, call, a, o)
		}
		r.est.ObserveHandle(time.Since(start))
		if err != nil {
			o.disp, o.detail = Failed, "agent connect failed"
			return o
		}
		if !disp.Valid() {
			disp = Transferred
		}
		o.disp = disp
		if disp == OptedOut {
			o.optOut = "agent"
		}
		return o
	}
}

// detect runs AMD on the call's audio; an audio error gives Unsure (a person).
func (r *Runner) detect(ctx context.Context, call Call) amd.Decision {
	d := amd.NewDetector(*r.c.AMD)
	au := call.Audio()
	for {
		fr, err := au.ReadFrame(ctx)
		if err != nil {
			return amd.Decision{Result: amd.Unsure, Cause: "audio_ended"}
		}
		if dec, ok := d.Feed(fr); ok {
			return dec
		}
	}
}

// machine waits for the greeting to end (the beep) and leaves the minimum-necessary
// voicemail: the pharmacy's recorded prompts and its callback number, nothing else.
func (r *Runner) machine(ctx context.Context, call Call, ct *Contact, o outcome) outcome {
	o.machine = true
	o.disp = NoAnswer
	if len(r.c.Voicemail) == 0 {
		o.detail = "machine, no voicemail configured"
		return o
	}
	g := amd.NewGreetingEnd(r.c.GreetingEnd)
	au := call.Audio()
	end := amd.End{Reason: amd.EndTimeout}
	for {
		fr, err := au.ReadFrame(ctx)
		if err != nil {
			o.detail = "machine hung up before the tone"
			return o
		}
		if e, ok := g.Feed(fr); ok {
			end = e
			break
		}
	}
	if _, err := call.Play(ctx, ct.Language, ExpandPrompts(r.c.Voicemail, ct.Language, r.c.CallbackNumber), 0); err != nil {
		o.detail = "voicemail playback failed"
		return o
	}
	o.disp, o.detail = VoicemailLeft, "after "+string(end.Reason)
	return o
}

// ExpandPrompts replaces $callback_number in a template by the spoken digits of the
// number (grouped 3-3-4 for US numbers).
func ExpandPrompts(template []string, lang, callback string) []string {
	var out []string
	for _, id := range template {
		if id != "$callback_number" {
			out = append(out, id)
			continue
		}
		text := callback
		if n, err := phonenumbers.Parse(callback, "US"); err == nil {
			text = phonenumbers.Format(n, phonenumbers.NATIONAL)
		}
		out = append(out, say.Digits(say.Lang(lang), text)...)
	}
	return out
}

func (r *Runner) runFlow(ctx context.Context, call Call, a attempt, o outcome) outcome {
	res, err := r.flows.RunFlow(ctx, call, FlowRequest{Flow: r.c.Flow, Campaign: r.c.Name, AttemptID: a.id,
		Language: a.contact.Language, Vars: r.vars(&a.contact)})
	if err != nil && res.Disposition == "" {
		o.disp, o.detail = Failed, "flow failed"
		if res.OptOut {
			o.optOut = "ivr_key"
		}
		return o
	}
	o.disp = res.Disposition
	if !o.disp.Valid() {
		o.disp = Failed
		o.detail = "flow gave no disposition"
	}
	if res.OptOut || o.disp == OptedOut {
		o.disp, o.optOut = OptedOut, "ivr_key"
	}
	return o
}

// abandonCall plays the identification and opt-out message to a live answer that
// found no agent in time, and counts it as abandoned.
func (r *Runner) abandonCall(ctx context.Context, call Call, a attempt, o outcome) outcome {
	o.disp, o.abandoned = Abandoned, true
	prompts := ExpandPrompts(r.c.AbandonPrompts, a.contact.Language, r.c.CallbackNumber)
	key, err := call.Play(ctx, a.contact.Language, prompts, 3*time.Second)
	if err == nil && key == r.c.OptOutKey {
		o.optOut = "abandon_message"
		_, _ = call.Play(ctx, a.contact.Language, []string{"dialer/opted_out"}, 0)
	}
	return o
}

// finish stores the outcome: the attempt row (fenced: only while this node still
// owns it), the contact's next step, and an opt-out if asked.
func (r *Runner) finish(ctx context.Context, a attempt, o outcome) error {
	now := r.now()
	if o.disp == "" {
		o.disp = Failed
	}
	r.m.attempts.WithLabelValues(r.c.Name, string(o.disp)).Inc()
	fenced := false
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE contact_attempts SET state = 'done', ended_at = $2, dial_result = $3,
			amd_result = NULLIF($4, ''), live_answer = $5, abandoned = $6, disposition = $7, detail = $8,
			answered_at = COALESCE(answered_at, $9)
			WHERE id = $1 AND state <> 'done' AND node = $10`,
			a.id, now, o.dialResult, o.amd, o.live, o.abandoned, string(o.disp), o.detail, o.answeredAt, r.node)
		if err != nil {
			return err
		}
		fenced = tag.RowsAffected() == 0
		if o.optOut != "" {
			if err := OptOut(ctx, tx, a.contact.Phone, a.contact.PatientRef, o.optOut, r.c.Name, a.id); err != nil {
				return err
			}
		}
		if fenced {
			return nil // recovered by another node, which already moved the contact on
		}
		status, final := "pending", ""
		next := now.Add(r.c.Retry.Delay(o.disp, o.machine))
		if sp := a.started.Add(r.c.MinSpacing); next.Before(sp) {
			next = sp
		}
		switch {
		case o.disp == OptedOut:
			status, final = "opted_out", string(o.disp)
		case o.disp.Final():
			status, final = "done", string(o.disp)
		case o.noRetry || a.no >= r.c.MaxAttempts:
			status, final = "exhausted", string(o.disp)
		}
		_, err = tx.Exec(ctx, `UPDATE campaign_contacts SET status = $2, next_attempt_at = $3,
			final_disposition = NULLIF($4, ''), current_attempt = NULL WHERE id = $1 AND current_attempt = $5`,
			a.contact.ID, status, next, final, a.id)
		return err
	})
	if err != nil {
		return fmt.Errorf("dialer: finish attempt: %w", err)
	}
	if fenced {
		r.log.Warn("dialer: attempt was recovered by another node before it ended; outcome kept only in the log",
			"attempt", a.id, "disposition", o.disp)
	}
	r.emit(store.Event{InteractionID: a.id, Type: "dialer.attempt.ended", At: now,
		Detail: map[string]any{"campaign": r.c.Name, "disposition": string(o.disp), "dial_result": o.dialResult,
			"live": o.live, "abandoned": o.abandoned, "machine": o.machine, "detail": o.detail},
		Interaction: &store.InteractionPatch{EndedAt: &now, Disposition: string(o.disp), EndReason: o.dialResult}})
	if o.optOut != "" {
		r.emit(store.Event{InteractionID: a.id, Type: "dialer.opt_out", At: now,
			Detail: map[string]any{"campaign": r.c.Name, "source": o.optOut}})
	}
	if o.live {
		r.abandon.Live++
		if o.abandoned {
			r.abandon.Abandoned++
		}
	}
	return nil
}

// heartbeat extends the leases of this node's open attempts.
func (r *Runner) heartbeat(ctx context.Context) error {
	r.mu.Lock()
	ids := make([]uuid.UUID, 0, len(r.calls))
	for id := range r.calls {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	_, err := r.pool.Exec(ctx, `UPDATE contact_attempts SET lease_until = $1 WHERE id = ANY($2) AND node = $3 AND state <> 'done'`,
		r.now().Add(r.lease), ids, r.node)
	if err != nil {
		return fmt.Errorf("dialer: heartbeat: %w", err)
	}
	return nil
}

// recover closes attempts whose node stopped heartbeating: their INVITE may have gone
// out, so the patient may have been called. They become failed/unknown, count toward
// the caps and max attempts, and the contact waits for the retry delay and spacing.
func (r *Runner) recover(ctx context.Context, now time.Time) (int, error) {
	type orphan struct {
		id      uuid.UUID
		contact int64
		started time.Time
		no      int
		state   string
	}
	var got []orphan
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		got = got[:0]
		rows, err := tx.Query(ctx, `SELECT id, contact_id, started_at, attempt_no, state FROM contact_attempts
			WHERE campaign = $1 AND state <> 'done' AND lease_until < $2
			ORDER BY lease_until LIMIT 100 FOR UPDATE SKIP LOCKED`, r.c.Name, now)
		if err != nil {
			return err
		}
		got, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (orphan, error) {
			var o orphan
			return o, row.Scan(&o.id, &o.contact, &o.started, &o.no, &o.state)
		})
		if err != nil {
			return err
		}
		for _, o := range got {
			detail := "node lost while dialing: the INVITE may have gone out"
			if o.state == "answered" {
				detail = "node lost after answer"
			}
			if _, err := tx.Exec(ctx, `UPDATE contact_attempts SET state = 'done', ended_at = $2, dial_result = 'unknown',
				disposition = $3, detail = $4 WHERE id = $1`, o.id, now, string(Failed), detail); err != nil {
				return err
			}
			next := now.Add(r.c.Retry.Failed)
			if sp := o.started.Add(r.c.MinSpacing); next.Before(sp) {
				next = sp
			}
			status := "pending"
			if o.no >= r.c.MaxAttempts {
				status = "exhausted"
			}
			if _, err := tx.Exec(ctx, `UPDATE campaign_contacts SET status = $2, next_attempt_at = $3, current_attempt = NULL,
				final_disposition = CASE WHEN $2 = 'exhausted' THEN $4 ELSE final_disposition END
				WHERE id = $1 AND current_attempt = $5`, o.contact, status, next, string(Failed), o.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dialer: recover: %w", err)
	}
	for _, o := range got {
		r.m.attempts.WithLabelValues(r.c.Name, string(Failed)).Inc()
		r.log.Warn("dialer: recovered an attempt left open by a lost node", "attempt", o.id)
		r.emit(store.Event{InteractionID: o.id, Type: "dialer.attempt.recovered", At: now,
			Detail:      map[string]any{"campaign": r.c.Name, "disposition": string(Failed), "dial_result": "unknown"},
			Interaction: &store.InteractionPatch{EndedAt: &now, Disposition: string(Failed), EndReason: "unknown"}})
	}
	return len(got), nil
}

// seed primes the pacing estimator with the campaign's last week.
func (r *Runner) seed(ctx context.Context) error {
	var dials, answered, live int
	var ring, handle *float64
	err := r.pool.QueryRow(ctx, `SELECT count(*), count(answered_at), count(*) FILTER (WHERE live_answer),
			avg(EXTRACT(EPOCH FROM answered_at - started_at)) FILTER (WHERE answered_at IS NOT NULL),
			avg(EXTRACT(EPOCH FROM ended_at - answered_at)) FILTER (WHERE live_answer AND NOT abandoned)
		FROM contact_attempts WHERE campaign = $1 AND state = 'done' AND started_at > $2`,
		r.c.Name, r.now().Add(-7*24*time.Hour)).Scan(&dials, &answered, &live, &ring, &handle)
	if err != nil {
		return err
	}
	var mr, mh time.Duration
	if ring != nil {
		mr = secs(*ring)
	}
	if handle != nil {
		mh = secs(*handle)
	}
	if dials > 500 { // a bounded prior: the newest outcomes must be able to outweigh it
		answered, live, dials = answered*500/dials, live*500/dials, 500
	}
	r.est.Seed(dials, answered, live, mr, mh)
	return nil
}
