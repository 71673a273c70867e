package sip

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

func TestSessionTimerTooSmall422(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	s := startServer(t, trunkCfg(), WithHandler(legHandler(legs, nil)))
	p := newPeer(t)
	d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP,
		sipmsg.NewHeader("Session-Expires", "30"), sipmsg.NewHeader("Supported", "timer"))
	res := d.waitFinal(5 * time.Second)
	if res.StatusCode != 422 {
		t.Fatalf("got %d, want 422", res.StatusCode)
	}
	if h := res.GetHeader("Min-SE"); h == nil || h.Value() != "90" {
		t.Fatalf("Min-SE %v", h)
	}
	select {
	case <-legs:
		t.Fatal("handler must not see a 422'd call")
	default:
	}
}

func TestSessionTimerPeerRefreshesThenStops(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	cfg := trunkCfg()
	cfg.MinSE = time.Second
	s := startServer(t, cfg, WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		_ = l.Answer(ctx, []byte(testSDP))
		<-ctx.Done()
	})))
	p := newPeer(t)
	d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP,
		sipmsg.NewHeader("Session-Expires", "2;refresher=uac"), sipmsg.NewHeader("Supported", "timer"))
	leg := waitLeg(t, legs)
	res := d.waitFinal(5 * time.Second)
	if h := res.GetHeader("Session-Expires"); h == nil || h.Value() != "2;refresher=uac" {
		t.Fatalf("Session-Expires %v", h)
	}
	if h := res.GetHeader("Require"); h == nil || h.Value() != "timer" {
		t.Fatalf("Require %v", h)
	}
	d.ack("")
	// Refresh twice with UPDATE, each well inside the 1.33 s expiry.
	for i := range 2 {
		select {
		case <-leg.Done():
			t.Fatalf("leg ended before refresh %d", i)
		case <-time.After(700 * time.Millisecond):
		}
		r := d.inDialog(sipmsg.UPDATE, "", "", sipmsg.NewHeader("Session-Expires", "2;refresher=uac"))
		if r.StatusCode != 200 || r.GetHeader("Session-Expires") == nil {
			t.Fatalf("refresh %d -> %d", i, r.StatusCode)
		}
	}
	// Stop refreshing: the leg must end it with a BYE.
	p.waitRequest(sipmsg.BYE, 5*time.Second)
	if er := waitDone(t, leg, 5*time.Second); er.Cause != EndSessionTimer {
		t.Fatalf("end %v", er)
	}
}

func TestSessionTimerWeRefresh(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	cfg := trunkCfg()
	cfg.MinSE = time.Second
	s := startServer(t, cfg, WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		_ = l.Answer(ctx, []byte(testSDP))
		<-ctx.Done()
	})))
	p := newPeer(t)
	d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP,
		sipmsg.NewHeader("Session-Expires", "2;refresher=uas"), sipmsg.NewHeader("Supported", "timer"),
		sipmsg.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, UPDATE"))
	leg := waitLeg(t, legs)
	d.waitFinal(5 * time.Second)
	d.ack("")
	// We refresh at SE/2 with UPDATE, repeatedly; the call stays up.
	for range 2 {
		up := p.waitRequest(sipmsg.UPDATE, 5*time.Second)
		if h := up.GetHeader("Session-Expires"); h == nil || !strings.HasPrefix(h.Value(), "2") {
			t.Fatalf("refresh Session-Expires %v", h)
		}
	}
	if leg.State() != StateConfirmed {
		t.Fatalf("state %s", leg.State())
	}
	d.inDialog(sipmsg.BYE, "", "")
	if er := waitDone(t, leg, 5*time.Second); er.Cause != EndNormalRemote {
		t.Fatalf("end %v", er)
	}
}

