package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/careline/careline/internal/logx"
)

// testSDP is a minimal valid offer.
const testSDP = "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"

func sdpWith(version int, extra string) string {
	return strings.Replace(testSDP, "o=peer 1 1", fmt.Sprintf("o=peer 1 %d", version), 1) + extra
}

// startServer runs a Server on 127.0.0.1 ephemeral ports and stops it at
// the end of the test.
func startServer(t testing.TB, cfg Config, opts ...Option) *Server {
	t.Helper()
	if len(cfg.UDP) == 0 && len(cfg.TCP) == 0 {
		cfg.UDP = []string{"127.0.0.1:0"}
	}
	s, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-errc:
		t.Fatalf("server: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(15 * time.Second):
			t.Error("server did not stop")
		}
	})
	return s
}

func udpAddr(t testing.TB, s *Server) netip.AddrPort {
	t.Helper()
	a, ok := s.Addr("udp")
	if !ok {
		t.Fatal("no udp listener")
	}
	return a
}

// peer is a scripted SIP endpoint on sipgo used as the far end in tests.
type peer struct {
	t    testing.TB
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	conn *net.UDPConn
	addr netip.AddrPort

	mu       sync.Mutex
	handlers map[sipmsg.RequestMethod]func(*sipmsg.Request, sipmsg.ServerTransaction)
	got      chan *sipmsg.Request
}

func newPeer(t testing.TB) *peer {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("peer"),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(logx.Discard())),
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(logx.Discard()),
			sipmsg.WithTransactionLayerUnhandledResponseHandler(func(*sipmsg.Response) {})))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(logx.Discard()))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, ua: ua, srv: srv, conn: conn, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		handlers: map[sipmsg.RequestMethod]func(*sipmsg.Request, sipmsg.ServerTransaction){},
		got:      make(chan *sipmsg.Request, 64)}
	for _, m := range []sipmsg.RequestMethod{sipmsg.INVITE, sipmsg.ACK, sipmsg.BYE, sipmsg.CANCEL, sipmsg.INFO,
		sipmsg.UPDATE, sipmsg.NOTIFY, sipmsg.OPTIONS, sipmsg.REFER} {
		srv.OnRequest(m, p.dispatch)
	}
	la := conn.LocalAddr().String()
	ua.TransportLayer().Pool("udp").Add(la, &sipmsg.UDPConnection{PacketConn: conn, PacketAddr: la, Listener: true})
	go func() { _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() {
		_ = conn.Close()
		_ = ua.Close()
	})
	return p
}

// on sets a handler for a method; without one the peer answers 200 (and
// records the request on got).
func (p *peer) on(m sipmsg.RequestMethod, h func(*sipmsg.Request, sipmsg.ServerTransaction)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handlers[m] = h
}

func (p *peer) dispatch(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	p.mu.Lock()
	h := p.handlers[req.Method]
	p.mu.Unlock()
	if h != nil {
		h(req, tx)
		return
	}
	select {
	case p.got <- req:
	default:
	}
	if req.Method != sipmsg.ACK {
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
	}
}

// waitRequest waits for a request of method recorded by the default handler.
func (p *peer) waitRequest(m sipmsg.RequestMethod, d time.Duration) *sipmsg.Request {
	p.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case r := <-p.got:
			if r.Method == m {
				return r
			}
		case <-timer.C:
			p.t.Fatalf("no %s within %v", m, d)
			return nil
		}
	}
}

// dialog is the peer's UAC view of a call.
type dialog struct {
	p         *peer
	callID    string
	fromTag   string
	toTag     string
	cseq      uint32
	ruri      sipmsg.Uri
	dst       netip.AddrPort
	invite    *sipmsg.Request
	final     *sipmsg.Response
	tx        sipmsg.ClientTransaction
	responses chan *sipmsg.Response
}

