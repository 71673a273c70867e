//go:build linux && (amd64 || arm64)

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/careline/careline/bench/internal/host"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/careline/careline/media"
)

// runConfig are the orchestrator's parameters.
type runConfig struct {
	Calls    []int
	Reps     int
	Relays   []string // "careline", "rtpengine"
	Warmup   time.Duration
	Window   time.Duration
	Ports    string
	RelayCPU string
	GenCPU   string
	Dir      string  // logs, profiles, results.jsonl
	Profile  bool    // CPU profile of the careline relay during each window
	MaxLoad  float64 // before each run, wait (up to MaxWait) for the 1-minute load average to drop below this; 0: don't
	MaxWait  time.Duration
}

// result is one measured run.
type result struct {
	Relay        string    `json:"relay"`
	Calls        int       `json:"calls"`
	Rep          int       `json:"rep"`
	At           time.Time `json:"at"`
	OfferedPPS   float64   `json:"offered_pps"`   // calls × 2 directions × 50
	SentPPS      float64   `json:"sent_pps"`      // what the generator achieved
	DeliveredPPS float64   `json:"delivered_pps"` // arrived at the sinks
	RelayCPU     float64   `json:"relay_cpu"`     // CPU-seconds per second (1 = one core)
	PerCPUSecond float64   `json:"per_cpu_second"`
	GenCPU       float64   `json:"gen_cpu"`
	Load1Start   float64   `json:"load1_start"`
	Load1End     float64   `json:"load1_end"`
	InDrops      uint64    `json:"in_drops"`   // relay input sockets' queue overflows in the window
	SinkDrops    uint64    `json:"sink_drops"` // sink sockets' overflows
	GenLate      uint64    `json:"gen_late"`   // generator slots sent > 5 ms late
	Threads      int       `json:"threads"`
	// careline only
	HeapPerCall      float64 `json:"heap_per_call,omitempty"`       // HeapInuse(with calls) − idle, per call, before traffic
	HeapPerCallLive  float64 `json:"heap_per_call_live,omitempty"`  // same, after the window (traffic still flowing)
	StackPerCallLive float64 `json:"stack_per_call_live,omitempty"` // StackInuse, same
	MallocsPerPkt    float64 `json:"mallocs_per_pkt,omitempty"`
	GCs              uint32  `json:"gcs,omitempty"` // GC cycles in the window
}

type sample struct {
	t     time.Time
	gen   genStats
	cpu   float64
	gcpu  float64
	load  float64
	in    uint64
	sink  uint64
	stats relayStats
}

