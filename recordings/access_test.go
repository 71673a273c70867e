package recordings

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careline/careline/media"
	"github.com/careline/careline/media/dsp"
)

var tokens = map[string]string{
	"sup1":   "tok-supervisor-6f1d2c0e9b8a7f6e5d4c3b2a1",
	"aud1":   "tok-auditor-0a1b2c3d4e5f60718293a4b5c6",
	"agent1": "tok-agent-api-99887766554433221100aabb",
	"adm1":   "tok-admin-1234567890abcdef1234567890ab",
	"old1":   "tok-expired-ffeeddccbbaa99887766554433",
}

func testUsers(t testing.TB, now time.Time) []User {
	roles := map[string]Role{"sup1": RoleSupervisor, "aud1": RoleAuditor, "agent1": RoleAgent, "adm1": RoleAdmin, "old1": RoleAuditor}
	var us []User
	for id, tok := range tokens {
		u := User{ID: id, Role: roles[id], TokenSHA256: [32]byte(mustHex(t, HashToken(tok)))}
		if id == "old1" {
			u.Expires = now.Add(-time.Minute)
		}
		us = append(us, u)
	}
	return us
}

func mustHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// server starts the API on a loopback test server.
func (e *env) server() *httptest.Server {
	api := NewAPI(e.s, NewAuthenticator(testUsers(e.t, e.clock.Now()), e.clock.Now))
	srv := httptest.NewServer(api.Handler())
	e.t.Cleanup(srv.Close)
	return srv
}

