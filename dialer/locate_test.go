package dialer

import (
	"errors"
	"slices"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	cases := []struct{ in, want string }{
		{"(512) 555-0143", "+15125550143"},
		{"512.555.0143", "+15125550143"},
		{"+1 512 555 0143", "+15125550143"},
		{"1-512-555-0143", "+15125550143"},
		{"787-555-0100", "+17875550100"}, // Puerto Rico
		{"555-0143", ""},
		{"+52 55 1234 5678", ""}, // Mexico
		{"800-555-0100", ""},     // toll-free
		{"hello", ""},
		{"", ""},
	}
	for _, tc := range cases {
		got, err := NormalizePhone(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrBadPhone) {
				t.Errorf("%q: got %q, %v; want ErrBadPhone", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestLocate(t *testing.T) {
	cases := []struct {
		name              string
		tz, state, zip    string
		phone             string
		zones             []string
		wantState, source string
	}{
		{"record wins", "America/Denver", "", "", "+13055550143", []string{"America/Denver"}, "", "record"},
		{"record keeps state", "America/Chicago", "fl", "", "+13055550143", []string{"America/Chicago"}, "FL", "record"},
		{"zip panhandle", "", "", "32501", "+13055550143", []string{"America/Chicago"}, "FL", "zip"},
		{"zip miami", "", "", "33101-1234", "+13125550143", []string{"America/New_York"}, "FL", "zip"},
		{"zip el paso", "", "", "79901", "+12125550143", []string{"America/Denver"}, "TX", "zip"},
		{"state spans zones", "", "Florida", "", "+13125550143", []string{"America/New_York", "America/Chicago"}, "FL", "state"},
		{"state one zone", "", "OK", "", "+13125550143", []string{"America/Chicago"}, "OK", "state"},
		{"zip and other state: state wins", "", "GA", "32501", "+13125550143", []string{"America/New_York"}, "GA", "state"},
		{"number nyc", "", "", "", "+12125550143", []string{"America/New_York"}, "NY", "number"},
		{"number florida adds both zones", "", "", "", "+18505550143", []string{"America/New_York", "America/Chicago"}, "FL", "number"},
		{"number arizona", "", "", "", "+16025550100", []string{"America/Phoenix"}, "AZ", "number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Locate(tc.tz, tc.state, tc.zip, tc.phone)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.Zones, tc.zones) || l.State != tc.wantState || l.Source != tc.source {
				t.Fatalf("got %+v, want zones %v state %s source %s", l, tc.zones, tc.wantState, tc.source)
			}
		})
	}
	for _, bad := range []struct{ tz, state, zip string }{{"Mars/Olympus", "", ""}, {"EST", "", ""}, {"", "ZZ", ""}, {"", "", "1234"}, {"", "", "00001"}} {
		if _, err := Locate(bad.tz, bad.state, bad.zip, "+12125550143"); !errors.Is(err, ErrUnknownZone) {
			t.Errorf("%+v: got %v, want ErrUnknownZone", bad, err)
		}
	}
}
