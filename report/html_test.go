package report

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
)

// chromium runs headless Chromium on page with the extra flags and returns stdout.
func chromium(t *testing.T, ctx context.Context, bin, page string, extra ...string) ([]byte, error) {
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir()}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+page)...)
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=disabled:") // no session bus: do not wait for one
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		s := errb.String()
		if len(s) > 2000 {
			s = "..." + s[len(s)-2000:]
		}
		return nil, fmt.Errorf("chromium %v: %w\n%s", extra, err, s)
	}
	return out.Bytes(), nil
}

var (
	cellRE = regexp.MustCompile(`data-cell="([^"]+)" data-value="([^"]*)">([^<]*)<`)
	barRE  = regexp.MustCompile(`data-bar="([^"]+)" data-value="([^"]*)"`)
)

func TestDailyHTMLInChromium(t *testing.T) {
	t.Parallel()
	bin := testenv.Lookup(t, "chromium", "chromium")
	r := runDaily(t)
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	src := buf.String()
	// Self-contained and PHI-free before any browser sees it.
	for _, bad := range []string{"http://", "https://", "<script", "<link", " src=", "@import", "url("} {
		if strings.Contains(src, bad) {
			t.Errorf("HTML is not self-contained: contains %q", bad)
		}
	}
	for _, phi := range plantedPHI {
		if strings.Contains(src, phi) {
			t.Errorf("HTML contains PHI %q", phi)
		}
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "daily.html")
	if err := os.WriteFile(page, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	shot := filepath.Join(dir, "daily.png")
	var (
		wg           sync.WaitGroup
		dom          []byte
		shotErr, err error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, shotErr = chromium(t, ctx, bin, page, "--screenshot="+shot, "--window-size=1280,2000")
	}()
	dom, err = chromium(t, ctx, bin, page, "--dump-dom", "--window-size=1280,2000")
	wg.Wait()
	if shotErr != nil {
		t.Fatal(shotErr)
	}
	if err != nil {
		t.Fatal(err)
	}

	t.Run("screenshot", func(t *testing.T) { checkScreenshot(t, shot) })
	t.Run("dom", func(t *testing.T) { checkDOM(t, string(dom)) })
}

// checkScreenshot: the PNG exists, is the window's size, is not blank, and shows the
// charts' bar colours.
func checkScreenshot(t *testing.T, path string) {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if st.Size() < 20_000 {
		t.Errorf("screenshot is only %d bytes", st.Size())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %v, want 1280x2000", b)
	}
	var n, sum, sumSq float64
	colours := map[uint32]bool{}
	near := map[string]int{}
	want := map[string][3]uint8{"offered": rgb(colOffered), "answered": rgb(colAnswered), "abandoned": rgb(colAbandoned),
		"occupancy": rgb(colOcc)}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r8, g8, b8 := uint8(r>>8), uint8(g>>8), uint8(bl>>8)
			lum := 0.2126*float64(r8) + 0.7152*float64(g8) + 0.0722*float64(b8)
			n++
			sum += lum
			sumSq += lum * lum
			colours[uint32(r8)<<16|uint32(g8)<<8|uint32(b8)] = true
			for name, c := range want {
				if closeTo(r8, c[0]) && closeTo(g8, c[1]) && closeTo(b8, c[2]) {
					near[name]++
				}
			}
		}
	}
	mean := sum / n
	variance := sumSq/n - mean*mean
	t.Logf("screenshot: %d bytes, luminance mean %.1f variance %.1f, %d colours, bar pixels %v", st.Size(), mean,
		variance, len(colours), near)
	if variance < 100 {
		t.Errorf("screenshot looks blank: luminance variance %.1f", variance)
	}
	if len(colours) < 50 {
		t.Errorf("screenshot has only %d colours", len(colours))
	}
	for name := range want {
		if near[name] < 200 {
			t.Errorf("%s bars not visible: %d pixels of their colour", name, near[name])
		}
	}
}

func rgb(hex string) [3]uint8 {
	var r, g, b uint8
	fmt.Sscanf(hex, "#%02x%02x%02x", &r, &g, &b)
	return [3]uint8{r, g, b}
}

func closeTo(a, b uint8) bool { return a+4 >= b && b+4 >= a }

// checkDOM compares every figure of the rendered page with the hand-worked golden CSV.
func checkDOM(t *testing.T, dom string) {
	golden, err := os.ReadFile(goldenCSV)
	if err != nil {
		t.Fatal(err)
	}
	want := csvValues(t, golden)
	seen := map[string]bool{}
	for _, m := range cellRE.FindAllStringSubmatch(dom, -1) {
		key, value, text := m[1], m[2], m[3]
		seen[key] = true
		w, ok := want[key]
		if !ok {
			t.Errorf("page shows %s, which the CSV does not have", key)
			continue
		}
		if value != w {
			t.Errorf("%s: page says %q, seeded database %q", key, value, w)
		}
		if isCount(key) && text != w {
			t.Errorf("%s: page shows %q, want %q", key, text, w)
		}
	}
	for _, m := range barRE.FindAllStringSubmatch(dom, -1) {
		seen["bar:"+m[1]] = true
		if w := want[m[1]]; m[2] != w {
			t.Errorf("bar %s: %q, want %q", m[1], m[2], w)
		}
	}
	// The figures the page must show, with their values spelled out.
	for key, v := range map[string]string{
		"queue/all/all/offered": "15", "queue/all/all/answered": "7", "queue/all/all/abandoned": "5",
		"queue/all/all/service_level": "0.4", "queue/coordinator/en/short_abandoned": "1",
		"queue/pharmacist/es/asa_s": "120", "queue/nurse/all/aht_s": "300", "queue/coordinator/all/service_level": "0.4",
		"agent/a1/occupancy": "0.1368", "agent/a3/rona": "1", "agent/a2/talk_s": "900", "agent/a3/wrap_up_s": "60",
		"ivr/all/refills_requested": "3", "ivr/all/ended_in_ivr": "7", "ivr_event/refill.requested/es/count": "2",
		"campaign/refills/attempts": "7", "campaign/refills/reached": "3", "campaign/refills/abandon_rate": "0.3333",
		"campaign_disposition/refills/voicemail-left/count": "1", "campaign_blocked/refills/outside_window/count": "3",
		"bar:queue/pharmacist/all/offered": "", "bar:queue/nurse/all/service_level": "",
		"bar:agent/a2/occupancy": "",
	} {
		if !seen[key] {
			t.Errorf("page does not show %s", key)
		} else if v != "" && want[key] != v {
			t.Errorf("golden %s = %q, want %q", key, want[key], v)
		}
	}
	for _, phi := range plantedPHI {
		if strings.Contains(dom, phi) {
			t.Errorf("rendered page contains PHI %q", phi)
		}
	}
}

// isCount reports whether the column of key holds a count (shown as is).
func isCount(key string) bool {
	col := key[strings.LastIndex(key, "/")+1:]
	return !strings.HasSuffix(col, "_s") && col != "service_level" && col != "occupancy" && col != "abandon_rate"
}
