package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/careline/careline/dialer"
)

const dialerUsage = `usage: careline dialer simulate [--agents 20] [--live 0.25] [--machine 0.25] [--busy 0.05]
       [--handle lognormal:180s:90s] [--wrapup 0s] [--days 10] [--hours 8] [--target 0.03]
       [--mode progressive|predictive|both] [--seed N]

Runs the dialer's real pacer against a simulated shift (virtual clock) and prints agent
talk time, dials and the abandon rate with its 95% upper bound, per pacing mode.
Durations: 180s (fixed), exp:180s, uniform:5s:20s, lognormal:180s:90s (mean:sd).`

func cmdDialer(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "simulate" {
		fmt.Fprintln(stderr, dialerUsage)
		return 2
	}
	fs := flag.NewFlagSet("dialer simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, dialerUsage) }
	agents := fs.Int("agents", 20, "agents logged in")
	live := fs.Float64("live", 0.25, "chance a dial reaches a person")
	machine := fs.Float64("machine", 0.25, "chance a dial reaches an answering machine")
	busy := fs.Float64("busy", 0.05, "chance a dial is busy")
	handle := fs.String("handle", "lognormal:180s:90s", "agent talk time")
	wrap := fs.String("wrapup", "0s", "after-call work")
	days := fs.Int("days", 10, "days simulated")
	hours := fs.Float64("hours", 8, "shift length in hours")
	target := fs.Float64("target", 0.03, "abandon-rate target (upper 95% bound), at most 0.03")
	mode := fs.String("mode", "both", "progressive, predictive or both")
	seed := fs.Uint64("seed", 1, "random seed (same seed, same result)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "careline dialer simulate: unexpected arguments %v\n", fs.Args())
		return 2
	}
	ht, err := dialer.ParseDist(*handle)
	if err != nil {
		fmt.Fprintf(stderr, "careline dialer simulate: --handle: %v\n", err)
		return 2
	}
	wt, err := dialer.ParseDist(*wrap)
	if err != nil {
		fmt.Fprintf(stderr, "careline dialer simulate: --wrapup: %v\n", err)
		return 2
	}
	var modes []dialer.Pacing
	switch *mode {
	case "both":
		modes = []dialer.Pacing{dialer.Progressive, dialer.Predictive}
	case "progressive", "predictive":
		modes = []dialer.Pacing{dialer.Pacing(*mode)}
	default:
		fmt.Fprintf(stderr, "careline dialer simulate: --mode %q: use progressive, predictive or both\n", *mode)
		return 2
	}
	switch {
	case *agents < 1 || *days < 1 || *hours <= 0:
		fmt.Fprintln(stderr, "careline dialer simulate: --agents, --days and --hours must be positive")
		return 2
	case *live <= 0 || *live > 1 || *machine < 0 || *busy < 0 || *live+*machine+*busy > 1:
		fmt.Fprintln(stderr, "careline dialer simulate: --live must be in (0,1] and --live + --machine + --busy at most 1")
		return 2
	case *target <= 0 || *target > 0.03:
		fmt.Fprintln(stderr, "careline dialer simulate: --target must be above 0 and at most 0.03")
		return 2
	}
	var reps []dialer.SimReport
	for _, m := range modes {
		reps = append(reps, dialer.Simulate(dialer.SimOptions{Mode: m, Agents: *agents, LiveAnswerProb: *live,
			MachineRate: *machine, BusyRate: *busy, HandleTime: ht, WrapUp: wt, Days: *days, HoursPerDay: *hours,
			AbandonTarget: *target, Seed: *seed}))
	}
	fmt.Fprintf(stdout, "%d agents, %d days of %.1f h, live answers %.0f%%, machines %.0f%%, talk %s, seed %d\n\n",
		*agents, *days, *hours, 100**live, 100**machine, ht, *seed)
	fmt.Fprint(stdout, dialer.SimTable(reps...))
	return 0
}