// request builds a request from the peer toward dst.
func (p *peer) request(method sipmsg.RequestMethod, ruri sipmsg.Uri, dst netip.AddrPort, callID, fromTag, toTag string, cseq uint32) *sipmsg.Request {
	req := sipmsg.NewRequest(method, ruri)
	via := &sipmsg.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP",
		Host: "127.0.0.1", Port: int(p.addr.Port()), Params: sipmsg.NewParams()}
	via.Params.Add("branch", sipmsg.GenerateBranch())
	via.Params.Add("rport", "")
	req.AppendHeader(via)
	mf := sipmsg.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sipmsg.FromHeader{DisplayName: "Patient", Address: sipmsg.Uri{Scheme: "sip", User: "+15055550143", Host: "127.0.0.1"}, Params: sipmsg.NewParams()}
	from.Params.Add("tag", fromTag)
	req.AppendHeader(from)
	to := &sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: ruri.User, Host: ruri.Host}, Params: sipmsg.NewParams()}
	if toTag != "" {
		to.Params.Add("tag", toTag)
	}
	req.AppendHeader(to)
	cid := sipmsg.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "peer", Host: "127.0.0.1", Port: int(p.addr.Port())}})
	req.SetTransport("UDP")
	req.SetDestination(dst.String())
	req.Laddr = sipmsg.Addr{IP: net.IPv4(127, 0, 0, 1), Port: int(p.addr.Port())}
	return req
}

// invite sends an INVITE to the server at dst and starts reading responses.
func (p *peer) invite(ctx context.Context, dst netip.AddrPort, user string, sdp string, hdrs ...sipmsg.Header) *dialog {
	p.t.Helper()
	d := &dialog{p: p, callID: uuid.NewString(), fromTag: randomToken(4), cseq: 1,
		ruri: sipmsg.Uri{Scheme: "sip", User: user, Host: dst.Addr().String(), Port: int(dst.Port())}, dst: dst,
		responses: make(chan *sipmsg.Response, 16)}
	req := p.request(sipmsg.INVITE, d.ruri, dst, d.callID, d.fromTag, "", d.cseq)
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	if sdp != "" {
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		req.SetBody([]byte(sdp))
	} else {
		req.SetBody(nil)
	}
	d.invite = req
	d.send(ctx, req)
	return d
}

func (d *dialog) send(ctx context.Context, req *sipmsg.Request) {
	tx, err := d.p.ua.TransactionLayer().Request(ctx, req)
	if err != nil {
		d.p.t.Fatalf("send %s: %v", req.Method, err)
	}
	d.tx = tx
	go func() {
		for {
			select {
			case r := <-tx.Responses():
				d.responses <- r
			case <-tx.Done():
				return
			}
		}
	}()
}

// waitFinal waits for the INVITE's final response and records the To tag.
func (d *dialog) waitFinal(timeout time.Duration) *sipmsg.Response {
	d.p.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case r := <-d.responses:
			if r.StatusCode < 200 {
				if tag, ok := r.To().Params.Get("tag"); ok && r.StatusCode > 100 {
					d.toTag = tag
				}
				continue
			}
			d.final = r
			if tag, ok := r.To().Params.Get("tag"); ok {
				d.toTag = tag
			}
			return r
		case <-timer.C:
			d.p.t.Fatalf("no final response within %v", timeout)
			return nil
		}
	}
}

// waitStatus waits for a response with the given status (1xx included).
func (d *dialog) waitStatus(code int, timeout time.Duration) *sipmsg.Response {
	d.p.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case r := <-d.responses:
			if tag, ok := r.To().Params.Get("tag"); ok && r.StatusCode > 100 {
				d.toTag = tag
			}
			if r.StatusCode == code {
				if code >= 200 {
					d.final = r
				}
				return r
			}
		case <-timer.C:
			d.p.t.Fatalf("no %d within %v", code, timeout)
			return nil
		}
	}
}

// ack sends the ACK for the INVITE (CSeq of the INVITE, a new branch).
func (d *dialog) ack(body string) {
	d.ackCSeq(d.invite.CSeq().SeqNo, body)
}