func runAll(ctx context.Context, log *slog.Logger, cfg runConfig, out io.Writer) ([]result, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	rf, err := os.OpenFile(filepath.Join(cfg.Dir, "results.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer rf.Close()
	enc := json.NewEncoder(rf)
	var all []result
	for rep := 1; rep <= cfg.Reps; rep++ {
		for _, n := range cfg.Calls {
			order := cfg.Relays
			if rep%2 == 0 { // alternate which relay goes first
				order = reversed(order)
			}
			for _, relay := range order {
				waitQuiet(ctx, log, cfg)
				r, err := runOne(ctx, log, cfg, self, relay, n, rep)
				if ctx.Err() != nil {
					return all, ctx.Err()
				}
				if err != nil {
					// One configuration failing (e.g. a relay that cannot keep up) must not
					// lose the others: it is reported and left out of the medians.
					fmt.Fprintf(out, "%-9s calls=%-5d rep=%d failed: %v\n", relay, n, rep, err)
					continue
				}
				all = append(all, r)
				_ = enc.Encode(r)
				fmt.Fprintf(out, "%-9s calls=%-5d rep=%d offered=%6.0f sent=%6.0f delivered=%6.0f cpu=%.2f per-cpu-s=%6.0f gen-cpu=%.2f load=%.1f→%.1f drops in/sink=%d/%d late=%d",
					r.Relay, r.Calls, r.Rep, r.OfferedPPS, r.SentPPS, r.DeliveredPPS, r.RelayCPU, r.PerCPUSecond, r.GenCPU, r.Load1Start, r.Load1End, r.InDrops, r.SinkDrops, r.GenLate)
				if r.Relay == "careline" {
					fmt.Fprintf(out, " heap/call=%.0f live=%.0f stack/call=%.0f mallocs/pkt=%.3f gcs=%d", r.HeapPerCall, r.HeapPerCallLive, r.StackPerCallLive, r.MallocsPerPkt, r.GCs)
				}
				fmt.Fprintln(out)
			}
		}
	}
	return all, nil
}

// waitQuiet waits until the load average is below cfg.MaxLoad or cfg.MaxWait passed.
func waitQuiet(ctx context.Context, log *slog.Logger, cfg runConfig) {
	if cfg.MaxLoad <= 0 {
		return
	}
	until := time.Now().Add(cfg.MaxWait)
	for l := host.LoadAvg1(); l >= cfg.MaxLoad && time.Now().Before(until); l = host.LoadAvg1() {
		log.Info("waiting for a quieter machine", "load1", l, "max", cfg.MaxLoad)
		if sleepCtx(ctx, 5*time.Second) != nil {
			return
		}
	}
}

func reversed(s []string) []string {
	r := make([]string, len(s))
	for i, v := range s {
		r[len(s)-1-i] = v
	}
	return r
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func runOne(ctx context.Context, log *slog.Logger, cfg runConfig, self, relay string, n, rep int) (res result, err error) {
	tag := fmt.Sprintf("%s-%d-%d", relay, n, rep)
	errLog, err := os.Create(filepath.Join(cfg.Dir, tag+".log"))
	if err != nil {
		return res, err
	}
	defer errLog.Close()
	gen, err := startChild(log, "generator", cfg.GenCPU, []string{"GOMAXPROCS=1"}, errLog, self, "gen")
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, gen.stop(10*time.Second)) }()
	var gp genPorts
	if err := gen.recv(ctx, 10*time.Second, &gp); err != nil {
		return res, err
	}

	var (
		relayProc *child
		destA     []int
		destB     []int
		ready     relayReady
		profile   string
	)
	switch relay {
	case "careline":
		args := []string{"relay", "-calls", strconv.Itoa(n), "-peer-a", strconv.Itoa(gp.A), "-peer-b", strconv.Itoa(gp.B), "-ports", cfg.Ports}
		if cfg.Profile {
			profile = filepath.Join(cfg.Dir, tag+".cpu.pprof")
			args = append(args, "-cpuprofile", profile)
		}
		relayProc, err = startChild(log, "careline relay", cfg.RelayCPU, []string{"GOMAXPROCS=1"}, errLog, self, args...)
		if err != nil {
			return res, err
		}
		defer func() { err = errors.Join(err, relayProc.stop(30*time.Second)) }()
		if err := relayProc.recv(ctx, 5*time.Minute, &ready); err != nil {
			return res, err
		}
		destA, destB = ready.A, ready.B
	case "rtpengine":
		relayProc, destA, destB, err = startRTPengine(ctx, log, cfg, errLog, gp, n, tag)
		if relayProc != nil {
			defer func() { err = errors.Join(err, relayProc.terminate(30*time.Second)) }()
		}
		if err != nil {
			return res, err
		}
	default:
		return res, fmt.Errorf("unknown relay %q", relay)
	}

	var ok map[string]any
	if err := gen.do(ctx, command{Cmd: "streams", A: destA, B: destB}, &ok); err != nil {
		return res, err
	}
	if err := gen.do(ctx, command{Cmd: "start"}, &ok); err != nil {
		return res, err
	}
	if err := sleepCtx(ctx, cfg.Warmup); err != nil {
		return res, err
	}
	inPorts := map[int]bool{}
	for _, p := range append(append([]int(nil), destA...), destB...) {
		inPorts[p] = true
	}
	sinkPorts := map[int]bool{gp.A: true, gp.B: true}
	take := func() (sample, error) {
		var s sample
		if relay == "careline" {
			if err := relayProc.do(ctx, command{Cmd: "counters"}, &s.stats); err != nil {
				return s, err
			}
		}
		if err := gen.do(ctx, command{Cmd: "stats"}, &s.gen); err != nil {
			return s, err
		}
		var err1, err2 error
		s.cpu, err1 = cpuSeconds(relayProc.pid())
		s.gcpu, err2 = cpuSeconds(gen.pid())
		s.t = time.Now()
		s.load = host.LoadAvg1()
		s.in, s.sink = udpDrops(inPorts), udpDrops(sinkPorts)
		return s, errors.Join(err1, err2)
	}
	s0, err := take()
	if err != nil {
		return res, err
	}
	if profile != "" {
		if err := relayProc.do(ctx, command{Cmd: "profile-start"}, &ok); err != nil {
			return res, err
		}
	}
	if err := sleepCtx(ctx, cfg.Window); err != nil {
		return res, err
	}
	if profile != "" {
		if err := relayProc.do(ctx, command{Cmd: "profile-stop"}, &ok); err != nil {
			return res, err
		}
	}
	s1, err := take()
	if err != nil {
		return res, err
	}
	var mem relayStats
	if relay == "careline" {
		if err := relayProc.do(ctx, command{Cmd: "mem"}, &mem); err != nil {
			return res, err
		}
	}
	wall := s1.t.Sub(s0.t).Seconds()
	delivered := float64(s1.gen.RecvA + s1.gen.RecvB - s0.gen.RecvA - s0.gen.RecvB)
	cpu := s1.cpu - s0.cpu
	res = result{
		Relay: relay, Calls: n, Rep: rep, At: s0.t.UTC().Truncate(time.Second),
		OfferedPPS:   float64(n * 2 * 50),
		SentPPS:      float64(s1.gen.Sent-s0.gen.Sent) / wall,
		DeliveredPPS: delivered / wall,
		RelayCPU:     cpu / wall,
		GenCPU:       (s1.gcpu - s0.gcpu) / wall,
		Load1Start:   s0.load, Load1End: s1.load,
		InDrops: s1.in - s0.in, SinkDrops: s1.sink - s0.sink, GenLate: s1.gen.Late - s0.gen.Late,
		Threads: threads(relayProc.pid()),
	}
	if cpu > 0 {
		res.PerCPUSecond = delivered / cpu
	}
	if relay == "careline" {
		idle := float64(ready.Idle.HeapInuse)
		res.HeapPerCall = (float64(ready.WithCalls.HeapInuse) - idle) / float64(n)
		res.HeapPerCallLive = (float64(mem.Mem.HeapInuse) - idle) / float64(n)
		res.StackPerCallLive = (float64(mem.Mem.StackInuse) - float64(ready.Idle.StackInuse)) / float64(n)
		if d := s1.stats.Relayed - s0.stats.Relayed; d > 0 {
			res.MallocsPerPkt = float64(s1.stats.Mallocs-s0.stats.Mallocs) / float64(d)
		}
		res.GCs = uint32(s1.stats.GCs - s0.stats.GCs)
	}
	return res, nil
}

// startRTPengine runs rtpengine (userspace only, one worker thread) pinned to the relay
// core and sets up n calls over the ng protocol: the A phone's offer, the B phone's
// answer, both produced and parsed by careline's own SDP code.
func startRTPengine(ctx context.Context, log *slog.Logger, cfg runConfig, errLog io.Writer, gp genPorts, n int, tag string) (*child, []int, []int, error) {
	lo, hi, err := parseRange(cfg.Ports)
	if err != nil {
		return nil, nil, nil, err
	}
	ngPort, err := freeUDPPort()
	if err != nil {
		return nil, nil, nil, err
	}
	bin, err := exec.LookPath("rtpengine")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("rtpengine not installed (apt-get install rtpengine-daemon): %w", err)
	}
	ngAddr := "127.0.0.1:" + strconv.Itoa(ngPort)
	p, err := startChild(log, "rtpengine", cfg.RelayCPU, nil, errLog, bin,
		"--config-file=none", "--table=-1", "--interface=127.0.0.1",
		"--listen-ng="+ngAddr, "--port-min="+strconv.Itoa(lo), "--port-max="+strconv.Itoa(hi),
		"--foreground", "--log-stderr", "--log-level=5",
		"--num-threads=1", "--media-num-threads=1", "--timeout=600",
		"--pidfile="+filepath.Join(cfg.Dir, tag+".rtpengine.pid"))
	if err != nil {
		return nil, nil, nil, err
	}
	ng, err := dialNG(ngAddr)
	if err != nil {
		return p, nil, nil, err
	}
	defer ng.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := ng.call(pctx, map[string]any{"command": "ping"})
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return p, nil, nil, fmt.Errorf("rtpengine did not answer ping: %w", err)
		}
	}
	ip := netip.MustParseAddr("127.0.0.1")
	phone := func(port int) media.SDPConfig {
		return media.SDPConfig{Addr: ip, Port: port, Codecs: []media.Codec{media.PCMU}, DTMF: true}
	}
	destA, destB := make([]int, 0, n), make([]int, 0, n)
	for i := range n {
		callID := fmt.Sprintf("%s-call-%d", tag, i)
		offer, err := media.Offer(phone(gp.A))
		if err != nil {
			return p, nil, nil, err
		}
		r, err := ng.call(ctx, map[string]any{"command": "offer", "call-id": callID, "from-tag": "a" + strconv.Itoa(i), "sdp": string(offer)})
		if err != nil {
			return p, nil, nil, err
		}
		toB, _ := r["sdp"].(string)
		ans, nb, err := media.Answer([]byte(toB), phone(gp.B))
		if err != nil {
			return p, nil, nil, fmt.Errorf("rtpengine's offer: %w", err)
		}
		r, err = ng.call(ctx, map[string]any{"command": "answer", "call-id": callID, "from-tag": "a" + strconv.Itoa(i), "to-tag": "b" + strconv.Itoa(i), "sdp": string(ans)})
		if err != nil {
			return p, nil, nil, err
		}
		toA, _ := r["sdp"].(string)
		na, err := media.ParseAnswer([]byte(toA), phone(gp.A))
		if err != nil {
			return p, nil, nil, fmt.Errorf("rtpengine's answer: %w", err)
		}
		if na.Codec != media.PCMU || nb.Codec != media.PCMU {
			return p, nil, nil, fmt.Errorf("rtpengine negotiated %s/%s, want PCMU", na.Codec.Name(), nb.Codec.Name())
		}
		destA = append(destA, int(na.Remote.Port()))
		destB = append(destB, int(nb.Remote.Port()))
	}
	log.Debug("rtpengine calls set up", "calls", n, "ng", ngAddr)
	return p, destA, destB, nil
}

func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// machine describes the host for the report.
func machine() string {
	return fmt.Sprintf("%s, %d CPUs, Linux %s", host.CPUModel(), numCPU(), host.Kernel())
}
