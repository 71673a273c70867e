// Command gobench runs careline's in-process Go benchmarks beside their anchors in the
// same run (so both see the same machine load), takes medians over -count runs and
// writes the tables to bench/README.md:
//
//   - outbox: Append latency (p50/p99) against a bare marshal+write(2) anchor; shipping
//     outbox → PostgreSQL against a COPY of the same events from memory;
//
//   - dialer: the pacing simulator (progressive vs predictive: 20 agents, 25 % live
//     answers, 180 s handle time, 10 simulated days), dial decisions per second against
//     PostgreSQL, one predictive pacing decision, and the AMD confusion matrix.
//
//     go run ./bench/cmd/gobench -write-readme      (needs CARELINE_TEST_DATABASE_URL: make bench does it)
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/careline/careline/bench/internal/host"
	"github.com/careline/careline/bench/internal/readme"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		os.Exit(1)
	}
}

// spec is one `go test -bench` invocation.
type spec struct {
	pkg, bench, benchtime string
	count                 int
}

// metrics maps benchmark name (without the -GOMAXPROCS suffix) and unit to the values
// of every run.
type metrics map[string]map[string][]float64

func (m metrics) median(name, unit string) (float64, bool) {
	v := m[name][unit]
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// parse reads `go test -bench` output.
func parse(out []byte, into metrics) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if into[name] == nil {
			into[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			into[name][f[i+1]] = append(into[name][f[i+1]], v)
		}
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gobench", flag.ContinueOnError)
	count := fs.Int("count", 5, "runs of each benchmark (medians are reported)")
	write := fs.Bool("write-readme", false, "rewrite the generated sections of -readme")
	path := fs.String("readme", "bench/README.md", "the README to rewrite")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Getenv("CARELINE_TEST_DATABASE_URL") == "" {
		return errors.New("CARELINE_TEST_DATABASE_URL is not set (run through make bench, which starts PostgreSQL)")
	}
	start := time.Now()
	load0 := host.LoadAvg1()
	m := metrics{}
	specs := []spec{
		// Anchor and subject alternate inside every -count run (one regexp, one process).
		{"./store", "^Benchmark(Append|AppendNoFsync|AppendAnchorWrite)$", "200000x", *count},
		{"./store", "^Benchmark(ShipToPostgres|ShipAnchorCopy)$", "1x", *count},
		{"./dialer", "^BenchmarkSimulate$", "1x", 1}, // deterministic (fixed seed)
		{"./dialer", "^BenchmarkGateCheck$", "2000x", *count},
		{"./dialer", "^BenchmarkPacerPlan$", "20000x", *count},
		{"./dialer/amd", "^BenchmarkCorpus$", "1x", 1}, // deterministic corpus
	}
	for _, s := range specs {
		fmt.Fprintf(os.Stderr, "gobench: %s %s\n", s.pkg, s.bench)
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", s.bench, "-benchtime", s.benchtime,
			"-count", strconv.Itoa(s.count), s.pkg)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			os.Stderr.Write(out)
			return fmt.Errorf("%s %s: %w", s.pkg, s.bench, err)
		}
		parse(out, m)
	}
	head := fmt.Sprintf("Measured %s on %s, %d CPUs, %s; load average %.1f at the start, %.1f at the end; took %s. Command: `go run ./bench/cmd/gobench -write-readme -count %d` (medians of %d runs; subject and anchor run in the same process, one after the other, every run).\n\n",
		start.Format("2006-01-02"), host.CPUModel(), runtime.NumCPU(), runtime.Version(), load0, host.LoadAvg1(), time.Since(start).Round(time.Second), *count, *count)
	outbox, err := outboxTable(m)
	if err != nil {
		return err
	}
	dialer, err := dialerTable(m)
	if err != nil {
		return err
	}
	fmt.Print(head + outbox + "\n" + dialer)
	if !*write {
		return nil
	}
	if err := readme.Replace(*path, "gobench", "outbox", head+outbox); err != nil {
		return err
	}
	return readme.Replace(*path, "gobench", "dialer", head+dialer)
}

// need returns the median or an error naming what is missing.
func need(m metrics, name, unit string) (float64, error) {
	v, ok := m.median(name, unit)
	if !ok {
		return 0, fmt.Errorf("no %s in the output of %s", unit, name)
	}
	return v, nil
}

