package logx

import (
	"bytes"
	"strings"
	"testing"
)

func TestMasks(t *testing.T) {
	cases := []struct {
		fn       func(string) string
		in, want string
	}{
		{MaskPhone, "+1 (505) 555-0143", "***43"},
		{MaskPhone, "12", "***"},
		{MaskPhone, "", "***"},
		{MaskName, "Ana María Ruiz", "A. M. R."},
		{MaskName, "", "***"},
		{MaskURI, "sip:+15055550143@trunk.example:5060", "sip:***43@trunk.example:5060"},
		{MaskURI, `"Ana Ruiz" <sip:1001@127.0.0.1>;tag=x`, "sip:***01@127.0.0.1"},
		{MaskURI, "<sips:5055550143@h>", "sips:***43@h"},
	}
	for _, c := range cases {
		if got := c.fn(c.in); got != c.want {
			t.Errorf("mask(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestHasherStableAndKeyed(t *testing.T) {
	a, b := NewHasher([]byte("k1")), NewHasher([]byte("k2"))
	if a.Token("1234567") != a.Token("1234567") {
		t.Fatal("token not stable")
	}
	if a.Token("1234567") == b.Token("1234567") {
		t.Fatal("token ignores key")
	}
	if strings.Contains(a.Token("1234567"), "1234567") || len(a.Token("x")) != 14 {
		t.Fatalf("bad token %q", a.Token("1234567"))
	}
	if DigitsCategory("12#") != "len:3" {
		t.Fatal(DigitsCategory("12#"))
	}
}

func TestNewWritesJSON(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, Options{}).Info("hello", "caller", MaskPhone("+15055550143"))
	if !strings.Contains(buf.String(), `"caller":"***43"`) || strings.Contains(buf.String(), "5550143") {
		t.Fatalf("unexpected log %s", buf.String())
	}
}
