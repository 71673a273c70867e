// Package engine wires careline's parts together from a loaded configuration and runs
// them: the interaction log, the HTTP surface, and (as they land) SIP, media, IVR,
// routing and the dialer. cmd/careline and the end-to-end tests both use it.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/careline/careline/internal/config"
	"github.com/careline/careline/internal/httpx"
	"github.com/careline/careline/store"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// App is a running careline node.
type App struct {
	cfg      *config.Config
	log      *slog.Logger
	reg      *prometheus.Registry
	pool     *pgxpool.Pool
	Log      *store.Log
	HTTP     *httpx.Server
	HTTPAddr string
	cancel   context.CancelFunc
	done     chan error
}

// Options tunes New.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (tests inject a fixed one); default time.Now.
	Now func() time.Time
}

// New builds an App from cfg without starting network listeners.
func New(ctx context.Context, cfg *config.Config, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, log: opts.Logger, reg: prometheus.NewRegistry(), done: make(chan error, 1)}
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
		Pool: a.pool, Logger: a.log.With("component", "store"), Metrics: store.NewMetrics(a.reg),
	})
	if err != nil {
		a.closePool()
		return nil, fmt.Errorf("engine: interaction log: %w", err)
	}
	a.Log = l
	a.HTTP = httpx.New(a.reg, a.log.With("component", "http"))
	a.HTTP.AddCheck("config", func() httpx.Check { return httpx.Check{Ready: true, Status: "loaded"} })
	a.HTTP.AddCheck("interaction_log", a.logCheck)
	return a, nil
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
	a.Log.Start(ctx)
	addr, err := a.HTTP.Listen(a.cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	a.HTTPAddr = addr
	go func() { a.done <- a.HTTP.Serve() }()
	a.log.Info("careline started", "http", addr, "outbox_backlog", a.Log.Backlog())
	return nil
}

// Shutdown stops taking new work, lets running work finish until ctx's deadline, then
// flushes the interaction log.
func (a *App) Shutdown(ctx context.Context) error {
	var errs []error
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
	if err := a.Log.Close(); err != nil {
		errs = append(errs, err)
	}
	a.closePool()
	return errors.Join(errs...)
}
