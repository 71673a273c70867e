package recordings

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestRetentionAndLegalHold(t *testing.T) {
	t.Parallel()
	e := newEnv(t, WithRetentionDays(30))
	vm := func(days int) uuid.UUID {
		id, err := e.s.SaveVoicemail(ctx(t), Meta{InteractionID: uuid.New(), RetentionDays: days}, tone(500, 0.5))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	expired, held, fresh := vm(1), vm(1), vm(0)
	active, err := e.s.Start(ctx(t), Meta{InteractionID: uuid.New(), RetentionDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.drain()
	if err := e.s.SetLegalHold(ctx(t), held, true, HoldOptions{Actor: "adm1", Role: RoleAdmin, Reason: "matter 2026-17"}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetLegalHold(ctx(t), held, true, HoldOptions{Actor: "sup1", Role: RoleSupervisor}); !errors.Is(err, ErrDenied) {
		t.Fatalf("supervisor setting a legal hold: %v", err)
	}
	files := map[uuid.UUID]string{expired: e.fileOf(expired), held: e.fileOf(held), fresh: e.fileOf(fresh)}

	rep, err := e.s.RunRetention(ctx(t), e.clock.Now().Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep != (RetentionReport{Deleted: 1, Held: 1}) {
		t.Fatalf("report %+v", rep)
	}
	if _, err := os.Stat(files[expired]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("expired file still there: %v", err)
	}
	for _, id := range []uuid.UUID{held, fresh} {
		if _, err := os.Stat(files[id]); err != nil {
			t.Errorf("kept file missing: %v", err)
		}
	}
	in, err := e.s.Get(ctx(t), expired)
	if err != nil || in.Status != StatusDeleted || in.DeletedAt.IsZero() {
		t.Fatalf("expired row %+v %v", in, err)
	}
	if in, _ := e.s.Get(ctx(t), held); in.Status != StatusComplete || !in.LegalHold {
		t.Errorf("held row %+v", in)
	}
	if in, _ := e.s.Get(ctx(t), active.ID()); in.Status != StatusRecording {
		t.Errorf("active recording touched by retention: %+v", in)
	}
	// A manual deletion is refused under hold, and the refusal audited.
	if err := e.s.Delete(ctx(t), held, DeleteOptions{Actor: "adm1", Role: RoleAdmin}); !errors.Is(err, ErrLegalHold) {
		t.Fatalf("delete under legal hold: %v", err)
	}
	if err := e.s.SetLegalHold(ctx(t), held, false, HoldOptions{Actor: "adm1", Role: RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	rep, err = e.s.RunRetention(ctx(t), e.clock.Now().Add(48*time.Hour))
	if err != nil || rep != (RetentionReport{Deleted: 1}) {
		t.Fatalf("after clearing the hold: %+v %v", rep, err)
	}
	if rep, _ := e.s.RunRetention(ctx(t), e.clock.Now().Add(48*time.Hour)); rep != (RetentionReport{}) {
		t.Fatalf("second run: %+v", rep)
	}
	if err := e.s.SetLegalHold(ctx(t), held, true, HoldOptions{Actor: "adm1", Role: RoleAdmin}); !errors.Is(err, ErrDeleted) {
		t.Fatalf("hold on a deleted recording: %v", err)
	}

	wantExpired := []auditRow{{"system:retention", "system", "delete", "done", ""}}
	if got := e.auditRows(expired); !slices.Equal(got, wantExpired) {
		t.Errorf("audit of the expired recording %v", got)
	}
	wantHeld := []auditRow{
		{"adm1", "admin", "legal_hold_set", "done", ""},
		{"adm1", "admin", "delete", "refused", ""},
		{"adm1", "admin", "legal_hold_clear", "done", ""},
		{"system:retention", "system", "delete", "done", ""},
	}
	if got := e.auditRows(held); !slices.Equal(got, wantHeld) {
		t.Errorf("audit of the held recording\n got %v\nwant %v", got, wantHeld)
	}
	e.drain()
	var deletedEvents int
	if err := e.pool.QueryRow(ctx(t), `SELECT count(*) FROM interaction_events WHERE type = 'recording.deleted'
		AND detail->>'reason' = 'retention'`).Scan(&deletedEvents); err != nil || deletedEvents != 2 {
		t.Errorf("recording.deleted events: %d %v", deletedEvents, err)
	}
	if n := metricValue(t, e, "careline_recordings_deleted_total", map[string]string{"reason": "retention"}); n != 2 {
		t.Errorf("deleted metric %v", n)
	}
	if _, err := active.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestAuditLogIsAppendOnlyAndChained(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.call(1)
	for _, who := range []string{"alice", "bob", "carol"} {
		if err := e.s.Export(ctx(t), id, discard{}, who); err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.s.VerifyAuditLog(ctx(t))
	if err != nil || n != 6 {
		t.Fatalf("verify: %d rows, %v", n, err)
	}
	for _, stmt := range []string{
		"UPDATE recording_access_log SET actor = 'mallory'",
		"DELETE FROM recording_access_log WHERE outcome = 'granted'",
		"TRUNCATE recording_access_log",
	} {
		if _, err := e.pool.Exec(ctx(t), stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", stmt, err)
		}
	}
	// Someone with the power to disable the triggers edits or removes a row: the chain
	// shows where.
	var second int64
	if err := e.pool.QueryRow(ctx(t), "SELECT id FROM recording_access_log ORDER BY id OFFSET 1 LIMIT 1").Scan(&second); err != nil {
		t.Fatal(err)
	}
	tamper := func(sql string, args ...any) {
		t.Helper()
		_, err := e.pool.Exec(ctx(t), "ALTER TABLE recording_access_log DISABLE TRIGGER USER")
		if err == nil {
			_, err = e.pool.Exec(ctx(t), sql, args...)
		}
		if err == nil {
			_, err = e.pool.Exec(ctx(t), "ALTER TABLE recording_access_log ENABLE TRIGGER USER")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	tamper("UPDATE recording_access_log SET actor = 'mallory' WHERE id = $1", second)
	if _, err := e.s.VerifyAuditLog(ctx(t)); !errors.Is(err, ErrAuditChain) || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("edited row: %v", err)
	}
	tamper("UPDATE recording_access_log SET actor = 'local:alice' WHERE id = $1", second)
	if _, err := e.s.VerifyAuditLog(ctx(t)); err != nil {
		t.Fatalf("restored row: %v", err)
	}
	tamper("DELETE FROM recording_access_log WHERE id = $1", second)
	if _, err := e.s.VerifyAuditLog(ctx(t)); !errors.Is(err, ErrAuditChain) || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("removed row: %v", err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
