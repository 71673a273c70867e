package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Outbox framing: every record is an 8-byte header (payload length, CRC-32C of the
// payload; both little-endian uint32) followed by the payload. Segments are files named
// seg-<16-digit id>.log; only the newest is ever written to.
const (
	headerSize    = 8
	maxRecordSize = 1 << 20
	segPrefix     = "seg-"
	segSuffix     = ".log"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrOutboxFull is returned by Append when the outbox holds more than its byte cap; the
// caller should refuse new work (e.g. answer 503) rather than lose records.
var ErrOutboxFull = errors.New("store: outbox full")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("store: outbox closed")

// position names a byte offset in a segment.
type position struct {
	Seg uint64
	Off int64
}

func (p position) less(q position) bool {
	return p.Seg < q.Seg || p.Seg == q.Seg && p.Off < q.Off
}

// TornTail describes data found unusable when the outbox was opened.
type TornTail struct {
	Segment string
	Offset  int64
	Bytes   int64
	Reason  string
}

// outbox is the append-only, segment-file journal.
type outbox struct {
	dir      string
	segSize  int64
	maxBytes int64
	fsyncN   int
	fsyncDur time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	cur     *os.File
	curSeg  uint64
	curOff  int64
	dirty   int   // records written since the last fsync
	written int64 // records appended (monotonic)
	closed  bool

	// published watermark for readers: everything before it is completely written.
	end atomic.Pointer[position]

	durable   atomic.Int64 // records known fsynced
	totalSize atomic.Int64 // bytes in all segments
	appended  atomic.Int64 // records ever appended or found unshipped at open
	syncKick  chan struct{}
	syncMu    sync.Mutex
	advanced  chan struct{} // closed and replaced whenever durable advances
	flushErr  atomic.Pointer[error]
	stop      chan struct{}
	stopped   chan struct{}
	notify    func() // called after each append (wakes the shipper)
	encodeBuf sync.Pool
}

type outboxOptions struct {
	Dir           string
	SegmentSize   int64
	MaxBytes      int64
	FsyncBatch    int
	FsyncInterval time.Duration
	Logger        *slog.Logger
}

func segName(id uint64) string { return fmt.Sprintf("%s%016d%s", segPrefix, id, segSuffix) }

func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("store: list outbox: %w", err)
	}
	var ids []uint64
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, segPrefix) || !strings.HasSuffix(n, segSuffix) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(n, segPrefix), segSuffix), 10, 64)
		if err == nil {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// openOutbox opens (or creates) the outbox in dir. The newest segment is checked record
// by record; a torn or corrupt tail is moved aside and reported, and appends continue in
// a fresh segment. It returns the torn tails found.
func openOutbox(o outboxOptions) (*outbox, []TornTail, error) {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("store: create outbox dir: %w", err)
	}
	ob := &outbox{
		dir: o.Dir, segSize: o.SegmentSize, maxBytes: o.MaxBytes, fsyncN: o.FsyncBatch,
		fsyncDur: o.FsyncInterval, log: o.Logger,
		syncKick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
		notify: func() {},
	}
	ob.advanced = make(chan struct{})
	ids, err := listSegments(o.Dir)
	if err != nil {
		return nil, nil, err
	}
	var torn []TornTail
	var total int64
	for i, id := range ids {
		path := filepath.Join(o.Dir, segName(id))
		if i == len(ids)-1 {
			t, err := repairTail(path)
			if err != nil {
				return nil, nil, err
			}
			if t != nil {
				torn = append(torn, *t)
			}
		}
		if st, err := os.Stat(path); err == nil {
			total += st.Size()
		}
	}
	ob.totalSize.Store(total)
	next := uint64(1)
	if len(ids) > 0 {
		next = ids[len(ids)-1] + 1
	}
	if err := ob.openSegment(next); err != nil {
		return nil, nil, err
	}
	go ob.flusher()
	return ob, torn, nil
}

// repairTail validates every record of the segment at path. At the first bad record it
// copies the rest to <path>.torn-<offset> (kept for inspection) and truncates the segment
// there, so intact records stay and nothing is silently discarded.
func repairTail(path string) (*TornTail, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open segment: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: stat segment: %w", err)
	}
	size := st.Size()
	r := &segReader{f: f}
	var off int64
	for off < size {
		_, n, err := r.readAt(off, size)
		if err != nil {
			if zero, zerr := allZero(f, off, size); zerr == nil && zero {
				// The preallocated tail of a segment that was being written: a clean end.
				if err := f.Truncate(off); err != nil {
					return nil, fmt.Errorf("store: truncate segment: %w", err)
				}
				return nil, f.Sync()
			}
			rest := size - off
			aside := fmt.Sprintf("%s.torn-%d", path, off)
			if err := copyTail(f, off, aside); err != nil {
				return nil, err
			}
			if err := f.Truncate(off); err != nil {
				return nil, fmt.Errorf("store: truncate torn segment: %w", err)
			}
			if err := f.Sync(); err != nil {
				return nil, fmt.Errorf("store: sync segment: %w", err)
			}
			return &TornTail{Segment: filepath.Base(path), Offset: off, Bytes: rest, Reason: err.Error()}, nil
		}
		off += n
	}
	return nil, nil
}

