package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/careline/careline/internal/logx"
	"github.com/careline/careline/ivr/prompts"
)

// cmdPrompts: careline prompts render|check [--manifest FILE] [--out DIR] [--force] [--ids a,b/]
func cmdPrompts(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "render" && args[0] != "check") {
		fmt.Fprintln(stderr, "usage: careline prompts render|check [--manifest FILE] [--out DIR] [--force] [--ids id,prefix/]")
		return 2
	}
	fs := flag.NewFlagSet("prompts "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	manifest := fs.String("manifest", prompts.DefaultManifestPath, "prompt manifest (id → English and Spanish text)")
	out := fs.String("out", prompts.DefaultOutDir, "output folder (<out>/<lang>/<id>.wav)")
	force := fs.Bool("force", false, "re-render generated prompts even when up to date (recorded ones are never touched)")
	ids := fs.String("ids", "", "comma-separated ids or prefixes ending in / (default: all)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	m, err := prompts.Load(*manifest)
	if err != nil {
		fmt.Fprintf(stderr, "careline prompts: %v\n", err)
		return 1
	}
	if args[0] == "check" {
		if err := prompts.Verify(m, *out); err != nil {
			fmt.Fprintf(stderr, "careline prompts check: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: every prompt present and current\n", *out)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := prompts.RenderOptions{Force: *force, Logger: logx.New(stderr, logx.Options{})}
	if *ids != "" {
		opts.IDs = strings.Split(*ids, ",")
	}
	rep, err := prompts.Render(ctx, m, *out, opts)
	if err != nil {
		fmt.Fprintf(stderr, "careline prompts render: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, rep.String())
	for _, k := range rep.Modified {
		fmt.Fprintf(stdout, "  modified by hand (left alone; --force re-renders): %s\n", k)
	}
	for _, k := range rep.MissingRecorded {
		fmt.Fprintf(stdout, "  recorded prompt missing (supply the recording): %s\n", k)
	}
	for _, k := range rep.Orphans {
		fmt.Fprintf(stdout, "  orphan file (not in the manifest): %s\n", k)
	}
	return 0
}
