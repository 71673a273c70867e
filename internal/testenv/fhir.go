package testenv

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// FHIRServer starts the FHIR R4 test server (internal/testenv/fhirserver: the npm
// package @medplum/fhir-router with its in-memory repository) on a free port and
// returns its base URL (".../fhir/R4"). It is stopped when the test ends.
func FHIRServer(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "fhirserver")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@medplum", "fhir-router")); err != nil {
		t.Fatalf("FHIR test server not installed: run `scripts/services.sh deps test` (npm ci in %s)", dir)
	}
	node := Lookup(t, "node", "nodejs")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "server.cjs", "0")
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("testenv: start FHIR server: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
			}
		}
	}()
	select {
	case p := <-port:
		return "http://127.0.0.1:" + p + "/fhir/R4"
	case <-time.After(30 * time.Second):
		t.Fatal("testenv: FHIR server did not start within 30 s")
	}
	return ""
}
