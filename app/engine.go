// Package engine wires careline's parts together from a loaded configuration and runs
// them: the interaction log, the HTTP surface, and (as they land) SIP, media, IVR,
// routing and the dialer. cmd/careline and the end-to-end tests both use it.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/careline/careline/call"
	"github.com/careline/careline/config"
	"github.com/careline/careline/internal/httpx"
	"github.com/careline/careline/internal/logx"
	"github.com/careline/careline/ivr"
	"github.com/careline/careline/media"
	"github.com/careline/careline/recordings"
	"github.com/careline/careline/routing"
	"github.com/careline/careline/routing/redisstore"
	"github.com/careline/careline/sip"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
)

// App is a running careline node.
type App struct {
	cfg      *config.Config
	opts     Options
	log      *slog.Logger
	reg      *prometheus.Registry
	pool     *pgxpool.Pool
	Log      *store.Log
	HTTP     *httpx.Server
	HTTPAddr string
	SIP      *sip.Server
	Ports    *media.PortAllocator
	Clock    *media.Clock
	Prompts  *media.PromptCache
	Calls    *call.Handler
	IVR      *ivr.Interpreter
	Router   *routing.Router
	ACD      *call.ACD
	Recs     *recordings.Store
	Dialer   *DialerNode // nil when no campaign is configured
	tap      *eventTap
	redis    *redis.Client
	cancel   context.CancelFunc
	done     chan error
	sipDone  chan error
	echoIdle atomic.Int64
}

// SetEchoIdle changes how long the test line waits for a key before hanging up.
func (a *App) SetEchoIdle(d time.Duration) { a.echoIdle.Store(int64(d)) }

// Options tunes New.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (tests inject a fixed one); default time.Now.
	Now func() time.Time
	// OnDigit observes the digits the test line (dtmf_echo) receives; tests only.
	OnDigit func(interaction uuid.UUID, digit rune)
	// OnPrompt observes every prompt a call plays; tests only.
	OnPrompt func(interaction uuid.UUID, lang, id string, d time.Duration)
	// DialerPoll and DialerLease tune the campaign runners (defaults 1s and 60s);
	// tests only.
	DialerPoll, DialerLease time.Duration
}

// New builds an App from cfg without starting network listeners.
func New(ctx context.Context, cfg *config.Config, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &App{cfg: cfg, opts: opts, log: opts.Logger, reg: prometheus.NewRegistry(), done: make(chan error, 1),
		sipDone: make(chan error, 1)}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if u := cfg.Store.DatabaseURL.Value(); u != "" {
		pc, err := pgxpool.ParseConfig(u)
		if err != nil {
			return nil, fmt.Errorf("engine: store.database_url: %w", errors.New(redactParseError(u)))
		}
		pc.MaxConns = 8
		pc.ConnConfig.ConnectTimeout = 3 * time.Second
		pc.ConnConfig.RuntimeParams["statement_timeout"] = "30000"
		pc.ConnConfig.RuntimeParams["application_name"] = "careline"
		pool, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			return nil, fmt.Errorf("engine: postgres pool: %w", err)
		}
		a.pool = pool
	} else {
		a.log.Warn("store.database_url is empty: interaction events stay in the local outbox until one is configured")
	}
	l, err := store.Open(store.Options{
		Dir: cfg.Store.OutboxDir, SegmentSize: int64(cfg.Store.SegmentSize), MaxBytes: int64(cfg.Store.MaxOutboxBytes),
		FsyncBatch: cfg.Store.FsyncBatch, FsyncInterval: cfg.Store.FsyncInterval, ShipBatch: cfg.Store.ShipBatch,
		Pool: a.pool, Logger: a.log.With("component", "store"), Metrics: store.NewMetrics(a.reg), Now: opts.Now,
		Projectors: append([]store.Projector{routing.AgentStateProjector{}, recordings.Projector(a.log.With("component", "recordings"))},
			a.resultProjectors()...),
	})
	if err != nil {
		a.closePool()
		return nil, fmt.Errorf("engine: interaction log: %w", err)
	}
	a.Log = l
	a.HTTP = httpx.New(a.reg, a.log.With("component", "http"))
	a.HTTP.AddCheck("config", func() httpx.Check { return httpx.Check{Ready: true, Status: "loaded"} })
	a.HTTP.AddCheck("interaction_log", a.logCheck)
	if err := a.buildTelephony(); err != nil {
		a.Log.Close()
		a.closePool()
		return nil, err
	}
	return a, nil
}

