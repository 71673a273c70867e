package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
)

// TestMain lets the test binary act as the careline binary for subprocess tests.
func TestMain(m *testing.M) {
	if os.Getenv("CARELINE_BE_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigValidate(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"config", "validate", repoFile(t, "configs/careline.yaml")}, &out, &errb); code != 0 {
		t.Fatalf("example config: exit %d\n%s", code, errb.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nhtp: 1\nsip:\n  listen: [{network: sctp, addr: \"x\"}]\n"), 0o600)
	out.Reset()
	errb.Reset()
	if code := run([]string{"config", "validate", bad}, &out, &errb); code != 1 {
		t.Fatalf("bad config: exit %d", code)
	}
	for _, want := range []string{
		bad + `:2:1: error: htp: unknown key "htp"`,
		bad + `:4:22: error: sip.listen[0].network: unsupported network "sctp"`,
		bad + `:4:34: error: sip.listen[0].addr: bad listen address "x"`,
		"3 configuration error(s)",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("missing %q in:\n%s", want, errb.String())
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

// writeConfig writes a runnable config using free ports and the given database URL.
func writeConfig(t *testing.T, dir, dbURL string) string {
	t.Helper()
	sipPort := testenv.FreePort(t, "udp")
	httpPort := testenv.FreePort(t, "tcp")
	cfg := fmt.Sprintf(`version: 1
site: {name: Test Pharmacy, timezone: America/Chicago, languages: [en, es]}
http: {listen: "127.0.0.1:%d"}
store: {database_url: %q, outbox_dir: %q, fsync_interval: 5ms}
sip:
  listen: [{network: udp, addr: "127.0.0.1:%d"}]
  drain_timeout: 2s
prompts: {dir: %q}
numbers:
  "9999": {app: dtmf_echo}
`, httpPort, dbURL, filepath.Join(dir, "outbox"), sipPort, repoFile(t, "prompts"))
	path := filepath.Join(dir, "careline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type proc struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	http string
}

func startServe(t *testing.T, cfgPath string, extraEnv ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--config", cfgPath)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CARELINE_DATABASE_URL=") && !strings.HasPrefix(kv, "CARELINE_REDIS_URL=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(append(env, "CARELINE_BE_MAIN=1"), extraEnv...)
	stderr, _ := cmd.StderrPipe()
	p := &proc{cmd: cmd, logs: &bytes.Buffer{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.logs.WriteString(line + "\n")
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "careline started" {
				started <- m["http"].(string)
			}
		}
		close(started)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	select {
	case addr, ok := <-started:
		if !ok {
			cmd.Wait()
			t.Fatalf("serve exited early:\n%s", p.logs)
		}
		p.http = addr
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", p.logs)
	}
	return p
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// Postgres unreachable at start: the engine starts anyway, /readyz says ready but
// degraded, and SIGTERM stops it cleanly.
func TestServeWithPostgresDownIsReadyButDegraded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dead := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable&connect_timeout=1", testenv.FreePort(t, "tcp"))
	p := startServe(t, writeConfig(t, dir, dead))

	deadline := time.Now().Add(15 * time.Second)
	var code int
	var body map[string]any
	for time.Now().Before(deadline) {
		code, body = getJSON(t, "http://"+p.http+"/readyz")
		comp, _ := body["components"].(map[string]any)
		il, _ := comp["interaction_log"].(map[string]any)
		if s, _ := il["status"].(string); strings.Contains(s, "postgres down") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code != 200 || body["status"] != "degraded" || !strings.Contains(fmt.Sprint(body), "postgres down") {
		t.Fatalf("readyz %d %v", code, body)
	}
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), "careline_store_outbox_events") || !strings.Contains(string(m), "careline_store_postgres_up 0") {
		t.Fatalf("metrics missing outbox gauge:\n%s", m)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- p.cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("serve exit: %v\n%s", err, p.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM:\n%s", p.logs)
	}
	if !strings.Contains(p.logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop in logs:\n%s", p.logs)
	}
	if strings.Contains(p.logs.String(), "postgres://") {
		t.Fatalf("database URL leaked into logs:\n%s", p.logs)
	}
}
