package sip

import (
	"context"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// regClient registers like a phone: REGISTER, 401, REGISTER with digest.
type regClient struct {
	p      *peer
	dst    netip.AddrPort
	user   string
	callID string
	cseq   uint32
}

func newRegClient(p *peer, dst netip.AddrPort, user string) *regClient {
	return &regClient{p: p, dst: dst, user: user, callID: uuid.NewString()}
}

func (c *regClient) send(hdrs []sipmsg.Header) *sipmsg.Response {
	c.p.t.Helper()
	c.cseq++
	ruri := sipmsg.Uri{Scheme: "sip", Host: c.dst.Addr().String(), Port: int(c.dst.Port())}
	req := sipmsg.NewRequest(sipmsg.REGISTER, ruri)
	via := &sipmsg.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1",
		Port: int(c.p.addr.Port()), Params: sipmsg.NewParams()}
	via.Params.Add("branch", sipmsg.GenerateBranch())
	req.AppendHeader(via)
	mf := sipmsg.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	aor := sipmsg.Uri{Scheme: "sip", User: c.user, Host: c.dst.Addr().String()}
	from := &sipmsg.FromHeader{Address: aor, Params: sipmsg.NewParams()}
	from.Params.Add("tag", "reg"+c.user)
	req.AppendHeader(from)
	req.AppendHeader(&sipmsg.ToHeader{Address: aor})
	cid := sipmsg.CallIDHeader(c.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: c.cseq, MethodName: sipmsg.REGISTER})
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	req.SetBody(nil)
	req.SetTransport("UDP")
	req.SetDestination(c.dst.String())
	req.Laddr = sipmsg.Addr{IP: c.dst.Addr().AsSlice(), Port: int(c.p.addr.Port())}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := doFinal(ctx, c.p.ua.TransactionLayer(), req)
	if err != nil {
		c.p.t.Fatalf("REGISTER: %v", err)
	}
	return res
}

// register does the 401 round trip, answering the challenge of alg.
func (c *regClient) register(pass string, alg Algorithm, hdrs ...sipmsg.Header) *sipmsg.Response {
	c.p.t.Helper()
	res := c.send(hdrs)
	if res.StatusCode != 401 {
		return res
	}
	var chal string
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		if strings.Contains(h.Value(), "algorithm="+string(alg)) {
			chal = h.Value()
		}
	}
	if chal == "" {
		c.p.t.Fatalf("no %s challenge in %v", alg, res.GetHeaders("WWW-Authenticate"))
	}
	ruri := "sip:" + c.dst.String()
	authz := clientAuth(c.p.t, chal, "REGISTER", ruri, c.user, pass, 1)
	return c.send(append(hdrs, sipmsg.NewHeader("Authorization", authz)))
}

func contactH(v string) sipmsg.Header { return sipmsg.NewHeader("Contact", v) }

func contactsOf(res *sipmsg.Response) []string {
	var out []string
	for _, h := range res.GetHeaders("Contact") {
		out = append(out, h.Value())
	}
	sort.Strings(out)
	return out
}

func newRegistrarServer(t *testing.T) (*Server, *MemoryBindingStore) {
	creds, err := NewStaticCredentials("careline.test", CredentialEntry{User: "agent7", Password: "right"},
		CredentialEntry{User: "agent8", Password: "other"})
	if err != nil {
		t.Fatal(err)
	}
	store := NewMemoryBindingStore(nil)
	s := startServer(t, Config{Realm: "careline.test"}, WithCredentials(creds), WithBindingStore(store))
	return s, store
}

