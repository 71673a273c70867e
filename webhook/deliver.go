package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tunes a Deliverer.
type Options struct {
	// Workers is how many POSTs run at once (default 8).
	Workers int
	// Poll is how often due rows are looked for when no notification came (default 1 s).
	Poll time.Duration
	// Lease is how long a claimed row stays claimed; a node killed mid-delivery
	// leaves it due again after that (default 2 min, at least the longest timeout).
	Lease time.Duration
	// BackoffMin and BackoffMax bound the retry delay, which doubles per attempt with
	// jitter (defaults 5 s and 1 h).
	BackoffMin, BackoffMax time.Duration
	// RetryFor is how long a delivery is retried before it is dead-lettered
	// (default 24 h).
	RetryFor time.Duration
	Client   *http.Client
	Logger   *slog.Logger
	Metrics  *Metrics
	Now      func() time.Time
	// Rand returns a number in [0, 1) for jitter (default math/rand/v2).
	Rand func() float64
}

// Deliverer sends due webhook_deliveries rows to their endpoints.
type Deliverer struct {
	pool *pgxpool.Pool
	eps  map[string]*Endpoint
	o    Options
	log  *slog.Logger
	m    *Metrics
}

// NewDeliverer builds a deliverer for endpoints over pool.
func NewDeliverer(pool *pgxpool.Pool, endpoints []*Endpoint, o Options) *Deliverer {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 5 * time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = time.Hour
	}
	if o.RetryFor <= 0 {
		o.RetryFor = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	d := &Deliverer{pool: pool, eps: map[string]*Endpoint{}, o: o, log: o.Logger, m: o.Metrics}
	longest := time.Duration(0)
	for _, e := range endpoints {
		if e.Timeout <= 0 {
			e.Timeout = 10 * time.Second
		}
		longest = max(longest, e.Timeout)
		d.eps[e.Name] = e
	}
	if d.o.Lease <= 0 {
		d.o.Lease = 2 * time.Minute
	}
	d.o.Lease = max(d.o.Lease, longest+5*time.Second)
	if d.o.Client == nil {
		d.o.Client = &http.Client{
			// A redirect is a failed delivery: following it could send PHI elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: o.Workers,
				DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, IdleConnTimeout: 90 * time.Second},
		}
	}
	d.m.init(endpoints)
	return d
}

// Backoff returns the delay before retry number attempt (1 = after the first
// failure): BackoffMin·2^(attempt-1), capped at BackoffMax, then scaled by a random
// factor in [0.5, 1) so that receivers coming back are not hit by every node at once.
func (d *Deliverer) Backoff(attempt int) time.Duration {
	b := d.o.BackoffMin
	for i := 1; i < attempt && b < d.o.BackoffMax; i++ {
		b *= 2
	}
	b = min(b, d.o.BackoffMax)
	return time.Duration(float64(b) * (0.5 + d.o.Rand()/2))
}

// Run delivers until ctx ends. PostgreSQL errors are logged and retried.
func (d *Deliverer) Run(ctx context.Context) error {
	if len(d.eps) == 0 {
		<-ctx.Done()
		return nil
	}
	wake := make(chan struct{}, 1)
	go d.listen(ctx, wake)
	gauges := time.NewTicker(5 * time.Second)
	defer gauges.Stop()
	d.refreshGauges(ctx)
	for {
		n, err := d.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("webhook: delivery round failed; retrying", "err", err)
		}
		if n > 0 && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-gauges.C:
			d.refreshGauges(ctx)
		case <-time.After(d.o.Poll):
		}
	}
}

