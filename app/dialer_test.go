package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careline/careline/call"
	"github.com/careline/careline/config"
	"github.com/careline/careline/dialer"
	"github.com/careline/careline/ivr"
	"github.com/careline/careline/media"
	"github.com/careline/careline/recordings"
	"github.com/careline/careline/routing"
	"github.com/careline/careline/sip"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// ---- fakes ----

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

type classified struct {
	kind   sip.ErrorKind
	status int
}

func (c classified) Error() string         { return fmt.Sprintf("dial %s %d", c.kind, c.status) }
func (c classified) Kind() sip.ErrorKind   { return c.kind }
func (c classified) SIPStatus() int        { return c.status }
func (c classified) Retryable() bool       { return false }
func (c classified) MetricLabel() string   { return c.kind.String() }
func wrapped(c classified) error           { return fmt.Errorf("call: %w", c) }
func (l *fakeLeg) Language() string        { return l.lang }
func (l *fakeLeg) SetLanguage(lang string) { l.lang = lang }
func (l *fakeLeg) Facts() ivr.Facts        { return ivr.Facts{Direction: "outbound"} }
func (l *fakeLeg) Done() <-chan struct{}   { return l.done }
func (l *fakeLeg) Record(context.Context, ivr.RecordSpec) (ivr.Recording, error) {
	return ivr.Recording{}, nil
}
func (l *fakeLeg) Transfer(context.Context, string) error { return nil }

// fakeLeg is an answered call: Play is interrupted by the next queued key if any.
type fakeLeg struct {
	mu      sync.Mutex
	lang    string
	keys    []string // keys the patient presses, one per Play (or Collect)
	plays   []ivr.Playback
	waits   []time.Duration
	flushes int
	hungUp  bool
	done    chan struct{}
}

func (l *fakeLeg) Play(ctx context.Context, p ivr.Playback) (ivr.PlayResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.plays = append(l.plays, p)
	return ivr.PlayResult{Interrupted: p.BargeIn && len(l.keys) > 0 && l.keys[0] != ""}, nil
}

func (l *fakeLeg) Collect(ctx context.Context, c ivr.CollectSpec) (ivr.Digits, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waits = append(l.waits, c.FirstDigitTimeout)
	if len(l.keys) == 0 || l.keys[0] == "" {
		if len(l.keys) > 0 {
			l.keys = l.keys[1:]
		}
		return ivr.Digits{End: ivr.DigitsTimeout}, nil
	}
	k := l.keys[0]
	l.keys = l.keys[1:]
	return ivr.Digits{Value: k, End: ivr.DigitsMax}, nil
}

func (l *fakeLeg) FlushDigits() {
	l.mu.Lock()
	l.flushes++
	l.mu.Unlock()
}

func (l *fakeLeg) Hangup(context.Context) error {
	l.mu.Lock()
	l.hungUp = true
	l.mu.Unlock()
	return nil
}

// ---- Dialer ----

