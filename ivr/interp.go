package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"time"

	"github.com/careline/careline/calendar"
	"github.com/careline/careline/config"
	"github.com/careline/careline/internal/logx"
	"github.com/careline/careline/store"
)

// Event types written by the interpreter.
const (
	// EventNodeExit is logged when a node exits: Detail {flow, node, kind, exit}
	// plus, where they apply, language (after a switch), failures, timeouts,
	// attempts and entry (a category such as "len:7", never the digits).
	EventNodeExit = "ivr.node_exit"
)

// Interpreter runs flows. It is immutable after New and safe for concurrent use:
// each Run works on its own call.
type Interpreter struct {
	flows     map[string]*cflow
	log       *slog.Logger
	events    EventLog
	metrics   *Metrics
	now       func() time.Time
	calendars map[string]*calendar.Calendar
	lookup    LookupFunc
	voicemail VoicemailStore
	hasher    *logx.Hasher
	loc       *time.Location
	langs     []string
}

// Option configures an Interpreter.
type Option func(*Interpreter)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(in *Interpreter) { in.log = l } }

// WithEventLog sets where interaction events go (store.Log).
func WithEventLog(e EventLog) Option { return func(in *Interpreter) { in.events = e } }

// WithMetrics sets the metrics (NewMetrics).
func WithMetrics(m *Metrics) Option { return func(in *Interpreter) { in.metrics = m } }

// WithClock sets the clock used for business hours and event times (default time.Now).
func WithClock(now func() time.Time) Option { return func(in *Interpreter) { in.now = now } }

// WithCalendars names the schedules branch_hours and say hours refer to.
func WithCalendars(c map[string]*calendar.Calendar) Option {
	return func(in *Interpreter) { in.calendars = maps.Clone(c) }
}

// WithLookup sets the patient look-up hook of branch lookup nodes.
func WithLookup(f LookupFunc) Option { return func(in *Interpreter) { in.lookup = f } }

// WithVoicemailStore sets where voicemails go. Without one, a voicemail node
// apologises and takes its on_failure path.
func WithVoicemailStore(s VoicemailStore) Option { return func(in *Interpreter) { in.voicemail = s } }

// WithHasher adds a keyed hash of collected values to business events, so that
// events about the same entry can be correlated without revealing it.
func WithHasher(h *logx.Hasher) Option { return func(in *Interpreter) { in.hasher = h } }

// WithLocation sets the zone for say date/time values written without one
// (default: UTC; FromConfig uses site.timezone).
func WithLocation(loc *time.Location) Option { return func(in *Interpreter) { in.loc = loc } }

// WithLanguages sets the configured languages (default en, es).
func WithLanguages(langs ...string) Option {
	return func(in *Interpreter) { in.langs = append([]string(nil), langs...) }
}

// cflow is a flow ready to run.
type cflow struct {
	name  string
	start string
	nodes map[string]*cnode
}

type cnode struct {
	name     string
	kind     string
	n        *config.Node
	re       *regexp.Regexp // menu match or collect regex, anchored
	priority Priority
}

// New checks flows (references, kinds, schedules named in WithCalendars, languages,
// patterns; not prompts: see Validate) and returns an interpreter for them. The
// flows must not be modified afterwards.
func New(flows map[string]*config.Flow, opts ...Option) (*Interpreter, error) {
	in := &Interpreter{
		now:   time.Now,
		loc:   time.UTC,
		langs: []string{"en", "es"},
		log:   slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(in)
	}
	c := newChecker(in.langs, sortedKeys(in.calendars), nil)
	c.checkFlows(flows)
	if errs := c.r.Issues().Errors(); len(errs) > 0 {
		return nil, fmt.Errorf("%w:\n%w", errInvalidFlowsConfig, errs)
	}
	in.flows = make(map[string]*cflow, len(flows))
	for name, f := range flows {
		cf := &cflow{name: name, start: f.Start, nodes: make(map[string]*cnode, len(f.Nodes))}
		for nn, n := range f.Nodes {
			cn := &cnode{name: nn, kind: n.Kind(), n: n}
			switch {
			case n.Menu != nil && n.Menu.Match != nil:
				cn.re = regexp.MustCompile(anchor(n.Menu.Match.Pattern)) // checked above
			case n.Collect != nil && n.Collect.Validate == "regex":
				cn.re = regexp.MustCompile(anchor(n.Collect.Pattern))
			case n.Queue != nil:
				cn.priority, _ = ParsePriority(n.Queue.Priority)
			}
			cf.nodes[nn] = cn
		}
		in.flows[name] = cf
		for nn := range cf.nodes {
			in.metrics.initNode(name, nn)
		}
	}
	return in, nil
}

