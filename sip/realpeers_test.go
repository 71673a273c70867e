package sip

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/internal/peers"
)

func newRealPeerServer(t *testing.T, h Handler) (*Server, *MemoryBindingStore) {
	t.Helper()
	creds, err := NewStaticCredentials("careline.test", CredentialEntry{User: "agent7", Password: "right"})
	if err != nil {
		t.Fatal(err)
	}
	store := NewMemoryBindingStore(nil)
	opts := []Option{WithCredentials(creds), WithBindingStore(store)}
	if h != nil {
		opts = append(opts, WithHandler(h))
	}
	return startServer(t, Config{Realm: "careline.test"}, opts...), store
}

func TestRegistrarWithSipsak(t *testing.T) {
	t.Parallel()
	s, store := newRealPeerServer(t, nil)
	port := strconv.Itoa(int(udpAddr(t, s).Port()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	uri := "sip:agent7@127.0.0.1:" + port
	for _, tc := range []struct {
		pass  string
		ok    bool
		bound int
	}{{"wrong", false, 0}, {"right", true, 1}} {
		res, err := peers.Sipsak(ctx, "-U", "-s", uri, "-u", "agent7", "-a", tc.pass, "-x", "120", "-H", "127.0.0.1", "-vv")
		if err != nil {
			t.Fatal(err)
		}
		if (res.ExitCode == 0) != tc.ok {
			t.Fatalf("password %q: exit %d\n%s", tc.pass, res.ExitCode, res.Output)
		}
		if !tc.ok && !strings.Contains(res.Output, "401") {
			t.Fatalf("wrong password without 401:\n%s", res.Output)
		}
		bs, _ := store.List(ctx, "agent7")
		if len(bs) != tc.bound {
			t.Fatalf("password %q: %d bindings\n%s", tc.pass, len(bs), res.Output)
		}
		// sipsak sends from another port than its Contact: the binding
		// keeps the packet source (received/rport) to reach it.
		if tc.bound == 1 && (!strings.HasPrefix(bs[0].Source, "127.0.0.1:") || !strings.HasPrefix(bs[0].Contact, "sip:agent7@127.0.0.1:")) {
			t.Fatalf("binding %+v", bs[0])
		}
	}
}

func TestBaresipRegistersAndCallsBothWays(t *testing.T) {
	t.Parallel()
	legs := make(chan *Leg, 1)
	s, _ := newRealPeerServer(t, legHandler(legs, func(ctx context.Context, l *Leg) {
		_ = l.Answer(ctx, []byte(testSDP))
		<-ctx.Done()
	}))
	reg := udpAddr(t, s).String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	bad := peers.StartBaresip(ctx, t, peers.BaresipConfig{
		Account: fmt.Sprintf("<sip:agent7@%s>;auth_pass=wrong;regint=60;audio_codecs=PCMU", reg)})
	if err := bad.Log.WaitFor(ctx, "401 Unauthorized"); err != nil {
		t.Fatalf("wrong password: %v\n%s", err, bad.Log.String())
	}
	if bs, _ := s.Bindings(ctx, "agent7"); len(bs) != 0 {
		t.Fatalf("wrong password registered: %v", bs)
	}

	b := peers.StartBaresip(ctx, t, peers.BaresipConfig{
		Account: fmt.Sprintf("<sip:agent7@%s>;auth_pass=right;regint=600;answermode=auto;audio_codecs=PCMU", reg)})
	// The first REGISTER goes out before the control connection exists,
	// so wait on baresip's log rather than on a REGISTER_OK event.
	if err := b.Log.WaitFor(ctx, "200 OK (careline) [1 binding]"); err != nil {
		t.Fatalf("%v\n%s", err, b.Log.String())
	}
	bs, _ := s.Bindings(ctx, "agent7")
	if len(bs) != 1 || bs[0].Source != b.SIPAddr() {
		t.Fatalf("bindings %+v, want source %s", bs, b.SIPAddr())
	}

	// We call the registered agent: baresip auto-answers.
	leg, err := s.Dial(ctx, DialOptions{User: "agent7", FromUser: "careline", FromDisplay: "Queue", SDP: []byte(testSDP)})
	if err != nil {
		t.Fatalf("dial agent: %v\n%s", err, b.Log.String())
	}
	if _, err := b.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatal(err)
	}
	if err := leg.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
		t.Fatal(err)
	}

	// The agent calls us: 401 challenge, digest, then our handler answers.
	if _, err := b.Command(ctx, "dial", "sip:*97@"+reg); err != nil {
		t.Fatal(err)
	}
	in := waitLeg(t, legs)
	if in.Source().Kind != SourceUser || in.Source().User != "agent7" {
		t.Fatalf("source %+v", in.Source())
	}
	if _, err := b.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("%v\n%s", err, b.Log.String())
	}
	if _, err := b.Command(ctx, "hangup", ""); err != nil {
		t.Fatal(err)
	}
	if er := waitDone(t, in, 10*time.Second); er.Cause != EndNormalRemote {
		t.Fatalf("end %v", er)
	}
}

func TestSippOptions(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const scenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="options ping">
  <send retrans="500"><![CDATA[
OPTIONS sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 OPTIONS
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
</scenario>`
	res, err := peers.Sipp(ctx, t.TempDir(), scenario, udpAddr(t, s).String(), "-s", "careline", "-i", "127.0.0.1",
		"-p", strconv.Itoa(peers.FreePort(t, 1)), "-m", "20", "-r", "50", "-timeout", "15s")
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("sipp exit %d %v\n%s", res.ExitCode, err, res.Output)
	}
}
