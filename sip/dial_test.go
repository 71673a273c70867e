package sip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// uasResponse builds a response with a fixed To tag and our Contact.
func (p *peer) uasResponse(req *sipmsg.Request, code int, reason, tag string, body string) *sipmsg.Response {
	res := sipmsg.NewResponseFromRequest(req, code, reason, nil)
	if tag != "" && code > 100 {
		res.To().Params.Add("tag", tag)
	}
	if code >= 180 && code < 300 {
		res.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "uas", Host: "127.0.0.1", Port: int(p.addr.Port())}})
	}
	if body != "" {
		res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		res.SetBody([]byte(body))
	}
	return res
}

// uasBye sends a BYE from the peer (as UAS of inv) to the caller.
func (p *peer) uasBye(inv *sipmsg.Request, tag string) *sipmsg.Response {
	p.t.Helper()
	c := inv.Contact()
	dst, err := netip.ParseAddrPort(inv.Source())
	if err != nil {
		p.t.Fatal(err)
	}
	fromTag, _ := inv.From().Params.Get("tag")
	req := p.request(sipmsg.BYE, c.Address, dst, inv.CallID().Value(), tag, fromTag, 1)
	// request() wrote the peer as From: swap in the dialog's identities.
	req.RemoveHeader("From")
	req.RemoveHeader("To")
	from := &sipmsg.FromHeader{Address: inv.To().Address, Params: sipmsg.NewParams()}
	from.Params.Add("tag", tag)
	to := &sipmsg.ToHeader{Address: inv.From().Address, Params: sipmsg.NewParams()}
	to.Params.Add("tag", fromTag)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.SetBody(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := doFinal(ctx, p.ua.TransactionLayer(), req)
	if err != nil {
		p.t.Fatalf("BYE: %v", err)
	}
	return res
}

func peerURI(p *peer, user string) string {
	return "sip:" + user + "@" + p.addr.String()
}

func classified(t *testing.T, err error) Classified {
	t.Helper()
	var c Classified
	if !errors.As(err, &c) {
		t.Fatalf("error %v is not Classified", err)
	}
	return c
}

func TestDialFinalResponses(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	for _, tc := range []struct {
		code      int
		kind      ErrorKind
		label     string
		retryable bool
	}{
		{486, KindBusy, "busy", false},
		{600, KindBusy, "busy", false},
		{480, KindNoAnswer, "no_answer", false},
		{404, KindRejected, "rejected", false},
		{603, KindRejected, "rejected", false},
		{503, KindUnreachable, "unreachable", true},
	} {
		p := newPeer(t)
		p.on(sipmsg.INVITE, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
			_ = tx.Respond(p.uasResponse(req, 180, "Ringing", "uas1", ""))
			_ = tx.Respond(p.uasResponse(req, tc.code, defaultReason(tc.code), "uas1", ""))
			<-tx.Done()
		})
		_, err := s.Dial(context.Background(), DialOptions{Target: peerURI(p, "bob"), FromUser: "careline", SDP: []byte(testSDP)})
		c := classified(t, err)
		if c.Kind() != tc.kind || c.SIPStatus() != tc.code || c.MetricLabel() != tc.label || c.Retryable() != tc.retryable {
			t.Errorf("%d: kind %s status %d label %s retryable %v", tc.code, c.Kind(), c.SIPStatus(), c.MetricLabel(), c.Retryable())
		}
	}
}

func TestDialRingTimeoutCancels(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	p := newPeer(t)
	cancelled := make(chan struct{})
	p.on(sipmsg.INVITE, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		tx.OnCancel(func(*sipmsg.Request) { close(cancelled) })
		_ = tx.Respond(p.uasResponse(req, 180, "Ringing", "uas1", ""))
		<-tx.Done()
	})
	_, err := s.Dial(context.Background(), DialOptions{Target: peerURI(p, "bob"), SDP: []byte(testSDP), RingTimeout: 400 * time.Millisecond})
	if c := classified(t, err); c.Kind() != KindNoAnswer || c.Retryable() {
		t.Fatalf("kind %s retryable %v", c.Kind(), c.Retryable())
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("UAS saw no CANCEL")
	}
}

func TestDialCallerCancels(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	p := newPeer(t)
	ringing := make(chan struct{})
	cancelled := make(chan struct{})
	p.on(sipmsg.INVITE, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		tx.OnCancel(func(*sipmsg.Request) { close(cancelled) })
		_ = tx.Respond(p.uasResponse(req, 180, "Ringing", "uas1", ""))
		<-tx.Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-ringing
		cancel()
	}()
	_, err := s.Dial(ctx, DialOptions{Target: peerURI(p, "bob"), SDP: []byte(testSDP),
		OnProgress: func(code int, _ []byte) {
			if code == 180 {
				close(ringing)
			}
		}})
	if c := classified(t, err); c.Kind() != KindCancelled || c.Retryable() {
		t.Fatalf("kind %s retryable %v", c.Kind(), c.Retryable())
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("UAS saw no CANCEL")
	}
}

