package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/careline/careline/media"
	"github.com/careline/careline/phone"
)

// Baseline metric names (the UAS is not careline, so it does not reuse careline_*).
const (
	uasActiveMetric = "callbench_uas_calls_active"
	uasDTMFMetric   = "callbench_uas_dtmf_events_total"
)

// runUAS is the baseline far end: the phone package auto-answering, playing the same
// long prompt on its shared clock, and echoing each digit (barge-in, then the digit
// back as RFC 4733) — careline's test line without IVR, interaction log or metrics of
// its own. It serves Go runtime metrics on -http.
func runUAS(args []string) int {
	fs := flag.NewFlagSet("uas", flag.ContinueOnError)
	sipAddr := fs.String("sip", "127.0.0.1:0", "SIP UDP address")
	httpAddr := fs.String("http", "127.0.0.1:0", "metrics address")
	rtpMin := fs.Int("rtp-min", 30000, "first RTP port")
	rtpMax := fs.Int("rtp-max", 39999, "last RTP port")
	promptPath := fs.String("prompt", "", "WAV played to every caller (looped)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	prompt := media.Tone(1000, 5*time.Second)
	if *promptPath != "" {
		p, err := phone.LoadWAV(*promptPath)
		if err != nil {
			log.Error("prompt", "err", err)
			return 1
		}
		prompt = p
	}
	host, portStr, err := net.SplitHostPort(*sipAddr)
	if err != nil {
		log.Error("sip address", "err", err)
		return 2
	}
	var port int
	fmt.Sscan(portStr, &port)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	active := prometheus.NewGauge(prometheus.GaugeOpts{Name: uasActiveMetric, Help: "Calls up."})
	dtmf := prometheus.NewCounter(prometheus.CounterOpts{Name: uasDTMFMetric, Help: "Digits received."})
	reg.MustRegister(active, dtmf)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	p, err := phone.New(ctx, phone.Config{User: "9999", ListenIP: host, ListenPort: port},
		phone.WithAutoAnswer(true), phone.WithRTPPorts(*rtpMin, *rtpMax), phone.WithIncomingBuffer(16384),
		phone.WithMediaTimeout(10*time.Minute), phone.WithLogger(log))
	if err != nil {
		log.Error("phone", "err", err)
		return 1
	}
	defer p.Close()
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		log.Error("http", "err", err)
		return 1
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	fmt.Printf("uas sip=%s http=%s\n", p.Addr(), ln.Addr())

	for {
		select {
		case <-ctx.Done():
			return 0
		case c := <-p.Incoming():
			active.Inc()
			go func() {
				defer active.Dec()
				serveTestLine(ctx, c, prompt, dtmf)
			}()
		}
	}
}

func serveTestLine(ctx context.Context, c *phone.Call, prompt *media.Prompt, dtmf prometheus.Counter) {
	pctx, cancel := context.WithCancel(ctx)
	played := make(chan struct{})
	go func() {
		defer close(played)
		_ = c.Play(pctx, phone.PlayOptions{Audio: []*media.Prompt{prompt}})
	}()
	for {
		select {
		case <-c.Done():
			cancel()
			<-played
			return
		case <-ctx.Done():
			cancel()
			<-played
			return
		case ev := <-c.DTMF():
			dtmf.Inc()
			cancel() // barge-in
			<-played
			if err := c.SendDTMF(ctx, string(ev.Digit)); err != nil && !errors.Is(err, phone.ErrCallEnded) {
				return
			}
			pctx, cancel = context.WithCancel(ctx)
			played = make(chan struct{})
			close(played)
		}
	}
}

// startUAS runs this binary's uas subcommand as a separate process.
func startUAS(ctx context.Context, dir, prompt string) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sipPort, err := freePort(false)
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort(true)
	if err != nil {
		return nil, err
	}
	cmd, exited, err := startProcess("uas", filepath.Join(dir, "uas.log"), self, "uas",
		"-sip", fmt.Sprintf("127.0.0.1:%d", sipPort), "-http", fmt.Sprintf("127.0.0.1:%d", httpPort), "-prompt", prompt)
	if err != nil {
		return nil, err
	}
	p := &process{name: "phone-uas", cmd: cmd, sip: fmt.Sprintf("127.0.0.1:%d", sipPort),
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort), activeMetric: uasActiveMetric,
		dtmfMetric: uasDTMFMetric, exited: exited}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := p.waitReady(wctx); err != nil {
		p.stop(time.Second)
		return nil, err
	}
	return p, nil
}
