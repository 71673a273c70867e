package container

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/uuid"
)

// ReaderOptions are the parameters of one read.
type ReaderOptions struct {
	// ExpectID, when set, must equal the recording id in the header (so a file copied
	// over another recording's path is refused).
	ExpectID uuid.UUID
}

// Reader decrypts a container. Read returns only plaintext of chunks whose GCM tag has
// been verified: a byte is never released before its whole chunk is authenticated.
// At the end Read returns io.EOF if the final chunk was seen, ErrTruncated if the file
// stops without one (a crash: what was returned is an authenticated prefix), and an
// error wrapping ErrAuth or ErrCorrupt for tampering. Errors are sticky.
type Reader struct {
	r       *bufio.Reader
	aead    cipher.AEAD
	info    Info
	fixed   fixedHeader
	hdrHash [32]byte

	ct     []byte
	plain  []byte
	pos    int // read position in plain
	aad    []byte
	nonce  [12]byte
	index  uint32
	offset int64 // file offset of the next chunk
	final  bool
	err    error
	nplain int64
}

// NewReader reads and checks the header of a container and unwraps its data key.
func NewReader(r io.Reader, kr *Keyring, opts ReaderOptions) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var fixed [fixedLen]byte
	if _, err := io.ReadFull(br, fixed[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: short header", ErrNotContainer)
		}
		return nil, fmt.Errorf("container: read header: %w", err)
	}
	fh, err := parseFixed(fixed[:])
	if err != nil {
		return nil, err
	}
	if opts.ExpectID != uuid.Nil && fh.id != opts.ExpectID {
		return nil, fmt.Errorf("%w: header says %s, expected %s", ErrWrongRecording, fh.id, opts.ExpectID)
	}
	ks, n, err := readKeySection(br)
	if err != nil {
		return nil, err
	}
	kek, ok := kr.keks[ks.keyID]
	if !ok {
		return nil, fmt.Errorf("%w: %q (keyring has %v)", ErrUnknownKey, ks.keyID, kr.IDs())
	}
	dek, err := kek.Open(nil, ks.wrapNonce[:], ks.wrapped, wrapAAD(fixed[:], ks.keyID))
	if err != nil {
		return nil, fmt.Errorf("%w: data key does not unwrap with master key %q", ErrAuth, ks.keyID)
	}
	defer clear(dek)
	block, err := aes.NewCipher(dek)
	if err != nil {
		return nil, fmt.Errorf("container: data key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("container: data key: %w", err)
	}
	return &Reader{r: br, aead: aead, fixed: fh, hdrHash: hashFixed(fixed[:]), offset: int64(fixedLen + n),
		info: Info{ID: fh.id, Channels: int(fh.channels), SampleRate: SampleRate, ChunkMax: int(fh.chunkMax), KeyID: ks.keyID},
		ct:   make([]byte, 0, int(fh.chunkMax)+tagLen)}, nil
}

// readKeySection parses the key section and returns it with its length in bytes.
func readKeySection(br *bufio.Reader) (keySection, int, error) {
	var ks keySection
	short := func(err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: short key section", ErrCorrupt)
		}
		return fmt.Errorf("container: read header: %w", err)
	}
	idLen, err := br.ReadByte()
	if err != nil {
		return ks, 0, short(err)
	}
	if idLen == 0 || idLen > 64 {
		return ks, 0, fmt.Errorf("%w: key id of %d bytes", ErrCorrupt, idLen)
	}
	b := make([]byte, int(idLen)+1+wrapNonceLen+1)
	if _, err := io.ReadFull(br, b); err != nil {
		return ks, 0, short(err)
	}
	ks.keyID = string(b[:idLen])
	if !ValidKeyID(ks.keyID) {
		return ks, 0, fmt.Errorf("%w: invalid key id", ErrCorrupt)
	}
	if alg := b[idLen]; alg != WrapAESGCM {
		return ks, 0, fmt.Errorf("%w: key wrap algorithm %d", ErrUnsupported, alg)
	}
	copy(ks.wrapNonce[:], b[int(idLen)+1:])
	if wl := int(b[len(b)-1]); wl != wrappedKeyLen {
		return ks, 0, fmt.Errorf("%w: wrapped key of %d bytes", ErrCorrupt, wl)
	}
	ks.wrapped = make([]byte, wrappedKeyLen)
	if _, err := io.ReadFull(br, ks.wrapped); err != nil {
		return ks, 0, short(err)
	}
	return ks, len(b) + wrappedKeyLen, nil
}

// Info describes the recording.
func (r *Reader) Info() Info { return r.info }

// Final reports whether the final chunk has been read.
func (r *Reader) Final() bool { return r.final }

// PlainBytes returns the authenticated audio bytes returned so far.
func (r *Reader) PlainBytes() int64 { return r.nplain }

// Chunks returns the number of chunks authenticated so far.
func (r *Reader) Chunks() int { return int(r.index) }

// Read implements io.Reader over the authenticated plaintext.
func (r *Reader) Read(p []byte) (int, error) {
	for r.pos == len(r.plain) {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.next()
	}
	n := copy(p, r.plain[r.pos:])
	r.pos += n
	r.nplain += int64(n)
	return n, nil
}

