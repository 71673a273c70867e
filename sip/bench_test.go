package sip

import (
	"context"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
)

// BenchmarkIngress measures the per-datagram cost of careline's ingress
// checks on a typical INVITE: raw pre-parse (including its sipgo parse
// check), sipgo's own parse, and Validate.
func BenchmarkIngress(b *testing.B) {
	msg := []byte(rawInvite("Content-Type: application/sdp\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n", testSDP))
	b.ReportAllocs()
	for b.Loop() {
		res := preParse(msg, nil)
		m, err := sipmsg.ParseMessage(res.data)
		if err != nil {
			b.Fatal(err)
		}
		if rej := Validate(m.(*sipmsg.Request)); rej != nil {
			b.Fatal(rej)
		}
	}
}

// BenchmarkDigestVerify measures one SHA-256 digest verification.
func BenchmarkDigestVerify(b *testing.B) {
	a, _ := newTestAuth(b)
	ctx := context.Background()
	ch := a.Challenges(false)[0]
	nc := 0
	b.ReportAllocs()
	for b.Loop() {
		nc++
		authz := clientAuth(b, ch, "REGISTER", "sip:careline.test", "agent7", "right", nc)
		if _, r := a.Verify(ctx, "REGISTER", testRURI, authz); r != AuthOK {
			b.Fatal(r)
		}
	}
}
