package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/careline/careline/internal/logx"
	"github.com/careline/careline/media"
	"github.com/careline/careline/phone"
)

// cmdPhone is a small softphone for people trying careline (and for scripts): it can
// register, call the test line or anyone else, answer, play a WAV or a tone, record,
// send DTMF, and prints what happens on the call.
func cmdPhone(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("phone", flag.ContinueOnError)
	fs.SetOutput(stderr)
	registrar := fs.String("registrar", "", "careline's SIP address host:port: REGISTER goes there and bare numbers are called there")
	user := fs.String("user", "phone", "SIP user (the agent's SIP user to register as)")
	pwEnv := fs.String("password-env", "", "name of the environment variable holding the SIP password (registers when set with --registrar)")
	listen := fs.String("listen", "127.0.0.1:0", "local SIP UDP address; its IP is also used for RTP")
	rtpPorts := fs.String("rtp-ports", "40000-44999", "local RTP port range")
	codecs := fs.String("codecs", "PCMU,PCMA", "codecs to offer and accept, in order")
	target := fs.String("call", "", "number (called at --registrar) or SIP URI to call")
	play := fs.String("play", "", "8 kHz mono WAV to play into the call")
	tone := fs.Float64("tone", 0, "play a sine of this frequency (Hz) instead of a WAV")
	loop := fs.Bool("loop", false, "repeat --play/--tone until the call ends")
	record := fs.String("record", "", "record what the call hears to this WAV (later calls get -2, -3, ... suffixes)")
	dtmf := fs.String("dtmf", "", "DTMF digits to send after the answer (RFC 4733; ',' pauses 500 ms)")
	dtmfDelay := fs.Duration("dtmf-delay", time.Second, "wait this long after the answer before sending --dtmf")
	autoAnswer := fs.Bool("auto-answer", false, "answer incoming calls (otherwise they are declined)")
	duration := fs.Duration("duration", 30*time.Second, "hang up and exit after this long (0: until Ctrl-C or the far end hangs up)")
	verbose := fs.Bool("v", false, "debug logs on stderr (raw SIP is never logged)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "careline phone: unexpected arguments %v\n", fs.Args())
		return 2
	}
	if *target == "" && !*autoAnswer && *pwEnv == "" {
		fmt.Fprintln(stderr, "careline phone: nothing to do: give --call, --auto-answer, or --registrar with --password-env")
		return 2
	}
	password := ""
	if *pwEnv != "" {
		v, ok := os.LookupEnv(*pwEnv)
		if !ok || v == "" {
			fmt.Fprintf(stderr, "careline phone: environment variable %s is not set\n", *pwEnv)
			return 2
		}
		password = v
	}
	host, portStr, err := net.SplitHostPort(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "careline phone: --listen: %v\n", err)
		return 2
	}
	port, _ := strconv.Atoi(portStr)
	rtpMin, rtpMax, err := parseRange(*rtpPorts)
	if err != nil {
		fmt.Fprintf(stderr, "careline phone: --rtp-ports: %v\n", err)
		return 2
	}
	var cs []media.Codec
	for _, name := range strings.Split(*codecs, ",") {
		c, ok := media.CodecByName(strings.TrimSpace(name))
		if !ok {
			fmt.Fprintf(stderr, "careline phone: --codecs: unknown codec %q (PCMU, PCMA)\n", name)
			return 2
		}
		cs = append(cs, c)
	}
	var audio *media.Prompt
	switch {
	case *play != "":
		if audio, err = phone.LoadWAV(*play); err != nil {
			fmt.Fprintf(stderr, "careline phone: --play: %v\n", err)
			return 2
		}
	case *tone > 0:
		audio = phone.Tone(*tone, 5*time.Second)
	}

	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = logx.New(stderr, logx.Options{Level: slog.LevelDebug})
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	out := &linePrinter{w: stdout}
	p, err := phone.New(context.WithoutCancel(ctx), phone.Config{User: *user, Password: password, Registrar: *registrar,
		ListenIP: host, ListenPort: port},
		phone.WithLogger(log), phone.WithAutoAnswer(*autoAnswer), phone.WithRTPPorts(rtpMin, rtpMax), phone.WithCodecs(cs...))
	if err != nil {
		fmt.Fprintf(stderr, "careline phone: %v\n", err)
		return 1
	}
	defer func() {
		_ = p.Close()
		out.printf("phone closed")
	}()
	out.printf("phone listening on %s", p.URI())
	if password != "" && *registrar != "" {
		if err := p.Register(ctx); err != nil {
			fmt.Fprintf(stderr, "careline phone: register: %v\n", err)
			return 1
		}
		out.printf("registered as %s at %s", *user, *registrar)
	}

	h := &callRunner{out: out, audio: audio, loop: *loop, record: *record, dtmf: *dtmf, dtmfDelay: *dtmfDelay}
	var wg sync.WaitGroup
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-p.Incoming():
				if !*autoAnswer {
					out.printf("incoming call from %s declined (use --auto-answer)", logx.MaskURI(c.Remote()))
					_ = c.Reject(603, "Decline")
					continue
				}
				out.printf("incoming call from %s answered (%s)", logx.MaskURI(c.Remote()), c.Codec().Name())
				wg.Add(1)
				go func() { defer wg.Done(); h.run(ctx, c) }()
			}
		}
	}()

	code := 0
	if *target != "" {
		out.printf("calling %s", *target)
		c, err := p.Call(ctx, *target)
		if err != nil {
			fmt.Fprintf(stderr, "careline phone: call: %v\n", err)
			code = 1
		} else {
			out.printf("answered (%s)", c.Codec().Name())
			h.run(ctx, c)
		}
	} else {
		<-ctx.Done()
	}
	stop()
	wg.Wait()
	return code
}