func TestDialErrorMapping(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		result dialer.DialResult
		status int
		retry  bool
	}{
		{"busy", wrapped(classified{sip.KindBusy, 486}), dialer.DialBusy, 486, true},
		{"rang out", wrapped(classified{sip.KindNoAnswer, 0}), dialer.DialNoAnswer, 0, true},
		{"temporarily unavailable", wrapped(classified{sip.KindNoAnswer, 480}), dialer.DialNoAnswer, 480, true},
		{"declined", wrapped(classified{sip.KindRejected, 603}), dialer.DialRejected, 603, true},
		{"forbidden", wrapped(classified{sip.KindRejected, 403}), dialer.DialRejected, 403, true},
		{"no such number", wrapped(classified{sip.KindRejected, 404}), dialer.DialRejected, 404, false},
		{"gone", wrapped(classified{sip.KindRejected, 410}), dialer.DialRejected, 410, false},
		{"incomplete", wrapped(classified{sip.KindRejected, 484}), dialer.DialRejected, 484, false},
		{"does not exist anywhere", wrapped(classified{sip.KindRejected, 604}), dialer.DialRejected, 604, false},
		{"trunk down", wrapped(classified{sip.KindUnreachable, 503}), dialer.DialUnreachable, 503, true},
		{"no response", wrapped(classified{sip.KindTimeout, 0}), dialer.DialTimeout, 0, true},
		{"we cancelled", wrapped(classified{sip.KindCancelled, 0}), dialer.DialCancelled, 0, true},
		{"no common codec", fmt.Errorf("%w: 488", call.ErrNoCommonCodec), dialer.DialRejected, 488, true},
		{"context", fmt.Errorf("x: %w", context.Canceled), dialer.DialCancelled, 0, true},
		{"no rtp port", errors.New("call: rtp port: exhausted"), dialer.DialUnreachable, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			de := dialError(tc.err)
			if de.Result != tc.result || de.Status != tc.status || de.Retryable != tc.retry || !errors.Is(de, tc.err) {
				t.Fatalf("got %+v", de)
			}
		})
	}
}

type fakeOutbound struct {
	got call.DialOptions
	err error
}

func (f *fakeOutbound) Dial(ctx context.Context, o call.DialOptions) (*call.Call, error) {
	f.got = o
	return nil, f.err
}

func TestCallDialerOptions(t *testing.T) {
	t.Parallel()
	f := &fakeOutbound{err: wrapped(classified{sip.KindBusy, 486})}
	d := &callDialer{h: f, campaigns: map[string]*dialer.Campaign{"refills": {Name: "refills", PharmacyName: "Main Street Pharmacy", Language: "es"}}}
	id := uuid.New()
	_, err := d.Dial(context.Background(), dialer.DialRequest{AttemptID: id, Campaign: "refills", Trunk: "out",
		CallerID: "+15125550100", To: "+13125550101", RingTimeout: 20 * time.Second})
	var de *dialer.DialError
	if !errors.As(err, &de) || de.Result != dialer.DialBusy {
		t.Fatalf("error %v", err)
	}
	want := call.DialOptions{Interaction: id, Role: "patient", Target: "+13125550101", Trunk: "out", FromUser: "+15125550100",
		FromDisplay: "Main Street Pharmacy", RingTimeout: 20 * time.Second, Language: "es"}
	if fmt.Sprint(f.got) != fmt.Sprint(want) {
		t.Fatalf("dial options %+v", f.got)
	}
}

// ---- Call ----

func TestOutboundCallPlay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		keys  []string
		wait  time.Duration
		want  string
		waits []time.Duration
	}{
		{"message only", nil, 0, "", nil},
		{"key stops the message", []string{"9"}, 0, "9", []time.Duration{time.Second}},
		{"key after the message", []string{"", "9"}, 3 * time.Second, "", []time.Duration{3 * time.Second}},
		{"no key", nil, 3 * time.Second, "", []time.Duration{3 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leg := &fakeLeg{keys: tc.keys, done: make(chan struct{})}
			oc := &outboundCall{leg: leg, audio: newAudioTap(leg.done)}
			got, err := oc.Play(context.Background(), "es", []string{"dialer/abandoned", "dialer/stop_calls_option"}, tc.wait)
			if err != nil || got != tc.want {
				t.Fatalf("key %q, %v", got, err)
			}
			if leg.flushes != 1 || len(leg.plays) != 1 || !leg.plays[0].BargeIn ||
				fmt.Sprint(leg.plays[0].Prompts) != "[{dialer/abandoned es} {dialer/stop_calls_option es}]" {
				t.Fatalf("flushes %d, plays %+v", leg.flushes, leg.plays)
			}
			if !slices.Equal(leg.waits, tc.waits) {
				t.Fatalf("waits %v, want %v", leg.waits, tc.waits)
			}
		})
	}
	leg := &fakeLeg{done: make(chan struct{})}
	if err := (&outboundCall{leg: leg}).Hangup(context.Background()); err != nil || !leg.hungUp {
		t.Fatal("hangup")
	}
}