func (d *dialog) ackCSeq(cseq uint32, body string) {
	d.p.t.Helper()
	ack := d.p.request(sipmsg.ACK, d.remoteTarget(), d.dst, d.callID, d.fromTag, d.toTag, cseq)
	if body != "" {
		ack.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		ack.SetBody([]byte(body))
	} else {
		ack.SetBody(nil)
	}
	if err := d.p.ua.TransportLayer().WriteMsg(ack); err != nil {
		d.p.t.Fatalf("ack: %v", err)
	}
}

func (d *dialog) remoteTarget() sipmsg.Uri {
	if d.final != nil {
		if c := d.final.Contact(); c != nil {
			return c.Address
		}
	}
	return d.ruri
}

// inDialog sends a request in the dialog and returns its final response.
func (d *dialog) inDialog(method sipmsg.RequestMethod, ct, body string, hdrs ...sipmsg.Header) *sipmsg.Response {
	d.p.t.Helper()
	req := d.newInDialog(method, ct, body, hdrs...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := doFinal(ctx, d.p.ua.TransactionLayer(), req)
	if err != nil {
		d.p.t.Fatalf("%s: %v", method, err)
	}
	return res
}

func (d *dialog) newInDialog(method sipmsg.RequestMethod, ct, body string, hdrs ...sipmsg.Header) *sipmsg.Request {
	d.cseq++
	req := d.p.request(method, d.remoteTarget(), d.dst, d.callID, d.fromTag, d.toTag, d.cseq)
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	if body != "" {
		req.AppendHeader(sipmsg.NewHeader("Content-Type", ct))
		req.SetBody([]byte(body))
	} else {
		req.SetBody(nil)
	}
	return req
}

func doFinal(ctx context.Context, txl *sipmsg.TransactionLayer, req *sipmsg.Request) (*sipmsg.Response, error) {
	tx, err := txl.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case r := <-tx.Responses():
			if r.StatusCode >= 200 {
				return r, nil
			}
		case <-tx.Done():
			return nil, tx.Err()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// cancel sends CANCEL for the INVITE.
func (d *dialog) cancel() *sipmsg.Response {
	d.p.t.Helper()
	c := sipmsg.NewRequest(sipmsg.CANCEL, d.ruri)
	c.AppendHeader(d.invite.Via().Clone())
	for _, h := range d.invite.Headers() {
		switch h.(type) {
		case *sipmsg.FromHeader, *sipmsg.ToHeader, *sipmsg.CallIDHeader, *sipmsg.MaxForwardsHeader:
			c.AppendHeader(sipmsg.HeaderClone(h))
		}
	}
	c.AppendHeader(&sipmsg.CSeqHeader{SeqNo: d.invite.CSeq().SeqNo, MethodName: sipmsg.CANCEL})
	c.SetBody(nil)
	c.SetTransport("UDP")
	c.SetDestination(d.dst.String())
	c.Laddr = d.invite.Laddr
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := doFinal(ctx, d.p.ua.TransactionLayer(), c)
	if err != nil {
		d.p.t.Fatalf("CANCEL: %v", err)
	}
	return res
}

// waitLeg waits for the handler to receive a leg.
func waitLeg(t testing.TB, ch <-chan *Leg) *Leg {
	t.Helper()
	select {
	case l := <-ch:
		return l
	case <-time.After(5 * time.Second):
		t.Fatal("handler got no leg")
		return nil
	}
}

func waitDone(t testing.TB, l *Leg, d time.Duration) EndReason {
	t.Helper()
	select {
	case <-l.Done():
		return l.EndReason()
	case <-time.After(d):
		t.Fatalf("leg not done within %v (state %s)", d, l.State())
		return EndReason{}
	}
}

// trunkCfg allows 127.0.0.1 as a trunk.
func trunkCfg() Config {
	return Config{Trunks: []Trunk{{Name: "loop", Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}}}
}

// legHandler returns a Handler that sends each leg to ch and then runs fn.
func legHandler(ch chan<- *Leg, fn func(ctx context.Context, l *Leg)) Handler {
	return HandlerFunc(func(ctx context.Context, l *Leg) {
		ch <- l
		if fn != nil {
			fn(ctx, l)
			return
		}
		<-ctx.Done()
	})
}
