package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const phiINVITE = "INVITE sip:+15055550143@careline SIP/2.0\r\nFrom: \"Ana Ruiz\" <sip:+15055550199@x>;tag=1\r\n\r\n"

func TestRedactingHandler(t *testing.T) {
	t.Parallel()
	var buf lockedBuf
	dropped := 0
	l := slog.New(NewRedactingHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), 5, func() { dropped++ }))
	l.Error("failed to parse", "data", phiINVITE, "error", errors.New("bad"))
	l.Info("Unhandled sip request", "msg", "INVITE sip:+15055550143@careline", "req", phiINVITE)
	l.With("caller", "Transport<UDP>").Warn("x", "error", fmt.Errorf("key failed for message 'INVITE sip:+15055550143@h SIP/2.0'"),
		slog.Group("g", "uri", "sip:5055550143@h"))
	out := buf.String()
	for _, leak := range []string{"5055550143", "5055550199", "Ana Ruiz", "\\r\\n"} {
		if strings.Contains(out, leak) {
			t.Fatalf("log leaks %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "<redacted ") || !strings.Contains(out, "sip:***43@") {
		t.Fatalf("redaction markers missing:\n%s", out)
	}
	for range 50 {
		l.Error("flood")
	}
	if dropped == 0 {
		t.Fatal("rate limiter dropped nothing")
	}
}

// sipgo logs a TCP message it cannot parse with the raw bytes; through the
// server's logger that must not reveal the number.
func TestServerLogsNoRawSIP(t *testing.T) {
	t.Parallel()
	var buf lockedBuf
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := startServer(t, Config{UDP: []string{"127.0.0.1:0"}, TCP: []string{"127.0.0.1:0"}}, WithLogger(log), WithTrace(true))
	a, _ := s.Addr("tcp")
	c, err := net.Dial("tcp", a.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("INVITE sip:+15055550143@careline SIP/2.0\r\nContent-Length: -5\r\nFrom: Ana Ruiz <sip:+15055550199@x>\r\n\r\n"))
	// The framing error closes the connection.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Read(make([]byte, 100))
	// A well-formed OPTIONS over UDP exercises the debug trace.
	p := newPeer(t)
	d := p.invite(context.Background(), udpAddr(t, s), "+15055550143", testSDP)
	d.waitFinal(5 * time.Second)
	out := buf.String()
	if !strings.Contains(out, "sip in") || !strings.Contains(out, "failed to parse") || !strings.Contains(out, "<redacted ") {
		t.Fatalf("expected trace and redacted parse-failure lines:\n%s", out)
	}
	for _, leak := range []string{"5055550143", "5055550199", "Ana Ruiz", "Patient"} {
		if strings.Contains(out, leak) {
			t.Fatalf("log leaks %q:\n%s", leak, out)
		}
	}
}
