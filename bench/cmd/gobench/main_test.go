package main

import (
	"strings"
	"testing"
)

func TestParseMedians(t *testing.T) {
	out := `goos: linux
BenchmarkAppend-2            	  200000	      6020 ns/op	         5.400 p50-µs	        76.40 p99-µs
BenchmarkAppend-2            	  200000	      6100 ns/op	         5.000 p50-µs	        80.00 p99-µs
BenchmarkAppend-2            	  200000	      5900 ns/op	         6.000 p50-µs	        70.00 p99-µs
BenchmarkSimulate/predictive-2 	       1	1234 ns/op	        53.20 talk-min/agent-h	         2.970 abandon-ucb95-%
PASS
`
	m := metrics{}
	parse([]byte(out), m)
	if v, ok := m.median("BenchmarkAppend", "p99-µs"); !ok || v != 76.4 {
		t.Fatalf("p99 median %v %v, want 76.4", v, ok)
	}
	if v, ok := m.median("BenchmarkAppend", "p50-µs"); !ok || v != 5.4 {
		t.Fatalf("p50 median %v %v, want 5.4", v, ok)
	}
	if v, ok := m.median("BenchmarkSimulate/predictive", "talk-min/agent-h"); !ok || v != 53.2 {
		t.Fatalf("talk %v %v", v, ok)
	}
	if _, err := outboxTable(m); err == nil || !strings.Contains(err.Error(), "BenchmarkAppendAnchorWrite") {
		t.Fatalf("missing anchor not reported: %v", err)
	}
}
