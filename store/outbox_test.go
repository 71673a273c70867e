package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func openTest(t *testing.T, dir string, mod ...func(*Options)) *Log {
	t.Helper()
	o := Options{Dir: dir, FsyncInterval: 5 * time.Millisecond}
	for _, m := range mod {
		m(&o)
	}
	l, err := Open(o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestAppendReopenCountsBacklog(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, func(o *Options) { o.SegmentSize = 1 << 16 })
	for i := range 2000 {
		if err := l.Append(Event{Type: "test.event", Detail: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l.Backlog() != 2000 {
		t.Fatalf("backlog %d", l.Backlog())
	}
	l.Close()
	ids, _ := listSegments(dir)
	if len(ids) < 3 {
		t.Fatalf("expected rotation into several segments, got %d", len(ids))
	}
	l2 := openTest(t, dir)
	if l2.Backlog() != 2000 || len(l2.TornTails()) != 0 {
		t.Fatalf("reopened backlog %d torn %v", l2.Backlog(), l2.TornTails())
	}
}

func TestTornTailIsReportedAndIntactRecordsKept(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir)
	for range 10 {
		if err := l.Append(Event{Type: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	ids, _ := listSegments(dir)
	path := filepath.Join(dir, segName(ids[len(ids)-1]))
	// A crash mid-write: a header promising 200 bytes followed by only 5.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e'})
	f.Close()

	l2 := openTest(t, dir)
	torn := l2.TornTails()
	if len(torn) != 1 || torn[0].Bytes != 13 || !strings.Contains(torn[0].Reason, "torn record body") {
		t.Fatalf("torn: %+v", torn)
	}
	if l2.Backlog() != 10 {
		t.Fatalf("intact records: %d, want 10", l2.Backlog())
	}
	if _, err := os.Stat(path + ".torn-" + strconv.FormatInt(torn[0].Offset, 10)); err != nil {
		t.Fatalf("torn bytes not kept aside: %v", err)
	}
}

func TestCorruptChecksumMidSegment(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir)
	for range 5 {
		l.Append(Event{Type: "x"})
	}
	l.Close()
	ids, _ := listSegments(dir)
	path := filepath.Join(dir, segName(ids[0]))
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff // flip a byte inside some record's payload
	os.WriteFile(path, b, 0o600)
	l2 := openTest(t, dir)
	if len(l2.TornTails()) != 1 || !strings.Contains(l2.TornTails()[0].Reason, "checksum") {
		t.Fatalf("torn: %+v", l2.TornTails())
	}
	if l2.Backlog() < 1 || l2.Backlog() > 4 {
		t.Fatalf("kept %d records, want the intact prefix", l2.Backlog())
	}
}

func TestOutboxFullRefusesAppend(t *testing.T) {
	l := openTest(t, t.TempDir(), func(o *Options) { o.MaxBytes = 4096 })
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = l.Append(Event{Type: "fill", Detail: map[string]any{"pad": strings.Repeat("x", 100)}})
	}
	if err != ErrOutboxFull {
		t.Fatalf("want ErrOutboxFull, got %v", err)
	}
}

func TestNULBytesAreNeutralised(t *testing.T) {
	ev := Event{ID: uuid.New(), Type: "a\x00b", Detail: map[string]any{"v": "x\x00y"}}
	b, err := encodeEvent(&ev)
	if err != nil || strings.Contains(string(b), `\u0000`) {
		t.Fatalf("encoded %s err %v", b, err)
	}
}

func TestSyncHonoursContext(t *testing.T) {
	l := openTest(t, t.TempDir(), func(o *Options) { o.FsyncInterval = time.Hour; o.FsyncBatch = 1 << 30 })
	l.Append(Event{Type: "x"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The kick in Sync forces a flush even with a long interval.
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}