func parseRange(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || lo >= hi {
		return 0, 0, fmt.Errorf("want MIN-MAX (1024-65535), got %q", s)
	}
	return lo, hi, nil
}

// linePrinter prints timestamped lines from several goroutines.
type linePrinter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *linePrinter) printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
}

// callRunner does what the flags ask on one answered call until it ends or ctx is done.
type callRunner struct {
	out       *linePrinter
	audio     *media.Prompt
	loop      bool
	record    string
	dtmf      string
	dtmfDelay time.Duration

	mu    sync.Mutex
	calls int
}

func (h *callRunner) recordPath() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.calls == 1 || h.record == "" {
		return h.record
	}
	ext := filepath.Ext(h.record)
	return fmt.Sprintf("%s-%d%s", strings.TrimSuffix(h.record, ext), h.calls, ext)
}

func (h *callRunner) run(ctx context.Context, c *phone.Call) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if path := h.recordPath(); path != "" {
		if err := c.Record(path); err != nil {
			h.out.printf("recording failed: %v", err)
		} else {
			h.out.printf("recording to %s", path)
		}
	}
	go func() {
		for {
			select {
			case <-c.Done():
				return
			case ev := <-c.Events():
				if ev.Type != phone.EventEnded && ev.Type != phone.EventAnswered {
					h.out.printf("%s", ev)
				}
			case <-c.DTMF():
				// Digits on a call may be a patient's: say that one came, never which.
				h.out.printf("received a DTMF digit (not shown)")
			}
		}
	}()
	if h.audio != nil {
		go func() {
			if err := c.Play(cctx, phone.PlayOptions{Audio: []*media.Prompt{h.audio}, Loop: h.loop}); err == nil {
				h.out.printf("finished playing %s", h.audio)
			}
		}()
	}
	if h.dtmf != "" {
		go func() {
			t := time.NewTimer(h.dtmfDelay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-cctx.Done():
				return
			}
			if err := c.SendDTMF(cctx, h.dtmf); err != nil {
				h.out.printf("DTMF not sent: %v", err)
				return
			}
			h.out.printf("sent DTMF %s", h.dtmf)
		}()
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.Hangup(hctx); err != nil && !errors.Is(err, phone.ErrCallEnded) {
			h.out.printf("hangup: %v", err)
		}
		hcancel()
	}
	h.out.printf("call ended: %s", c.EndReason())
}