// listen turns the projector's NOTIFY into wake-ups (best effort: Poll covers gaps).
func (d *Deliverer) listen(ctx context.Context, wake chan<- struct{}) {
	for ctx.Err() == nil {
		conn, err := d.pool.Acquire(ctx)
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+notifyChannel); err == nil {
				for {
					if _, err = conn.Conn().WaitForNotification(ctx); err != nil {
						break
					}
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			}
			conn.Release()
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

type claimed struct {
	id        int64
	webhookID string
	endpoint  string
	eventAt   time.Time
	body      []byte
	attempts  int
	retryFrom time.Time
}

// RunOnce claims one batch of due rows, delivers them and records the results. It
// returns how many rows it claimed.
func (d *Deliverer) RunOnce(ctx context.Context) (int, error) {
	names := make([]string, 0, len(d.eps))
	for n := range d.eps {
		names = append(names, n)
	}
	now := d.o.Now()
	rows, err := d.pool.Query(ctx, `UPDATE webhook_deliveries SET next_at = $3, attempts = attempts + 1
		WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_at <= $1 AND endpoint = ANY($2)
			ORDER BY next_at LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING id, webhook_id::text, endpoint, event_at, body, attempts, retry_from`,
		now, names, now.Add(d.o.Lease), d.o.Workers)
	if err != nil {
		return 0, fmt.Errorf("webhook: claim: %w", err)
	}
	batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (claimed, error) {
		var c claimed
		var body string
		err := r.Scan(&c.id, &c.webhookID, &c.endpoint, &c.eventAt, &body, &c.attempts, &c.retryFrom)
		c.body = []byte(body)
		return c, err
	})
	if err != nil {
		return 0, fmt.Errorf("webhook: claim: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	sem := make(chan struct{}, d.o.Workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, c := range batch {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := d.deliver(ctx, c); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return len(batch), errors.Join(errs...)
}

func (d *Deliverer) deliver(ctx context.Context, c claimed) error {
	e := d.eps[c.endpoint]
	status, perr := d.post(ctx, e, c)
	now := d.o.Now()
	// The result is recorded even when ctx was cancelled during the POST, so a
	// delivery the receiver accepted is not sent again after a clean shutdown. Every
	// update is fenced by the attempt number it claimed: a node that outlived its lease
	// cannot overwrite what a later claim recorded.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if perr == nil {
		d.m.attempts.WithLabelValues(e.Name, "delivered").Inc()
		d.m.latency.WithLabelValues(e.Name).Observe(max(0, now.Sub(c.eventAt).Seconds()))
		_, err := d.pool.Exec(wctx, `UPDATE webhook_deliveries SET state = 'delivered', delivered_at = $2, last_status = $3,
			last_error = '' WHERE id = $1 AND state = 'pending' AND attempts = $4`, c.id, now, status, c.attempts)
		if err != nil {
			return fmt.Errorf("webhook: record delivery: %w", err)
		}
		return nil
	}
	if ctx.Err() != nil && status == 0 {
		// Shutting down mid-request: leave the row to the lease, no failure counted.
		_, err := d.pool.Exec(wctx, `UPDATE webhook_deliveries SET next_at = $2, attempts = attempts - 1
			WHERE id = $1 AND state = 'pending' AND attempts = $3`, c.id, now, c.attempts)
		return err
	}
	state, next := "pending", now.Add(d.Backoff(c.attempts))
	result := "failed"
	if next.Sub(c.retryFrom) > d.o.RetryFor {
		state, result = "dead", "dead"
		d.log.Warn("webhook: delivery dead-lettered after its retry period", "endpoint", e.Name,
			"webhook_id", c.webhookID, "attempts", c.attempts, "err", perr.Error())
	} else if c.attempts == 1 || c.attempts%10 == 0 {
		d.log.Info("webhook: delivery failed; will retry", "endpoint", e.Name, "webhook_id", c.webhookID,
			"attempts", c.attempts, "retry_in", next.Sub(now).Round(time.Millisecond).String(), "err", perr.Error())
	}
	d.m.attempts.WithLabelValues(e.Name, result).Inc()
	var st *int
	if status != 0 {
		st = &status
	}
	_, err := d.pool.Exec(wctx, `UPDATE webhook_deliveries SET state = $2, next_at = $3, last_status = $4, last_error = $5
		WHERE id = $1 AND state = 'pending' AND attempts = $6`, c.id, state, next, st, perr.Error(), c.attempts)
	if err != nil {
		return fmt.Errorf("webhook: record failure: %w", err)
	}
	return nil
}

// post sends one attempt. The error never contains the URL (it may hold PHI or a token).
func (d *Deliverer) post(ctx context.Context, e *Endpoint, c claimed) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(c.body))
	if err != nil {
		return 0, errors.New("bad endpoint URL")
	}
	ts := d.o.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "careline-webhooks")
	req.Header.Set(HeaderID, c.webhookID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(e.Key, c.webhookID, ts, c.body))
	resp, err := d.o.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("timeout after %s", e.Timeout)
		}
		return 0, fmt.Errorf("request failed: %s", scrub(err.Error(), e.URL))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// scrub removes the endpoint's URL and host from an error text.
func scrub(s, rawURL string) string {
	s = stringsReplace(s, rawURL, "<endpoint>")
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		s = stringsReplace(s, u.Host, "<endpoint>")
	}
	return s
}

func (d *Deliverer) refreshGauges(ctx context.Context) {
	rows, err := d.pool.Query(ctx, `SELECT endpoint, count(*) FILTER (WHERE state = 'pending'),
		count(*) FILTER (WHERE state = 'dead') FROM webhook_deliveries WHERE state <> 'delivered' GROUP BY endpoint`)
	if err != nil {
		return
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var name string
		var p, dead int64
		if rows.Scan(&name, &p, &dead) == nil && d.eps[name] != nil {
			d.m.backlog.WithLabelValues(name).Set(float64(p))
			d.m.dead.WithLabelValues(name).Set(float64(dead))
			seen[name] = true
		}
	}
	for name := range d.eps {
		if !seen[name] {
			d.m.backlog.WithLabelValues(name).Set(0)
			d.m.dead.WithLabelValues(name).Set(0)
		}
	}
}
