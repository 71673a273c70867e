package container

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func ring(t testing.TB, current string, ids ...string) *Keyring {
	t.Helper()
	keys := map[string][]byte{}
	for i, id := range ids {
		keys[id] = key(byte(i + 1))
	}
	kr, err := NewKeyring(current, keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// stereoPCM returns n stereo frames: left a 440 Hz tone, right 1000 Hz, as PCM16 LE.
func stereoPCM(n int) []byte {
	b := make([]byte, 0, 4*n)
	for i := range n {
		tm := float64(i) / SampleRate
		l := int16(12000 * math.Sin(2*math.Pi*440*tm))
		r := int16(12000 * math.Sin(2*math.Pi*1000*tm))
		b = binary.LittleEndian.AppendUint16(b, uint16(l))
		b = binary.LittleEndian.AppendUint16(b, uint16(r))
	}
	return b
}

func seal(t testing.TB, kr *Keyring, id uuid.UUID, channels, chunk int, audio []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, kr, WriterOptions{ID: id, Channels: channels, ChunkBytes: chunk})
	if err != nil {
		t.Fatal(err)
	}
	// Write in odd-sized pieces to exercise buffering.
	for p := audio; len(p) > 0; {
		k := min(len(p), 777)
		if _, err := w.Write(p[:k]); err != nil {
			t.Fatal(err)
		}
		p = p[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Bytes != int64(buf.Len()) || st.PlainBytes != int64(len(audio)) {
		t.Fatalf("stats %+v, file %d bytes, audio %d", st, buf.Len(), len(audio))
	}
	return buf.Bytes()
}

func open(kr *Keyring, file []byte, opts ReaderOptions) ([]byte, *Reader, error) {
	r, err := NewReader(bytes.NewReader(file), kr, opts)
	if err != nil {
		return nil, nil, err
	}
	out, err := io.ReadAll(r)
	return out, r, err
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	kr := ring(t, "k1", "k1")
	cases := []struct {
		name     string
		channels int
		chunk    int
		frames   int
	}{
		{"empty", 2, 1600, 0},
		{"one frame", 2, 1600, 1},
		{"exactly one chunk", 2, 1600, 400},
		{"chunk plus one", 2, 1600, 401},
		{"many chunks", 2, 1600, 8000},
		{"mono", 1, 800, 4321},
		{"default chunk", 2, 0, 20000},
		{"odd chunk rounded to frames", 2, 1001, 999},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			audio := stereoPCM(tc.frames)
			if tc.channels == 1 {
				audio = audio[:len(audio)/2]
			}
			id := uuid.New()
			file := seal(t, kr, id, tc.channels, tc.chunk, audio)
			got, r, err := open(kr, file, ReaderOptions{ExpectID: id})
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, audio) {
				t.Fatalf("round trip differs: got %d bytes want %d", len(got), len(audio))
			}
			if !r.Final() || r.Info().Channels != tc.channels || r.Info().ID != id || r.Info().KeyID != "k1" {
				t.Fatalf("final=%v info=%v", r.Final(), r.Info())
			}
		})
	}
}

func TestNoPlaintextAtRest(t *testing.T) {
	t.Parallel()
	kr := ring(t, "k1", "k1")
	audio := stereoPCM(16000)
	file := seal(t, kr, uuid.New(), 2, 32000, audio)
	if bytes.Contains(file, []byte("RIFF")) || bytes.Contains(file, []byte("WAVE")) {
		t.Fatal("container holds a RIFF/WAVE marker")
	}
	// No 16-byte window of the audio appears in the file.
	for off := 0; off+16 <= len(audio); off += 4000 {
		if bytes.Contains(file, audio[off:off+16]) {
			t.Fatalf("plaintext audio at source offset %d found in the file", off)
		}
	}
	if e := entropy(file[200:]); e < 7.9 {
		t.Fatalf("ciphertext entropy %.3f bits/byte, want ≈ 8", e)
	}
}

func entropy(b []byte) float64 {
	var n [256]float64
	for _, c := range b {
		n[c]++
	}
	h := 0.0
	for _, c := range n {
		if c > 0 {
			p := c / float64(len(b))
			h -= p * math.Log2(p)
		}
	}
	return h
}

// headerLen returns the header size of a file written with key id of length idLen.
func headerLen(idLen int) int { return fixedLen + 1 + idLen + 1 + wrapNonceLen + 1 + wrappedKeyLen }

