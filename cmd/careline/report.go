package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/report"
	"github.com/jackc/pgx/v5/pgxpool"
)

const reportUsage = `usage: careline report daily [--config FILE] [--date YYYY-MM-DD] [--format csv|html] [--out FILE] [--short-abandon 10s]

The day is the site's local day (site.timezone); --date defaults to yesterday there.
CSV: one file in sections (a header row starting with "section" before each section).
HTML: one self-contained page (inline CSS and SVG charts). Neither holds patient data.`

// cmdReport runs `careline report daily`.
func cmdReport(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "daily" {
		fmt.Fprintln(stderr, reportUsage)
		return 2
	}
	fs := flag.NewFlagSet("report daily", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "configs/careline.yaml", "configuration file")
	date := fs.String("date", "", "local day YYYY-MM-DD (default: yesterday in site.timezone)")
	format := fs.String("format", "csv", "csv or html")
	out := fs.String("out", "", "write here instead of standard output")
	short := fs.Duration("short-abandon", report.DefaultShortAbandon,
		"abandons sooner than this are short and left out of the service level (0: none)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "careline report daily: unexpected arguments %v\n%s\n", fs.Args(), reportUsage)
		return 2
	}
	if *format != "csv" && *format != "html" {
		fmt.Fprintf(stderr, "careline report daily: --format must be csv or html, not %q\n", *format)
		return 2
	}
	if *short < 0 {
		fmt.Fprintln(stderr, "careline report daily: --short-abandon must not be negative")
		return 2
	}
	var day report.Date
	if *date != "" {
		d, err := report.ParseDate(*date)
		if err != nil {
			fmt.Fprintf(stderr, "careline report daily: %v\n", err)
			return 2
		}
		day = d
	}
	cfg := loadConfig(*path, stderr, config.LoadOptions{AllowMissingSecrets: true})
	if cfg == nil {
		return 1
	}
	site, err := report.SiteFromConfig(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "careline report daily: %v\n", err)
		return 1
	}
	now := time.Now()
	if day == (report.Date{}) {
		day = report.DateOf(now.In(site.Location)).AddDays(-1)
	}
	u := cfg.Store.DatabaseURL.Value()
	if u == "" {
		fmt.Fprintln(stderr, "careline report daily: store.database_url is empty (set CARELINE_DATABASE_URL)")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		fmt.Fprintf(stderr, "careline report daily: %v\n", err)
		return 1
	}
	defer pool.Close()
	sa := *short
	if sa == 0 {
		sa = -1 // report.DailyOptions: negative means no abandon is short
	}
	r, err := report.Daily(ctx, pool, site, report.DailyOptions{Date: day, ShortAbandon: sa, Now: now})
	if err != nil {
		fmt.Fprintf(stderr, "careline report daily: %v\n", err)
		return 1
	}
	var buf bytes.Buffer
	if *format == "html" {
		err = r.WriteHTML(&buf)
	} else {
		err = r.WriteCSV(&buf)
	}
	if err == nil {
		err = writeOut(*out, buf.Bytes(), stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "careline report daily: %v\n", err)
		return 1
	}
	if *out != "" {
		fmt.Fprintf(stderr, "careline report daily: %s for %s written to %s\n", *format, day, *out)
	}
	return 0
}

// writeOut writes data to path through a temporary file renamed into place (a reader
// never sees half a report), or to stdout when path is empty.
func writeOut(path string, data []byte, stdout io.Writer) error {
	if path == "" {
		_, err := stdout.Write(data)
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o640)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return errors.Join(err, os.Remove(f.Name()))
	}
	return nil
}
