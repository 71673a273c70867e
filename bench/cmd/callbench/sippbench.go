package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// cpsResult is one SIPp UAC run at one target rate.
type cpsResult struct {
	Target     string  `json:"target"`
	Rate       int     `json:"rate"`
	Calls      int     `json:"calls"`
	Successful int     `json:"successful"`
	Failed     int     `json:"failed"`
	Retrans    int     `json:"retransmissions"`
	Achieved   float64 `json:"achieved_cps"` // answered setups per second (first to last 200 OK)
	P50ms      float64 `json:"setup_p50_ms"`
	P99ms      float64 `json:"setup_p99_ms"`
	CPU        float64 `json:"target_cpu_cores"` // target process CPU during the run (cores)
	SippCPU    float64 `json:"sipp_cpu_cores"`
	LeftUp     float64 `json:"left_up"` // calls the target still held 40 s after SIPp ended every call
}

// runSippUAC runs the shipped scenario at rate for secs seconds of calls against the
// target's SIP address and parses SIPp's statistics and per-call setup times.
func runSippUAC(ctx context.Context, dir, scenario string, t *process, rate, secs int, hold time.Duration) (cpsResult, error) {
	res := cpsResult{Target: t.name, Rate: rate, Calls: rate * secs}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	port, err := freePort(false)
	if err != nil {
		return res, err
	}
	mport, err := freePort(false)
	if err != nil {
		return res, err
	}
	holdMS := int(hold / time.Millisecond)
	limit := rate * (int(hold/time.Second) + 3)
	timeout := secs + int(hold/time.Second) + 40
	args := []string{"-sf", scenario, t.sip, "-s", "9999", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(mport &^ 1),
		"-r", strconv.Itoa(rate), "-m", strconv.Itoa(res.Calls), "-l", strconv.Itoa(limit), "-d", strconv.Itoa(holdMS),
		"-buff_size", "4194304", "-nostdin", "-timeout", strconv.Itoa(timeout) + "s",
		"-trace_stat", "-stf", "stat.csv", "-fd", "1", "-trace_rtt", "-rtt_freq", "1", "-trace_err"}
	cmd := exec.CommandContext(ctx, "sipp", args...)
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "sipp.out"))
	if err != nil {
		return res, err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	pid := t.cmd.Process.Pid
	c0, _ := cpuSeconds(pid)
	w0 := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("sipp: %w", err)
	}
	var sippCPU float64
	err = cmd.Wait()
	if cmd.ProcessState != nil {
		sippCPU = cmd.ProcessState.UserTime().Seconds() + cmd.ProcessState.SystemTime().Seconds()
	}
	wall := time.Since(w0).Seconds()
	c1, _ := cpuSeconds(pid)
	res.CPU = (c1 - c0) / wall
	res.SippCPU = sippCPU / wall
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return res, fmt.Errorf("sipp: %w", err)
	}
	if err := parseSippStat(filepath.Join(dir, "stat.csv"), &res); err != nil {
		return res, err
	}
	rtts, _ := filepath.Glob(filepath.Join(dir, "*_rtt.csv"))
	if len(rtts) == 0 {
		return res, errors.New("sipp wrote no rtt file")
	}
	if err := parseSippRTT(rtts[0], &res); err != nil {
		return res, err
	}
	return res, nil
}

// parseSippStat reads the last line of SIPp's -trace_stat CSV (cumulative columns).
func parseSippStat(path string, res *cpsResult) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return fmt.Errorf("%s: no data", path)
	}
	head := strings.Split(lines[0], ";")
	last := strings.Split(lines[len(lines)-1], ";")
	col := func(name string) int {
		for i, h := range head {
			if h == name && i < len(last) {
				v, _ := strconv.Atoi(strings.TrimSpace(last[i]))
				return v
			}
		}
		return 0
	}
	res.Successful = col("SuccessfulCall(C)")
	res.Failed = col("FailedCall(C)")
	res.Retrans = col("Retransmissions(C)")
	return nil
}

// parseSippRTT reads the per-call setup times (ms) and the achieved setup rate.
func parseSippRTT(path string, res *cpsResult) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var at, v []float64
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(strings.TrimSpace(line), ";")
		if i == 0 || len(f) < 2 {
			continue
		}
		t, err1 := strconv.ParseFloat(f[0], 64)
		ms, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		at = append(at, t)
		v = append(v, ms)
	}
	if len(v) < 2 {
		return fmt.Errorf("%s: %d samples", path, len(v))
	}
	sort.Float64s(at)
	res.Achieved = float64(len(at)-1) / (at[len(at)-1] - at[0]) * 1000
	sort.Float64s(v)
	res.P50ms = quantile(v, 0.50)
	res.P99ms = quantile(v, 0.99)
	return nil
}

// quantile of sorted values (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// startSippUAS runs SIPp's built-in UAS (the tool's own ceiling) on a free port.
func startSippUAS(dir string) (*process, error) {
	port, err := freePort(false)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cmd, exited, err := startProcess("sipp-uas", filepath.Join(dir, "sipp-uas.log"),
		"sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-buff_size", "4194304", "-nostdin")
	if err != nil {
		return nil, err
	}
	p := &process{name: "sipp-uas", cmd: cmd, sip: fmt.Sprintf("127.0.0.1:%d", port), exited: exited}
	select {
	case <-exited:
		return nil, errors.New("sipp uas exited at start")
	case <-time.After(500 * time.Millisecond):
	}
	return p, nil
}
