package sip

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func rawInvite(extra, body string) string {
	msg := "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc\r\nMax-Forwards: 70\r\n" +
		"From: <sip:a@h>;tag=1\r\nTo: <sip:bob@h>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:5070>\r\n" + extra
	return msg + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func TestValidateTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		msg    string
		code   int
		header string
	}{
		{"ok", rawInvite("Content-Type: application/sdp\r\n", testSDP), 0, ""},
		{"offerless ok", rawInvite("", ""), 0, ""},
		{"max-forwards 0 on INVITE", strings.Replace(rawInvite("", ""), "Max-Forwards: 70", "Max-Forwards: 0", 1), 483, ""},
		{"unknown Require", rawInvite("Require: 100rel, timer\r\n", ""), 420, "Unsupported"},
		{"timer Require ok", rawInvite("Require: timer\r\n", ""), 0, ""},
		{"multipart body", rawInvite("Content-Type: multipart/mixed;boundary=x\r\n", "--x--"), 415, "Accept"},
		{"body without type", rawInvite("", "v=0\r\n"), 400, ""},
		{"malformed SDP", rawInvite("Content-Type: application/sdp\r\n", "hello world\r\n"), 400, ""},
		{"SDP without m=", rawInvite("Content-Type: application/sdp\r\n", "v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\n"), 400, ""},
		{"Accept without sdp", rawInvite("Accept: text/plain\r\n", ""), 406, "Accept"},
		{"no Contact", strings.Replace(rawInvite("", ""), "Contact: <sip:a@127.0.0.1:5070>\r\n", "", 1), 400, ""},
		{"no From tag", strings.Replace(rawInvite("", ""), ";tag=1", "", 1), 400, ""},
		{"tel R-URI", strings.Replace(rawInvite("", ""), "INVITE sip:bob@127.0.0.1", "INVITE tel:+15055550143", 1), 416, ""},
		{"SUBSCRIBE", strings.NewReplacer("INVITE", "SUBSCRIBE").Replace(rawInvite("", "")), 405, "Allow"},
		{"duplicate Max-Forwards", rawInvite("Max-Forwards: 69\r\n", ""), 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sipmsg.ParseMessage([]byte(tc.msg))
			if err != nil {
				t.Fatal(err)
			}
			rej := Validate(m.(*sipmsg.Request))
			switch {
			case tc.code == 0 && rej != nil:
				t.Fatalf("rejected: %v", rej)
			case tc.code != 0 && (rej == nil || rej.Code != tc.code):
				t.Fatalf("got %v, want %d", rej, tc.code)
			}
			if tc.header != "" {
				found := false
				for _, h := range rej.Headers {
					found = found || h.Name() == tc.header
				}
				if !found {
					t.Fatalf("%d without %s", rej.Code, tc.header)
				}
			}
		})
	}
}

func TestCheckSDPAndHold(t *testing.T) {
	t.Parallel()
	if r := CheckSDP([]byte(testSDP)); r != "" {
		t.Fatalf("valid SDP rejected: %s", r)
	}
	for sdp, hold := range map[string]bool{
		testSDP:                      false,
		sdpWith(2, "a=sendonly\r\n"): true,
		sdpWith(2, "a=inactive\r\n"): true,
		sdpWith(2, "a=recvonly\r\n"): false,
		strings.Replace(testSDP, "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1): true,
	} {
		if IsHold([]byte(sdp)) != hold {
			t.Errorf("IsHold = %v for\n%s", !hold, sdp)
		}
	}
}

func TestLegacyUserAgentGetsMD5Only(t *testing.T) {
	t.Parallel()
	s, _ := newRegistrarServer(t)
	p := newPeer(t)
	for ua, n := range map[string]int{"baresip v1.0.0 (x86_64/linux)": 1, "Linphone/5.1": 2} {
		c := newRegClient(p, udpAddr(t, s), "agent7")
		res := c.send([]sipmsg.Header{contactH("<sip:agent7@127.0.0.1:5999>"), sipmsg.NewHeader("User-Agent", ua)})
		ch := res.GetHeaders("WWW-Authenticate")
		if len(ch) != n || !strings.Contains(ch[len(ch)-1].Value(), "MD5") {
			t.Fatalf("%s: challenges %v", ua, ch)
		}
	}
}

func TestTCPIdleConnectionClosed(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{UDP: []string{"127.0.0.1:0"}, TCP: []string{"127.0.0.1:0"}, TCPReadTimeout: 200 * time.Millisecond})
	a, _ := s.Addr("tcp")
	c, err := net.Dial("tcp", a.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 10)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("idle connection not closed by the server: %v", err)
	}
}

