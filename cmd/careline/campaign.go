package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/careline/careline/calendar"
	"github.com/careline/careline/config"
	"github.com/careline/careline/dialer"
	"github.com/careline/careline/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

const campaignUsage = `usage: careline campaign <action> [--config FILE] ...

  list                      every configured campaign: state, contacts, 30-day abandon rate
  start|pause|resume|stop NAME
                            change a campaign's state (kept in PostgreSQL; every node follows it)
  import NAME FILE.csv      add contacts; bad rows are listed as FILE:LINE and skipped,
                            re-importing adds nothing twice. Exit 0: all rows good;
                            3: some rows refused (the good ones were added); 1: nothing imported
  export NAME --format csv [--disposition D] [--day YYYY-MM-DD]
                            per-contact results (attempts, final disposition, next due) as CSV`

// Exit status of an import that kept the good rows and refused others.
const exitPartial = 3

// parseInterspersed parses flags that may come before, between or after the
// positional arguments (careline campaign import NAME FILE --config X).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// campaignEnv is what the campaign commands work on.
type campaignEnv struct {
	cfg       *config.Config
	campaigns map[string]*dialer.Campaign
	pool      *pgxpool.Pool
}

// openCampaigns loads the configuration and connects to Postgres (migrating it: the
// commands may run before the engine ever did).
func openCampaigns(ctx context.Context, path string, stderr io.Writer) (*campaignEnv, bool) {
	cfg := loadConfig(path, stderr, config.LoadOptions{AllowMissingSecrets: true})
	if cfg == nil {
		return nil, false
	}
	cals := cfg.Calendars()
	camps, err := dialer.CampaignsFromConfig(cfg, func(name string) (*calendar.Calendar, bool) {
		c := cals[name]
		return c, c != nil
	})
	if err != nil {
		fmt.Fprintf(stderr, "careline campaign: %v\n", err)
		return nil, false
	}
	u := cfg.Store.DatabaseURL.Value()
	if u == "" {
		fmt.Fprintln(stderr, "careline campaign: store.database_url is empty (set CARELINE_DATABASE_URL): campaign state lives in PostgreSQL")
		return nil, false
	}
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		fmt.Fprintf(stderr, "careline campaign: %v\n", err)
		return nil, false
	}
	if _, err := store.Migrate(ctx, pool); err != nil {
		pool.Close()
		fmt.Fprintf(stderr, "careline campaign: %v\n", err)
		return nil, false
	}
	return &campaignEnv{cfg: cfg, campaigns: camps, pool: pool}, true
}

func whoAmI() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

func cmdCampaign(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("campaign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, campaignUsage) }
	path := fs.String("config", "configs/careline.yaml", "configuration file")
	format := fs.String("format", "csv", "export format")
	disp, day := fs.String("disposition", "", "export: only this disposition"), fs.String("day", "", "export: only this day")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) == 0 {
		fmt.Fprintln(stderr, campaignUsage)
		return 2
	}
	action, rest := pos[0], pos[1:]
	want := map[string]int{"list": 0, "start": 1, "pause": 1, "resume": 1, "stop": 1, "import": 2, "export": 1}
	n, ok := want[action]
	if !ok || len(rest) != n {
		fmt.Fprintln(stderr, campaignUsage)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env, ok := openCampaigns(ctx, *path, stderr)
	if !ok {
		return 1
	}
	defer env.pool.Close()
	switch action {
	case "list":
		return campaignList(ctx, env, stdout, stderr)
	case "import":
		return campaignImport(ctx, env, rest[0], rest[1], stdout, stderr)
	case "export":
		return campaignExport(ctx, env, rest[0], *format, *disp, *day, stdout, stderr)
	}
	return campaignChange(ctx, env, rest[0], dialer.Action(action), stdout, stderr)
}

func campaignList(ctx context.Context, env *campaignEnv, stdout, stderr io.Writer) int {
	ctl := dialer.NewControl(env.pool, env.campaigns)
	l, err := ctl.List(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "careline campaign list: %v\n", err)
		return 1
	}
	if len(l) == 0 {
		fmt.Fprintln(stdout, "no campaigns configured")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPURPOSE\tPACING\tSTATE\tPENDING\tDIALING\tDONE\tEXHAUSTED\tOPTED OUT\tEXPIRED\tABANDONED 30D (UCB95)")
	for _, c := range l {
		k := c.Contacts
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d/%d %.1f%% (%.1f%%)\n", c.Name, c.Purpose, c.Pacing, c.State,
			k.Pending, k.Dialing, k.Done, k.Exhausted, k.OptedOut, k.Expired, c.Abandoned30d, c.Live30d,
			100*c.AbandonRate, 100*c.AbandonUpper)
	}
	_ = tw.Flush()
	return 0
}

