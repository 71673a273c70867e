package host

import "testing"

func TestHostOnLinux(t *testing.T) {
	if m := CPUModel(); m == "" || m == "unknown CPU" {
		t.Fatalf("CPU model %q", m)
	}
	if k := Kernel(); k == "" {
		t.Fatal("no kernel release")
	}
	if l := LoadAvg1(); l < 0 {
		t.Fatalf("load average %g", l)
	}
}