func TestAudioTap(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	a := newAudioTap(done)
	buf := []int16{1, 2, 3}
	_ = a.WriteFrame(media.Frame{Samples: buf})
	buf[0] = 99 // the session reuses its buffers: the tap must have copied
	_ = a.WriteFrame(media.Frame{Samples: []int16{4}})
	for range audioBacklog + 10 { // nobody reading: frames drop, WriteFrame never blocks
		_ = a.WriteFrame(media.Frame{Samples: []int16{0}})
	}
	ctx := context.Background()
	if f, err := a.ReadFrame(ctx); err != nil || !slices.Equal(f, []int16{1, 2, 3}) {
		t.Fatalf("first frame %v %v", f, err)
	}
	if f, _ := a.ReadFrame(ctx); !slices.Equal(f, []int16{4}) {
		t.Fatalf("second frame %v", f)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for len(a.frames) > 0 {
		<-a.frames
	}
	if _, err := a.ReadFrame(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}
	close(done)
	if _, err := a.ReadFrame(ctx); err != io.EOF {
		t.Fatalf("after the call: %v", err)
	}
	if a.String() == "" {
		t.Fatal("a stage has a name")
	}
}

// ---- FlowRunner ----

func exampleConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, is := config.Load(filepath.Join("..", "configs", "careline.yaml"),
		config.LoadOptions{AllowMissingSecrets: true, LookupEnv: func(k string) (string, bool) {
			return "pw-for-tests", strings.HasPrefix(k, "CARELINE_AGENT_")
		}})
	if len(is.Errors()) > 0 {
		t.Fatal(is)
	}
	cfg.Prompts.Dir = filepath.Join("..", "prompts")
	return cfg
}

// fakeInterp plays a scripted flow: it logs node exits through the tap and returns the
// outcome.
type fakeInterp struct {
	tap   *eventTap
	exits [][2]string // node, exit
	out   ivr.Outcome
	err   error
	info  ivr.CallInfo
	lang  string
}

func (f *fakeInterp) Run(ctx context.Context, flow string, ch ivr.Channel, info ivr.CallInfo) (ivr.Outcome, error) {
	f.info, f.lang = info, ch.Language()
	for _, x := range f.exits {
		_ = f.tap.Append(store.Event{InteractionID: info.InteractionID, Type: ivr.EventNodeExit,
			Detail: map[string]any{"flow": flow, "node": x[0], "exit": x[1]}})
	}
	return f.out, f.err
}

type nullLog struct {
	mu  sync.Mutex
	evs []store.Event
}

func (n *nullLog) Append(ev store.Event) error {
	n.mu.Lock()
	n.evs = append(n.evs, ev)
	n.mu.Unlock()
	return nil
}