func campaignChange(ctx context.Context, env *campaignEnv, name string, a dialer.Action, stdout, stderr io.Writer) int {
	ctl := dialer.NewControl(env.pool, env.campaigns)
	prev, err := ctl.Do(ctx, name, a, whoAmI())
	switch {
	case errors.Is(err, dialer.ErrUnknownCampaign):
		names := make([]string, 0, len(env.campaigns))
		for n := range env.campaigns {
			names = append(names, n)
		}
		slices.Sort(names)
		fmt.Fprintf(stderr, "careline campaign %s: unknown campaign %q (configured: %s)\n", a, name, strings.Join(names, ", "))
		return 1
	case errors.Is(err, dialer.ErrTransition):
		fmt.Fprintf(stderr, "careline campaign %s: cannot %s campaign %s: it is %s\n", a, a, name, prev)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "careline campaign %s: %v\n", a, err)
		return 1
	}
	now, _ := dialer.CampaignState(ctx, env.pool, name)
	fmt.Fprintf(stdout, "campaign %s: %s (was %s)\n", name, now, prev)
	return 0
}

// isTerminal reports whether w is a terminal (progress lines are then redrawn in place).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func campaignImport(ctx context.Context, env *campaignEnv, name, file string, stdout, stderr io.Writer) int {
	c, ok := env.campaigns[name]
	if !ok {
		fmt.Fprintf(stderr, "careline campaign import: unknown campaign %q\n", name)
		return 1
	}
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintf(stderr, "careline campaign import: %v\n", err)
		return 1
	}
	defer f.Close()
	opts := dialer.ImportOptions{}
	tty := isTerminal(stdout)
	if tty {
		opts.Progress = func(done, total int) {
			pct := 100
			if total > 0 {
				pct = 100 * done / total
			}
			fmt.Fprintf(stdout, "\rimporting %s: %d/%d rows (%d%%)", name, done, total, pct)
		}
	}
	rep, err := dialer.ImportWith(ctx, env.pool, c, f, opts)
	if tty {
		fmt.Fprintln(stdout)
	}
	var he *dialer.HeaderError
	switch {
	case errors.As(err, &he):
		fmt.Fprintf(stderr, "%s:1: %v\n", file, err)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "careline campaign import: %v\n", err)
		return 1
	}
	for _, b := range rep.Bad {
		fmt.Fprintf(stderr, "%s:%d: %s\n", file, b.Line, strings.TrimPrefix(b.String(), fmt.Sprintf("line %d: ", b.Line)))
	}
	fmt.Fprintf(stdout, "%s: %d rows: %d added, %d already imported, %d refused\n", name, rep.Rows, rep.Added, rep.Duplicates, len(rep.Bad))
	return importExit(rep.Added+rep.Duplicates, len(rep.Bad))
}

// importExit is the exit code of a CSV import: 0 when every row was kept, exitPartial
// when some rows were refused and the rest kept, 1 when nothing was kept.
func importExit(kept, refused int) int {
	switch {
	case refused == 0:
		return 0
	case kept == 0:
		return 1
	default:
		return exitPartial
	}
}