func TestRegistrarFlow(t *testing.T) {
	t.Parallel()
	s, store := newRegistrarServer(t)
	p := newPeer(t)
	dst := udpAddr(t, s)
	c := newRegClient(p, dst, "agent7")
	ctx := context.Background()

	first := c.send([]sipmsg.Header{contactH("<sip:agent7@127.0.0.1:5999>")})
	chals := first.GetHeaders("WWW-Authenticate")
	if first.StatusCode != 401 || len(chals) != 2 || !strings.Contains(chals[0].Value(), "SHA-256") {
		t.Fatalf("challenge: %d %v", first.StatusCode, chals)
	}

	steps := []struct {
		name     string
		alg      Algorithm
		hdrs     []sipmsg.Header
		code     int
		contacts []string
	}{
		{"sha256 register", SHA256, []sipmsg.Header{contactH("<sip:agent7@127.0.0.1:5999>")}, 200,
			[]string{"<sip:agent7@127.0.0.1:5999>;expires=3600"}},
		{"md5, second contact, header expires", MD5, []sipmsg.Header{contactH("<sip:agent7@127.0.0.1:6001>"), sipmsg.NewHeader("Expires", "120")}, 200,
			[]string{"<sip:agent7@127.0.0.1:5999>;expires=3600", "<sip:agent7@127.0.0.1:6001>;expires=120"}},
		{"too brief", SHA256, []sipmsg.Header{contactH("<sip:agent7@127.0.0.1:6001>;expires=30")}, 423, nil},
		{"capped", SHA256, []sipmsg.Header{contactH("<sip:agent7@127.0.0.1:6001>;expires=999999")}, 200,
			[]string{"<sip:agent7@127.0.0.1:5999>;expires=3600", "<sip:agent7@127.0.0.1:6001>;expires=7200"}},
		{"remove one", SHA256, []sipmsg.Header{contactH("<sip:agent7@127.0.0.1:6001>;expires=0")}, 200,
			[]string{"<sip:agent7@127.0.0.1:5999>;expires=3600"}},
		{"query", SHA256, nil, 200, []string{"<sip:agent7@127.0.0.1:5999>;expires=3600"}},
		{"star without expires 0", SHA256, []sipmsg.Header{contactH("*")}, 400, nil},
		{"unregister all", SHA256, []sipmsg.Header{contactH("*"), sipmsg.NewHeader("Expires", "0")}, 200, nil},
	}
	for _, st := range steps {
		res := c.register("right", st.alg, st.hdrs...)
		if res.StatusCode != st.code {
			t.Fatalf("%s: %d %s", st.name, res.StatusCode, res.Reason)
		}
		if st.code == 423 {
			if h := res.GetHeader("Min-Expires"); h == nil || h.Value() != "60" {
				t.Fatalf("%s: Min-Expires %v", st.name, h)
			}
		}
		if st.code == 200 && strings.Join(contactsOf(res), "|") != strings.Join(st.contacts, "|") {
			t.Fatalf("%s: contacts %v, want %v", st.name, contactsOf(res), st.contacts)
		}
		if st.name == "sha256 register" {
			bs, _ := store.List(ctx, "agent7")
			if len(bs) != 1 || bs[0].Source != p.addr.String() || bs[0].Transport != "UDP" {
				t.Fatalf("binding %+v", bs)
			}
		}
	}
	if bs, _ := s.Bindings(ctx, "agent7"); len(bs) != 0 {
		t.Fatalf("bindings after unregister: %v", bs)
	}

	// Wrong password, someone else's AOR, non-SIP AOR.
	if r := c.register("wrong", SHA256, contactH("<sip:agent7@127.0.0.1:5999>")); r.StatusCode != 401 {
		t.Fatalf("wrong password: %d", r.StatusCode)
	}
	// agent8 authenticates fine but may not register agent7's AOR.
	imp := newRegClient(p, dst, "agent8")
	res := imp.send([]sipmsg.Header{contactH("<sip:x@127.0.0.1:5999>")})
	chal := res.GetHeaders("WWW-Authenticate")[0].Value()
	imp.user = "agent7"
	authz := clientAuth(t, chal, "REGISTER", "sip:"+dst.String(), "agent8", "other", 1)
	if r := imp.send([]sipmsg.Header{contactH("<sip:x@127.0.0.1:5999>"), sipmsg.NewHeader("Authorization", authz)}); r.StatusCode != 403 {
		t.Fatalf("foreign AOR: %d", r.StatusCode)
	}
}

