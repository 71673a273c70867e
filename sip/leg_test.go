package sip

import (
	"context"
	"errors"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

func TestLegInboundRemoteBye(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	s := startServer(t, trunkCfg(), WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		if err := l.Ringing(ctx); err != nil {
			t.Errorf("ringing: %v", err)
		}
		if err := l.Answer(ctx, []byte(sdpWith(1, ""))); err != nil {
			t.Errorf("answer: %v", err)
		}
		<-ctx.Done()
	})))
	p := newPeer(t)
	ctx := context.Background()
	d := p.invite(ctx, udpAddr(t, s), "+18005550100", testSDP)
	leg := waitLeg(t, legs)
	res := d.waitFinal(5 * time.Second)
	if res.StatusCode != 200 || string(res.Body()) != sdpWith(1, "") {
		t.Fatalf("final %d body %q", res.StatusCode, res.Body())
	}
	if leg.Source().Kind != SourceTrunk || leg.Source().Trunk != "loop" {
		t.Fatalf("source %+v", leg.Source())
	}
	if leg.Remote().DisplayName != "Patient" || leg.Local().User != "+18005550100" {
		t.Fatalf("parties %+v %+v", leg.Remote(), leg.Local())
	}
	d.ack("")
	if r := d.inDialog(sipmsg.BYE, "", ""); r.StatusCode != 200 {
		t.Fatalf("BYE -> %d", r.StatusCode)
	}
	if er := waitDone(t, leg, 5*time.Second); er.Cause != EndNormalRemote {
		t.Fatalf("end %v", er)
	}
}

func TestLegInboundLocalHangup(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	answered := make(chan struct{})
	s := startServer(t, trunkCfg(), WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		_ = l.Answer(ctx, []byte(testSDP))
		close(answered)
		// Returning from HandleCall hangs up: the leg sends BYE once ACKed.
	})))
	p := newPeer(t)
	d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP)
	leg := waitLeg(t, legs)
	<-answered
	d.waitFinal(5 * time.Second)
	d.ack("")
	bye := p.waitRequest(sipmsg.BYE, 5*time.Second)
	if tag, _ := bye.From().Params.Get("tag"); tag != d.toTag {
		t.Fatalf("BYE From tag %q, want %q", tag, d.toTag)
	}
	if er := waitDone(t, leg, 5*time.Second); er.Cause != EndNormalLocal {
		t.Fatalf("end %v", er)
	}
}

func TestLegCancelBeforeAnswer(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	s := startServer(t, trunkCfg(), WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		_ = l.Ringing(ctx)
		<-ctx.Done()
	})))
	p := newPeer(t)
	d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP)
	leg := waitLeg(t, legs)
	d.waitStatus(180, 5*time.Second)
	if r := d.cancel(); r.StatusCode != 200 {
		t.Fatalf("CANCEL -> %d", r.StatusCode)
	}
	if r := d.waitFinal(5 * time.Second); r.StatusCode != 487 {
		t.Fatalf("INVITE -> %d, want 487", r.StatusCode)
	}
	if er := waitDone(t, leg, 5*time.Second); er.Cause != EndCancelled {
		t.Fatalf("end %v", er)
	}
	if err := leg.Answer(context.Background(), []byte(testSDP)); !errors.Is(err, ErrLegEnded) {
		t.Fatalf("answer after cancel: %v", err)
	}
}

// The ACK must be matched to the INVITE's CSeq even when INFOs sent right
// after it overtake it (sipgo handles each message in its own goroutine).
func TestLegAckMatchedWhenInfoOvertakes(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 8)
	s := startServer(t, trunkCfg(), WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		_ = l.Answer(ctx, []byte(testSDP))
		<-ctx.Done()
	})))
	p := newPeer(t)
	for i := range 5 {
		d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP)
		leg := waitLeg(t, legs)
		d.waitFinal(5 * time.Second)
		// ACK and an INFO back to back, the INFO with a higher CSeq.
		d.ack("")
		info := d.newInDialog(sipmsg.INFO, "application/dtmf-relay", "Signal=1\r\nDuration=100\r\n")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := doFinal(ctx, p.ua.TransactionLayer(), info)
		cancel()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("run %d: INFO %v %v", i, res, err)
		}
		waitConfirmed(t, leg)
		if ev := nextEvent(t, leg); ev.(DTMFEvent).Digit != '1' {
			t.Fatalf("run %d: event %#v", i, ev)
		}
		if r := d.inDialog(sipmsg.BYE, "", ""); r.StatusCode != 200 {
			t.Fatalf("run %d: BYE -> %d", i, r.StatusCode)
		}
		waitDone(t, leg, 5*time.Second)
	}
}

