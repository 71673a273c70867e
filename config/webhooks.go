package config

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhooks configures outbound result webhooks (package webhook).
type Webhooks struct {
	// RetryFor is how long a delivery is retried before it is dead-lettered (default 24h).
	RetryFor   time.Duration `yaml:"retry_for"`
	BackoffMin time.Duration `yaml:"backoff_min"` // default 5s
	BackoffMax time.Duration `yaml:"backoff_max"` // default 1h
	Workers    int           `yaml:"workers"`     // concurrent POSTs per node (default 8)
	// Endpoints are the receivers by name; the name labels metrics and dead letters.
	Endpoints map[string]*WebhookEndpoint `yaml:"endpoints"`
}

// WebhookEndpoint is one receiver.
type WebhookEndpoint struct {
	URL Ref `yaml:"url"` // may be env:NAME (it may carry a token)
	// Secret is the Standard Webhooks signing secret "whsec_<base64>", by env: reference.
	Secret    Secret        `yaml:"secret"`
	Events    []string      `yaml:"events"`
	Fields    []string      `yaml:"fields"`    // phone, language, appointment_at or a contact CSV field
	Campaigns []string      `yaml:"campaigns"` // empty: every campaign and inbound calls
	Timeout   time.Duration `yaml:"timeout"`   // default 10s
}

// WebhookEvents are the event types an endpoint may subscribe to.
var WebhookEvents = []string{"refill.requested", "appointment.confirmed", "appointment.cancelled",
	"appointment.reschedule_requested", "optout.recorded", "callback.requested", "voicemail.left",
	"message.for_provider", "interaction.ended"}

func (c *Config) resolveWebhooks(r *Reporter, opts LoadOptions) {
	if c.Webhooks == nil {
		return
	}
	for _, name := range sortedKeys(c.Webhooks.Endpoints) {
		e := c.Webhooks.Endpoints[name]
		if e == nil {
			continue
		}
		p := Join("webhooks.endpoints", name)
		if e.URL.Env != "" && !e.URL.set {
			v, ok := opts.LookupEnv(e.URL.Env)
			e.URL.value, e.URL.set = v, ok
			if !ok {
				r.Warnf(Join(p, "url"), "set "+e.URL.Env+" in the environment", "environment variable %s is not set", e.URL.Env)
			}
		}
		if e.Secret.Env != "" {
			v, ok := opts.LookupEnv(e.Secret.Env)
			e.Secret.value, e.Secret.set = v, ok && v != ""
			if !e.Secret.set {
				fix := "export " + e.Secret.Env + " before starting careline"
				if opts.AllowMissingSecrets {
					r.Warnf(Join(p, "secret"), fix, "environment variable %s is not set", e.Secret.Env)
				} else {
					r.Errorf(Join(p, "secret"), fix, "environment variable %s is not set", e.Secret.Env)
				}
			}
		}
	}
}

func (c *Config) validateWebhooks(r *Reporter) {
	w := c.Webhooks
	if w == nil {
		return
	}
	setDur(&w.RetryFor, 24*time.Hour)
	setDur(&w.BackoffMin, 5*time.Second)
	setDur(&w.BackoffMax, time.Hour)
	if w.Workers == 0 {
		w.Workers = 8
	}
	if w.RetryFor < time.Hour {
		r.Warnf("webhooks.retry_for", "use at least 24h so a receiver down for a day loses nothing",
			"deliveries are given up after %s", w.RetryFor)
	}
	if w.BackoffMin > w.BackoffMax {
		r.Errorf("webhooks.backoff_min", "keep backoff_min <= backoff_max", "backoff_min is above backoff_max")
	}
	if w.Workers < 1 || w.Workers > 256 {
		r.Errorf("webhooks.workers", "use 1 to 256", "workers %d out of range", w.Workers)
	}
	for _, name := range sortedKeys(w.Endpoints) {
		e, p := w.Endpoints[name], Join("webhooks.endpoints", name)
		if e == nil {
			r.Errorf(p, "give the endpoint a url, a secret and events", "empty webhook endpoint")
			continue
		}
		if !validName(name) {
			r.Errorf(p, "use lower-case letters, digits, _ and -", "bad endpoint name %q", name)
		}
		if e.Timeout == 0 {
			e.Timeout = 10 * time.Second
		}
		if u := e.URL.Value(); e.URL.Env == "" || u != "" {
			pu, err := url.Parse(u)
			if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
				r.Errorf(Join(p, "url"), `write an http(s) URL, e.g. "https://pms.example.org/careline"`, "bad webhook URL")
			} else if pu.Scheme == "http" && !isLoopbackHost(pu.Hostname()) {
				r.Warnf(Join(p, "url"), "use https: payloads carry patient references", "webhook URL is not https")
			}
		}
		if e.Secret.IsZero() {
			r.Errorf(Join(p, "secret"), `add secret: "env:NAME" with a whsec_ secret`, "webhook endpoint without a signing secret")
		} else if v := e.Secret.Value(); v != "" {
			b64, ok := strings.CutPrefix(v, "whsec_")
			key, err := base64.StdEncoding.DecodeString(b64)
			if !ok || err != nil || len(key) < 24 || len(key) > 64 {
				r.Errorf(Join(p, "secret"), `use "whsec_" + base64 of 24 to 64 random bytes`, "%s is not a whsec_ secret", e.Secret.Env)
			}
		}
		if len(e.Events) == 0 {
			r.Errorf(Join(p, "events"), "subscribe to one or more of: "+strings.Join(WebhookEvents, ", "), "no events")
		}
		for i, ev := range e.Events {
			if !slices.Contains(WebhookEvents, ev) {
				r.Errorf(Join(p, "events", "["+strconv.Itoa(i)+"]"), "use one of: "+strings.Join(WebhookEvents, ", "), "unknown event %q", ev)
			}
		}
		for i, cp := range e.Campaigns {
			if _, ok := c.Campaigns[cp]; !ok {
				r.Errorf(Join(p, "campaigns", "["+strconv.Itoa(i)+"]"), "name a configured campaign", "unknown campaign %q", cp)
			}
		}
		if e.Timeout < 100*time.Millisecond || e.Timeout > time.Minute {
			r.Errorf(Join(p, "timeout"), "use 100ms to 1m", "timeout %s out of range", e.Timeout)
		}
	}
}

func isLoopbackHost(h string) bool { return h == "localhost" || h == "127.0.0.1" || h == "::1" }