// buildTelephony creates media (ports, clock, prompts), the call handler and the SIP
// server from the configuration.
func (a *App) buildTelephony() error {
	cfg := a.cfg
	mlog := a.log.With("component", "media")
	mm, err := media.NewMetrics(a.reg)
	if err != nil {
		return fmt.Errorf("engine: media metrics: %w", err)
	}
	ip, err := netip.ParseAddr(cfg.Media.IP)
	if err != nil {
		return fmt.Errorf("engine: media.ip: %w", err)
	}
	a.Ports, err = media.NewPortAllocator(ip, cfg.Media.RTPPorts.Min, cfg.Media.RTPPorts.Max,
		media.WithRest(cfg.Media.PortRest), media.WithMetrics(mm), media.WithLogger(mlog))
	if err != nil {
		return fmt.Errorf("engine: rtp ports: %w", err)
	}
	a.Clock = media.NewClock(media.WithMetrics(mm), media.WithLogger(mlog))
	a.Prompts, err = media.LoadPromptCache(cfg.Prompts.Dir, media.WithDefaultLang(cfg.DefaultLanguage()), media.WithLogger(mlog))
	if a.Prompts == nil {
		return fmt.Errorf("engine: prompts.dir: %w", err)
	}
	if err != nil {
		a.log.Error("some prompt files could not be loaded; calls will use the fallback language or a tone", "err", err)
	}
	hashKey := []byte(cfg.SIP.NonceSecret.Value())
	if len(hashKey) == 0 {
		hashKey = make([]byte, 32)
		_, _ = rand.Read(hashKey)
	}
	if cfg.Recordings != nil {
		a.Recs, err = recordings.NewFromConfig(cfg.Recordings, a.pool, a.Log, recordings.WithLogger(a.log.With("component", "recordings")),
			recordings.WithMetrics(recordings.NewMetrics(a.reg)), recordings.WithClock(a.opts.Now))
		if err != nil {
			return fmt.Errorf("engine: recordings: %w", err)
		}
	}
	ivrOpts := []ivr.Option{ivr.WithEventLog(a.eventTap()), ivr.WithMetrics(ivr.NewMetrics(a.reg)),
		ivr.WithLogger(a.log.With("component", "ivr")), ivr.WithHasher(logx.NewHasher(hashKey)), ivr.WithClock(a.opts.Now)}
	if a.Recs != nil {
		ivrOpts = append(ivrOpts, ivr.WithVoicemailStore(voicemailStore{a.Recs}))
	}
	a.IVR, err = ivr.FromConfig(cfg, ivrOpts...)
	if err != nil {
		return fmt.Errorf("engine: flows: %w", err)
	}
	var codecs []media.Codec
	for _, name := range cfg.Media.Codecs {
		if c, ok := media.CodecByName(name); ok {
			codecs = append(codecs, c)
		}
	}
	a.Calls = call.NewHandler(call.Options{
		Ports: a.Ports, Clock: a.Clock, Prompts: a.Prompts, MediaIP: ip, Codecs: codecs,
		DefaultLang: cfg.DefaultLanguage(), Router: a.route, Events: a.Log,
		Logger: a.log.With("component", "call"), Metrics: call.NewMetrics(a.reg), Now: a.opts.Now, OnPrompt: a.opts.OnPrompt,
		MediaOpts: []media.Option{media.WithTimeout(cfg.Media.Timeout), media.WithHoldTimeout(cfg.Media.HoldTimeout),
			media.WithMetrics(mm), media.WithLogger(mlog), media.WithDefaultLang(cfg.DefaultLanguage())},
	})
	scfg, creds, err := sipConfig(cfg)
	if err != nil {
		return err
	}
	var bindings sip.BindingStore = sip.NewMemoryBindingStore(a.opts.Now)
	rstore := routing.Store(routing.NewMemoryStore())
	if u := cfg.Redis.URL.Value(); u != "" {
		if a.redis, err = redisstore.NewClient(u); err != nil {
			return fmt.Errorf("engine: redis.url: %w", err)
		}
		bindings = redisBindings{b: redisstore.NewBindings(a.redis, cfg.Redis.Prefix+"reg:", a.opts.Now), now: a.opts.Now}
		rstore = redisstore.New(a.redis, cfg.Redis.Prefix+"routing:")
	}
	a.SIP, err = sip.New(scfg, sip.WithLogger(a.log.With("component", "sip")), sip.WithMetrics(sip.NewMetrics(a.reg)),
		sip.WithHandler(a.Calls), sip.WithCredentials(creds), sip.WithBindingStore(bindings),
		sip.WithClock(a.opts.Now))
	if err != nil {
		return fmt.Errorf("engine: sip: %w", err)
	}
	a.Calls.SetDialer(a.SIP)
	return a.buildContactCenter(rstore, bindings)
}