func TestDialUnreachable(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{UDP: []string{"127.0.0.1:0"}, TCP: []string{"127.0.0.1:0"}})
	// A TCP port nobody listens on: the INVITE never leaves.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedTCP := ln.Addr().String()
	_ = ln.Close()
	_, err = s.Dial(context.Background(), DialOptions{Target: "sip:bob@" + closedTCP + ";transport=tcp", SDP: []byte(testSDP)})
	if c := classified(t, err); c.Kind() != KindUnreachable || !c.Retryable() {
		t.Fatalf("tcp: kind %s retryable %v (%v)", c.Kind(), c.Retryable(), err)
	}
	// A UDP port that never answers: timeout, and not retryable (the
	// INVITE left and might have arrived).
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_, err = s.Dial(context.Background(), DialOptions{Target: "sip:bob@" + silent.LocalAddr().String(), SDP: []byte(testSDP),
		NoResponseTimeout: 300 * time.Millisecond})
	if c := classified(t, err); c.Kind() != KindTimeout || c.Retryable() {
		t.Fatalf("udp: kind %s retryable %v", c.Kind(), c.Retryable())
	}
}

// A trunk that challenges: Dial answers with digest and the call connects;
// then BYE in both directions.
func TestDialTrunkDigestAndByeBothWays(t *testing.T) {
	t.Parallel()
	p := newPeer(t)
	creds, _ := NewStaticCredentials("trunk.example", CredentialEntry{User: "careline", Password: "s3cret"})
	trunkAuth := NewAuthenticator("trunk.example", nil, creds)
	invites := make(chan *sipmsg.Request, 4)
	p.on(sipmsg.INVITE, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		if req.GetHeader("Authorization") == nil {
			res := p.uasResponse(req, 401, "Unauthorized", "", "")
			for _, c := range trunkAuth.Challenges(false) {
				res.AppendHeader(sipmsg.NewHeader("WWW-Authenticate", c))
			}
			_ = tx.Respond(res)
			return
		}
		if _, r := trunkAuth.Verify(context.Background(), "INVITE", req.Recipient, req.GetHeader("Authorization").Value()); r != AuthOK {
			_ = tx.Respond(p.uasResponse(req, 403, "Forbidden", "", ""))
			return
		}
		invites <- req
		_ = tx.Respond(p.uasResponse(req, 200, "OK", "uas1", sdpWith(7, "")))
		<-tx.Done()
	})
	cfg := Config{Trunks: []Trunk{{Name: "carrier", Addr: p.addr.String(), Username: "careline", Password: "s3cret"}}}
	s := startServer(t, cfg)
	for round := range 2 {
		leg, err := s.Dial(context.Background(), DialOptions{Target: "+15055550143", Trunk: "carrier",
			FromUser: "+18005550100", FromDisplay: "Pharmacy\r\nX-Injected: 1", SDP: []byte(testSDP)})
		if err != nil {
			t.Fatal(err)
		}
		if string(leg.Offer()) != sdpWith(7, "") || leg.Source().Trunk != "carrier" {
			t.Fatalf("answer %q source %+v", leg.Offer(), leg.Source())
		}
		inv := <-invites
		if inv.GetHeader("X-Injected") != nil || strings.ContainsAny(inv.From().DisplayName, "\r\n") {
			t.Fatalf("header injection through FromDisplay: %q", inv.From().DisplayName)
		}
		if inv.Recipient.User != "+15055550143" || inv.CSeq().SeqNo != 2 {
			t.Fatalf("R-URI %s CSeq %d", inv.Recipient.String(), inv.CSeq().SeqNo)
		}
		p.waitRequest(sipmsg.ACK, 5*time.Second)
		if round == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := leg.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			cancel()
			p.waitRequest(sipmsg.BYE, 5*time.Second)
			if er := leg.EndReason(); er.Cause != EndNormalLocal {
				t.Fatalf("end %v", er)
			}
		} else {
			if r := p.uasBye(inv, "uas1"); r.StatusCode != 200 {
				t.Fatalf("BYE -> %d", r.StatusCode)
			}
			if er := waitDone(t, leg, 5*time.Second); er.Cause != EndNormalRemote {
				t.Fatalf("end %v", er)
			}
		}
	}
}

func TestDialTrunkWrongPassword(t *testing.T) {
	t.Parallel()
	p := newPeer(t)
	trunkAuth := NewAuthenticator("trunk.example", nil, nil)
	p.on(sipmsg.INVITE, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		res := p.uasResponse(req, 407, "Proxy Authentication Required", "", "")
		for _, c := range trunkAuth.Challenges(false) {
			res.AppendHeader(sipmsg.NewHeader("Proxy-Authenticate", c))
		}
		_ = tx.Respond(res)
	})
	s := startServer(t, Config{Trunks: []Trunk{{Name: "carrier", Addr: p.addr.String(), Username: "u", Password: "wrong"}}})
	_, err := s.Dial(context.Background(), DialOptions{Target: "+15055550143", Trunk: "carrier", SDP: []byte(testSDP)})
	c := classified(t, err)
	if c.MetricLabel() != "auth_failed" || c.SIPStatus() != 407 || !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("label %s status %d err %v", c.MetricLabel(), c.SIPStatus(), err)
	}
}

