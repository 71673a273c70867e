package peers

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
)

// Result is a finished command's combined output and exit code.
type Result struct {
	Output   string
	ExitCode int
}

// Run runs a tool to completion (bounded by ctx) and returns its combined
// output and exit code. A non-zero exit is not an error; failing to start
// (tool missing) is.
func Run(ctx context.Context, dir, name string, args ...string) (Result, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	res := Result{Output: string(out)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
	default:
		return res, err
	}
	return res, ctx.Err()
}

// Sipsak runs sipsak with args (e.g. "-U", "-s", "sip:agent7@127.0.0.1:5060",
// "-a", "secret", "-x", "60", "-H", "127.0.0.1").
func Sipsak(ctx context.Context, args ...string) (Result, error) {
	return Run(ctx, "", "sipsak", args...)
}

// Sipp writes scenario (XML) into dir and runs sipp with it plus args
// (remote address, -p local port, -m calls, ...). -nostdin and a screen
// trace in dir are always added.
func Sipp(ctx context.Context, dir, scenario string, args ...string) (Result, error) {
	sf := filepath.Join(dir, "scenario.xml")
	if err := os.WriteFile(sf, []byte(scenario), 0o644); err != nil {
		return Result{}, err
	}
	all := append([]string{"-sf", sf, "-nostdin", "-trace_err", "-error_file", filepath.Join(dir, "errors.log")}, args...)
	return Run(ctx, dir, "sipp", all...)
}
