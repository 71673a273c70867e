package recordings

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/careline/careline/store"
)

// SaveVoicemail stores a message recorded by the IVR (8 kHz mono PCM16) through the same
// encrypted store as calls: a mono container (channels = 1 in its header and in the
// row), kind voicemail unless meta says ivr_message. The file is written and synced
// before the events that create its row are appended; if they cannot be appended the
// file is removed and the error returned, so the IVR can apologise.
func (s *Store) SaveVoicemail(ctx context.Context, meta Meta, pcm []int16) (uuid.UUID, error) {
	if meta.Kind == "" {
		meta.Kind = KindVoicemail
	}
	if meta.Kind == KindCall {
		return uuid.Nil, fmt.Errorf("recordings: SaveVoicemail of kind %q: messages are mono", meta.Kind)
	}
	if !meta.Kind.valid() {
		return uuid.Nil, fmt.Errorf("recordings: unknown kind %q", meta.Kind)
	}
	if err := ctx.Err(); err != nil {
		return uuid.Nil, err
	}
	id := store.NewID()
	ended := s.now()
	dur := time.Duration(int64(len(pcm)) * nsPerSample)
	started := ended.Add(-dur)
	f, cw, rel, err := s.create(id, started, 1, s.chunk)
	if err != nil {
		return uuid.Nil, err
	}
	path, _ := s.abs(rel)
	fail := func(err error) (uuid.UUID, error) {
		f.Close()
		_ = shred(path)
		return uuid.Nil, fmt.Errorf("recordings: save voicemail: %w", err)
	}
	buf := make([]byte, 0, min(len(pcm), 8000)*2)
	for p := pcm; len(p) > 0; {
		k := min(len(p), 8000)
		buf = buf[:0]
		for _, v := range p[:k] {
			buf = binary.LittleEndian.AppendUint16(buf, uint16(v))
		}
		if _, err := cw.Write(buf); err != nil {
			return fail(err)
		}
		p = p[k:]
	}
	clear(buf)
	if err := cw.Close(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	st := cw.Stats()
	s.m.bytes.Add(float64(st.Bytes))
	if err := s.appendStarted(id, meta, 1, started, rel, st.KeyID); err != nil {
		_ = shred(path)
		return uuid.Nil, err
	}
	s.m.started.WithLabelValues(string(meta.Kind)).Inc()
	s.event(meta.InteractionID, EventStopped, ended, map[string]any{
		"recording_id": id.String(), "ended_at": ended.UTC().Format(time.RFC3339Nano),
		"duration_ms": dur.Milliseconds(), "audio_bytes": st.PlainBytes, "size_bytes": st.Bytes,
		"checksum_sha256": fmt.Sprintf("%x", st.SHA256)})
	s.log.Info("voicemail saved", "recording", id, "interaction", meta.InteractionID, "box", meta.Box, "duration", dur.Round(time.Millisecond))
	return id, nil
}