// An unknown user gets the very same 401 as a known user with a wrong
// password (and as no credentials at all): same status, same header set,
// same challenge shape.
func TestUnknownUser401IdenticalToKnownUser(t *testing.T) {
	t.Parallel()
	s, _ := newRegistrarServer(t)
	p := newPeer(t)
	dst := udpAddr(t, s)
	shape := func(res *sipmsg.Response) string {
		var names []string
		for _, h := range res.Headers() {
			n := h.Name()
			v := h.Value()
			switch strings.ToLower(n) {
			case "via", "from", "call-id", "cseq", "to":
				v = "" // echo the request
			case "www-authenticate":
				i := strings.Index(v, `nonce="`)
				j := strings.Index(v[i+7:], `"`)
				v = v[:i] + `nonce=?` + v[i+7+j+1:]
			}
			names = append(names, n+": "+v)
		}
		return res.StartLine() + "\n" + strings.Join(names, "\n")
	}
	known := newRegClient(p, dst, "agent7").register("wrong", SHA256, contactH("<sip:agent7@127.0.0.1:5999>"))
	unknown := newRegClient(p, dst, "ghost").register("wrong", SHA256, contactH("<sip:ghost@127.0.0.1:5999>"))
	bare := newRegClient(p, dst, "ghost").send([]sipmsg.Header{contactH("<sip:ghost@127.0.0.1:5999>")})
	if shape(known) != shape(unknown) || shape(known) != shape(bare) {
		t.Fatalf("responses differ:\n%s\n---\n%s\n---\n%s", shape(known), shape(unknown), shape(bare))
	}
}

func TestRegisteredUserInvite(t *testing.T) {
	t.Parallel()
	creds, _ := NewStaticCredentials("careline.test", CredentialEntry{User: "agent7", Password: "right"})
	legs := make(chan *Leg, 1)
	s := startServer(t, Config{Realm: "careline.test"}, WithCredentials(creds), WithHandler(legHandler(legs, func(ctx context.Context, l *Leg) {
		_ = l.Reject(486, "Busy Here")
	})))
	p := newPeer(t)
	dst := udpAddr(t, s)
	d := p.invite(context.Background(), dst, "*97", testSDP)
	r := d.waitFinal(5 * time.Second)
	if r.StatusCode != 401 {
		t.Fatalf("no credentials: %d", r.StatusCode)
	}
	chal := r.GetHeaders("WWW-Authenticate")[0].Value()
	for _, tc := range []struct {
		pass string
		want int
	}{{"wrong", 403}, {"right", 486}} {
		authz := clientAuth(t, chal, "INVITE", d.ruri.String(), "agent7", tc.pass, 1)
		chal = p.reAuthChallenge(t, dst, authz, tc.want)
	}
	l := waitLeg(t, legs)
	if l.Source().Kind != SourceUser || l.Source().User != "agent7" {
		t.Fatalf("source %+v", l.Source())
	}
}

// reAuthChallenge sends a fresh INVITE carrying authz and checks the
// status; it returns a new challenge for the next attempt.
func (p *peer) reAuthChallenge(t *testing.T, dst netip.AddrPort, authz string, want int) string {
	t.Helper()
	d := p.invite(context.Background(), dst, "*97", testSDP, sipmsg.NewHeader("Authorization", authz))
	if r := d.waitFinal(5 * time.Second); r.StatusCode != want {
		t.Fatalf("INVITE with credentials: %d, want %d", r.StatusCode, want)
	}
	d2 := p.invite(context.Background(), dst, "*97", testSDP)
	r := d2.waitFinal(5 * time.Second)
	return r.GetHeaders("WWW-Authenticate")[0].Value()
}