// A 200 that arrives after our CANCEL must be ACKed and BYEd at once. The
// UAS here is raw UDP so it can ignore the CANCEL and answer anyway.
func TestDial200AfterCancelGetsAckAndBye(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	read := func() (*sipmsg.Request, net.Addr) {
		buf := make([]byte, 65535)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				t.Errorf("raw UAS read: %v", err)
				return nil, nil
			}
			m, err := sipmsg.ParseMessage(buf[:n])
			if err != nil {
				continue
			}
			if r, ok := m.(*sipmsg.Request); ok {
				return r, from
			}
		}
	}
	write := func(res *sipmsg.Response, to net.Addr) {
		if _, err := conn.WriteTo([]byte(res.String()), to); err != nil {
			t.Error(err)
		}
	}
	ringing := make(chan struct{})
	done := make(chan []string, 1)
	go func() {
		var seen []string
		defer func() { done <- seen }()
		inv, from := read()
		if inv == nil {
			return
		}
		ring := sipmsg.NewResponseFromRequest(inv, 180, "Ringing", nil)
		ring.To().Params.Add("tag", "late")
		write(ring, from)
		close(ringing)
		for {
			r, from := read()
			if r == nil {
				return
			}
			seen = append(seen, string(r.Method))
			switch r.Method {
			case sipmsg.CANCEL:
				write(sipmsg.NewResponseFromRequest(r, 200, "OK", nil), from)
				ok := sipmsg.NewResponseFromRequest(inv, 200, "OK", []byte(testSDP))
				ok.To().Params.Add("tag", "late")
				ok.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", Host: "127.0.0.1", Port: conn.LocalAddr().(*net.UDPAddr).Port}})
				ok.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
				write(ok, from)
			case sipmsg.BYE:
				write(sipmsg.NewResponseFromRequest(r, 200, "OK", nil), from)
				return
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-ringing
		cancel()
	}()
	_, err = s.Dial(ctx, DialOptions{Target: "sip:bob@" + conn.LocalAddr().String(), SDP: []byte(testSDP)})
	if c := classified(t, err); c.Kind() != KindCancelled {
		t.Fatalf("kind %s", c.Kind())
	}
	select {
	case seen := <-done:
		if strings.Join(seen, ",") != "CANCEL,ACK,BYE" {
			t.Fatalf("UAS saw %v, want CANCEL,ACK,BYE", seen)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("raw UAS did not finish")
	}
}

// Dialling a registered user rings every binding; the first answer wins
// and the others get CANCEL with a Reason header.
func TestDialRegisteredUserForks(t *testing.T) {
	t.Parallel()
	store := NewMemoryBindingStore(nil)
	s := startServer(t, Config{}, WithBindingStore(store))
	answer, ring := newPeer(t), newPeer(t)
	reasons := make(chan string, 1)
	answer.on(sipmsg.INVITE, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		_ = tx.Respond(answer.uasResponse(req, 180, "Ringing", "a", ""))
		_ = tx.Respond(answer.uasResponse(req, 200, "OK", "a", testSDP))
		<-tx.Done()
	})
	ring.on(sipmsg.INVITE, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		_ = tx.Respond(ring.uasResponse(req, 180, "Ringing", "r", ""))
		<-tx.Done()
	})
	ring.on(sipmsg.CANCEL, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {})
	ctx := context.Background()
	for i, p := range []*peer{answer, ring} {
		b := Binding{AOR: "agent7", Contact: "sip:agent7@" + p.addr.String(), Source: p.addr.String(), Transport: "UDP",
			CallID: "reg", CSeq: uint32(i + 1), Updated: time.Now().Add(time.Duration(i) * time.Second)}
		if err := store.Put(ctx, b, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	canceled := make(chan struct{})
	ring.on(sipmsg.INVITE, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		tx.OnCancel(func(c *sipmsg.Request) {
			if h := c.GetHeader("Reason"); h != nil {
				reasons <- h.Value()
			}
			close(canceled)
		})
		_ = tx.Respond(ring.uasResponse(req, 180, "Ringing", "r", ""))
		<-tx.Done()
	})
	leg, err := s.Dial(ctx, DialOptions{User: "agent7", SDP: []byte(testSDP)})
	if err != nil {
		t.Fatal(err)
	}
	if leg.Source().User != "agent7" {
		t.Fatalf("source %+v", leg.Source())
	}
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("ringing fork not cancelled")
	}
	if r := <-reasons; !strings.Contains(r, "cause=200") {
		t.Fatalf("Reason %q", r)
	}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = leg.Hangup(hctx)

	_, err = s.Dial(ctx, DialOptions{User: "nobody", SDP: []byte(testSDP)})
	if c := classified(t, err); c.Kind() != KindUnreachable || !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("unregistered: %v", err)
	}
}
