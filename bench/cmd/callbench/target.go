package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a child process under measurement (careline, or the baseline UAS).
type process struct {
	name    string
	cmd     *exec.Cmd
	sip     string // host:port (UDP)
	metrics string // http://host:port/metrics
	// metric names that differ between careline and the baseline UAS
	activeMetric string
	dtmfMetric   string
	exited       chan struct{}
}

func startProcess(name string, logPath string, args ...string) (*exec.Cmd, chan struct{}, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	return cmd, exited, nil
}

// stop sends SIGTERM and waits (then SIGKILL) for the process we started.
func (p *process) stop(grace time.Duration) {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitReady polls the metrics endpoint until it answers.
func (p *process) waitReady(ctx context.Context) error {
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	for {
		if _, err := scrape(ctx, p.metrics); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not start: %w", p.name, ctx.Err())
		case <-p.exited:
			return fmt.Errorf("%s exited at start (see its log)", p.name)
		case <-tk.C:
		}
	}
}

// cpuSeconds is the process's user+system CPU time from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// after the command: state(3) ... utime(14) stime(15) → indexes 11, 12 here
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	const clkTck = 100 // USER_HZ on Linux
	return (ut + st) / clkTck, nil
}

// selfCPU is this process's CPU time.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// scrape reads a Prometheus text endpoint and sums every series per metric name.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("%s: %s", url, res.Status)
	}
	return parseMetrics(res.Body)
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, "{ ")
		if i < 0 {
			continue
		}
		name, rest := line[:i], line[i:]
		if j := strings.LastIndexByte(rest, '}'); j >= 0 {
			rest = rest[j+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out, sc.Err()
}

// freePort returns a port free on 127.0.0.1 for UDP (and TCP when tcp is set).
func freePort(tcp bool) (int, error) {
	for range 50 {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		ok := true
		if tcp {
			l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
			if err != nil {
				ok = false
			} else {
				l.Close()
			}
		}
		u.Close()
		if ok {
			return port, nil
		}
	}
	return 0, errors.New("no free port")
}

// waitMetric polls until cond holds for the named metric (or ctx ends).
func waitMetric(ctx context.Context, url, name string, cond func(float64) bool) error {
	_, err := waitMetricValue(ctx, url, name, cond)
	return err
}

// waitMetricValue is waitMetric that also returns the last value read.
func waitMetricValue(ctx context.Context, url, name string, cond func(float64) bool) (float64, error) {
	tk := time.NewTicker(200 * time.Millisecond)
	defer tk.Stop()
	last, seen := 0.0, false
	for {
		m, err := scrape(ctx, url)
		if err == nil {
			last, seen = m[name], true
			if cond(last) {
				return last, nil
			}
		}
		select {
		case <-ctx.Done():
			if !seen {
				return 0, fmt.Errorf("waiting for %s: %w (no successful scrape)", name, ctx.Err())
			}
			return last, fmt.Errorf("waiting for %s: %w (last value %v)", name, ctx.Err(), last)
		case <-tk.C:
		}
	}
}

// cpuTimes reads the machine-wide busy and total jiffies from /proc/stat.
func cpuTimes() (busy, total float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0
	}
	for i, x := range f[1:] {
		v, _ := strconv.ParseFloat(x, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}
