// Command callbench measures careline's call handling on this machine and writes the
// table in bench/README.md: call setups per second with SIPp against the test number
// (baseline: SIPp's own UAS), and concurrent calls playing prompts with DTMF, the RTP
// packet gaps the receiving phones see, careline's CPU and heap per call (baseline: the
// phone package answering the same calls). careline runs as a separate process
// (`careline serve`) with a generated config on free ports and a fresh PostgreSQL
// database. Run it from the repository root:
//
//	go run ./bench/cmd/callbench -write-readme
//
// Benchmarks are reported, never asserted.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/careline/careline/bench/internal/host"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careline/careline/media"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "uas" {
		os.Exit(runUAS(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:]))
}

type config struct {
	runs        int
	rates       []int
	cpsSeconds  int
	hold        time.Duration
	levels      []int
	ramp        int
	settle      time.Duration
	window      time.Duration
	callerAudio bool
	phases      string
	careline    string
	writeReadme bool
	readme      string
	section     string
	keep        bool
	verbose     bool
}

func run(args []string) int {
	var c config
	fs := flag.NewFlagSet("callbench", flag.ContinueOnError)
	fs.IntVar(&c.runs, "runs", 3, "runs per measurement (medians are reported)")
	rates := fs.String("rates", "200,400,600,800,1000", "SIPp call rates (calls/s) to try")
	fs.IntVar(&c.cpsSeconds, "cps-seconds", 8, "seconds of calls per SIPp run (calls = rate × this)")
	fs.DurationVar(&c.hold, "hold", time.Second, "how long each SIPp call listens to the prompt before BYE")
	levels := fs.String("concurrent", "500,1000,2000,3000", "concurrent call counts to hold")
	fs.IntVar(&c.ramp, "ramp", 250, "calls per second when ramping concurrent calls up (and DTMF, and teardown)")
	fs.DurationVar(&c.settle, "settle", 2*time.Second, "pause between the last call up and the measurement window")
	fs.DurationVar(&c.window, "window", 15*time.Second, "RTP gap measurement window")
	fs.BoolVar(&c.callerAudio, "caller-audio", false, "the load phones also send 50 packets/s (silence) on every call")
	fs.StringVar(&c.phases, "phases", "cps,concurrent", "which measurements to run")
	fs.StringVar(&c.careline, "careline", "", "careline binary (default: go build ./cmd/careline)")
	fs.BoolVar(&c.writeReadme, "write-readme", false, "replace the generated section of -readme with this run's table")
	fs.StringVar(&c.readme, "readme", "bench/README.md", "README to update")
	fs.StringVar(&c.section, "section", "calls", "name of the generated README section to replace")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory (logs, SIPp traces, results.json)")
	fs.BoolVar(&c.verbose, "v", false, "log the load generator's warnings")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if c.rates, err = intList(*rates); err != nil {
		fmt.Fprintln(os.Stderr, "callbench: -rates:", err)
		return 2
	}
	if c.levels, err = intList(*levels); err != nil {
		fmt.Fprintln(os.Stderr, "callbench: -concurrent:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, c, args); err != nil {
		fmt.Fprintln(os.Stderr, "callbench:", err)
		return 1
	}
	return 0
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// results is everything one invocation measured (written as results.json).
type results struct {
	Started  time.Time    `json:"started"`
	Machine  machineInfo  `json:"machine"`
	Command  string       `json:"command"`
	Config   any          `json:"config"`
	CPS      []cpsResult  `json:"cps"`
	Load     []loadResult `json:"concurrent"`
	LoadEnd  [2]float64   `json:"loadavg_start_end"`
	Duration string       `json:"duration"`
}

func bench(ctx context.Context, c config, args []string) error {
	if _, err := os.Stat("bench/sipp/uac_answer_bye.xml"); err != nil {
		return errors.New("run from the repository root (bench/sipp/uac_answer_bye.xml not found)")
	}
	raiseNoFile()
	work, err := os.MkdirTemp("", "callbench-")
	if err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(work)
	}
	logf("work directory %s", work)
	res := results{Started: time.Now(), Machine: readMachine(), Command: commandLine(args),
		Config: map[string]any{"runs": c.runs, "rates": c.rates, "cps_seconds": c.cpsSeconds, "hold": c.hold.String(),
			"concurrent": c.levels, "ramp": c.ramp, "window": c.window.String(), "caller_audio": c.callerAudio}}
	res.LoadEnd[0] = host.LoadAvg1()

	bin := c.careline
	if bin == "" {
		bin = filepath.Join(work, "careline")
		logf("building careline")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/careline").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	promptDir := filepath.Join(work, "prompts")
	longWelcome, err := benchPrompts("prompts", promptDir, 240*time.Second)
	if err != nil {
		return fmt.Errorf("bench prompts: %w", err)
	}
	dbURL, dropDB, err := benchDatabase(ctx)
	if err != nil {
		return err
	}
	defer dropDB()
	cl, err := startCareline(ctx, bin, work, dbURL, promptDir)
	if err != nil {
		return err
	}
	defer cl.stop(15 * time.Second)
	logf("careline running (pid %d, sip %s)", cl.cmd.Process.Pid, cl.sip)

	scenario, _ := filepath.Abs("bench/sipp/uac_answer_bye.xml")
	if strings.Contains(c.phases, "cps") {
		uas, err := startSippUAS(filepath.Join(work, "sipp-uas"))
		if err != nil {
			return err
		}
		for run := 1; run <= c.runs; run++ {
			for _, rate := range c.rates {
				for _, t := range []*process{cl, uas} {
					if ctx.Err() != nil {
						uas.stop(time.Second)
						return ctx.Err()
					}
					dir := filepath.Join(work, "cps", fmt.Sprintf("%s-%d-run%d", t.name, rate, run))
					r, err := runSippUAC(ctx, dir, scenario, t, rate, c.cpsSeconds, c.hold)
					if err != nil {
						uas.stop(time.Second)
						return fmt.Errorf("sipp %s at %d/s: %w", t.name, rate, err)
					}
					logf("cps run %d %-9s rate %4d: achieved %6.1f/s ok %d failed %d retrans %d p50 %.0f ms p99 %.0f ms cpu %.2f",
						run, t.name, rate, r.Achieved, r.Successful, r.Failed, r.Retrans, r.P50ms, r.P99ms, r.CPU)
					if t == cl {
						// Calls careline still holds after SIPp finished every call
						// (an overloaded run can leave legs behind: reported, not fatal).
						wctx, cancel := context.WithTimeout(ctx, 40*time.Second)
						left, err := waitMetricValue(wctx, cl.metrics, cl.activeMetric, func(v float64) bool { return v == 0 })
						cancel()
						if err != nil && ctx.Err() == nil {
							logf("careline still holds %.0f calls 40 s after the run: %v", left, err)
						}
						r.LeftUp = left
					}
					res.CPS = append(res.CPS, r)
					sleepCtx(ctx, 2*time.Second)
				}
			}
		}
		uas.stop(2 * time.Second)
	}

	if strings.Contains(c.phases, "concurrent") {
		if strings.Contains(c.phases, "cps") {
			// A fresh careline: the SIPp phase leaves transactions and garbage behind
			// that would blur the idle heap.
			cl.stop(15 * time.Second)
			if cl, err = startCareline(ctx, bin, work, dbURL, promptDir); err != nil {
				return err
			}
			defer cl.stop(15 * time.Second)
			logf("careline restarted (pid %d)", cl.cmd.Process.Pid)
		}
		uas, err := startUAS(ctx, work, longWelcome)
		if err != nil {
			return fmt.Errorf("baseline uas: %w", err)
		}
		defer uas.stop(10 * time.Second)
		genLog := slog.New(slog.DiscardHandler)
		if c.verbose {
			genLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		}
		for run := 1; run <= c.runs; run++ {
			for _, n := range c.levels {
				for _, t := range []*process{cl, uas} {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					sleepCtx(ctx, 3*time.Second) // let the previous run's ports rest and garbage go
					r, err := runLoad(ctx, t, loadOptions{N: n, Ramp: c.ramp, Settle: c.settle, Window: c.window,
						CallerAudio: c.callerAudio, RTPMin: 40000, RTPMax: 59999, Log: genLog})
					if err != nil {
						return fmt.Errorf("concurrent %s N=%d: %w", t.name, n, err)
					}
					logf("concurrent run %d %-9s N=%4d: up %d (failed %d) gap p50 %.1f p99 %.1f p99.9 %.1f max %.0f ms, pkts %d/%.0f, cpu %.2f gen %.2f box %.0f%%, heap/call %.0f B, dtmf detected %.0f echoed %d/%d, left up %.0f",
						run, t.name, n, r.Established, r.SetupFailed, r.GapP50, r.GapP99, r.GapP999, r.GapMax, r.Packets, r.Expected,
						r.TargetCPU, r.GenCPU, 100*r.MachineBusy, r.HeapPerCall, r.DTMFDetected, r.DTMFEchoed, r.DTMFSent, r.LeftUp)
					res.Load = append(res.Load, r)
				}
			}
		}
	}
	res.LoadEnd[1] = host.LoadAvg1()
	res.Duration = time.Since(res.Started).Round(time.Second).String()

	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(work, "results.json"), b, 0o644); err != nil {
		return err
	}
	table := renderTable(res, c)
	fmt.Println(table)
	if c.writeReadme {
		if err := replaceSection(c.readme, c.section, table); err != nil {
			return err
		}
		logf("updated %s", c.readme)
	}
	return nil
}

func commandLine(args []string) string {
	return strings.TrimSpace("go run ./bench/cmd/callbench " + strings.Join(args, " "))
}

// raiseNoFile lifts the soft open-files limit to the hard one (children inherit it):
// thousands of calls need two sockets each on both sides.
func raiseNoFile() {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	logf("open files limit %d", rl.Cur)
}

// benchPrompts copies the prompt tree and makes test/welcome at least minLen long (the
// real welcome repeated), so every concurrent call is still hearing a prompt while the
// gaps are measured. It returns the long welcome's path (the baseline plays it too).
func benchPrompts(src, dst string, minLen time.Duration) (string, error) {
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		o, err := os.Create(out)
		if err != nil {
			return err
		}
		_, err = io.Copy(o, in)
		return errors.Join(err, o.Close())
	})
	if err != nil {
		return "", err
	}
	var first string
	for _, lang := range []string{"en", "es"} {
		p := filepath.Join(dst, lang, "test", "welcome.wav")
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		pcm, err := media.DecodeWAV(f)
		f.Close()
		if err != nil || len(pcm) == 0 {
			return "", fmt.Errorf("%s: %v", p, err)
		}
		pause := make([]int16, media.SampleRate/2)
		var long []int16
		for time.Duration(len(long))*time.Second/media.SampleRate < minLen {
			long = append(long, pcm...)
			long = append(long, pause...)
		}
		o, err := os.Create(p)
		if err != nil {
			return "", err
		}
		if err := errors.Join(media.EncodeWAV(o, long, 1), o.Close()); err != nil {
			return "", err
		}
		if first == "" {
			first = p
		}
	}
	if first == "" {
		return "", errors.New("no test/welcome.wav prompt")
	}
	return first, nil
}