func TestMetricsCount(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	if again := NewMetrics(reg); again.requests != m.requests {
		t.Fatal("second NewMetrics on one registry must reuse collectors")
	}
	s := startServer(t, trunkCfg(), WithMetrics(m), WithHandler(HandlerFunc(func(ctx context.Context, l *Leg) {
		_ = l.Reject(486, "Busy Here")
	})))
	p := newPeer(t)
	d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP)
	d.waitFinal(5 * time.Second)
	waitCount := func(c prometheus.Collector, want float64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for testutil.ToFloat64(c) != want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := testutil.ToFloat64(c); got != want {
			t.Fatalf("metric %v, want %v", got, want)
		}
	}
	waitCount(m.requests.WithLabelValues("INVITE", "4xx"), 1)
	waitCount(m.legsEnded.WithLabelValues("inbound", "rejected"), 1)
	if n, err := testutil.GatherAndCount(reg); err != nil || n == 0 {
		t.Fatalf("gather: %d %v", n, err)
	}
}

// A call over TCP from a raw TCP "phone": INVITE/200/ACK on one
// connection, then our BYE must come back over that same connection.
func TestLegOverTCP(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	s := startServer(t, Config{UDP: []string{"127.0.0.1:0"}, TCP: []string{"127.0.0.1:0"},
		Trunks: trunkCfg().Trunks}, WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		_ = l.Answer(ctx, []byte(testSDP))
		<-l.Confirmed()
	})))
	dst, _ := s.Addr("tcp")
	conn, err := net.Dial("tcp", dst.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	msgs := make(chan sipmsg.Message, 16)
	go func() {
		ps := sipmsg.NewParser().NewSIPStream()
		buf := make([]byte, 65535)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			_ = ps.ParseSIPStream(buf[:n], func(m sipmsg.Message) { msgs <- m })
		}
	}()
	next := func(want func(sipmsg.Message) bool) sipmsg.Message {
		t.Helper()
		timer := time.NewTimer(5 * time.Second)
		defer timer.Stop()
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatal("connection closed")
				}
				if want(m) {
					return m
				}
			case <-timer.C:
				t.Fatal("nothing received over TCP")
			}
		}
	}
	write := func(m string) {
		if _, err := conn.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	head := "Via: SIP/2.0/TCP " + local + ";branch=z9hG4bK%s\r\nMax-Forwards: 70\r\nFrom: <sip:+15055550143@127.0.0.1>;tag=tcp1\r\n" +
		"To: <sip:100@127.0.0.1>%s\r\nCall-ID: tcp-call\r\nCSeq: %s\r\nContact: <sip:peer@" + local + ";transport=tcp>\r\n"
	write(fmt.Sprintf("INVITE sip:100@%s;transport=tcp SIP/2.0\r\n"+head+"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		dst, "inv", "", "1 INVITE", len(testSDP), testSDP))
	leg := waitLeg(t, legs)
	ok := next(func(m sipmsg.Message) bool { r, isRes := m.(*sipmsg.Response); return isRes && r.StatusCode == 200 }).(*sipmsg.Response)
	tag, _ := ok.To().Params.Get("tag")
	write(fmt.Sprintf("ACK %s SIP/2.0\r\n"+head+"Content-Length: 0\r\n\r\n", ok.Contact().Address.String(), "ack", ";tag="+tag, "1 ACK"))
	bye := next(func(m sipmsg.Message) bool { r, isReq := m.(*sipmsg.Request); return isReq && r.Method == sipmsg.BYE }).(*sipmsg.Request)
	res := sipmsg.NewResponseFromRequest(bye, 200, "OK", nil)
	write(res.String())
	if er := waitDone(t, leg, 5*time.Second); er.Cause != EndNormalLocal {
		t.Fatalf("end %v", er)
	}
}

// A second re-INVITE while the first is still being answered gets 491.
func TestReinviteWhilePending491(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	s := startServer(t, trunkCfg(), WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		l.OnOffer(func(offer []byte) ([]byte, error) {
			entered <- struct{}{}
			<-release
			return []byte(sdpWith(9, "")), nil
		})
		_ = l.Answer(ctx, []byte(testSDP))
		<-ctx.Done()
	})))
	p := newPeer(t)
	d := p.invite(context.Background(), udpAddr(t, s), "100", testSDP)
	leg := waitLeg(t, legs)
	d.waitFinal(5 * time.Second)
	d.ack("")
	waitConfirmed(t, leg)
	first := d.newInDialog(sipmsg.INVITE, "application/sdp", sdpWith(2, "a=sendonly\r\n"))
	firstRes := make(chan *sipmsg.Response, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, _ := doFinal(ctx, p.ua.TransactionLayer(), first)
		firstRes <- r
	}()
	<-entered // the leg is answering the first offer
	if r := d.inDialog(sipmsg.INVITE, "application/sdp", sdpWith(3, "")); r.StatusCode != 491 {
		t.Fatalf("overlapping re-INVITE -> %d, want 491", r.StatusCode)
	}
	close(release)
	if r := <-firstRes; r == nil || r.StatusCode != 200 {
		t.Fatalf("first re-INVITE -> %v", r)
	}
	d.ackCSeq(first.CSeq().SeqNo, "")
	d.inDialog(sipmsg.BYE, "", "")
	waitDone(t, leg, 5*time.Second)
}
