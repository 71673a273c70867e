// Command careline is the telephony engine: it serves calls (serve), prepares the
// database (migrate), checks configuration (config validate) and carries the operator
// tools (prompts, campaigns, recordings, reports).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/careline/careline/app"
	"github.com/careline/careline/config"
	"github.com/careline/careline/internal/logx"
	"github.com/careline/careline/ivr"
	"github.com/careline/careline/ivr/prompts"
	"github.com/careline/careline/sip"
	"github.com/careline/careline/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type command struct {
	name, usage string
	run         func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "serve --config FILE            run the engine", cmdServe},
		{"migrate", "migrate --config FILE          apply database migrations", cmdMigrate},
		{"config", "config validate FILE           check a configuration file", cmdConfig},
		{"prompts", "prompts render|check [...]     build prompt audio from prompts/manifest.yaml (espeak-ng + sox)", cmdPrompts},
		{"recordings", "recordings export ID --out FILE   decrypt one recording to a WAV file (audited)", cmdRecordings},
		{"report", "report daily [--date D] [...]  daily report, CSV or HTML: queues, agents, IVR, campaigns", cmdReport},
		{"phone", "phone [flags]                  test softphone: register, call, answer, play, record, DTMF", cmdPhone},
		{"campaign", "campaign list|start|pause|resume|stop|import [...]  outbound campaigns (state in PostgreSQL)", cmdCampaign},
		{"fhir", "fhir pull CAMPAIGN --base URL   add a FHIR server's booked appointments to a campaign", cmdFHIR},
		{"optout", "optout import FILE.csv          add a do-not-call list (bad rows as FILE:LINE)", cmdOptOut},
		{"webhooks", "webhooks deadletter list|replay [...]  webhook deliveries whose retries were given up", cmdWebhooks},
		{"dialer", "dialer simulate [--agents N ...] compare pacing modes on a simulated shift", cmdDialer},
		{"version", "version                        print the version", cmdVersion},
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "careline: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: careline <command> [arguments]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintln(w, "  "+c.usage)
	}
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stdout, "careline", versionString())
	return 0
}

// loadConfig loads path, runs every domain validator, and prints every issue; it
// returns nil if any is an error.
func loadConfig(path string, stderr io.Writer, opts config.LoadOptions) *config.Config {
	cfg, issues := config.Load(path, opts)
	if cfg != nil && len(issues.Errors()) == 0 {
		issues = append(issues, validateDomains(cfg)...)
		issues.Sort()
	}
	for _, is := range issues {
		fmt.Fprintln(stderr, is.String())
	}
	if errs := issues.Errors(); len(errs) > 0 {
		fmt.Fprintf(stderr, "careline: %d configuration error(s) in %s\n", len(errs), path)
		return nil
	}
	return cfg
}

// validateDomains runs the checks that need more than the config file: flows against the
// prompt manifest, queue names, ...
func validateDomains(cfg *config.Config) config.Issues {
	var out config.Issues
	manifest, err := prompts.Load(filepath.Join(cfg.Prompts.Dir, "manifest.yaml"))
	if err != nil {
		out = append(out, config.Issue{File: cfg.File(), Path: "prompts.dir", Severity: config.Warning,
			Msg: fmt.Sprintf("prompt manifest not readable (%v); prompts are not checked", err),
			Fix: "keep manifest.yaml in the prompts folder"})
		manifest = nil
	}
	out = append(out, ivr.Validate(cfg, manifest)...)
	out = append(out, app.ValidateCampaigns(cfg)...)
	return out
}

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "validate" {
		fmt.Fprintln(stderr, "usage: careline config validate FILE")
		return 2
	}
	cfg := loadConfig(args[1], stderr, config.LoadOptions{AllowMissingSecrets: true})
	if cfg == nil {
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", args[1])
	return 0
}

func configFlag(name string, args []string, stderr io.Writer) (string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "configs/careline.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "careline %s: unexpected arguments %v\n", name, fs.Args())
		return "", false
	}
	return *path, true
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	return logx.New(w, logx.Options{Level: lvl})
}

func cmdMigrate(args []string, stdout, stderr io.Writer) int {
	path, ok := configFlag("migrate", args, stderr)
	if !ok {
		return 2
	}
	cfg := loadConfig(path, stderr, config.LoadOptions{AllowMissingSecrets: true})
	if cfg == nil {
		return 1
	}
	u := cfg.Store.DatabaseURL.Value()
	if u == "" {
		fmt.Fprintln(stderr, "careline migrate: store.database_url is empty (set CARELINE_DATABASE_URL)")
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		fmt.Fprintf(stderr, "careline migrate: %v\n", err)
		return 1
	}
	defer pool.Close()
	did, err := store.Migrate(ctx, pool)
	if err != nil {
		fmt.Fprintf(stderr, "careline migrate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "migrations applied: %v\n", did)
	return 0
}

func cmdServe(args []string, stdout, stderr io.Writer) int {
	path, ok := configFlag("serve", args, stderr)
	if !ok {
		return 2
	}
	cfg := loadConfig(path, stderr, config.LoadOptions{})
	if cfg == nil {
		return 1
	}
	log := newLogger(cfg, stderr)
	sip.InstallLogging(log.With("component", "sipgo"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	eng, err := app.New(ctx, cfg, app.Options{Logger: log})
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := eng.Start(ctx); err != nil {
		log.Error("cannot start", "err", err)
		_ = eng.Shutdown(context.Background())
		return 1
	}
	<-ctx.Done()
	stop()
	log.Info("shutting down: no new calls; waiting for running work", "deadline", cfg.SIP.DrainTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.SIP.DrainTimeout+10*time.Second)
	defer cancel()
	if err := eng.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
