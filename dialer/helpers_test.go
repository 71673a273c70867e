package dialer

import (
	"context"
	"testing"
	"time"

	"github.com/careline/careline/dialer/amd"
	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// testDB returns a fresh, migrated database.
func testDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// at returns the instant of a wall-clock time in a zone ("2026-03-08 08:30").
func at(t testing.TB, zone, wall string) time.Time {
	t.Helper()
	tm, err := time.ParseInLocation("2006-01-02 15:04", wall, mustLoc(t, zone))
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func testCampaign(name string, p Purpose) *Campaign {
	c := &Campaign{Name: name, Purpose: p, Flow: "outbound", Trunk: "carrier", CallerID: "+15125550100",
		PharmacyName: "Main Street Pharmacy", CallbackNumber: "+15125550100",
		Voicemail: []string{"dialer/vm_prescription", "$callback_number", "dialer/vm_repeat_number", "$callback_number", "dialer/vm_opt_out"}}
	o := amd.DefaultOptions()
	c.AMD = &o
	c.fill()
	return c
}
