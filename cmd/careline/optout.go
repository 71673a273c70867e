package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/careline/careline/dialer/results"
)

const optoutUsage = `usage: careline optout import FILE.csv [--config FILE]

  import FILE.csv   add a do-not-call list: a header with a "phone" column (optional
                    "patient_ref"); bad rows are listed as FILE:LINE and skipped, the rest
                    kept. Exit 0: all rows good; 3: some refused; 1: nothing imported`

func cmdOptOut(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("optout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, optoutUsage) }
	path := fs.String("config", "configs/careline.yaml", "configuration file")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 2 || pos[0] != "import" {
		fmt.Fprintln(stderr, optoutUsage)
		return 2
	}
	file := pos[1]
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintf(stderr, "careline optout import: %v\n", err)
		return 1
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, pool, ok := openDB(ctx, "optout", *path, stderr)
	if !ok {
		return 1
	}
	defer pool.Close()
	rep, err := results.ImportOptOuts(ctx, pool, f, "import")
	switch {
	case errors.Is(err, results.ErrHeader):
		fmt.Fprintf(stderr, "%s:1: %v\n", file, err)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "careline optout import: %v\n", err)
		return 1
	}
	for _, b := range rep.Bad {
		fmt.Fprintf(stderr, "%s:%d: %s\n", file, b.Line, b.Msg)
	}
	fmt.Fprintf(stdout, "%s: %d rows: %d added, %d already on the list, %d refused\n", file, rep.Rows, rep.Added, rep.Existing, len(rep.Bad))
	return importExit(rep.Added+rep.Existing, len(rep.Bad))
}

// campaignExport writes a campaign's per-contact results (the API's columns) to stdout.
func campaignExport(ctx context.Context, env *campaignEnv, name, format, disposition, day string, stdout, stderr io.Writer) int {
	if _, ok := env.campaigns[name]; !ok {
		fmt.Fprintf(stderr, "careline campaign export: unknown campaign %q\n", name)
		return 1
	}
	if format != "csv" {
		fmt.Fprintf(stderr, "careline campaign export: format %q is not supported (use --format csv)\n", format)
		return 2
	}
	if _, err := results.ExportCSV(ctx, env.pool, name, results.Filter{Disposition: disposition, Day: day}, stdout); err != nil {
		fmt.Fprintf(stderr, "careline campaign export: %v\n", err)
		return 1
	}
	return 0
}