// allZero reports whether bytes [off, size) of f are all zero.
func allZero(f *os.File, off, size int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for off < size {
		n := min(int64(len(buf)), size-off)
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return false, err
		}
		for _, b := range buf[:n] {
			if b != 0 {
				return false, nil
			}
		}
		off += n
	}
	return true, nil
}

func copyTail(f *os.File, off int64, dst string) error {
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("store: keep torn tail: %w", err)
	}
	defer out.Close()
	if _, err := io.Copy(out, io.NewSectionReader(f, off, 1<<40)); err != nil {
		return fmt.Errorf("store: keep torn tail: %w", err)
	}
	return out.Sync()
}

func (ob *outbox) openSegment(id uint64) error {
	path := filepath.Join(ob.dir, segName(id))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("store: open segment: %w", err)
	}
	// Preallocate (sparse): appends then write inside the file's size and never make the
	// writer wait on a metadata commit for a growing file. The unused zero tail is cut off
	// when the segment is sealed, and recognised as a clean end after a crash.
	if err := f.Truncate(ob.segSize); err != nil {
		f.Close()
		return fmt.Errorf("store: preallocate segment: %w", err)
	}
	if err := syncDir(ob.dir); err != nil {
		f.Close()
		return err
	}
	ob.cur, ob.curSeg, ob.curOff = f, id, 0
	ob.end.Store(&position{Seg: id, Off: 0})
	return nil
}

// seal cuts the preallocated tail off the current segment and makes it durable.
func (ob *outbox) sealLocked() error {
	if err := ob.cur.Truncate(ob.curOff); err != nil {
		return fmt.Errorf("store: seal segment: %w", err)
	}
	if err := ob.cur.Sync(); err != nil {
		return fmt.Errorf("store: sync segment: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync dir: %w", err)
	}
	return nil
}

// append writes one encoded event. When it returns nil the record is in the kernel:
// it survives a crash of this process; the flusher makes it durable against power loss
// within one fsync interval.
func (ob *outbox) append(payload []byte) error {
	if len(payload) > maxRecordSize {
		return fmt.Errorf("store: event of %d bytes exceeds %d", len(payload), maxRecordSize)
	}
	bp, _ := ob.encodeBuf.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 512)
		bp = &b
	}
	rec := (*bp)[:0]
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(payload)))
	rec = binary.LittleEndian.AppendUint32(rec, crc32.Checksum(payload, castagnoli))
	rec = append(rec, payload...)
	defer func() { *bp = rec[:0]; ob.encodeBuf.Put(bp) }()

	ob.mu.Lock()
	if ob.closed {
		ob.mu.Unlock()
		return ErrClosed
	}
	if ob.totalSize.Load()+int64(len(rec)) > ob.maxBytes {
		ob.mu.Unlock()
		return ErrOutboxFull
	}
	if ob.curOff > 0 && ob.curOff+int64(len(rec)) > ob.segSize {
		if err := ob.rotateLocked(); err != nil {
			ob.mu.Unlock()
			return err
		}
	}
	n, err := ob.cur.WriteAt(rec, ob.curOff)
	if err != nil {
		// A partial write is overwritten by the next record (curOff did not move).
		ob.mu.Unlock()
		return fmt.Errorf("store: append: %w", err)
	}
	ob.curOff += int64(n)
	ob.totalSize.Add(int64(n))
	ob.written++
	ob.dirty++
	kick := ob.dirty >= ob.fsyncN
	ob.end.Store(&position{Seg: ob.curSeg, Off: ob.curOff})
	ob.mu.Unlock()
	ob.appended.Add(1)
	if kick {
		select {
		case ob.syncKick <- struct{}{}:
		default:
		}
	}
	ob.notify()
	return nil
}

func (ob *outbox) rotateLocked() error {
	if err := ob.sealLocked(); err != nil {
		return err
	}
	if err := ob.cur.Close(); err != nil {
		return fmt.Errorf("store: close segment: %w", err)
	}
	return ob.openSegment(ob.curSeg + 1)
}

