package container

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"

	"github.com/google/uuid"
)

// WriterOptions are the parameters of one new container.
type WriterOptions struct {
	ID         uuid.UUID // the recording id, bound into every chunk; required
	Channels   int       // 1 or 2
	ChunkBytes int       // plaintext bytes per chunk; default 32000 (1 s of stereo); rounded down to whole frames
	Rand       io.Reader // randomness for keys and nonces; default crypto/rand
}

// Stats describe what a Writer wrote.
type Stats struct {
	Bytes      int64    // container bytes written (header and chunks)
	PlainBytes int64    // audio bytes sealed
	Chunks     int      // chunks written, the final one included
	SHA256     [32]byte // of the whole file; set by Close
	KeyID      string
}

// Writer seals audio into a container as it is written. It is not safe for concurrent
// use. Nothing is written to the underlying writer but the header and sealed chunks.
type Writer struct {
	w        io.Writer
	h        hash.Hash
	aead     cipher.AEAD
	fixed    fixedHeader
	hdrHash  [32]byte
	chunkMax int
	frame    int // bytes per sample frame

	buf   []byte // plaintext of the chunk being filled (memory only)
	out   []byte // sealed chunk
	aad   []byte
	nonce [12]byte
	index uint32
	stats Stats
	err   error // sticky
	done  bool
}

// NewWriter writes the header of a new container for opts.ID to w, wrapping a fresh
// random data key with kr's current master key.
func NewWriter(w io.Writer, kr *Keyring, opts WriterOptions) (*Writer, error) {
	if opts.ID == uuid.Nil {
		return nil, fmt.Errorf("container: writer needs a recording id")
	}
	if opts.Channels != 1 && opts.Channels != 2 {
		return nil, fmt.Errorf("container: %d channels: only mono and stereo", opts.Channels)
	}
	frame := 2 * opts.Channels
	chunk := opts.ChunkBytes
	if chunk <= 0 {
		chunk = defaultChunk
	}
	chunk = min(chunk, maxChunkMax) / frame * frame
	if chunk == 0 {
		chunk = frame
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var dek [KeySize]byte
	defer clear(dek[:])
	fh := fixedHeader{channels: uint8(opts.Channels), chunkMax: uint32(chunk), id: opts.ID}
	var ks keySection
	ks.keyID = kr.current
	for _, b := range [][]byte{dek[:], fh.noncePrefix[:], ks.wrapNonce[:]} {
		if _, err := io.ReadFull(rnd, b); err != nil {
			return nil, fmt.Errorf("container: randomness: %w", err)
		}
	}
	fixed := fh.marshal()
	ks.wrapped = kr.keks[ks.keyID].Seal(nil, ks.wrapNonce[:], dek[:], wrapAAD(fixed[:], ks.keyID))
	block, err := aes.NewCipher(dek[:])
	if err != nil {
		return nil, fmt.Errorf("container: data key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("container: data key: %w", err)
	}
	cw := &Writer{w: w, h: sha256.New(), aead: aead, fixed: fh, hdrHash: hashFixed(fixed[:]), chunkMax: chunk,
		frame: frame, buf: make([]byte, 0, chunk), out: make([]byte, 0, chunkHdrLen+chunk+tagLen)}
	cw.stats.KeyID = ks.keyID
	hdr := append(fixed[:], ks.marshal()...)
	if err := cw.emit(hdr); err != nil {
		return nil, err
	}
	return cw, nil
}

// Info describes the container being written.
func (w *Writer) Info() Info {
	return Info{ID: w.fixed.id, Channels: int(w.fixed.channels), SampleRate: SampleRate, ChunkMax: w.chunkMax, KeyID: w.stats.KeyID}
}

func (w *Writer) emit(b []byte) error {
	n, err := w.w.Write(b)
	w.stats.Bytes += int64(n)
	w.h.Write(b[:n])
	if err != nil {
		w.err = fmt.Errorf("container: write: %w", err)
		return w.err
	}
	return nil
}

// Write buffers audio bytes (interleaved PCM16 LE) and seals every full chunk.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), w.chunkMax-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) == w.chunkMax {
			if err := w.seal(0); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

var zeros [4096]byte

// WriteZeros writes n bytes of silence.
func (w *Writer) WriteZeros(n int64) error {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := w.Write(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// Flush seals the buffered audio as a (short) chunk now, so that it survives a crash.
// Chunks do not have to be full; flushing often only costs 21 bytes a chunk.
func (w *Writer) Flush() error {
	if w.done {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	return w.seal(0)
}

func (w *Writer) seal(flags byte) error {
	if w.index > maxChunkIndex {
		w.err = fmt.Errorf("container: recording exceeds %d chunks", maxChunkIndex)
		return w.err
	}
	ctLen := uint32(len(w.buf) + tagLen)
	w.aad = chunkAAD(w.aad, &w.hdrHash, w.index, flags, ctLen)
	chunkNonce(&w.nonce, &w.fixed.noncePrefix, w.index)
	w.out = binary.BigEndian.AppendUint32(w.out[:0], ctLen)
	w.out = append(w.out, flags)
	w.out = w.aead.Seal(w.out, w.nonce[:], w.buf, w.aad)
	w.stats.PlainBytes += int64(len(w.buf))
	clear(w.buf)
	w.buf = w.buf[:0]
	w.index++
	w.stats.Chunks++
	return w.emit(w.out)
}

// Close seals the buffered audio as the final chunk. It does not close the underlying
// writer. After Close, Stats holds the file's SHA-256.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	if w.err != nil {
		w.done = true
		return w.err
	}
	err := w.seal(flagFinal)
	w.done = true
	copy(w.stats.SHA256[:], w.h.Sum(nil))
	return err
}

// Stats returns what was written so far.
func (w *Writer) Stats() Stats { return w.stats }

// Buffered returns the audio bytes not yet sealed (lost if the process dies now).
func (w *Writer) Buffered() int { return len(w.buf) }
