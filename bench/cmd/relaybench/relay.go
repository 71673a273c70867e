//go:build linux && (amd64 || arm64)

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/careline/careline/media"
)

// relayReady is the careline relay's first line: the ports its legs listen on and the
// heap before and after the calls were set up.
type relayReady struct {
	A          []int     `json:"a"` // leg A's RTP port of each call (the A phone sends here)
	B          []int     `json:"b"`
	Idle       memFigure `json:"idle"`
	WithCalls  memFigure `json:"with_calls"`
	GOMAXPROCS int       `json:"gomaxprocs"`
}

type memFigure struct {
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Goroutines int    `json:"goroutines"`
}

// relayStats answers "counters" (cheap: no GC, no stop-the-world) and "mem" (Mem set:
// after a forced GC, while the calls run).
type relayStats struct {
	Relayed    uint64     `json:"relayed"`
	Transcoded uint64     `json:"transcoded"`
	GCs        uint64     `json:"gcs"`
	Mallocs    uint64     `json:"mallocs"`
	Mem        *memFigure `json:"mem,omitempty"`
}

func readCounters(bridges []*media.Bridge) relayStats {
	var st relayStats
	for _, br := range bridges {
		r, t := br.Stats()
		st.Relayed += r
		st.Transcoded += t
	}
	ms := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/allocs:objects"}}
	metrics.Read(ms)
	st.GCs, st.Mallocs = ms[0].Value.Uint64(), ms[1].Value.Uint64()
	return st
}

func memNow() memFigure {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memFigure{HeapInuse: m.HeapInuse, StackInuse: m.StackInuse, Goroutines: runtime.NumGoroutine()}
}

// runRelay is careline's relay as its own process: one PortAllocator, one Clock, one
// Metrics (registered, as in the engine) and, per call, two Sessions negotiated through
// real SDP with the generator's phones and joined by a media.Bridge.
func runRelay(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	calls := fs.Int("calls", 100, "bridged calls")
	peerA := fs.Int("peer-a", 0, "UDP port of the A phones on 127.0.0.1 (generator)")
	peerB := fs.Int("peer-b", 0, "UDP port of the B phones on 127.0.0.1 (generator)")
	ports := fs.String("ports", "10000-19999", "RTP port range")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile between profile-start and profile-stop")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lo, hi, err := parseRange(*ports)
	if err != nil {
		return err
	}
	ip := netip.MustParseAddr("127.0.0.1")
	m, err := media.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		return err
	}
	alloc, err := media.NewPortAllocator(ip, lo, hi, media.WithMetrics(m), media.WithLogger(log), media.WithRest(0))
	if err != nil {
		return err
	}
	defer alloc.Close()
	clock := media.NewClock(media.WithMetrics(m), media.WithLogger(log))
	cctx, stopClock := context.WithCancel(ctx)
	clockDone := make(chan struct{})
	go func() { _ = clock.Run(cctx); close(clockDone) }()
	defer func() { stopClock(); <-clockDone }()

	ready := relayReady{GOMAXPROCS: runtime.GOMAXPROCS(0), Idle: memNow()}
	var sessions []*media.Session
	var bridges []*media.Bridge
	defer func() {
		for _, br := range bridges {
			br.Stop()
		}
		for _, s := range sessions {
			_ = s.Close()
		}
	}()
	opts := []media.Option{media.WithMetrics(m), media.WithLogger(log), media.WithTimeout(10 * time.Minute)}
	newLeg := func() (*media.Session, error) {
		p, err := alloc.Allocate(ctx)
		if err != nil {
			return nil, err
		}
		s, err := media.NewSession(p, clock, opts...)
		if err != nil {
			p.Release()
			return nil, err
		}
		sessions = append(sessions, s)
		return s, nil
	}
	phone := func(port int) media.SDPConfig {
		return media.SDPConfig{Addr: ip, Port: port, Codecs: []media.Codec{media.PCMU}, DTMF: true}
	}
	leg := func(s *media.Session) media.SDPConfig {
		return media.SDPConfig{Addr: ip, Port: s.Port(), Codecs: []media.Codec{media.PCMU, media.PCMA}, DTMF: true}
	}
	for range *calls {
		a, err := newLeg()
		if err != nil {
			return fmt.Errorf("relay: leg A: %w", err)
		}
		b, err := newLeg()
		if err != nil {
			return fmt.Errorf("relay: leg B: %w", err)
		}
		// Inbound: the A phone offers, careline answers.
		offer, err := media.Offer(phone(*peerA))
		if err != nil {
			return err
		}
		_, na, err := media.Answer(offer, leg(a))
		if err != nil {
			return err
		}
		// Outbound: careline offers to the B phone, which answers.
		offer, err = media.Offer(leg(b))
		if err != nil {
			return err
		}
		ans, _, err := media.Answer(offer, phone(*peerB))
		if err != nil {
			return err
		}
		nb, err := media.ParseAnswer(ans, leg(b))
		if err != nil {
			return err
		}
		if err := errors.Join(a.Start(na), b.Start(nb)); err != nil {
			return err
		}
		br := media.NewBridge(a, b, media.BridgeOptions{})
		br.Start()
		bridges = append(bridges, br)
		ready.A = append(ready.A, a.Port())
		ready.B = append(ready.B, b.Port())
	}
	ready.WithCalls = memNow()
	ctl := newChildIO()
	if err := ctl.reply(ready); err != nil {
		return err
	}
	log.Info("relay ready", "calls", *calls, "bridge", bridges[0].String())
	var prof *os.File
	defer func() {
		if prof != nil {
			pprof.StopCPUProfile()
			prof.Close()
		}
	}()
	for {
		cmd, err := ctl.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch cmd.Cmd {
		case "counters":
			err = ctl.reply(readCounters(bridges))
		case "mem":
			st := readCounters(bridges)
			m := memNow()
			st.Mem = &m
			err = ctl.reply(st)
		case "profile-start":
			if *cpuprofile != "" && prof == nil {
				if prof, err = os.Create(*cpuprofile); err == nil {
					err = pprof.StartCPUProfile(prof)
				}
			}
			if err == nil {
				err = ctl.reply(map[string]string{"profile": *cpuprofile})
			}
		case "profile-stop":
			if prof != nil {
				pprof.StopCPUProfile()
				err = prof.Close()
				prof = nil
			}
			if err == nil {
				err = ctl.reply(map[string]string{"profile": *cpuprofile})
			}
		default:
			err = ctl.reply(errReply{Error: "unknown command " + cmd.Cmd})
		}
		if err != nil {
			return err
		}
	}
}

func parseRange(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || lo > hi {
		return 0, 0, fmt.Errorf("bad port range %q (want LO-HI)", s)
	}
	return lo, hi, nil
}