func TestFlowRunnerDispositions(t *testing.T) {
	t.Parallel()
	cfg := exampleConfig(t)
	for _, tc := range []struct {
		name  string
		flow  string
		exits [][2]string
		out   ivr.Outcome
		err   error
		want  dialer.FlowResult
		fails bool
	}{
		{"refill requested", "refill_reminder", [][2]string{{"identify", "ok"}, {"offer", "option:1"}, {"refill_requested", "ok"}, {"bye", "ok"}},
			ivr.Outcome{Kind: ivr.OutcomeHangup}, nil, dialer.FlowResult{Disposition: dialer.RefillRequested}, false},
		{"hung up while thanked", "refill_reminder", [][2]string{{"identify", "ok"}, {"offer", "option:1"}, {"refill_requested", "hangup"}},
			ivr.Outcome{Kind: ivr.OutcomeHangup, CallerHangup: true}, nil, dialer.FlowResult{Disposition: dialer.RefillRequested}, false},
		{"opt out", "refill_reminder", [][2]string{{"identify", "ok"}, {"offer", "option:9"}, {"opt_out", "ok"}, {"bye", "ok"}},
			ivr.Outcome{Kind: ivr.OutcomeHangup}, nil, dialer.FlowResult{Disposition: dialer.OptedOut, OptOut: true}, false},
		{"no choice", "refill_reminder", [][2]string{{"identify", "ok"}, {"offer", "timeout"}, {"bye", "ok"}},
			ivr.Outcome{Kind: ivr.OutcomeHangup}, nil, dialer.FlowResult{}, false},
		{"pharmacy", "refill_reminder", [][2]string{{"identify", "ok"}, {"offer", "option:2"}, {"pharmacy", "ok"}},
			ivr.Outcome{Kind: ivr.OutcomeQueue, Queue: &ivr.QueueRequest{Name: "coordinator"}}, nil,
			dialer.FlowResult{Disposition: dialer.Transferred}, false},
		{"confirmed", "appointment_confirmation", [][2]string{{"identify", "ok"}, {"reminder", "ok"}, {"options", "option:1"}, {"confirmed", "ok"}},
			ivr.Outcome{Kind: ivr.OutcomeHangup}, nil, dialer.FlowResult{Disposition: dialer.Confirmed}, false},
		{"reschedule", "appointment_confirmation", [][2]string{{"options", "option:3"}, {"reschedule", "ok"}},
			ivr.Outcome{Kind: ivr.OutcomeQueue, Queue: &ivr.QueueRequest{Name: "appointments"}}, nil,
			dialer.FlowResult{Disposition: dialer.RescheduleRequested}, false},
		{"cancelled then opted out", "appointment_confirmation", [][2]string{{"opt_out", "ok"}, {"cancelled", "ok"}},
			ivr.Outcome{Kind: ivr.OutcomeHangup}, nil, dialer.FlowResult{Disposition: dialer.OptedOut, OptOut: true}, false},
		{"flow error", "appointment_confirmation", [][2]string{{"identify", "error"}},
			ivr.Outcome{Kind: ivr.OutcomeError}, errors.New("boom"), dialer.FlowResult{}, true},
		{"error after a choice", "appointment_confirmation", [][2]string{{"confirmed", "ok"}},
			ivr.Outcome{Kind: ivr.OutcomeError}, errors.New("boom"), dialer.FlowResult{Disposition: dialer.Confirmed}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &nullLog{}
			tap := newEventTap(log)
			in := &fakeInterp{tap: tap, exits: tc.exits, out: tc.out, err: tc.err}
			fr := &flowRunner{in: in, tap: tap, flows: cfg.Flows, log: discard()}
			leg := &fakeLeg{lang: "en", done: make(chan struct{})}
			id := uuid.New()
			res, err := fr.RunFlow(context.Background(), &outboundCall{leg: leg}, dialer.FlowRequest{Flow: tc.flow, AttemptID: id,
				Language: "es", Vars: map[string]string{"pharmacy_name": "Main Street Pharmacy"}})
			if (err != nil) != tc.fails || res != tc.want {
				t.Fatalf("result %+v, %v", res, err)
			}
			if in.lang != "es" || in.info.InteractionID != id || in.info.Vars["pharmacy_name"] == "" {
				t.Fatalf("flow ran in %s with %+v", in.lang, in.info)
			}
			if len(log.evs) != len(tc.exits) {
				t.Fatalf("the tap must forward every event: %d of %d", len(log.evs), len(tc.exits))
			}
			if len(tap.watch) != 0 {
				t.Fatal("watch left behind")
			}
		})
	}
	if _, err := (&flowRunner{}).RunFlow(context.Background(), nil, dialer.FlowRequest{}); err == nil {
		t.Fatal("a foreign call must be refused")
	}
}

// ---- AgentPool ----