// buildContactCenter creates recordings, the ACD glue and the router.
func (a *App) buildContactCenter(rstore routing.Store, bindings sip.BindingStore) error {
	cfg := a.cfg
	var err error
	acdOpts := call.ACDOptions{Handler: a.Calls, Config: cfg, Logger: a.log.With("component", "acd")}
	if a.Recs != nil {
		acdOpts.Voicemail = voicemailStore{a.Recs}
		acdOpts.Recordings = recStarter{s: a.Recs, cfg: cfg}
	}
	a.ACD = call.NewACD(acdOpts)
	presence := routing.PresenceFunc(func(ctx context.Context, user string) bool {
		bs, err := bindings.List(ctx, user)
		return err == nil && len(bs) > 0
	})
	ropts := []routing.Option{routing.WithStore(rstore), routing.WithCallbacker(a.ACD), routing.WithEventLog(a.eventTap()),
		routing.WithMetrics(routing.NewMetrics(a.reg, routing.ServiceLevels(cfg)...)),
		routing.WithLogger(a.log.With("component", "routing")), routing.WithClock(funcClock{a.opts.Now})}
	if h := cfg.Routing.Hours; h != "" {
		if cal := cfg.Calendars()[h]; cal != nil {
			ropts = append(ropts, routing.WithHours(cal))
		}
	}
	if a.redis == nil {
		// One node: agent state starts fresh in memory, so the log closes whatever an
		// earlier run (or a crash) left open.
		ropts = append(ropts, routing.WithRestartLogout())
	}
	a.Router, err = routing.New(cfg, a.ACD, presence, ropts...)
	if err != nil {
		return fmt.Errorf("engine: routing: %w", err)
	}
	a.ACD.SetRouter(a.Router)
	// The HTTP API: agents and queues, recordings.
	var users []recordings.User
	if users, err = recordings.UsersFromConfig(cfg.Users); err != nil {
		return fmt.Errorf("engine: users: %w", err)
	}
	authn := recordings.NewAuthenticator(users, a.opts.Now)
	a.Router.Mount(a.HTTP, routingAuth{authn})
	if a.Recs != nil {
		recordings.NewAPI(a.Recs, authn).Register(a.HTTP)
	}
	return a.buildDialer()
}

// routingAuth lets the routing API use the same users and tokens as the recordings API.
type routingAuth struct{ a *recordings.Authenticator }

func (r routingAuth) Authenticate(ctx context.Context, token string) (routing.Principal, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	u, err := r.a.Authenticate(req)
	if err != nil {
		return routing.Principal{}, err
	}
	p := routing.Principal{Subject: u.ID}
	switch u.Role {
	case recordings.RoleSupervisor, recordings.RoleAdmin:
		p.Supervisor = true
	case recordings.RoleAgent:
		p.AgentID = u.ID
	default:
		return routing.Principal{}, errors.New("engine: role may not use the agent API")
	}
	return p, nil
}

// sipConfig maps the configuration onto the sip package's.
func sipConfig(cfg *config.Config) (sip.Config, *sip.StaticCredentials, error) {
	sc := sip.Config{
		PublicHost: cfg.SIP.ExternalHost, Realm: cfg.SIP.Realm, UserAgent: "careline",
		MinExpires: cfg.SIP.MinExpires, DefaultExpires: cfg.SIP.DefaultExpires, MaxExpires: cfg.SIP.MaxExpires,
	}
	if v := cfg.SIP.NonceSecret.Value(); v != "" {
		sc.NonceSecret = []byte(v)
	}
	for _, l := range cfg.SIP.Listen {
		if l.Network == "tcp" {
			sc.TCP = append(sc.TCP, l.Addr)
		} else {
			sc.UDP = append(sc.UDP, l.Addr)
		}
	}
	for _, name := range sortedNames(cfg.Trunks) {
		t := cfg.Trunks[name]
		st := sip.Trunk{Name: name, Addr: t.Address, Transport: t.Transport}
		for _, p := range t.AllowFrom {
			st.Sources = append(st.Sources, p.Prefix)
		}
		if t.Auth != nil {
			st.Username, st.Password = t.Auth.Username.Value(), t.Auth.Password.Value()
		}
		if t.LocalPort != 0 {
			host := cfg.SIP.ExternalHost
			if host == "" && len(cfg.SIP.Listen) > 0 {
				host, _, _ = net.SplitHostPort(cfg.SIP.Listen[0].Addr)
			}
			st.LocalAddr = net.JoinHostPort(host, fmt.Sprint(t.LocalPort))
		}
		sc.Trunks = append(sc.Trunks, st)
	}
	var entries []sip.CredentialEntry
	for _, id := range sortedNames(cfg.Agents) {
		ag := cfg.Agents[id]
		entries = append(entries, sip.CredentialEntry{User: ag.SIP.User, Password: ag.SIP.Password.Value(),
			HA1MD5: ag.SIP.HA1, HA1SHA256: ag.SIP.HA1SHA256})
	}
	creds, err := sip.NewStaticCredentials(cfg.SIP.Realm, entries...)
	if err != nil {
		return sc, nil, fmt.Errorf("engine: agent credentials: %w", err)
	}
	return sc, creds, nil
}