func TestHandlerPanicFailsCallNotProcess(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	legs := make(chan *Leg, 2)
	s := startServer(t, trunkCfg(), WithHandler(HandlerFunc(func(ctx context.Context, l *Leg) {
		legs <- l
		if n.Add(1) == 2 {
			_ = l.Answer(ctx, []byte(testSDP))
		}
		panic("boom")
	})))
	p := newPeer(t)
	// Before answer: 500.
	d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP)
	leg := waitLeg(t, legs)
	if r := d.waitFinal(5 * time.Second); r.StatusCode != 500 {
		t.Fatalf("got %d, want 500", r.StatusCode)
	}
	if er := waitDone(t, leg, 5*time.Second); er.Cause != EndError {
		t.Fatalf("end %v", er)
	}
	// After answer: BYE once ACKed.
	d2 := p.invite(context.Background(), udpAddr(t, s), "100", testSDP)
	leg2 := waitLeg(t, legs)
	if r := d2.waitFinal(5 * time.Second); r.StatusCode != 200 {
		t.Fatalf("got %d, want 200", r.StatusCode)
	}
	d2.ack("")
	p.waitRequest(sipmsg.BYE, 5*time.Second)
	if er := waitDone(t, leg2, 5*time.Second); er.Cause != EndError {
		t.Fatalf("end %v", er)
	}
	// The server still answers.
	opt := p.request(sipmsg.OPTIONS, sipmsg.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(udpAddr(t, s).Port())}, udpAddr(t, s), "opt-1", "t1", "", 1)
	opt.SetBody(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := doFinal(ctx, p.ua.TransactionLayer(), opt)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("OPTIONS after panic: %v %v", res, err)
	}
	for _, h := range []string{"Allow", "Accept", "Supported"} {
		if res.GetHeader(h) == nil {
			t.Fatalf("OPTIONS response without %s", h)
		}
	}
}

func TestReferAndNotify(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	s := startServer(t, trunkCfg(), WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		_ = l.Answer(ctx, []byte(testSDP))
		<-ctx.Done()
	})))
	p := newPeer(t)
	d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP)
	leg := waitLeg(t, legs)
	d.waitFinal(5 * time.Second)
	d.ack("")
	if r := d.inDialog(sipmsg.OPTIONS, "", ""); r.StatusCode != 200 || r.GetHeader("Allow") == nil {
		t.Fatalf("in-dialog OPTIONS -> %v", r)
	}
	r := d.inDialog(sipmsg.REFER, "", "", sipmsg.NewHeader("Refer-To", "<sip:1002@127.0.0.1?X-Evil=1>"),
		sipmsg.NewHeader("Referred-By", "<sip:agent7@127.0.0.1>"))
	if r.StatusCode != 202 {
		t.Fatalf("REFER -> %d", r.StatusCode)
	}
	ev, ok := nextEvent(t, leg).(ReferEvent)
	if !ok || ev.Target != "sip:1002@127.0.0.1" || ev.NoSubscription {
		t.Fatalf("refer event %#v", ev)
	}
	n1 := p.waitRequest(sipmsg.NOTIFY, 5*time.Second)
	if !strings.HasPrefix(string(n1.Body()), "SIP/2.0 100") {
		t.Fatalf("first NOTIFY %q", n1.Body())
	}
	if err := leg.ReferResult(context.Background(), 200, ""); err != nil {
		t.Fatal(err)
	}
	n2 := p.waitRequest(sipmsg.NOTIFY, 5*time.Second)
	if !strings.HasPrefix(string(n2.Body()), "SIP/2.0 200 OK") ||
		!strings.HasPrefix(n2.GetHeader("Subscription-State").Value(), "terminated") {
		t.Fatalf("final NOTIFY %q", n2.Body())
	}
	d.inDialog(sipmsg.BYE, "", "")
	waitDone(t, leg, 5*time.Second)
}

func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	s := startServer(t, trunkCfg(), WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		_ = l.Answer(ctx, []byte(testSDP))
		<-ctx.Done()
	})))
	p := newPeer(t)
	d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP)
	leg := waitLeg(t, legs)
	d.waitFinal(5 * time.Second)
	d.ack("")

	s.StopAccepting()
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	d2 := p.invite(context.Background(), udpAddr(t, s), "100", testSDP)
	r := d2.waitFinal(5 * time.Second)
	if r.StatusCode != 503 || r.GetHeader("Retry-After") == nil {
		t.Fatalf("new call while draining -> %d", r.StatusCode)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned with a call up: %v", err)
	default:
	}
	d.inDialog(sipmsg.BYE, "", "")
	waitDone(t, leg, 5*time.Second)
	select {
	case err := <-shut:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the last call ended")
	}
}