// flusher fsyncs the current segment every interval or when a batch is due.
func (ob *outbox) flusher() {
	defer close(ob.stopped)
	t := time.NewTicker(ob.fsyncDur)
	defer t.Stop()
	for {
		select {
		case <-ob.stop:
			ob.flushOnce()
			return
		case <-t.C:
		case <-ob.syncKick:
		}
		ob.flushOnce()
	}
}

func (ob *outbox) flushOnce() {
	ob.mu.Lock()
	if ob.dirty == 0 || ob.cur == nil {
		ob.mu.Unlock()
		return
	}
	f, upto := ob.cur, ob.written
	ob.dirty = 0
	ob.mu.Unlock()
	// fsync outside the lock: appends keep going while the disk works. A rotation may
	// close f concurrently; rotation fsyncs before closing, so an error here is benign.
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		ob.flushErr.Store(&err)
		ob.log.Error("outbox fsync failed", "err", err)
		return
	}
	ob.syncMu.Lock()
	if upto > ob.durable.Load() {
		ob.durable.Store(upto)
	}
	close(ob.advanced)
	ob.advanced = make(chan struct{})
	ob.syncMu.Unlock()
}

// waitDurable blocks until every record appended before the call is fsynced.
func (ob *outbox) waitDurable(done <-chan struct{}) error {
	ob.mu.Lock()
	target := ob.written
	ob.mu.Unlock()
	select {
	case ob.syncKick <- struct{}{}:
	default:
	}
	for {
		ob.syncMu.Lock()
		ch := ob.advanced
		ob.syncMu.Unlock()
		if ob.durable.Load() >= target {
			return nil
		}
		if p := ob.flushErr.Load(); p != nil {
			return fmt.Errorf("store: outbox fsync: %w", *p)
		}
		select {
		case <-ch:
		case <-done:
			return errors.New("store: sync cancelled")
		}
	}
}

func (ob *outbox) close() error {
	ob.mu.Lock()
	if ob.closed {
		ob.mu.Unlock()
		return nil
	}
	ob.closed = true
	ob.mu.Unlock()
	close(ob.stop)
	<-ob.stopped
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if err := ob.sealLocked(); err != nil {
		return err
	}
	return ob.cur.Close()
}

// removeSegment deletes a fully shipped segment (never the one being written).
func (ob *outbox) removeSegment(id uint64) error {
	ob.mu.Lock()
	cur := ob.curSeg
	ob.mu.Unlock()
	if id >= cur {
		return nil
	}
	path := filepath.Join(ob.dir, segName(id))
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("store: stat shipped segment: %w", err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("store: remove shipped segment: %w", err)
	}
	ob.totalSize.Add(-st.Size())
	return nil
}

// segReader reads framed records from a segment file through a read-ahead window, so
// sequential reads cost one syscall per window instead of two per record.
type segReader struct {
	f      *os.File
	win    []byte // bytes of the file starting at winOff
	winOff int64
}

const readWindow = 1 << 20

// bytesAt returns n bytes at off (valid until the next call), refilling the window.
func (r *segReader) bytesAt(off, n, size int64) ([]byte, error) {
	if off >= r.winOff && off+n <= r.winOff+int64(len(r.win)) {
		return r.win[off-r.winOff : off-r.winOff+n], nil
	}
	want := max(n, readWindow)
	if off+want > size {
		want = size - off
	}
	if int64(cap(r.win)) < want {
		r.win = make([]byte, want)
	}
	r.win = r.win[:want]
	m, err := r.f.ReadAt(r.win, off)
	if int64(m) < n {
		r.win = r.win[:0]
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	r.win, r.winOff = r.win[:m], off
	return r.win[:n], nil
}

var (
	errShortHeader = errors.New("torn record header")
	errBadLength   = errors.New("record length out of range")
	errShortBody   = errors.New("torn record body")
	errChecksum    = errors.New("record checksum mismatch")
)

// readAt reads the record at off in a file of the given size and returns its payload
// (valid until the next call) and its total length.
func (r *segReader) readAt(off, size int64) ([]byte, int64, error) {
	if size-off < headerSize {
		return nil, 0, errShortHeader
	}
	hdr, err := r.bytesAt(off, headerSize, size)
	if err != nil {
		return nil, 0, fmt.Errorf("read header: %w", err)
	}
	n := int64(binary.LittleEndian.Uint32(hdr[0:4]))
	sum := binary.LittleEndian.Uint32(hdr[4:8])
	if n == 0 || n > maxRecordSize {
		return nil, 0, errBadLength
	}
	if size-off-headerSize < n {
		return nil, 0, errShortBody
	}
	b, err := r.bytesAt(off+headerSize, n, size)
	if err != nil {
		return nil, 0, fmt.Errorf("read body: %w", err)
	}
	if crc32.Checksum(b, castagnoli) != sum {
		return nil, 0, errChecksum
	}
	return b, headerSize + n, nil
}
