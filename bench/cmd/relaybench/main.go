//go:build linux && (amd64 || arm64)

// Command relaybench compares careline's RTP relay (media.Bridge between two Sessions,
// in its own process) with rtpengine in userspace mode, on 127.0.0.1, at the same
// offered load: N bridged calls × 2 directions × 50 packets/s of 172-byte PCMU RTP. Each
// relay is pinned to one core (taskset, GOMAXPROCS=1 for careline, one worker thread
// for rtpengine) and a generator process pinned to the other core plays every phone
// and counts what arrives (reading sinks, recvmmsg). For each run it reports packets
// delivered per second, the relay's CPU share (/proc/<pid>/stat), packets relayed per
// CPU-second, and careline's heap per bridged call; then medians per relay and N, and
// the careline/rtpengine ratio.
//
//	go run ./bench/cmd/relaybench -calls 250,500,1000 -reps 3
//
// The same binary is also the careline relay ("relaybench relay …") and the generator
// ("relaybench gen"); the orchestrator starts those itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/careline/careline/bench/internal/readme"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "relay":
		err = runRelay(ctx, log, os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "gen":
		err = runGen(ctx, log, os.Args[2:])
	default:
		err = orchestrate(ctx, log, os.Args[1:])
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "relaybench:", err)
		os.Exit(1)
	}
}

func numCPU() int { return runtime.NumCPU() }

func orchestrate(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("relaybench", flag.ContinueOnError)
	calls := fs.String("calls", "250,500,1000", "comma-separated numbers of bridged calls")
	reps := fs.Int("reps", 3, "repetitions of each configuration (relays alternate)")
	relays := fs.String("relays", "careline,rtpengine", "relays to measure")
	warmup := fs.Duration("warmup", 3*time.Second, "traffic before the measurement window")
	window := fs.Duration("window", 10*time.Second, "measurement window")
	ports := fs.String("ports", "10000-19999", "RTP port range for the relay under test")
	relayCPU := fs.String("relay-cpu", "1", "CPU list the relay is pinned to (taskset -c)")
	genCPU := fs.String("gen-cpu", "0", "CPU list the generator is pinned to")
	dir := fs.String("dir", "", "directory for logs, profiles and results.jsonl (default: a new temp dir)")
	profile := fs.Bool("profile", false, "CPU-profile the careline relay during each window (<dir>/careline-N-rep.cpu.pprof)")
	maxLoad := fs.Float64("max-load", 0, "before each run wait for the 1-minute load average to drop below this (0: don't wait)")
	maxWait := fs.Duration("max-wait", 2*time.Minute, "longest wait for -max-load")
	writeReadme := fs.Bool("write-readme", false, "replace the generated relay section of -readme with this run's table")
	readmePath := fs.String("readme", "bench/README.md", "the README -write-readme rewrites")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := runConfig{MaxLoad: *maxLoad, MaxWait: *maxWait, Reps: *reps, Warmup: *warmup, Window: *window, Ports: *ports,
		RelayCPU: *relayCPU, GenCPU: *genCPU, Dir: *dir, Profile: *profile, Relays: strings.Split(*relays, ",")}
	for _, s := range strings.Split(*calls, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad -calls %q", *calls)
		}
		cfg.Calls = append(cfg.Calls, n)
	}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "relaybench-")
		if err != nil {
			return err
		}
		cfg.Dir = d
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return err
	}
	start := time.Now()
	fmt.Printf("relaybench %s: %s; logs and results.jsonl in %s\n", start.Format("2006-01-02 15:04 MST"), machine(), cfg.Dir)
	results, err := runAll(ctx, log, cfg, os.Stdout)
	if len(results) > 0 {
		var tb strings.Builder
		summarize(&tb, start, cfg, results)
		fmt.Print(tb.String())
		if *writeReadme && err == nil {
			text := "Command: `go run ./bench/cmd/relaybench " + strings.Join(args, " ") + "`\n" + tb.String()
			if werr := readme.Replace(*readmePath, "relaybench", "relay", text); werr != nil {
				return werr
			}
		}
	}
	return err
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func rtpengineVersion() string {
	out, err := exec.Command("rtpengine", "--version").CombinedOutput()
	if err != nil {
		return "rtpengine ?"
	}
	return "rtpengine " + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "Version:"))
}

// summarize prints the medians per relay and N as a markdown table.
func summarize(w io.Writer, start time.Time, cfg runConfig, rs []result) {
	type key struct {
		relay string
		n     int
	}
	col := func(k key, f func(result) float64) []float64 {
		var v []float64
		for _, r := range rs {
			if r.Relay == k.relay && r.Calls == k.n {
				v = append(v, f(r))
			}
		}
		return v
	}
	fmt.Fprintf(w, "\n%s, %s, %s, %s; relay on CPU %s, generator on CPU %s; warm-up %s, window %s; medians of %d runs\n\n",
		start.Format("2006-01-02"), machine(), runtime.Version(), rtpengineVersion(), cfg.RelayCPU, cfg.GenCPU, cfg.Warmup, cfg.Window, cfg.Reps)
	fmt.Fprintln(w, "| calls | offered pkt/s | relay | delivered pkt/s | relay CPU (cores) | **pkt per CPU-second** | careline ÷ rtpengine | heap per call | load avg (min–max) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, n := range cfg.Calls {
		per := map[string]float64{}
		for _, relay := range cfg.Relays {
			per[relay] = median(col(key{relay, n}, func(r result) float64 { return r.PerCPUSecond }))
		}
		for _, relay := range cfg.Relays {
			k := key{relay, n}
			if len(col(k, func(r result) float64 { return r.PerCPUSecond })) == 0 {
				fmt.Fprintf(w, "| %d | %d | %s | every run failed (see the log) | | | | | |\n", n, n*100, relay)
				continue
			}
			loads := append(col(k, func(r result) float64 { return r.Load1Start }), col(k, func(r result) float64 { return r.Load1End })...)
			ratio, heap := "", ""
			if relay == "careline" && per["rtpengine"] > 0 {
				ratio = fmt.Sprintf("**%.2f×**", per["careline"]/per["rtpengine"])
			}
			if relay == "careline" {
				heap = fmt.Sprintf("%.1f KiB", median(col(k, func(r result) float64 { return r.HeapPerCallLive }))/1024)
			}
			fmt.Fprintf(w, "| %d | %d | %s | %.0f | %.2f | **%.0f** | %s | %s | %.1f–%.1f |\n", n, n*100, relay,
				median(col(k, func(r result) float64 { return r.DeliveredPPS })),
				median(col(k, func(r result) float64 { return r.RelayCPU })),
				per[relay], ratio, heap, slices.Min(loads), slices.Max(loads))
		}
	}
}
