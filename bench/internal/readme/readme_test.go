package readme

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplaceKeepsTheRest(t *testing.T) {
	p := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(p, []byte("# Bench\n\nhand-written\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Replace(p, "tool", "x", "| a |\n"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(must(t, p), []byte("\nafter\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Replace(p, "tool", "x", "| b |"); err != nil {
		t.Fatal(err)
	}
	begin, end := Markers("tool", "x")
	want := "# Bench\n\nhand-written\n\n" + begin + "\n| b |\n" + end + "\n\nafter\n"
	if got := string(must(t, p)); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if strings.Count(string(must(t, p)), "| a |") != 0 {
		t.Fatal("old table kept")
	}
}

func must(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