// FromConfig builds the interpreter for cfg's flows, with its schedules, languages
// and time zone; opts add the rest (event log, metrics, voicemail store, ...).
func FromConfig(cfg *config.Config, opts ...Option) (*Interpreter, error) {
	loc, err := time.LoadLocation(cfg.Site.Timezone)
	if err != nil {
		return nil, fmt.Errorf("ivr: site.timezone: %w", err)
	}
	base := []Option{WithCalendars(cfg.Calendars()), WithLanguages(cfg.Site.Languages...), WithLocation(loc)}
	return New(cfg.Flows, append(base, opts...)...)
}

// Flows returns the names of the flows the interpreter can run.
func (in *Interpreter) Flows() []string { return sortedKeys(in.flows) }

func anchor(p string) string { return `^(?:` + p + `)$` }

// run is the state of one call in a flow.
type run struct {
	in   *Interpreter
	flow *cflow
	ch   Channel
	call CallInfo
	vars map[string]string
	log  *slog.Logger
}

// result is how a node ended.
type result struct {
	exit   string
	next   string         // the next node (when out is nil)
	lang   string         // switch to this language on exit
	out    *Outcome       // the flow ends
	err    error          // with OutcomeError
	normal bool           // a normal exit: the node's business event is logged
	detail map[string]any // extra detail for the node-exit event
}

// Run runs flowName on ch until the flow ends, the caller hangs up or ctx ends. It
// runs on the calling goroutine (the call's). A caller hang-up is a normal end:
// Outcome{Kind: OutcomeHangup, CallerHangup: true} and a nil error. The error is
// non-nil exactly when the outcome is OutcomeError.
func (in *Interpreter) Run(ctx context.Context, flowName string, ch Channel, call CallInfo) (Outcome, error) {
	f, ok := in.flows[flowName]
	if !ok {
		in.metrics.outcome("unknown", OutcomeError)
		return Outcome{Kind: OutcomeError, Flow: flowName, Language: ch.Language(), Reason: "unknown_flow"},
			fmt.Errorf("%w %q", ErrUnknownFlow, flowName)
	}
	r := &run{in: in, flow: f, ch: ch, call: call, vars: maps.Clone(call.Vars),
		log: in.log.With("flow", f.name, "interaction", call.InteractionID.String())}
	if r.vars == nil {
		r.vars = map[string]string{}
	}
	name := f.start
	for step := 0; ; step++ {
		cn := f.nodes[name]
		if step >= MaxSteps {
			r.log.Error("ivr: flow ran too many steps; ending it", "node", name, "steps", step)
			return r.finish(cn, result{out: &Outcome{Kind: OutcomeError, Reason: "loop"}, err: ErrLoop})
		}
		res := r.exec(ctx, cn)
		r.exit(cn, res)
		if res.out != nil {
			return r.finish(cn, res)
		}
		name = res.next
	}
}

func (r *run) finish(cn *cnode, res result) (Outcome, error) {
	out := *res.out
	out.Flow, out.Node, out.Language, out.Vars = r.flow.name, cn.name, r.ch.Language(), r.vars
	r.in.metrics.outcome(r.flow.name, out.Kind)
	r.log.Info("ivr: flow ended", "node", cn.name, "outcome", out.Kind.String(), "caller_hangup", out.CallerHangup)
	if out.Kind == OutcomeError {
		if res.err == nil {
			res.err = errors.New("ivr: flow failed")
		}
		return out, res.err
	}
	return out, nil
}

