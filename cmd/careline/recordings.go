package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/recordings"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

type noEvents struct{}

func (noEvents) Append(store.Event) error { return nil }

// cmdRecordings: careline recordings export ID --out FILE [--config FILE]
func cmdRecordings(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "export" {
		fmt.Fprintln(stderr, "usage: careline recordings export ID --out FILE [--config FILE]")
		return 2
	}
	id, err := uuid.Parse(args[1])
	if err != nil {
		fmt.Fprintf(stderr, "careline recordings export: %q is not a recording id\n", args[1])
		return 2
	}
	fs := flag.NewFlagSet("recordings export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "configs/careline.yaml", "configuration file")
	out := fs.String("out", "", "file to write the decrypted WAV to (created with mode 0600)")
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	if *out == "" {
		fmt.Fprintln(stderr, "careline recordings export: --out FILE is required")
		return 2
	}
	cfg := loadConfig(*cfgPath, stderr, config.LoadOptions{})
	if cfg == nil {
		return 1
	}
	if cfg.Recordings == nil || cfg.Store.DatabaseURL.Value() == "" {
		fmt.Fprintln(stderr, "careline recordings export: the config has no recordings section or no database")
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, cfg.Store.DatabaseURL.Value())
	if err != nil {
		fmt.Fprintf(stderr, "careline recordings export: %v\n", err)
		return 1
	}
	defer pool.Close()
	s, err := recordings.NewFromConfig(cfg.Recordings, pool, noEvents{})
	if err != nil {
		fmt.Fprintf(stderr, "careline recordings export: %v\n", err)
		return 1
	}
	actor := "unknown"
	if u, err := user.Current(); err == nil {
		actor = u.Username
	}
	f, err := os.OpenFile(*out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "careline recordings export: %v\n", err)
		return 1
	}
	if err := s.Export(ctx, id, f, actor); err != nil {
		f.Close()
		os.Remove(*out)
		fmt.Fprintf(stderr, "careline recordings export: %v\n", err)
		return 1
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "careline recordings export: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "recording %s written to %s (access audited as %s)\n", id, *out, actor)
	return 0
}
