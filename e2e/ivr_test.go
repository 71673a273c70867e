package e2e

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/careline/careline/internal/peers"
	"github.com/careline/careline/ivr"
	"github.com/careline/careline/media"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// promptLog records the prompts calls play (engine OnPrompt hook).
type promptLog struct {
	mu      sync.Mutex
	entries []promptEntry
	changed chan struct{}
}

type promptEntry struct {
	Lang, ID string
	Dur      time.Duration
	At       time.Time
}

func newPromptLog() *promptLog { return &promptLog{changed: make(chan struct{}, 1)} }

func (p *promptLog) add(_ uuid.UUID, lang, id string, d time.Duration) {
	p.mu.Lock()
	p.entries = append(p.entries, promptEntry{lang, id, d, time.Now()})
	p.mu.Unlock()
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// waitFor waits until prompt id has been queued and returns its entry.
func (p *promptLog) waitFor(t *testing.T, id string) promptEntry {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		p.mu.Lock()
		for _, e := range p.entries {
			if e.ID == id {
				p.mu.Unlock()
				return e
			}
		}
		p.mu.Unlock()
		select {
		case <-p.changed:
		case <-deadline:
			t.Fatalf("prompt %s never played; played %v", id, p.all())
		}
	}
}

func (p *promptLog) all() []promptEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]promptEntry(nil), p.entries...)
}

// playThrough waits until prompt id has been queued and has had time to play to its end
// (prompts queued with it before it included).
func (p *promptLog) playThrough(t *testing.T, id string) {
	t.Helper()
	e := p.waitFor(t, id)
	var before time.Duration
	for _, x := range p.all() {
		if x.At.Equal(e.At) && x.ID != id {
			before += x.Dur
		}
		if x.ID == id {
			break
		}
	}
	time.Sleep(time.Until(e.At.Add(before + e.Dur + 400*time.Millisecond)))
}

