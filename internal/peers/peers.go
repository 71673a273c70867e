// Package peers runs real third-party SIP peers (baresip, sipsak, SIPp)
// headless on 127.0.0.1 for tests: free ports, temporary configuration,
// process lifetime bound to the test, and waiting on their output or
// events instead of sleeping.
package peers

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// LogBuffer collects a process's output and lets a test wait until some
// text appears.
type LogBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

// NewLogBuffer returns an empty LogBuffer.
func NewLogBuffer() *LogBuffer { return &LogBuffer{changed: make(chan struct{})} }

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.buf.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return n, err
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// WaitFor blocks until the output contains substr or ctx ends.
func (l *LogBuffer) WaitFor(ctx context.Context, substr string) error {
	for {
		l.mu.Lock()
		found := strings.Contains(l.buf.String(), substr)
		ch := l.changed
		l.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("peers: %q not seen: %w", substr, ctx.Err())
		}
	}
}

// Count returns how many times substr occurs in the output.
func (l *LogBuffer) Count(substr string) int {
	return strings.Count(l.String(), substr)
}

// FreePort returns a port free on 127.0.0.1 for both UDP and TCP, with
// span-1 further ports free on TCP too (baresip also binds TLS on port+1).
func FreePort(t testing.TB, span int) int {
	t.Helper()
	for range 100 {
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatalf("peers: free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		closers := []func() error{l.Close}
		ok := true
		if u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err == nil {
			closers = append(closers, u.Close)
		} else {
			ok = false
		}
		for i := 1; ok && i < span; i++ {
			if x, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + i}); err == nil {
				closers = append(closers, x.Close)
			} else {
				ok = false
			}
		}
		for _, c := range closers {
			_ = c()
		}
		if ok {
			return port
		}
	}
	t.Fatal("peers: no free port found")
	return 0
}