// chunksOf splits a file into its header and raw chunks (framing included).
func chunksOf(t testing.TB, file []byte, idLen int) ([]byte, [][]byte) {
	t.Helper()
	h := headerLen(idLen)
	var out [][]byte
	for p := file[h:]; len(p) > 0; {
		n := chunkHdrLen + int(binary.BigEndian.Uint32(p[:4]))
		out = append(out, p[:n])
		p = p[n:]
	}
	return file[:h], out
}

func join(hdr []byte, chunks ...[]byte) []byte {
	out := append([]byte(nil), hdr...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out
}

func TestTamperAnyByteFails(t *testing.T) {
	t.Parallel()
	kr := ring(t, "k1", "k1")
	id := uuid.New()
	audio := stereoPCM(1000) // 4000 bytes: 3 chunks of 1600
	file := seal(t, kr, id, 2, 1600, audio)
	for i := range file {
		for _, mask := range []byte{0x01, 0x80} {
			bad := bytes.Clone(file)
			bad[i] ^= mask
			got, _, err := open(kr, bad, ReaderOptions{ExpectID: id})
			if err == nil {
				t.Fatalf("flipping bit %#x of byte %d went unnoticed", mask, i)
			}
			// Whatever was released before the error is authentic audio.
			if !bytes.HasPrefix(audio, got) {
				t.Fatalf("byte %d: released %d bytes that are not the original audio", i, len(got))
			}
		}
	}
}

func TestTruncationEverywhere(t *testing.T) {
	t.Parallel()
	kr := ring(t, "k1", "k1")
	audio := stereoPCM(1000)
	file := seal(t, kr, uuid.New(), 2, 1600, audio)
	hl := headerLen(2)
	for n := 0; n < len(file); n++ {
		got, _, err := open(kr, file[:n], ReaderOptions{})
		switch {
		case n < hl:
			if !errors.Is(err, ErrNotContainer) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("cut at %d (in header): %v", n, err)
			}
		default:
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("cut at %d: err %v, want ErrTruncated", n, err)
			}
			if !bytes.HasPrefix(audio, got) || len(got)%1600 != 0 {
				t.Fatalf("cut at %d: prefix of %d bytes is not whole authentic chunks", n, len(got))
			}
		}
	}
}