// next reads and opens one chunk into r.plain, or returns the terminal condition.
func (r *Reader) next() error {
	clear(r.plain)
	r.plain, r.pos = r.plain[:0], 0
	if r.final {
		if _, err := r.r.ReadByte(); err == nil {
			return fmt.Errorf("%w: data after the final chunk at offset %d", ErrCorrupt, r.offset)
		} else if !errors.Is(err, io.EOF) {
			return fmt.Errorf("container: read: %w", err)
		}
		return io.EOF
	}
	var hdr [chunkHdrLen]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		switch {
		case errors.Is(err, io.EOF):
			return fmt.Errorf("%w: %d chunks, no final chunk", ErrTruncated, r.index)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("%w: torn chunk header at offset %d after %d chunks", ErrTruncated, r.offset, r.index)
		}
		return fmt.Errorf("container: read: %w", err)
	}
	ctLen := binary.BigEndian.Uint32(hdr[0:4])
	flags := hdr[4]
	if ctLen < tagLen || ctLen > r.fixed.chunkMax+tagLen {
		return fmt.Errorf("%w: chunk %d at offset %d has length %d", ErrCorrupt, r.index, r.offset, ctLen)
	}
	if flags&^flagFinal != 0 {
		return fmt.Errorf("%w: chunk %d at offset %d has flags %#x", ErrCorrupt, r.index, r.offset, flags)
	}
	r.ct = r.ct[:ctLen]
	if _, err := io.ReadFull(r.r, r.ct); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: torn chunk %d at offset %d", ErrTruncated, r.index, r.offset)
		}
		return fmt.Errorf("container: read: %w", err)
	}
	r.aad = chunkAAD(r.aad, &r.hdrHash, r.index, flags, ctLen)
	chunkNonce(&r.nonce, &r.fixed.noncePrefix, r.index)
	plain, err := r.aead.Open(r.plain[:0], r.nonce[:], r.ct, r.aad)
	if err != nil {
		return fmt.Errorf("%w: chunk %d at offset %d", ErrAuth, r.index, r.offset)
	}
	if len(plain)%(2*int(r.fixed.channels)) != 0 {
		clear(plain)
		return fmt.Errorf("%w: chunk %d holds a partial sample frame", ErrCorrupt, r.index)
	}
	r.plain = plain
	r.offset += int64(chunkHdrLen) + int64(ctLen)
	r.index++
	r.final = flags&flagFinal != 0
	if r.index > maxChunkIndex && !r.final {
		return fmt.Errorf("%w: too many chunks", ErrCorrupt)
	}
	return nil
}

// Rewrap copies the container in src to dst with its data key re-wrapped under kr's
// current master key (key rotation). The audio chunks are copied as they are; the
// whole source is authenticated on the way, and Rewrap fails (having written a partial
// dst) if it is not intact and complete. It returns the new key id.
func Rewrap(dst io.Writer, src io.Reader, kr *Keyring, rnd io.Reader) (string, error) {
	if rnd == nil {
		return "", errors.New("container: Rewrap needs a randomness source")
	}
	br := bufio.NewReaderSize(src, 64<<10)
	var fixed [fixedLen]byte
	if _, err := io.ReadFull(br, fixed[:]); err != nil {
		return "", fmt.Errorf("%w: short header", ErrNotContainer)
	}
	if _, err := parseFixed(fixed[:]); err != nil {
		return "", err
	}
	ks, _, err := readKeySection(br)
	if err != nil {
		return "", err
	}
	old, ok := kr.keks[ks.keyID]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownKey, ks.keyID)
	}
	dek, err := old.Open(nil, ks.wrapNonce[:], ks.wrapped, wrapAAD(fixed[:], ks.keyID))
	if err != nil {
		return "", fmt.Errorf("%w: data key does not unwrap with master key %q", ErrAuth, ks.keyID)
	}
	defer clear(dek)
	nks := keySection{keyID: kr.current}
	if _, err := io.ReadFull(rnd, nks.wrapNonce[:]); err != nil {
		return "", fmt.Errorf("container: randomness: %w", err)
	}
	nks.wrapped = kr.keks[nks.keyID].Seal(nil, nks.wrapNonce[:], dek, wrapAAD(fixed[:], nks.keyID))
	// Authenticate the body with the data key while copying it.
	body := io.TeeReader(br, dst)
	var hdr []byte
	hdr = append(hdr, fixed[:]...)
	hdr = append(hdr, nks.marshal()...)
	if _, err := dst.Write(hdr); err != nil {
		return "", fmt.Errorf("container: rewrap: write: %w", err)
	}
	// Re-parse through a Reader built from the old header and the teed body.
	ksb := ks.marshal()
	rd, err := NewReader(io.MultiReader(bytes.NewReader(fixed[:]), bytes.NewReader(ksb), body), kr, ReaderOptions{})
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(io.Discard, rd); err != nil {
		return "", fmt.Errorf("container: rewrap: %w", err)
	}
	return nks.keyID, nil
}

// DestroyKey overwrites the wrapped data key of the container file f with zeros and
// syncs it, so that the audio can never be decrypted again, whatever copies of the
// blocks survive the file's removal. The caller then removes the file.
func DestroyKey(f *os.File) error {
	var fixed [fixedLen + 1]byte
	if _, err := f.ReadAt(fixed[:], 0); err != nil {
		return fmt.Errorf("container: destroy key: read header: %w", err)
	}
	if _, err := parseFixed(fixed[:fixedLen]); err != nil {
		return fmt.Errorf("container: destroy key: %w", err)
	}
	idLen := int(fixed[fixedLen])
	if idLen == 0 || idLen > 64 {
		return fmt.Errorf("container: destroy key: %w: key id of %d bytes", ErrCorrupt, idLen)
	}
	// key id, alg, wrap nonce, wrapped length, wrapped key: all of it goes.
	n := 1 + idLen + 1 + wrapNonceLen + 1 + wrappedKeyLen
	if _, err := f.WriteAt(make([]byte, n), fixedLen); err != nil {
		return fmt.Errorf("container: destroy key: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("container: destroy key: sync: %w", err)
	}
	return nil
}