func (r *run) exec(ctx context.Context, cn *cnode) result {
	if err := ctx.Err(); err != nil {
		return r.fail(ctx, cn, err)
	}
	switch cn.kind {
	case "menu":
		return r.menu(ctx, cn)
	case "play":
		return r.playNode(ctx, cn)
	case "collect":
		return r.collect(ctx, cn)
	case "say":
		return r.say(ctx, cn)
	case "set_language":
		return result{exit: "ok", next: cn.n.Next, lang: cn.n.SetLanguage.Language, normal: true}
	case "branch_hours":
		return r.branchHours(ctx, cn)
	case "branch":
		return r.branch(ctx, cn)
	case "queue":
		return r.queue(ctx, cn)
	case "transfer":
		return r.transfer(ctx, cn)
	case "voicemail":
		return r.voicemailNode(ctx, cn)
	case "callback_request":
		return r.callback(ctx, cn)
	case "hangup":
		return r.hangup(ctx, cn)
	}
	return result{exit: "error", out: &Outcome{Kind: OutcomeError, Reason: "internal"},
		err: fmt.Errorf("ivr: node %s has unknown kind %q", cn.name, cn.kind)}
}

// fail turns a channel error into the end of the flow: a hang-up (the caller left
// or ctx ended) or an error outcome.
func (r *run) fail(ctx context.Context, cn *cnode, err error) result {
	if errors.Is(err, ErrHangup) || ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return result{exit: "hangup", out: &Outcome{Kind: OutcomeHangup, CallerHangup: true}}
	}
	r.log.Warn("ivr: channel failed", "node", cn.name, "err", err)
	return result{exit: "error", out: &Outcome{Kind: OutcomeError, Reason: "channel"},
		err: fmt.Errorf("ivr: flow %s node %s: %w", r.flow.name, cn.name, err)}
}

// exit logs the node's exit (event, metric) and applies a language switch.
func (r *run) exit(cn *cnode, res result) {
	detail := map[string]any{"flow": r.flow.name, "node": cn.name, "kind": cn.kind, "exit": res.exit}
	maps.Copy(detail, res.detail)
	ev := store.Event{InteractionID: r.call.InteractionID, Type: EventNodeExit, At: r.in.now(), Detail: detail}
	if res.lang != "" && res.lang != r.ch.Language() {
		r.ch.SetLanguage(res.lang)
		detail["language"] = res.lang
		ev.Interaction = &store.InteractionPatch{Language: res.lang}
	}
	r.append(ev)
	r.in.metrics.nodeExit(r.flow.name, cn.name, res.exit)
	r.log.Debug("ivr: node exit", "node", cn.name, "kind", cn.kind, "exit", res.exit)
	if res.normal && cn.n.Event != "" {
		r.businessEvent(cn)
	}
}

func (r *run) businessEvent(cn *cnode) {
	detail := map[string]any{"flow": r.flow.name, "node": cn.name}
	v := cn.n.EventVar
	if v == "" && cn.n.Collect != nil {
		v = cn.n.Collect.Into
	}
	if v != "" {
		detail["var"] = v
		if val, ok := r.vars[v]; ok {
			detail["value"] = logx.DigitsCategory(val)
			if r.in.hasher != nil {
				detail["hash"] = r.in.hasher.Token(val)
			}
		}
	}
	r.append(store.Event{InteractionID: r.call.InteractionID, Type: cn.n.Event, At: r.in.now(), Detail: detail})
}

func (r *run) append(ev store.Event) {
	if r.in.events == nil {
		return
	}
	if err := r.in.events.Append(ev); err != nil {
		r.log.Warn("ivr: event not logged", "type", ev.Type, "err", err)
	}
}

// play plays prompt ids in the call's language.
func (r *run) play(ctx context.Context, ids []string, bargeIn bool) error {
	return r.playRefs(ctx, refs(ids), bargeIn)
}

func (r *run) playRefs(ctx context.Context, ps []PromptRef, bargeIn bool) error {
	if len(ps) == 0 {
		return nil
	}
	_, err := r.ch.Play(ctx, Playback{Prompts: ps, BargeIn: bargeIn})
	return err
}

func refs(ids []string) []PromptRef {
	out := make([]PromptRef, 0, len(ids))
	for _, id := range ids {
		out = append(out, PromptRef{ID: id})
	}
	return out
}

func playIn(ids []string, lines []config.LangPrompt) []PromptRef {
	out := refs(ids)
	for _, l := range lines {
		out = append(out, PromptRef{ID: l.Prompt, Lang: l.Lang})
	}
	return out
}

// hangupChannel hangs up unless the caller already has.
func (r *run) hangupChannel(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	if err := r.ch.Hangup(ctx); err != nil && !errors.Is(err, ErrHangup) {
		r.log.Warn("ivr: hangup failed", "err", err)
	}
}