func TestChunkSurgeryDetected(t *testing.T) {
	t.Parallel()
	kr := ring(t, "k1", "k1")
	id := uuid.New()
	audio := stereoPCM(2000) // 8000 bytes: 5 full chunks + empty final
	file := seal(t, kr, id, 2, 1600, audio)
	hdr, ch := chunksOf(t, file, 2)
	if len(ch) != 6 {
		t.Fatalf("%d chunks", len(ch))
	}
	other := seal(t, kr, uuid.New(), 2, 1600, audio)
	_, och := chunksOf(t, other, 2)
	// Same recording id, same key, new data key: a file written twice for one id.
	twin := seal(t, kr, id, 2, 1600, audio)
	thdr, tch := chunksOf(t, twin, 2)

	finalFlag := func(c []byte) []byte { c = bytes.Clone(c); c[4] |= flagFinal; return c }
	cases := []struct {
		name string
		file []byte
		want error
	}{
		{"swap two chunks", join(hdr, ch[0], ch[2], ch[1], ch[3], ch[4], ch[5]), ErrAuth},
		{"drop a middle chunk", join(hdr, ch[0], ch[2], ch[3], ch[4], ch[5]), ErrAuth},
		{"duplicate a chunk", join(hdr, ch[0], ch[0], ch[1], ch[2], ch[3], ch[4], ch[5]), ErrAuth},
		{"drop the final chunk", join(hdr, ch[:5]...), ErrTruncated},
		{"mark a middle chunk final", join(hdr, ch[0], finalFlag(ch[1])), ErrAuth},
		{"data after the final chunk", join(hdr, append(ch, ch[0])...), ErrCorrupt},
		{"chunk from another recording", join(hdr, ch[0], och[1], ch[2], ch[3], ch[4], ch[5]), ErrAuth},
		{"chunk of the same id under another data key", join(hdr, ch[0], tch[1], ch[2], ch[3], ch[4], ch[5]), ErrAuth},
		{"header of the twin", join(thdr, ch...), ErrAuth},
		{"key section from another file", join(append(bytes.Clone(hdr[:fixedLen]), other[fixedLen:len(hdr)]...), ch...), ErrAuth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := open(kr, tc.file, ReaderOptions{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if !bytes.HasPrefix(audio, got) {
				t.Fatalf("released %d bytes that are not authentic", len(got))
			}
		})
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	audio := stereoPCM(3000)
	old := ring(t, "k1", "k1")
	file := seal(t, old, id, 2, 1600, audio)

	rotated := ring(t, "k2", "k1", "k2") // k1 keeps its bytes (key(1)); k2 is current
	if got, _, err := open(rotated, file, ReaderOptions{ExpectID: id}); err != nil || !bytes.Equal(got, audio) {
		t.Fatalf("rotated keyring cannot read an old file: %v", err)
	}
	newer := seal(t, rotated, uuid.New(), 2, 1600, audio)
	if _, r, err := open(rotated, newer, ReaderOptions{}); err != nil || r.Info().KeyID != "k2" {
		t.Fatalf("new file: %v", err)
	}

	if _, _, err := open(ring(t, "k2", "k2"), file, ReaderOptions{}); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("retired key: %v, want ErrUnknownKey", err)
	}
	wrong, _ := NewKeyring("k1", map[string][]byte{"k1": key(9)})
	if _, _, err := open(wrong, file, ReaderOptions{}); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong key bytes: %v, want ErrAuth", err)
	}
	if _, _, err := open(old, file, ReaderOptions{ExpectID: uuid.New()}); !errors.Is(err, ErrWrongRecording) {
		t.Fatalf("other id: %v, want ErrWrongRecording", err)
	}
	if _, _, err := open(old, []byte("RIFF....WAVEfmt "+strings.Repeat("x", 64)), ReaderOptions{}); !errors.Is(err, ErrNotContainer) {
		t.Fatalf("wav file: %v", err)
	}

	// Rewrap under k2: same audio, new key id, k1 no longer needed.
	var out bytes.Buffer
	kid, err := Rewrap(&out, bytes.NewReader(file), rotated, rand.Reader)
	if err != nil || kid != "k2" {
		t.Fatalf("rewrap: %q %v", kid, err)
	}
	k2only, _ := NewKeyring("k2", map[string][]byte{"k2": key(2)})
	if got, r, err := open(k2only, out.Bytes(), ReaderOptions{ExpectID: id}); err != nil || !bytes.Equal(got, audio) || r.Info().KeyID != "k2" {
		t.Fatalf("rewrapped file: %v", err)
	}
	bad := bytes.Clone(file)
	bad[len(bad)-20] ^= 1
	if _, err := Rewrap(io.Discard, bytes.NewReader(bad), rotated, rand.Reader); !errors.Is(err, ErrAuth) {
		t.Fatalf("rewrap of a tampered file: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	raw := key(7)
	cases := []struct {
		in string
		ok bool
	}{
		{hex.EncodeToString(raw), true},
		{strings.ToUpper(hex.EncodeToString(raw)), true},
		{" " + hex.EncodeToString(raw) + "\n", true},
		{"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=", true},
		{"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc", true},
		{"", false},
		{"secret", false},
		{hex.EncodeToString(raw[:16]), false},
		{"AAAA", false},
		{strings.Repeat("zz", 32), false},
	}
	for _, tc := range cases {
		got, err := ParseKey(tc.in)
		if tc.ok != (err == nil) || tc.ok && !bytes.Equal(got, raw) {
			t.Errorf("ParseKey(%q) = %x, %v", tc.in, got, err)
		}
		if err != nil && tc.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tc.in)) {
			t.Errorf("error echoes the key material: %v", err)
		}
	}
	for _, tc := range []struct {
		cur  string
		keys map[string][]byte
	}{
		{"k1", nil},
		{"k2", map[string][]byte{"k1": raw}},
		{"k1", map[string][]byte{"k1": raw[:31]}},
		{"bad id", map[string][]byte{"bad id": raw}},
	} {
		if _, err := NewKeyring(tc.cur, tc.keys); err == nil {
			t.Errorf("NewKeyring(%q, %d keys) accepted", tc.cur, len(tc.keys))
		}
	}
}

// ---- crash: a writer process killed with SIGKILL leaves a readable prefix ----

const crashEnv = "CARELINE_CONTAINER_CRASH_CHILD"

