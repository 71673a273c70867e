// Package container is careline's encrypted recording file format: PCM16 audio sealed
// with AES-256-GCM in independently authenticated chunks under a per-recording data
// key, which is wrapped by a master key from a Keyring.
//
// A file is a header followed by chunks (integers big-endian):
//
//	fixed header (44 bytes; its SHA-256 is bound into every chunk's AAD)
//	  magic        8  "CLREC\x00\r\n"
//	  version      1  1
//	  flags        1  0 (reserved)
//	  channels     1  1 (mono) or 2 (stereo: left = patient, right = agent)
//	  sample fmt   1  1 = PCM16 little-endian, interleaved
//	  sample rate  4  8000
//	  chunk max    4  largest chunk plaintext in bytes
//	  recording id 16 UUID
//	  nonce prefix 8  random
//	key section (authenticated by the wrap itself)
//	  key id len   1, key id (1–64 bytes, ASCII)
//	  wrap alg     1  1 = AES-256-GCM
//	  wrap nonce   12
//	  wrapped len  1, wrapped data key (32-byte key + 16-byte tag)
//	chunks, repeated
//	  length       4  ciphertext length including the 16-byte tag
//	  flags        1  bit 0: final chunk; other bits zero
//	  ciphertext
//
// Chunk i is sealed with nonce = nonce prefix || uint32(i) and AAD = SHA-256(fixed
// header) || uint32(i) || flags || length, so a chunk cannot be moved to another
// position or another recording, flagged final early, or resized; the wrap's AAD binds
// the fixed header and the key id, so a wrapped key cannot be moved to another file.
// The last chunk carries the final flag (it may be empty): a file without it was cut
// short (a crash leaves a readable prefix of whole chunks), and bytes after it are an
// error. Re-wrapping under another master key rewrites only the key section.
//
// No plaintext ever reaches the underlying writer; the plaintext of the chunk being
// filled lives in memory only and is cleared after sealing.
package container

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Format constants.
const (
	Version        = 1
	SampleRate     = 8000
	FormatPCM16LE  = 1
	WrapAESGCM     = 1
	fixedLen       = 44
	tagLen         = 16
	wrapNonceLen   = 12
	wrappedKeyLen  = KeySize + tagLen
	chunkHdrLen    = 5
	flagFinal      = 0x01
	maxChunkMax    = 4 << 20 // a reader refuses headers announcing larger chunks
	defaultChunk   = 32000   // 1 s of 8 kHz stereo PCM16
	maxChunkIndex  = 1<<31 - 1
	wrapAADContext = "careline recording key v1"
)

// Magic starts every container file. It is not a RIFF header: recordings at rest are
// never recognisable audio.
const Magic = "CLREC\x00\r\n"

// Errors. Every failure to read a file wraps one of these.
var (
	ErrNotContainer   = errors.New("container: not a careline recording file")
	ErrUnsupported    = errors.New("container: unsupported recording format")
	ErrUnknownKey     = errors.New("container: master key not in keyring")
	ErrAuth           = errors.New("container: authentication failed (tampered, corrupt or wrong key)")
	ErrTruncated      = errors.New("container: recording is truncated (no final chunk)")
	ErrCorrupt        = errors.New("container: recording structure is corrupt")
	ErrWrongRecording = errors.New("container: file belongs to another recording")
	ErrClosed         = errors.New("container: writer closed")
)

// Info describes a container from its header.
type Info struct {
	ID         uuid.UUID
	Channels   int
	SampleRate int
	ChunkMax   int // largest chunk plaintext, bytes
	KeyID      string
}

// String describes the format without secrets.
func (i Info) String() string {
	return fmt.Sprintf("recording %s: %d Hz %d-channel PCM16, chunks ≤ %d B, key %s", i.ID, i.SampleRate, i.Channels, i.ChunkMax, i.KeyID)
}

// fixedHeader is the authenticated-by-AAD part of the header.
type fixedHeader struct {
	channels    uint8
	chunkMax    uint32
	id          uuid.UUID
	noncePrefix [8]byte
}

func (h *fixedHeader) marshal() [fixedLen]byte {
	var b [fixedLen]byte
	copy(b[0:8], Magic)
	b[8] = Version
	b[9] = 0
	b[10] = h.channels
	b[11] = FormatPCM16LE
	binary.BigEndian.PutUint32(b[12:16], SampleRate)
	binary.BigEndian.PutUint32(b[16:20], h.chunkMax)
	copy(b[20:36], h.id[:])
	copy(b[36:44], h.noncePrefix[:])
	return b
}

func parseFixed(b []byte) (fixedHeader, error) {
	var h fixedHeader
	if len(b) < fixedLen || string(b[0:8]) != Magic {
		return h, ErrNotContainer
	}
	if b[8] != Version {
		return h, fmt.Errorf("%w: version %d", ErrUnsupported, b[8])
	}
	if b[9] != 0 {
		return h, fmt.Errorf("%w: header flags %#x", ErrUnsupported, b[9])
	}
	h.channels = b[10]
	if h.channels != 1 && h.channels != 2 {
		return h, fmt.Errorf("%w: %d channels", ErrUnsupported, h.channels)
	}
	if b[11] != FormatPCM16LE {
		return h, fmt.Errorf("%w: sample format %d", ErrUnsupported, b[11])
	}
	if r := binary.BigEndian.Uint32(b[12:16]); r != SampleRate {
		return h, fmt.Errorf("%w: sample rate %d", ErrUnsupported, r)
	}
	h.chunkMax = binary.BigEndian.Uint32(b[16:20])
	if h.chunkMax == 0 || h.chunkMax > maxChunkMax {
		return h, fmt.Errorf("%w: chunk size %d", ErrCorrupt, h.chunkMax)
	}
	copy(h.id[:], b[20:36])
	copy(h.noncePrefix[:], b[36:44])
	return h, nil
}

// keySection is the wrapped data key and the id of the master key that wrapped it.
type keySection struct {
	keyID     string
	wrapNonce [wrapNonceLen]byte
	wrapped   []byte
}

func (k *keySection) marshal() []byte {
	b := make([]byte, 0, 1+len(k.keyID)+1+wrapNonceLen+1+len(k.wrapped))
	b = append(b, byte(len(k.keyID)))
	b = append(b, k.keyID...)
	b = append(b, WrapAESGCM)
	b = append(b, k.wrapNonce[:]...)
	b = append(b, byte(len(k.wrapped)))
	return append(b, k.wrapped...)
}

func wrapAAD(fixed []byte, keyID string) []byte {
	aad := make([]byte, 0, len(wrapAADContext)+fixedLen+len(keyID))
	aad = append(aad, wrapAADContext...)
	aad = append(aad, fixed...)
	return append(aad, keyID...)
}

// chunkAAD builds the additional data of chunk index with flags and ciphertext length.
func chunkAAD(dst []byte, headerHash *[32]byte, index uint32, flags byte, ctLen uint32) []byte {
	dst = append(dst[:0], headerHash[:]...)
	dst = binary.BigEndian.AppendUint32(dst, index)
	dst = append(dst, flags)
	return binary.BigEndian.AppendUint32(dst, ctLen)
}

func chunkNonce(dst *[12]byte, prefix *[8]byte, index uint32) {
	copy(dst[:8], prefix[:])
	binary.BigEndian.PutUint32(dst[8:], index)
}

func hashFixed(b []byte) [32]byte { return sha256.Sum256(b) }
