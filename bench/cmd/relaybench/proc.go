//go:build linux && (amd64 || arm64)

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clkTck is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on every Linux
// architecture Go supports).
const clkTck = 100

// cpuSeconds returns the user+system CPU time of every thread of process pid.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state): utime is field 14, stime 15
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(ut+st) / clkTck, nil
}

// threads returns the number of threads of process pid.
func threads(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	return len(ents)
}

// udpDrops sums the drops column of /proc/net/udp over the sockets bound to 127.0.0.1
// on the given ports (receive-queue overflows).
func udpDrops(ports map[int]bool) uint64 {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 13 || !strings.HasPrefix(fs[1], "0100007F:") {
			continue
		}
		p, err := strconv.ParseUint(fs[1][9:], 16, 16)
		if err != nil || !ports[int(p)] {
			continue
		}
		d, _ := strconv.ParseUint(fs[len(fs)-1], 10, 64)
		total += d
	}
	return total
}

// child is a process the orchestrator started (pinned with taskset).
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan []byte
	done  chan error
}

// startChild runs taskset -c cpu prog args... with extra environment; its stderr goes to
// errOut. taskset execs prog, so the child's pid is prog's.
func startChild(log *slog.Logger, name, cpu string, env []string, errOut io.Writer, prog string, args ...string) (*child, error) {
	cmd := exec.Command("taskset", append([]string{"-c", cpu, prog}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = errOut
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, stdin: stdin, lines: make(chan []byte, 16), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		for sc.Scan() {
			c.lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(c.lines)
		c.done <- cmd.Wait()
	}()
	log.Debug("child started", "name", name, "pid", cmd.Process.Pid, "cpu", cpu)
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// recv decodes the child's next line into v.
func (c *child) recv(ctx context.Context, timeout time.Duration, v any) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("%s: no answer within %s", c.name, timeout)
	case line, ok := <-c.lines:
		if !ok {
			return fmt.Errorf("%s exited: %v", c.name, <-c.done)
		}
		var e errReply
		if json.Unmarshal(line, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s: %s", c.name, e.Error)
		}
		return json.Unmarshal(line, v)
	}
}

// do sends cmd and decodes the answer into v.
func (c *child) do(ctx context.Context, cmd command, v any) error {
	b, _ := json.Marshal(cmd)
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return c.recv(ctx, 2*time.Minute, v)
}

// stop closes the child's stdin (its signal to exit) and waits; after grace it kills it.
func (c *child) stop(grace time.Duration) error {
	_ = c.stdin.Close()
	t := time.NewTimer(grace)
	defer t.Stop()
	for {
		select {
		case _, ok := <-c.lines:
			if ok {
				continue
			}
			return <-c.done
		case <-t.C:
			_ = c.cmd.Process.Signal(syscall.SIGKILL)
			for range c.lines {
			}
			<-c.done
			return fmt.Errorf("%s did not exit within %s; killed", c.name, grace)
		}
	}
}

// terminate sends SIGTERM and waits; after grace it kills the child.
func (c *child) terminate(grace time.Duration) error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	return c.stop(grace)
}