// TestCrashChild is the child half of TestCrashLeavesReadablePrefix: it writes a
// recording until it is killed, reporting on fd 3 how many chunks are on disk.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		return // only runs as a child process
	}
	kr := ring(t, "k1", "k1")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := uuid.Parse(os.Getenv(crashEnv + "_ID"))
	w, err := NewWriter(f, kr, WriterOptions{ID: id, Channels: 2, ChunkBytes: 1600})
	if err != nil {
		t.Fatal(err)
	}
	progress := os.NewFile(3, "progress")
	pattern := stereoPCM(8000 * 60)
	reported := 0
	for off := 0; ; off = (off + 640) % len(pattern) {
		if _, err := w.Write(pattern[off : off+640]); err != nil {
			t.Fatal(err)
		}
		if c := w.Stats().Chunks; c != reported {
			reported = c
			if _, err := fmt.Fprintf(progress, "%d\n", c); err != nil {
				return // parent went away
			}
		}
	}
}

func TestCrashLeavesReadablePrefix(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rec.clrec")
	id := uuid.New()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path, crashEnv+"_ID="+id.String())
	cmd.ExtraFiles = []*os.File{pw}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	sc := bufio.NewScanner(pr)
	chunks := 0
	for chunks < 25 && sc.Scan() {
		chunks, _ = strconv.Atoi(sc.Text())
	}
	if chunks < 25 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child stopped after %d chunks: %s", chunks, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	pr.Close()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v", err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, r, err := open(ring(t, "k1", "k1"), file, ReaderOptions{ExpectID: id})
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("after SIGKILL: err %v, want ErrTruncated", err)
	}
	if r.Final() || len(got) < 25*1600 || len(got)%1600 != 0 {
		t.Fatalf("prefix of %d bytes (%d chunks), final=%v", len(got), r.Chunks(), r.Final())
	}
	pattern := stereoPCM(8000 * 60)
	for off := 0; off < len(got); off += 640 {
		n := min(640, len(got)-off)
		want := pattern[off%len(pattern):][:n]
		if !bytes.Equal(got[off:off+n], want) {
			t.Fatalf("decrypted prefix differs from what was written at offset %d", off)
		}
	}
	t.Logf("killed after ≥%d chunks; %d chunks (%d bytes of audio) readable, file %d bytes", chunks, r.Chunks(), len(got), len(file))
}

// ---- fuzz ----

func FuzzReader(f *testing.F) {
	kr := ring(f, "k1", "k1")
	id := uuid.MustParse("0190d6a0-0000-7000-8000-000000000001")
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, kr, WriterOptions{ID: id, Channels: 2, ChunkBytes: 64})
	_, _ = w.Write(stereoPCM(50))
	_ = w.Close()
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:100])
	f.Add([]byte("CLREC\x00\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b), kr, ReaderOptions{})
		if err != nil {
			return
		}
		out, err := io.ReadAll(r)
		if err == nil && !r.Final() {
			t.Fatal("clean EOF without a final chunk")
		}
		if len(out) > len(b) {
			t.Fatal("more plaintext than input")
		}
	})
}

// ---- benchmarks ----

func BenchmarkSeal(b *testing.B) {
	kr := ring(b, "k1", "k1")
	audio := stereoPCM(8000) // 1 s
	b.SetBytes(int64(len(audio)))
	w, err := NewWriter(io.Discard, kr, WriterOptions{ID: uuid.New(), Channels: 2})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := w.Write(audio); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlainCopy is the baseline for BenchmarkSeal: the same bytes, not encrypted.
func BenchmarkPlainCopy(b *testing.B) {
	audio := stereoPCM(8000)
	b.SetBytes(int64(len(audio)))
	buf := make([]byte, 0, len(audio))
	for b.Loop() {
		buf = append(buf[:0], audio...)
		_, _ = io.Discard.Write(buf)
	}
}

func BenchmarkOpen(b *testing.B) {
	kr := ring(b, "k1", "k1")
	audio := stereoPCM(8000 * 60)
	file := seal(b, kr, uuid.New(), 2, 0, audio)
	b.SetBytes(int64(len(audio)))
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(file), kr, ReaderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDestroyKey(t *testing.T) {
	t.Parallel()
	kr := ring(t, "k1", "k1")
	file := seal(t, kr, uuid.New(), 2, 1600, stereoPCM(1000))
	path := filepath.Join(t.TempDir(), "r.clrec")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := DestroyKey(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	after, _ := os.ReadFile(path)
	hl := headerLen(2)
	if !bytes.Equal(after[fixedLen:hl], make([]byte, hl-fixedLen)) || !bytes.Equal(after[hl:], file[hl:]) {
		t.Fatal("key section not zeroed, or audio touched")
	}
	if _, _, err := open(kr, after, ReaderOptions{}); err == nil {
		t.Fatal("file still opens after its key was destroyed")
	}
}
