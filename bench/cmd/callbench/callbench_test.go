package main

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	in := `# HELP x y
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 2.2528e+06
careline_dtmf_events_total{source="rfc4733"} 7
careline_dtmf_events_total{source="info"} 2
careline_calls_active{direction="inbound"} 0
weird_label{a="}"} 3
`
	m, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want float64
	}{
		{"go_memstats_heap_inuse_bytes", 2252800},
		{"careline_dtmf_events_total", 9},
		{"careline_calls_active", 0},
		{"weird_label", 3},
	}
	for _, tc := range tests {
		if got := m[tc.name]; got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestGapHistQuantiles(t *testing.T) {
	t.Parallel()
	var h gapHist
	for i := 0; i < 990; i++ {
		h.add(20_000_000) // 20 ms
	}
	for i := 0; i < 10; i++ {
		h.add(60_000_000) // 60 ms
	}
	if got := h.quantileMS(0.5); math.Abs(got-20.1) > 0.01 {
		t.Errorf("p50 %v", got)
	}
	if got := h.quantileMS(0.999); math.Abs(got-60.1) > 0.01 {
		t.Errorf("p99.9 %v", got)
	}
	if got := float64(h.maxNS.Load()) / 1e6; got != 60 {
		t.Errorf("max %v", got)
	}
}

func TestSippParsers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stat := "StartTime;SuccessfulCall(C);FailedCall(C);Retransmissions(C);\n" +
		"a;10;0;0;\n" + "b;1600;2;5;\n"
	rtt := "Date_ms;response_time_ms;rtd_no\n"
	for i := 0; i < 100; i++ {
		ms := "1"
		if i == 99 {
			ms = "40"
		}
		rtt += strings.Join([]string{strconv.Itoa(1000 + i*5), ms, "setup"}, ";") + "\n"
	}
	os.WriteFile(filepath.Join(dir, "stat.csv"), []byte(stat), 0o644)
	os.WriteFile(filepath.Join(dir, "x_rtt.csv"), []byte(rtt), 0o644)
	var r cpsResult
	if err := parseSippStat(filepath.Join(dir, "stat.csv"), &r); err != nil {
		t.Fatal(err)
	}
	if err := parseSippRTT(filepath.Join(dir, "x_rtt.csv"), &r); err != nil {
		t.Fatal(err)
	}
	if r.Successful != 1600 || r.Failed != 2 || r.Retrans != 5 {
		t.Fatalf("stat %+v", r)
	}
	if math.Abs(r.Achieved-200) > 0.01 || r.P50ms != 1 || r.P99ms != 1 {
		t.Fatalf("rtt %+v", r)
	}
}

func TestReplaceSection(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "README.md")
	os.WriteFile(p, []byte("# Benchmarks\n\nintro\n"), 0o644)
	for _, step := range []struct{ section, table string }{
		{"calls", "table one\n"}, {"calls", "table two\n"}, {"duplex", "table three\n"},
	} {
		if err := replaceSection(p, step.section, step.table); err != nil {
			t.Fatal(err)
		}
	}
	sectionBegin, _ := sectionMarkers("calls")
	b, _ := os.ReadFile(p)
	s := string(b)
	if strings.Contains(s, "table one") || !strings.Contains(s, "table two") || !strings.Contains(s, "table three") || strings.Count(s, sectionBegin) != 1 ||
		!strings.HasPrefix(s, "# Benchmarks\n\nintro\n") {
		t.Fatalf("README:\n%s", s)
	}
}

func TestSlope(t *testing.T) {
	t.Parallel()
	if got := slope([][2]float64{{500, 1e6 + 500*30000}, {1000, 1e6 + 1000*30000}, {3000, 1e6 + 3000*30000}}); math.Abs(got-30000) > 1e-6 {
		t.Fatalf("slope %v", got)
	}
}
