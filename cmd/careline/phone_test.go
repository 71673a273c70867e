package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careline/careline/phone"
)

// syncBuffer is a bytes.Buffer safe for the CLI's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPhoneCommandCallsAndSendsDTMF(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	peer, err := phone.New(ctx, phone.Config{User: "peer"}, phone.WithAutoAnswer(true))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	got := make(chan string, 1)
	go func() {
		var c *phone.Call
		select {
		case c = <-peer.Incoming():
		case <-ctx.Done():
			return
		}
		var ds []rune
		for len(ds) < 2 {
			select {
			case ev := <-c.DTMF():
				ds = append(ds, ev.Digit)
			case <-ctx.Done():
				return
			}
		}
		// Send one back: the command must not print it.
		_ = c.SendDTMF(ctx, "9")
		got <- string(ds)
		_ = c.Hangup(ctx)
	}()
	var out, errb syncBuffer
	code := run([]string{"phone", "--call", peer.URI(), "--tone", "440", "--loop", "--dtmf", "12",
		"--dtmf-delay", "100ms", "--duration", "20s", "--record", t.TempDir() + "/heard.wav"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	select {
	case ds := <-got:
		if ds != "12" {
			t.Fatalf("peer received %q, want 12", ds)
		}
	case <-ctx.Done():
		t.Fatal("peer got no digits")
	}
	for _, want := range []string{"calling sip:peer@", "answered (PCMU)", "recording to", "sent DTMF 12", "received a DTMF digit (not shown)", "call ended: remote hangup"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		_, msg, _ := strings.Cut(line, " ") // drop the timestamp
		if strings.Contains(msg, "received") && strings.Contains(msg, "9") {
			t.Errorf("a received digit was printed: %q", line)
		}
	}
}

func TestPhoneCommandUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"phone"}, "nothing to do"},
		{[]string{"phone", "--registrar", "127.0.0.1:5060", "--password-env", "CARELINE_TEST_SURELY_UNSET_VAR"}, "is not set"},
		{[]string{"phone", "--call", "9999", "--rtp-ports", "9-3"}, "--rtp-ports"},
		{[]string{"phone", "--call", "9999", "--codecs", "opus"}, "unknown codec"},
		{[]string{"phone", "--password", "x"}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		var out, errb syncBuffer
		if code := run(tc.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}