// route decides what an inbound call is for.
func (a *App) route(ctx context.Context, leg *sip.Leg) call.Route {
	did := leg.Local().User
	n, ok := a.cfg.Numbers[did]
	if leg.Source().Kind == sip.SourceUser {
		switch did {
		case call.CodeLogin, call.CodeReady, call.CodeAway, call.CodeLogout, call.CodeDisposition:
			return call.Route{App: call.FeatureCode{ACD: a.ACD, Code: did}}
		}
		if _, _, ok := call.MonitorCode(did); ok {
			return call.Route{App: call.Monitor{ACD: a.ACD, Code: did}}
		}
	}
	if !ok {
		return call.Route{RejectCode: 404, RejectReason: "Not Found"}
	}
	if n.Flow != "" {
		return call.Route{App: call.FlowApp{Interp: a.IVR, Flow: n.Flow, Outcomes: a}, Language: n.Language}
	}
	switch n.App {
	case "dtmf_echo":
		return call.Route{App: call.DTMFEcho{OnDigit: a.opts.OnDigit, Idle: time.Duration(a.echoIdle.Load())},
			Language: n.Language}
	}
	return call.Route{RejectCode: 480, RejectReason: "Temporarily Unavailable"}
}

func redactParseError(u string) string {
	if p, err := url.Parse(u); err == nil {
		return "cannot parse " + p.Redacted()
	}
	return "cannot parse the URL (not shown: it may hold a password)"
}

func (a *App) logCheck() httpx.Check {
	h := a.Log.Health()
	c := httpx.Check{Ready: h.Writable, Detail: h}
	switch {
	case !h.Writable:
		c.Status = "outbox not writable"
	case h.Postgres == "up":
		c.Status = "ok"
	default:
		c.Degraded = true
		c.Status = fmt.Sprintf("postgres %s; %d events kept in the outbox", h.Postgres, h.Backlog)
	}
	return c
}

func (a *App) closePool() {
	if a.pool != nil {
		a.pool.Close()
	}
}

// Registry exposes the metrics registry (tests lint it).
func (a *App) Registry() *prometheus.Registry { return a.reg }

// Start binds listeners and starts background work.
func (a *App) Start(ctx context.Context) error {
	ctx, a.cancel = context.WithCancel(ctx)
	if a.pool != nil {
		// Migrate now when Postgres is up, so everything that reads tables at start
		// finds them; when it is down the shipper migrates once it returns.
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := store.Migrate(mctx, a.pool); err != nil {
			a.log.Warn("postgres not reachable at start; migrations wait for it", "err", err)
		}
		cancel()
	}
	a.Log.Start(ctx)
	addr, err := a.HTTP.Listen(a.cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	a.HTTPAddr = addr
	go func() { a.done <- a.HTTP.Serve() }()
	go func() { _ = a.Clock.Run(ctx) }()
	go func() {
		if err := a.Router.Run(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("routing stopped", "err", err)
		}
	}()
	if a.redis == nil && a.pool != nil {
		go a.restoreCallbacks(ctx)
	}
	if a.Recs != nil {
		go a.Recs.RunMaintenance(ctx, a.cfg.Recordings.RetentionInterval)
	}
	go func() { a.sipDone <- a.SIP.Run(ctx) }()
	select {
	case <-a.SIP.Ready():
	case err := <-a.sipDone:
		return fmt.Errorf("engine: sip: %w", err)
	case <-time.After(10 * time.Second):
		return errors.New("engine: sip listeners did not start")
	}
	a.startDialer(ctx)
	a.startResults(ctx)
	udp, _ := a.SIP.Addr("udp")
	a.log.Info("careline started", "http", addr, "sip_udp", udp.String(), "outbox_backlog", a.Log.Backlog())
	return nil
}

// restoreCallbacks puts back the callbacks an earlier run accepted and did not finish
// (one node: the router's state was in memory). It waits until PostgreSQL is reachable
// and the outbox has shipped what the earlier run left, so the newest are not missed.
func (a *App) restoreCallbacks(ctx context.Context) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.Log.Drain(dctx)
		var pending []routing.PendingCallback
		if err == nil {
			pending, err = routing.PendingCallbacks(dctx, a.pool, a.opts.Now().Add(-7*24*time.Hour))
		}
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if attempt%12 == 0 {
				a.log.Warn("pending callbacks not read yet; retrying", "err", err)
			}
			continue
		}
		restored := 0
		for _, p := range pending {
			if err := a.Router.RestoreCallback(ctx, p); err != nil {
				a.log.Warn("callback not restored", "queue", p.Queue, "err", err)
				continue
			}
			restored++
		}
		if len(pending) > 0 {
			a.log.Info("pending callbacks restored", "restored", restored, "found", len(pending))
		}
		return
	}
}