func get(t testing.TB, srv *httptest.Server, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// call records a stereo call (440 Hz patient, 1000 Hz agent) of the given length.
func (e *env) call(seconds int) uuid.UUID {
	e.t.Helper()
	rec, err := e.s.Start(ctx(e.t), Meta{InteractionID: uuid.New()})
	if err != nil {
		e.t.Fatal(err)
	}
	p := &stream{pcm: tone(440, float64(seconds)), ssrc: 1}
	a := &stream{pcm: tone(1000, float64(seconds)), ssrc: 2}
	for k := range seconds * 50 {
		e.clock.Advance(tick)
		_ = rec.Left().WriteFrame(p.frame(k))
		_ = rec.Right().WriteFrame(a.frame(k))
	}
	if _, err := rec.Close(ctx(e.t)); err != nil {
		e.t.Fatal(err)
	}
	e.drain()
	return rec.ID()
}

type auditRow struct{ actor, role, action, outcome, remote string }

func (e *env) auditRows(id uuid.UUID) []auditRow {
	e.t.Helper()
	rows, err := e.s.AuditLog(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []auditRow
	for _, r := range rows {
		remote := r.Remote
		if strings.HasPrefix(remote, "127.0.0.1:") {
			remote = "127.0.0.1"
		}
		out = append(out, auditRow{r.Actor, string(r.Role), r.Action, r.Outcome, remote})
	}
	return out
}

// parseWAV checks the header of a PCM16 8 kHz WAV and returns its channels' samples.
func parseWAV(t testing.TB, b []byte) (channels int, left, right []int16) {
	t.Helper()
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" || string(b[36:40]) != "data" {
		t.Fatalf("not a WAV file (%d bytes)", len(b))
	}
	channels = int(binary.LittleEndian.Uint16(b[22:24]))
	if rate := binary.LittleEndian.Uint32(b[24:28]); rate != 8000 {
		t.Fatalf("rate %d", rate)
	}
	if n := binary.LittleEndian.Uint32(b[40:44]); int(n) != len(b)-44 {
		t.Fatalf("data size %d, body has %d", n, len(b)-44)
	}
	left, right, _ = splitPCM(b[44:], channels)
	return channels, left, right
}

func TestAccessHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.call(2)
	srv := e.server()
	path := "/api/v1/recordings/" + id.String()
	unauth := []struct{ name, header string }{
		{"no token", ""},
		{"wrong token", "Bearer not-a-token"},
		{"wrong scheme", "Basic " + tokens["sup1"]},
		{"expired token", "Bearer " + tokens["old1"]},
	}
	for _, tc := range unauth {
		resp, body := get(t, srv, path, tc.header)
		if resp.StatusCode != http.StatusUnauthorized || string(body) != "{\"error\":\"Unauthorized\"}\n" ||
			resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %q", tc.name, resp.StatusCode, body)
		}
	}
	for _, who := range []string{"agent1", "adm1"} {
		resp, body := get(t, srv, path, "Bearer "+tokens[who])
		if resp.StatusCode != http.StatusForbidden || bytes.Contains(body, []byte("RIFF")) {
			t.Errorf("%s: %d %q", who, resp.StatusCode, body)
		}
	}
	for _, who := range []string{"aud1", "sup1"} {
		resp, body := get(t, srv, path+"?purpose=qa-review", "Bearer "+tokens[who])
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "audio/wav" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %s", who, resp.StatusCode, body)
		}
		ch, l, r := parseWAV(t, body)
		if ch != 2 || len(l) != 16000 {
			t.Fatalf("%d channels, %d samples", ch, len(l))
		}
		near(t, "left", dsp.DominantFrequency(l, 8000), 440, 3)
		near(t, "right", dsp.DominantFrequency(r, 8000), 1000, 3)
	}
	if resp, _ := get(t, srv, "/api/v1/recordings/"+uuid.NewString(), "Bearer "+tokens["aud1"]); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown recording: %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv, "/api/v1/recordings/../../etc/passwd", "Bearer "+tokens["aud1"]); resp.StatusCode != http.StatusNotFound {
		t.Errorf("bad id: %d", resp.StatusCode)
	}
	srv.Close() // waits for handlers, so the closing audit rows are in
	want := []auditRow{
		{"agent1", "agent", "play", "denied", "127.0.0.1"},
		{"adm1", "admin", "play", "denied", "127.0.0.1"},
		{"aud1", "auditor", "play", "granted", "127.0.0.1"},
		{"aud1", "auditor", "play", "completed", "127.0.0.1"},
		{"sup1", "supervisor", "play", "granted", "127.0.0.1"},
		{"sup1", "supervisor", "play", "completed", "127.0.0.1"},
	}
	if got := e.auditRows(id); !slices.Equal(got, want) {
		t.Errorf("audit rows\n got %v\nwant %v", got, want)
	}
	logs := e.logBuf.String()
	if strings.Count(logs, `"event":"auth_failed"`) != 4 || !strings.Contains(logs, `"reason":"expired_token"`) {
		t.Errorf("security events missing from the log:\n%s", logs)
	}
	for _, tok := range tokens {
		if strings.Contains(logs, tok) {
			t.Fatal("a token was logged")
		}
	}
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"role": "none", "outcome": "unauthenticated"}, 4},
		{map[string]string{"role": "auditor", "outcome": "granted"}, 1},
		{map[string]string{"role": "agent", "outcome": "denied"}, 1},
		{map[string]string{"role": "auditor", "outcome": "not_found"}, 1},
	} {
		if got := metricValue(t, e, "careline_recording_access_total", c.labels); got != c.want {
			t.Errorf("access_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
}

// TestAuditRowBeforeFirstByte: when the client has the response headers (and no body
// byte read yet), the granted row is already committed.
func TestAuditRowBeforeFirstByte(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.call(1)
	srv := e.server()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/recordings/"+id.String(), nil)
	req.Header.Set("Authorization", "Bearer "+tokens["sup1"])
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var granted int
	if err := e.pool.QueryRow(ctx(t), `SELECT count(*) FROM recording_access_log
		WHERE recording_id = $1 AND actor = 'sup1' AND outcome = 'granted'`, id).Scan(&granted); err != nil || granted != 1 {
		t.Fatalf("granted rows before reading the body: %d %v", granted, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || len(body) != 44+32000 {
		t.Fatalf("%d, %d bytes, %v", resp.StatusCode, len(body), err)
	}
}

// TestAuditFailureDeniesAccess: if the audit row cannot be written, no byte is served.
func TestAuditFailureDeniesAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.call(1)
	srv := e.server()
	_, err := e.pool.Exec(ctx(t), `CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'audit storage unavailable'; END $$;
		CREATE TRIGGER refuse BEFORE INSERT ON recording_access_log FOR EACH ROW EXECUTE FUNCTION refuse_audit();`)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, srv, "/api/v1/recordings/"+id.String(), "Bearer "+tokens["sup1"])
	if resp.StatusCode != http.StatusServiceUnavailable || bytes.Contains(body, []byte("RIFF")) || len(body) > 100 {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	var out bytes.Buffer
	if err := e.s.Export(ctx(t), id, &out, "alice"); !errors.Is(err, ErrAudit) || out.Len() != 0 {
		t.Fatalf("export with the audit down: %v, %d bytes", err, out.Len())
	}
	if got := metricValue(t, e, "careline_recording_access_total", map[string]string{"role": "supervisor", "outcome": "audit_failed"}); got != 1 {
		t.Errorf("audit_failed metric %v", got)
	}
}

// TestTamperedRecording: one flipped byte anywhere in the file gets a 500 before any
// audio, and an integrity_error audit row.
func TestTamperedRecording(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.server()
	file := ""
	for i, where := range []string{"header", "middle", "last byte"} {
		id := e.call(2)
		file = e.fileOf(id)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		off := map[int]int{0: 60, 1: len(b) / 2, 2: len(b) - 1}[i]
		b[off] ^= 0x10
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		resp, body := get(t, srv, "/api/v1/recordings/"+id.String(), "Bearer "+tokens["aud1"])
		if resp.StatusCode != http.StatusInternalServerError || bytes.Contains(body, []byte("RIFF")) {
			t.Fatalf("%s: %d %q", where, resp.StatusCode, body)
		}
		got := e.auditRows(id)
		if len(got) != 2 || got[0].outcome != "granted" || got[1].outcome != "integrity_error" {
			t.Fatalf("%s: audit %v", where, got)
		}
	}
	if n := metricValue(t, e, "careline_recordings_integrity_failures_total", nil); n != 3 {
		t.Errorf("integrity failures metric %v", n)
	}
	if !strings.Contains(e.logBuf.String(), "failed its integrity check") {
		t.Error("integrity failure not logged")
	}
}

// TestTamperFoundWhileStreaming: the file is altered after it was verified and while it
// is being sent: the stream is aborted (the client gets fewer bytes than announced and
// an error), everything it got is authentic, and the audit says integrity_error.
func TestTamperFoundWhileStreaming(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// 12 minutes mono (11.5 MB): more than loopback socket buffers hold while the
	// client reads nothing, so the handler is still reading the file when it changes.
	pcm := slices.Repeat(tone(300, 1), 12*60)
	id, err := e.s.SaveVoicemail(ctx(t), Meta{InteractionID: uuid.New(), Box: "main"}, pcm)
	if err != nil {
		t.Fatal(err)
	}
	e.drain()
	srv := e.server()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/recordings/"+id.String(), nil)
	req.Header.Set("Authorization", "Bearer "+tokens["sup1"])
	resp, err := srv.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	f, err := os.OpenFile(e.fileOf(id), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	if _, err := f.WriteAt([]byte{0xAA, 0x55}, st.Size()-100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if rerr == nil || int64(len(body)) >= resp.ContentLength {
		t.Fatalf("stream not aborted: %d of %d bytes, err %v", len(body), resp.ContentLength, rerr)
	}
	var want bytes.Buffer
	if err := media.EncodeWAV(&want, pcm, 1); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(want.Bytes(), body) {
		t.Fatal("bytes sent before the abort are not the authentic recording")
	}
	srv.Close()
	got := e.auditRows(id)
	if len(got) != 2 || got[1].outcome != "integrity_error" {
		t.Fatalf("audit %v", got)
	}
}

func TestExportAndVoicemail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	iid := uuid.New()
	pcm := tone(700, 3.5)
	id, err := e.s.SaveVoicemail(ctx(t), Meta{InteractionID: iid, Box: "refills", Language: "es"}, pcm)
	if err != nil {
		t.Fatal(err)
	}
	e.drain()
	in, err := e.s.Get(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != KindVoicemail || in.Channels != 1 || in.Status != StatusComplete || in.Duration != 3500*time.Millisecond ||
		in.Box != "refills" || in.AudioBytes != int64(2*len(pcm)) || !in.EndedAt.Equal(e.clock.Now()) {
		t.Fatalf("voicemail row %+v", in)
	}
	var out bytes.Buffer
	if err := e.s.Export(ctx(t), id, &out, "alice"); err != nil {
		t.Fatal(err)
	}
	got, err := media.DecodeWAV(bytes.NewReader(out.Bytes()))
	if err != nil || !slices.Equal(got, pcm) {
		t.Fatalf("exported voicemail differs: %v", err)
	}
	want := []auditRow{{"local:alice", "admin", "export", "granted", "local"}, {"local:alice", "admin", "export", "completed", "local"}}
	if rows := e.auditRows(id); !slices.Equal(rows, want) {
		t.Fatalf("audit %v", rows)
	}
	if _, err := e.s.SaveVoicemail(ctx(t), Meta{Kind: KindCall}, pcm); err == nil {
		t.Fatal("a stereo call saved as a voicemail")
	}
}

func TestOpenStates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.server()
	rec, err := e.s.Start(ctx(t), Meta{InteractionID: uuid.New()})
	if err != nil {
		t.Fatal(err)
	}
	e.drain()
	if resp, _ := get(t, srv, "/api/v1/recordings/"+rec.ID().String(), "Bearer "+tokens["sup1"]); resp.StatusCode != http.StatusConflict {
		t.Errorf("recording in progress: %d", resp.StatusCode)
	}
	if _, err := rec.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if err := e.s.Delete(ctx(t), rec.ID(), DeleteOptions{Actor: "adm1", Role: RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, srv, "/api/v1/recordings/"+rec.ID().String(), "Bearer "+tokens["sup1"]); resp.StatusCode != http.StatusGone {
		t.Errorf("deleted recording: %d", resp.StatusCode)
	}
	if _, err := e.s.Open(ctx(t), rec.ID(), AccessOptions{Actor: "x", Role: RoleAgent}); !errors.Is(err, ErrDenied) {
		t.Errorf("agent opening a recording: %v", err)
	}
}

func TestPauseResumeHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.server()
	iid := uuid.New()
	rec, err := e.s.Start(ctx(t), Meta{InteractionID: iid})
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, who string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, nil)
		if who != "" {
			req.Header.Set("Authorization", "Bearer "+tokens[who])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	base := "/api/v1/recordings/active/" + iid.String()
	cases := []struct {
		path, who string
		code      int
		paused    bool
	}{
		{base + "/pause", "", 401, false},
		{base + "/pause", "aud1", 403, false},
		{base + "/pause", "sup1", 204, true},
		{base + "/pause", "sup1", 204, true},
		{base + "/resume", "agent1", 204, false},
		{"/api/v1/recordings/active/" + uuid.NewString() + "/pause", "sup1", 404, false},
	}
	for _, c := range cases {
		if code := post(c.path, c.who); code != c.code || rec.Paused() != c.paused {
			t.Errorf("POST %s as %q: %d paused=%v, want %d %v", c.path, c.who, code, rec.Paused(), c.code, c.paused)
		}
	}
	if _, err := rec.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if code := post(base+"/pause", "sup1"); code != 404 {
		t.Errorf("pause after the recording ended: %d", code)
	}
}