func outboxTable(m metrics) (string, error) {
	var errs []error
	get := func(name, unit string) float64 {
		v, err := need(m, name, unit)
		errs = append(errs, err)
		return v
	}
	p50, p99 := get("BenchmarkAppend", "p50-µs"), get("BenchmarkAppend", "p99-µs")
	a50, a99 := get("BenchmarkAppendAnchorWrite", "p50-µs"), get("BenchmarkAppendAnchorWrite", "p99-µs")
	n99 := get("BenchmarkAppendNoFsync", "p99-µs")
	ship, cp := get("BenchmarkShipToPostgres", "events/s"), get("BenchmarkShipAnchorCopy", "events/s")
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| benchmark | careline | anchor | careline ÷ anchor | goal |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| Append latency p50 (one goroutine; fsync every 10 ms / 512 events, off the caller's path) | %.1f µs | %.1f µs (marshal + write(2), no framing) | %.2f | — |\n", p50, a50, p50/a50)
	fmt.Fprintf(&b, "| Append latency p99 | %.1f µs | %.1f µs | %.2f | ≤ 50 µs |\n", p99, a99, p99/a99)
	fmt.Fprintf(&b, "| Append latency p99 with the flusher off (diagnostic: the fsync policy's share of the tail) | %.1f µs | %.1f µs | %.2f | — |\n", n99, a99, n99/a99)
	fmt.Fprintf(&b, "| Outbox → PostgreSQL, sustained (100 000 events, batches of 5000: unnest insert ON CONFLICT + interaction upserts) | %.0f events/s | %.0f events/s (COPY from memory, no idempotence) | %.2f | ≥ 50 000 events/s |\n", ship, cp, ship/cp)
	return b.String(), nil
}

func dialerTable(m metrics) (string, error) {
	var errs []error
	get := func(name, unit string) float64 {
		v, err := need(m, name, unit)
		errs = append(errs, err)
		return v
	}
	prog, pred := "BenchmarkSimulate/progressive", "BenchmarkSimulate/predictive"
	progTalk, predTalk := get(prog, "talk-min/agent-h"), get(pred, "talk-min/agent-h")
	progUCB, predUCB := get(prog, "abandon-ucb95-%"), get(pred, "abandon-ucb95-%")
	progAb, predAb := get(prog, "abandon-%"), get(pred, "abandon-%")
	progOcc, predOcc := get(prog, "occupancy-%"), get(pred, "occupancy-%")
	progDph, predDph := get(prog, "dials/h"), get(pred, "dials/h")
	gate1, gate8 := get("BenchmarkGateCheck/serial", "ns/op"), get("BenchmarkGateCheck/parallel8", "ns/op")
	plan := get("BenchmarkPacerPlan", "ns/op")
	acc := get("BenchmarkCorpus", "accuracy-%")
	cells := map[string]float64{}
	for _, t := range []string{"human", "machine"} {
		for _, g := range []string{"human", "machine", "unsure"} {
			cells[t+"-as-"+g] = get("BenchmarkCorpus", t+"-as-"+g)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("**Pacing simulator** (the dialer's real Pacer and Estimator on a virtual clock; 20 agents, 25 % live answers, 25 % machines, 5 % busy, handle time lognormal mean 180 s sd 90 s, 10 days of 8 h, abandon target 3 %, seed 7):\n\n")
	b.WriteString("| mode | talk-minutes per agent-hour | occupancy | dials per hour | abandon rate (30 days) | its 95 % upper bound | goal |\n|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| progressive (anchor) | %.1f | %.1f %% | %.0f | %.2f %% | %.2f %% | — |\n", progTalk, progOcc, progDph, progAb, progUCB)
	fmt.Fprintf(&b, "| predictive | %.1f (%.2f× progressive) | %.1f %% | %.0f | %.2f %% | %.2f %% | ≥ 50 talk-min/agent-h with UCB95 ≤ 3 %% |\n\n", predTalk, predTalk/progTalk, predOcc, predDph, predAb, predUCB)
	b.WriteString("**Dial decisions** (compliance gate against PostgreSQL: opt-outs by phone and patient, daily/weekly caps, spacing; 200 phones with two earlier calls each):\n\n")
	b.WriteString("| benchmark | median | rate |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| one decider | %.0f µs | %.0f decisions/s |\n", gate1/1e3, 1e9/gate1)
	fmt.Fprintf(&b, "| eight deciders on one pool | %.0f µs per decision (wall) | %.0f decisions/s |\n", gate8/1e3, 1e9/gate8)
	fmt.Fprintf(&b, "| one predictive pacing plan (20 agents, 40 calls ringing) | %.1f µs | — |\n\n", plan/1e3)
	fmt.Fprintf(&b, "**AMD** over the generated corpus (espeak-ng \"Hello?\"/\"Bueno?\" answers and long greetings ending in a beep, through G.711): accuracy **%.1f %%** (goal ≥ 90 %%; unsure scored as human).\n\n", acc)
	b.WriteString("| truth ↓ / decided → | human | machine | unsure |\n|---|---|---|---|\n")
	for _, t := range []string{"human", "machine"} {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.0f |\n", t, cells[t+"-as-human"], cells[t+"-as-machine"], cells[t+"-as-unsure"])
	}
	return b.String(), nil
}