// HandleOutcome acts on a flow's live outcome (call.OutcomeHandler).
func (a *App) HandleOutcome(ctx context.Context, c *call.Call, o ivr.Outcome) error {
	switch o.Kind {
	case ivr.OutcomeQueue:
		return a.ACD.Serve(ctx, c, *o.Queue)
	case ivr.OutcomeCallback:
		return a.scheduleCallback(ctx, c, o)
	}
	_, err := c.PlayIDs(ctx, false, "common/technical_difficulty")
	return err
}

// scheduleCallback turns an IVR call-back request (e.g. after hours) into a callback
// entry of the first queue that offers callbacks; routing places it when the queue's
// hours allow and an agent is free.
func (a *App) scheduleCallback(ctx context.Context, c *call.Call, o ivr.Outcome) error {
	queue := ""
	for _, name := range sortedNames(a.cfg.Queues) {
		if q := a.cfg.Queues[name]; q != nil && q.Callback != nil {
			queue = name
			break
		}
	}
	if queue == "" || o.Callback == nil || o.Callback.Number == "" {
		c.LogEvent(store.Event{Type: "callback.unavailable", Detail: map[string]any{"flow": o.Flow}})
		return nil
	}
	t, err := a.Router.Enqueue(ctx, routing.Caller{InteractionID: c.ID, Queue: queue, Language: o.Language,
		CallbackNumber: o.Callback.Number})
	if err != nil {
		return fmt.Errorf("engine: callback: %w", err)
	}
	if err := t.RequestCallback(ctx, ""); err != nil {
		_ = t.Abandon(ctx)
		return fmt.Errorf("engine: callback: %w", err)
	}
	return nil
}

// SIPAddr is the bound address of the first SIP listener of network.
func (a *App) SIPAddr(network string) netip.AddrPort {
	ap, _ := a.SIP.Addr(network)
	return ap
}

// Shutdown stops taking new work, lets running work finish until ctx's deadline, then
// flushes the interaction log.
func (a *App) Shutdown(ctx context.Context) error {
	var errs []error
	a.stopDialing()
	if a.SIP != nil && a.cancel != nil {
		dctx, cancel := context.WithTimeout(ctx, a.cfg.SIP.DrainTimeout)
		if err := a.SIP.Shutdown(dctx); err != nil {
			a.log.Warn("shutdown: calls still running at the drain deadline were hung up", "err", err)
		}
		cancel()
	}
	a.waitDialer(ctx)
	// Give the shipper a short chance to drain; whatever is left stays in the outbox.
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := a.Log.Drain(dctx); err != nil {
		a.log.Info("shutdown: events left in the outbox for the next start", "backlog", a.Log.Backlog())
	}
	cancel()
	if err := a.HTTP.Shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	if a.cancel != nil {
		a.cancel()
	}
	if a.cancel != nil && a.SIP != nil {
		select {
		case <-a.sipDone:
		case <-time.After(10 * time.Second):
		}
	}
	if a.Recs != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := a.Recs.Close(rctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	if err := a.Log.Close(); err != nil {
		errs = append(errs, err)
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
	if a.Ports != nil {
		a.Ports.Close()
	}
	a.closePool()
	return errors.Join(errs...)
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