func loadPromptPCM(t *testing.T, lang, id string) []int16 {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(), "prompts", lang, id+".wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, err := media.DecodeWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// envelope is the RMS of each 10 ms block.
func envelope(pcm []int16) []float64 {
	out := make([]float64, len(pcm)/80)
	for i := range out {
		var s float64
		for _, v := range pcm[i*80 : (i+1)*80] {
			s += float64(v) * float64(v)
		}
		out[i] = math.Sqrt(s / 80)
	}
	return out
}

// bestMatch is the highest normalised correlation of the needle's envelope anywhere in
// the haystack's envelope: ≈1 when the haystack contains that audio.
func bestMatch(hay, needle []int16) float64 {
	h, n := envelope(hay), envelope(needle)
	if len(n) == 0 || len(h) < len(n) {
		return 0
	}
	mean := func(x []float64) float64 {
		var s float64
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}
	mn := mean(n)
	var nn float64
	for _, v := range n {
		nn += (v - mn) * (v - mn)
	}
	best := -1.0
	for lag := 0; lag+len(n) <= len(h); lag++ {
		w := h[lag : lag+len(n)]
		mw := mean(w)
		var num, ww float64
		for i, v := range w {
			num += (v - mw) * (n[i] - mn)
			ww += (v - mw) * (v - mw)
		}
		if ww > 0 && nn > 0 {
			if r := num / math.Sqrt(ww*nn); r > best {
				best = r
			}
		}
	}
	return best
}

// The pharmacy line end to end: baresip calls the English DID, chooses Spanish, asks for
// a refill, enters an Rx number and the flow says goodbye and hangs up. PostgreSQL holds
// the exact node exits; baresip heard the Spanish prompts.
func TestBaresipSpanishRefill(t *testing.T) {
	t.Parallel()
	loc, _ := time.LoadLocation("America/Chicago")
	anchor := time.Date(2026, 11, 23, 10, 0, 0, 0, loc) // a Monday, open hours
	t0 := time.Now()
	plog := newPromptLog()
	e := startEngine(t, engineOpts{example: true, onPrompt: plog.add,
		now: func() time.Time { return anchor.Add(time.Since(t0)) }})
	ctx := ctxT(t, 120*time.Second)
	rec := t.TempDir()
	quiet := filepath.Join(t.TempDir(), "quiet.wav")
	if err := peers.WriteToneWAV(quiet, 180, 0); err != nil { // the patient stays quiet (and on the line)
		t.Fatal(err)
	}
	b := peers.StartBaresip(ctx, t, peers.BaresipConfig{
		Account: "<sip:patient@127.0.0.1>;regint=0;audio_codecs=PCMU", RecordDir: rec, AudioSource: quiet})
	if _, err := b.Command(ctx, "dial", "sip:+15125550100@"+e.SIP); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("%v\n%s", err, b.Log)
	}
	plog.playThrough(t, "lang/spanish")
	b.Command(ctx, "sndcode", "2")
	menu := plog.waitFor(t, "main/menu") // 30 s in Spanish: barge in after a few seconds
	time.Sleep(time.Until(menu.At.Add(4 * time.Second)))
	b.Command(ctx, "sndcode", "1")
	menuHeard := time.Since(menu.At)
	plog.playThrough(t, "refill/enter_rx")
	b.Command(ctx, "sndcode", "4827193#")
	if _, err := b.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
		t.Fatalf("the flow did not hang up: %v", err)
	}
	callEnd := time.Now()

	// PostgreSQL: the exact sequence of node exits.
	var iid uuid.UUID
	e.drain(t)
	if err := e.Pool.QueryRow(ctx, "SELECT id FROM interactions WHERE did='+15125550100'").Scan(&iid); err != nil {
		t.Fatal(err)
	}
	it := e.waitEnded(t, iid)
	if it.Language != "es" || it.EndReason != "local_hangup" {
		for _, p := range plog.all() {
			t.Logf("prompt %s/%s %s at %s", p.Lang, p.ID, p.Dur, p.At.Sub(t0))
		}
		t.Fatalf("interaction %+v; events %v", it, e.eventTypes(t, iid))
	}
	rows, err := e.Pool.Query(ctx, "SELECT type, detail FROM interaction_events WHERE interaction_id=$1 ORDER BY at, id", iid)
	if err != nil {
		t.Fatal(err)
	}
	var evs []store.Event
	var refillRequested bool
	for rows.Next() {
		var ev store.Event
		var detail []byte
		rows.Scan(&ev.Type, &detail)
		json.Unmarshal(detail, &ev.Detail)
		evs = append(evs, ev)
		if ev.Type == "refill.requested" {
			refillRequested = true
			if v, _ := ev.Detail["value"].(string); v != "len:7" {
				t.Fatalf("refill event must carry a category, not the number: %v", ev.Detail)
			}
		}
		if b, _ := json.Marshal(ev.Detail); contains(string(b), "4827193") {
			t.Fatalf("raw Rx number in event %s: %s", ev.Type, b)
		}
	}
	rows.Close()
	want := []string{"welcome=ok", "language=option:2", "emergency=ok", "hours=open", "main_menu=option:1",
		"refill=ok", "refill_received=ok", "goodbye=ok"}
	var got []string
	for _, x := range ivr.NodeExits(evs) {
		if x.Flow != "pharmacy" {
			t.Fatalf("exit of flow %q", x.Flow)
		}
		got = append(got, x.Node+"="+x.Exit)
	}
	if len(got) != len(want) {
		t.Fatalf("node exits %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("node exits %v, want %v", got, want)
		}
	}
	if !refillRequested {
		t.Fatal("no refill.requested event")
	}

	// What baresip heard: the Spanish prompts (not the English ones), for as long as
	// the prompts careline played.
	var played time.Duration
	for _, p := range plog.all() {
		if p.ID == "main/menu" {
			played += min(p.Dur, menuHeard)
			continue
		}
		played += p.Dur
		if p.At.After(plog.waitFor(t, "main/emergency").At.Add(-time.Millisecond)) && p.Lang != "es" && p.ID != "" {
			t.Fatalf("prompt %s/%s played after choosing Spanish", p.Lang, p.ID)
		}
	}
	heard := readWAV(t, findDump(t, rec, "dec"))
	heardDur := time.Duration(len(heard)) * time.Second / 8000
	// baresip's decoder dump has no samples for the gaps between prompts and drops a few
	// frames at each talkspurt start (its jitter buffer filling), so allow 10 %.
	if heardDur < played*9/10 || heardDur > callEnd.Sub(t0)+time.Second {
		t.Fatalf("baresip recorded %s; careline played %s of prompts", heardDur, played)
	}
	es := bestMatch(heard, loadPromptPCM(t, "es", "main/emergency"))
	en := bestMatch(heard, loadPromptPCM(t, "en", "main/emergency"))
	t.Logf("recorded %s, prompts %s; emergency notice match: es %.3f en %.3f", heardDur, played, es, en)
	if es < 0.9 || es-en < 0.1 {
		t.Fatalf("the Spanish emergency notice is not in what baresip heard (es %.3f, en %.3f)", es, en)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

var _ = context.Background