func TestLeg200RetransmittedUntilAck(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	s := startServer(t, trunkCfg(), WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		_ = l.Answer(ctx, []byte(testSDP))
		<-ctx.Done()
	})))
	p := newPeer(t)
	// Count 2xx retransmissions: the client transaction passes the first
	// up and the rest to OnRetransmission.
	d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP)
	retrans := make(chan struct{}, 16)
	d.tx.OnRetransmission(func(*sipmsg.Response) { retrans <- struct{}{} })
	leg := waitLeg(t, legs)
	d.waitFinal(5 * time.Second)
	for i := range 2 { // T1 (500 ms), then 1 s
		select {
		case <-retrans:
		case <-time.After(3 * time.Second):
			t.Fatalf("no retransmission %d", i+1)
		}
	}
	if leg.State() != StateAnswered {
		t.Fatalf("state %s before ACK", leg.State())
	}
	d.ack("")
	waitConfirmed(t, leg)
	d.inDialog(sipmsg.BYE, "", "")
	waitDone(t, leg, 5*time.Second)
}

func TestLegAckTimeoutEndsCall(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	s := startServer(t, trunkCfg(), withT1(20*time.Millisecond), WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		_ = l.Answer(ctx, []byte(testSDP))
		<-ctx.Done()
	})))
	p := newPeer(t)
	d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP)
	leg := waitLeg(t, legs)
	d.waitFinal(5 * time.Second)
	// Never ACK: after 64*T1 the leg sends BYE and ends.
	p.waitRequest(sipmsg.BYE, 5*time.Second)
	if er := waitDone(t, leg, 5*time.Second); er.Cause != EndAckTimeout {
		t.Fatalf("end %v", er)
	}
}

func TestLegInfoDTMFAndReinviteHold(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	offers := make(chan []byte, 4)
	s := startServer(t, trunkCfg(), WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		l.OnOffer(func(offer []byte) ([]byte, error) {
			offers <- offer
			if IsHold(offer) {
				return []byte(sdpWith(2, "a=recvonly\r\n")), nil
			}
			return []byte(sdpWith(3, "a=sendrecv\r\n")), nil
		})
		_ = l.Answer(ctx, []byte(sdpWith(1, "")))
		<-ctx.Done()
	})))
	p := newPeer(t)
	d := p.invite(context.Background(), udpAddr(t, s), "100", sdpWith(1, ""))
	leg := waitLeg(t, legs)
	d.waitFinal(5 * time.Second)
	d.ack("")

	for _, tc := range []struct{ ct, body string }{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"},
		{"application/dtmf", "#"},
	} {
		if r := d.inDialog(sipmsg.INFO, tc.ct, tc.body); r.StatusCode != 200 {
			t.Fatalf("INFO -> %d", r.StatusCode)
		}
	}
	want := []rune{'5', '#'}
	for _, w := range want {
		ev := nextEvent(t, leg)
		dt, ok := ev.(DTMFEvent)
		if !ok || dt.Digit != w {
			t.Fatalf("event %#v, want digit %c", ev, w)
		}
	}
	if r := d.inDialog(sipmsg.INFO, "text/plain", "hello"); r.StatusCode != 415 {
		t.Fatalf("INFO text/plain -> %d", r.StatusCode)
	}

	// Hold (sendonly), then resume.
	for i, tc := range []struct {
		offer string
		hold  bool
	}{
		{sdpWith(2, "a=sendonly\r\n"), true},
		{sdpWith(3, "a=sendrecv\r\n"), false},
	} {
		req := d.newInDialog(sipmsg.INVITE, "application/sdp", tc.offer)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := doFinal(ctx, p.ua.TransactionLayer(), req)
		cancel()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("re-INVITE %d: %v %v", i, res, err)
		}
		d.ackCSeq(req.CSeq().SeqNo, "")
		if got := <-offers; string(got) != tc.offer {
			t.Fatalf("handler got %q", got)
		}
		ev := nextEvent(t, leg)
		mu, ok := ev.(MediaUpdateEvent)
		if !ok || mu.Hold != tc.hold || string(mu.LocalSDP) != string(res.Body()) {
			t.Fatalf("event %#v", ev)
		}
	}
	d.inDialog(sipmsg.BYE, "", "")
	waitDone(t, leg, 5*time.Second)
}

func nextEvent(t testing.TB, l *Leg) Event {
	t.Helper()
	select {
	case ev := <-l.Events():
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no leg event")
		return nil
	}
}

func waitConfirmed(t testing.TB, l *Leg) {
	t.Helper()
	select {
	case <-l.Confirmed():
	case <-time.After(5 * time.Second):
		t.Fatalf("leg not confirmed (state %s)", l.State())
	}
}
