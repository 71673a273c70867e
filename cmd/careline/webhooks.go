package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/store"
	"github.com/careline/careline/webhook"
	"github.com/jackc/pgx/v5/pgxpool"
)

const webhooksUsage = `usage: careline webhooks deadletter list|replay [--config FILE] [--endpoint NAME] [ID...]

  deadletter list           deliveries whose retries were given up (endpoint, type, attempts, last error)
  deadletter replay [ID...] make them due again (all, or the given ids) with a fresh retry period;
                            the webhook-id is unchanged, so receivers deduplicate`

// openDB loads the configuration and connects to (and migrates) PostgreSQL.
func openDB(ctx context.Context, cmd, path string, stderr io.Writer) (*config.Config, *pgxpool.Pool, bool) {
	cfg := loadConfig(path, stderr, config.LoadOptions{AllowMissingSecrets: true})
	if cfg == nil {
		return nil, nil, false
	}
	u := cfg.Store.DatabaseURL.Value()
	if u == "" {
		fmt.Fprintf(stderr, "careline %s: store.database_url is empty (set CARELINE_DATABASE_URL)\n", cmd)
		return nil, nil, false
	}
	pool, err := pgxpool.New(ctx, u)
	if err == nil {
		_, err = store.Migrate(ctx, pool)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		fmt.Fprintf(stderr, "careline %s: %v\n", cmd, err)
		return nil, nil, false
	}
	return cfg, pool, true
}

func cmdWebhooks(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("webhooks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, webhooksUsage) }
	path := fs.String("config", "configs/careline.yaml", "configuration file")
	endpoint := fs.String("endpoint", "", "only this endpoint")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) < 2 || pos[0] != "deadletter" || (pos[1] != "list" && pos[1] != "replay") || (pos[1] == "list" && len(pos) > 2) {
		fmt.Fprintln(stderr, webhooksUsage)
		return 2
	}
	var ids []int64
	for _, s := range pos[2:] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			fmt.Fprintf(stderr, "careline webhooks deadletter replay: %q is not a delivery id (see deadletter list)\n", s)
			return 2
		}
		ids = append(ids, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, pool, ok := openDB(ctx, "webhooks", *path, stderr)
	if !ok {
		return 1
	}
	defer pool.Close()
	if pos[1] == "replay" {
		n, err := webhook.Replay(ctx, pool, *endpoint, ids, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "careline webhooks deadletter replay: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%d dead deliveries due again\n", n)
		if len(ids) > 0 && n < int64(len(ids)) {
			fmt.Fprintf(stderr, "careline webhooks deadletter replay: %d of the given ids are not dead deliveries\n", int64(len(ids))-n)
			return 1
		}
		return 0
	}
	dl, err := webhook.DeadLetters(ctx, pool, *endpoint)
	if err != nil {
		fmt.Fprintf(stderr, "careline webhooks deadletter list: %v\n", err)
		return 1
	}
	if len(dl) == 0 {
		fmt.Fprintln(stdout, "no dead deliveries")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tENDPOINT\tTYPE\tWEBHOOK ID\tEVENT AT\tATTEMPTS\tLAST ERROR")
	for _, d := range dl {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.Endpoint, d.Type, d.WebhookID,
			d.EventAt.UTC().Format(time.RFC3339), d.Attempts, d.LastError)
	}
	_ = tw.Flush()
	return 0
}
