package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/media"
	"github.com/careline/careline/media/dsp"
	"github.com/careline/careline/recordings"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

type appendOnly struct{ l *store.Log }

func (a appendOnly) Append(ev store.Event) error { return a.l.Append(ev) }

// careline recordings export decrypts a stored voicemail to a WAV and audits the access.
func TestRecordingsExport(t *testing.T) {
	// not parallel: t.Setenv (the command reads the key from the environment)
	dbURL := testenv.PostgresURL(t)
	dir := t.TempDir()
	key := "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`version: 1
sip: {listen: [{network: udp, addr: "127.0.0.1:0"}]}
store: {database_url: %q, outbox_dir: %q}
recordings:
  dir: %q
  master_keys: [{id: k1, key: "env:T_EXPORT_KEY"}]
`, dbURL, filepath.Join(dir, "outbox"), filepath.Join(dir, "rec"))), 0o600)
	t.Setenv("T_EXPORT_KEY", key)
	t.Setenv("CARELINE_DATABASE_URL", dbURL) // make test exports the main database URL
	cfg, is := config.Load(cfgPath, config.LoadOptions{})
	if len(is.Errors()) > 0 {
		t.Fatal(is)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	log, err := store.Open(store.Options{Dir: filepath.Join(dir, "outbox"), Pool: pool,
		Projectors: []store.Projector{recordings.Projector(nil)}})
	if err != nil {
		t.Fatal(err)
	}
	log.Start(ctx)
	s, err := recordings.NewFromConfig(cfg.Recordings, pool, appendOnly{log})
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.SaveVoicemail(ctx, recordings.Meta{InteractionID: uuid.New(), Kind: recordings.KindVoicemail, Box: "main"},
		dsp.Tone(700, 2*time.Second, 8000, 0.3))
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := log.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	log.Close()

	out := filepath.Join(dir, "vm.wav")
	var so, se bytes.Buffer
	if code := run([]string{"recordings", "export", id.String(), "--out", out, "--config", cfgPath}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := media.DecodeWAV(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) != 16000 || dsp.DominantFrequency(pcm, 8000) < 690 || dsp.DominantFrequency(pcm, 8000) > 710 {
		t.Fatalf("exported %d samples at %.0f Hz", len(pcm), dsp.DominantFrequency(pcm, 8000))
	}
	var n int
	pool.QueryRow(ctx, "SELECT count(*) FROM recording_access_log WHERE recording_id=$1 AND actor LIKE 'local:%' AND outcome='completed'", id).Scan(&n)
	if n != 1 {
		t.Fatalf("audit rows for the export: %d", n)
	}
	if !strings.Contains(so.String(), "access audited") {
		t.Fatalf("output: %s", so.String())
	}
	// A second export to an existing file refuses to overwrite it.
	if code := run([]string{"recordings", "export", id.String(), "--out", out, "--config", cfgPath}, &so, &se); code == 0 {
		t.Fatal("export overwrote an existing file")
	}
}
