package app

import (
	"context"
	"fmt"

	"github.com/careline/careline/config"
	"github.com/careline/careline/store"
	"github.com/careline/careline/webhook"
)

// WebhookEndpoints maps the configuration's webhook endpoints onto the webhook
// package's (sorted by name).
func WebhookEndpoints(cfg *config.Config) ([]*webhook.Endpoint, error) {
	if cfg.Webhooks == nil {
		return nil, nil
	}
	var out []*webhook.Endpoint
	for _, name := range sortedNames(cfg.Webhooks.Endpoints) {
		e := cfg.Webhooks.Endpoints[name]
		if e == nil {
			continue
		}
		key, err := webhook.ParseSecret(e.Secret.Value())
		if err != nil {
			return nil, fmt.Errorf("engine: webhooks.endpoints.%s.secret: %w", name, err)
		}
		ep := &webhook.Endpoint{Name: name, URL: e.URL.Value(), Key: key, Events: e.Events, Fields: e.Fields,
			Campaigns: e.Campaigns, Timeout: e.Timeout}
		if err := ep.Validate(); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		out = append(out, ep)
	}
	return out, nil
}

// resultProjectors are the interaction log projectors of the results integrations
// (webhook deliveries). A bad endpoint is logged and left out: calls still run.
func (a *App) resultProjectors() []store.Projector {
	eps, err := WebhookEndpoints(a.cfg)
	if err != nil {
		a.log.Error("webhooks are off", "err", err)
		return nil
	}
	if len(eps) == 0 {
		return nil
	}
	return []store.Projector{webhook.Projector(eps, a.log.With("component", "webhook"))}
}

// startResults runs the webhook deliverer (one per node; nodes share the rows) and
// mounts the results API.
func (a *App) startResults(ctx context.Context) {
	if a.pool == nil {
		return
	}
	a.mountResultsAPI()
	eps, err := WebhookEndpoints(a.cfg)
	if err != nil || len(eps) == 0 {
		return
	}
	w := a.cfg.Webhooks
	d := webhook.NewDeliverer(a.pool, eps, webhook.Options{Workers: w.Workers, BackoffMin: w.BackoffMin,
		BackoffMax: w.BackoffMax, RetryFor: w.RetryFor, Logger: a.log.With("component", "webhook"),
		Metrics: webhook.NewMetrics(a.reg), Now: a.opts.Now})
	go func() {
		if err := d.Run(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("webhook deliverer stopped", "err", err)
		}
	}()
	a.log.Info("webhook deliverer started", "endpoints", len(eps))
}