type fakeAgents struct {
	agents  []routing.AgentStatus
	waiting int
}

func (f *fakeAgents) Agents(context.Context) ([]routing.AgentStatus, error) { return f.agents, nil }
func (f *fakeAgents) Queues(context.Context) ([]routing.QueueStatus, error) {
	return []routing.QueueStatus{{Name: "coordinator", Waiting: f.waiting}, {Name: "billing", Waiting: 7}}, nil
}

func agentStatus(id string, st routing.State, skills map[string]int) routing.AgentStatus {
	return routing.AgentStatus{AgentInfo: routing.AgentInfo{ID: id}, State: st, Skills: skills}
}

func TestAgentPoolSnapshotAndReservations(t *testing.T) {
	t.Parallel()
	src := &fakeAgents{agents: []routing.AgentStatus{
		agentStatus("a", routing.Ready, map[string]int{"coordinator": 3}),
		agentStatus("b", routing.Ready, map[string]int{"coordinator": 1}), // below the queue's level
		agentStatus("c", routing.Ready, map[string]int{"billing": 3}),
		agentStatus("d", routing.OnCall, map[string]int{"coordinator": 4}),
		agentStatus("e", routing.Ready, map[string]int{"coordinator": 2, "billing": 1}),
	}}
	res := &reservations{}
	p := &agentPool{src: src, queue: "coordinator", require: map[string]int{"coordinator": 2}, res: res, log: discard(),
		busy: map[uuid.UUID]time.Time{uuid.New(): time.Now().Add(-time.Minute)}}
	other := &agentPool{src: src, queue: "coordinator", require: map[string]int{"coordinator": 2}, res: res, log: discard(),
		busy: map[uuid.UUID]time.Time{}}
	s := p.Snapshot()
	if s.Ready != 2 || len(s.Busy) != 1 || s.Busy[0] < time.Minute {
		t.Fatalf("snapshot %+v", s)
	}
	a1, ok := p.TryReserve()
	if !ok {
		t.Fatal("reserve 1")
	}
	if _, ok := other.TryReserve(); !ok { // another campaign on the same queue
		t.Fatal("reserve 2")
	}
	if _, ok := p.TryReserve(); ok {
		t.Fatal("two ready agents, three reservations")
	}
	a1.Release()
	a1.Release() // idempotent
	if s := p.Snapshot(); s.Ready != 1 {
		t.Fatalf("after release %+v", s)
	}
	src.waiting = 1 // an inbound caller takes the last one
	if s := p.Snapshot(); s.Ready != 0 {
		t.Fatalf("with a caller waiting %+v", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if _, err := p.Reserve(ctx); !errors.Is(err, dialer.ErrNoAgent) {
		t.Fatalf("reserve with nobody ready: %v", err)
	}
}

func TestAgentDisposition(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]dialer.Disposition{
		"refill_requested": dialer.RefillRequested, "confirmed": dialer.Confirmed, "reschedule_requested": dialer.RescheduleRequested,
		"wrong_number": dialer.WrongNumber, "opted_out": dialer.OptedOut, "resolved": dialer.Transferred, "": dialer.Transferred,
		"no_answer": dialer.Transferred, "abandoned": dialer.Transferred,
	} {
		if got := agentDisposition(in); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

// ---- configuration ----

func TestFlowSummaryOfExampleFlows(t *testing.T) {
	t.Parallel()
	cfg := exampleConfig(t)
	for flow, want := range map[string]dialer.FlowSummary{
		"refill_reminder": {Message: []string{"dialer/identification", "dialer/refill_ready"}, OptOutKeys: []string{"9"}},
		"appointment_confirmation": {Message: []string{"dialer/identification", "dialer/appointment_reminder", dialer.SayAppointment,
			"dialer/appointment_options"}, OptOutKeys: []string{"9"}},
		"pharmacy": {Message: []string{"main/welcome", "lang/english", "lang/spanish"}},
	} {
		if got := FlowSummary(cfg.Flows[flow]); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %+v, want %+v", flow, got, want)
		}
	}
	if is := ValidateCampaigns(cfg); len(is.Errors()) > 0 {
		t.Fatalf("example campaigns: %v", is)
	}
	// A flow whose opt-out key leads elsewhere, a message over 60 s.
	m := cfg.Flows["refill_reminder"].Nodes["offer"].Menu
	m.Options["9"] = &config.MenuOption{Next: "bye"}
	m.Prompts = slices.Repeat([]string{"dialer/refill_ready"}, 6)
	is := ValidateCampaigns(cfg)
	var msgs []string
	for _, i := range is.Errors() {
		msgs = append(msgs, i.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{`has no opt-out key "9"`, "flow message lasts about 1m6"} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
	if !strings.Contains(all, "careline.yaml:") {
		t.Errorf("issues are not located:\n%s", all)
	}
}

func TestPromptDurations(t *testing.T) {
	t.Parallel()
	d := promptDurations(filepath.Join("..", "prompts"))
	got, ok := d("en", "dialer/identification")
	if !ok || got < 3*time.Second || got > 10*time.Second {
		t.Fatalf("identification: %s %v", got, ok)
	}
	if _, ok := d("en", "dialer/no_such_prompt"); ok {
		t.Fatal("a missing prompt has no duration")
	}
	if _, err := os.Stat(filepath.Join("..", "prompts", "es", "dialer", "identification.wav")); err != nil {
		t.Fatal(err)
	}
}

// ---- HTTP ----

func TestSupervisorMux(t *testing.T) {
	t.Parallel()
	users, err := recordings.UsersFromConfig(map[string]*config.User{
		"sup":   {Role: "supervisor", TokenSHA256: sha("sup-token-0123456789")},
		"aud":   {Role: "auditor", TokenSHA256: sha("aud-token-0123456789")},
		"admin": {Role: "admin", TokenSHA256: sha("adm-token-0123456789")},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	var actor string
	supervisorMux{m: mux, authn: recordings.NewAuthenticator(users, nil)}.Handle("POST /x", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := r.Context().Value(apiUserKey{}).(recordings.User)
		actor = u.ID
		w.WriteHeader(http.StatusNoContent)
	}))
	for _, tc := range []struct {
		token string
		code  int
		actor string
	}{{"", 401, ""}, {"wrong-token-0123456789", 401, ""}, {"aud-token-0123456789", 403, ""},
		{"sup-token-0123456789", 204, "sup"}, {"adm-token-0123456789", 204, "admin"}} {
		actor = ""
		req := httptest.NewRequest(http.MethodPost, "/x", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != tc.code || actor != tc.actor {
			t.Errorf("token %q: %d actor %q", tc.token, w.Code, actor)
		}
	}
}

// The dialer's metrics are on the node's registry and pass promlint.
func TestDialerMetricsLint(t *testing.T) {
	cfg := exampleConfig(t)
	cfg.Store.DatabaseURL = config.Ref{}
	cfg.Store.OutboxDir = filepath.Join(t.TempDir(), "outbox")
	cfg.SIP.Listen = []config.Listener{{Network: "udp", Addr: "127.0.0.1:0"}}
	cfg.Recordings, cfg.Users = nil, nil
	a, err := New(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	if a.Dialer == nil || len(a.Dialer.Campaigns) != 2 || a.Dialer.Control != nil {
		t.Fatalf("dialer without Postgres: %+v", a.Dialer)
	}
	problems, err := testutil.GatherAndLint(a.Registry(), "careline_dialer_attempts_total", "careline_compliance_blocked_total",
		"careline_amd_results_total")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	if n, _ := testutil.GatherAndCount(a.Registry(), "careline_amd_results_total"); n == 0 {
		t.Fatal("dialer metrics not registered")
	}
}