// benchDatabase creates a fresh database on the test server (CARELINE_TEST_DATABASE_URL,
// as `make bench` sets) and returns its URL and a function that drops it.
func benchDatabase(ctx context.Context) (string, func(), error) {
	admin := os.Getenv("CARELINE_TEST_DATABASE_URL")
	if admin == "" {
		return "", nil, errors.New("CARELINE_TEST_DATABASE_URL is not set: run `make bench` (or `set -a; . .local/env`)")
	}
	pool, err := pgxpool.New(ctx, admin)
	if err != nil {
		return "", nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "careline_bench_" + hex.EncodeToString(b[:])
	if _, err := pool.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		pool.Close()
		return "", nil, fmt.Errorf("create bench database: %w", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		pool.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = pool.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		pool.Close()
	}
	return u.String(), drop, nil
}

// startCareline writes the bench config (free ports, a wide RTP range, short port
// rest, a long media timeout since the load phones only listen) and runs
// `careline serve` as its own process.
func startCareline(ctx context.Context, bin, work, dbURL, prompts string) (*process, error) {
	sipPort, err := freePort(false)
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort(true)
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`version: 1
site: {name: Bench Pharmacy, timezone: America/Chicago, languages: [en, es]}
log: {level: info}
http: {listen: "127.0.0.1:%d"}
store: {database_url: %q, outbox_dir: %q}
sip:
  listen: [{network: udp, addr: "127.0.0.1:%d"}]
  realm: careline
  drain_timeout: 5s
media: {ip: 127.0.0.1, rtp_ports: "20000-29999", port_rest: 2s, timeout: 5m}
prompts: {dir: %q}
trunks:
  bench: {allow_from: ["127.0.0.1"]}
numbers:
  "9999": {app: dtmf_echo}
`, httpPort, dbURL, filepath.Join(work, "outbox"), sipPort, prompts)
	path := filepath.Join(work, "careline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd, exited, err := startProcess("careline", filepath.Join(work, fmt.Sprintf("careline-%d.log", time.Now().UnixMilli())), bin, "serve", "--config", path)
	if err != nil {
		return nil, err
	}
	p := &process{name: "careline", cmd: cmd, sip: fmt.Sprintf("127.0.0.1:%d", sipPort),
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort), activeMetric: "careline_calls_active",
		dtmfMetric: "careline_dtmf_events_total", exited: exited}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.waitReady(wctx); err != nil {
		p.stop(time.Second)
		return nil, err
	}
	return p, nil
}
