package media

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

func crlf(s string) []byte {
	s = strings.TrimLeft(s, "\n")
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

func localCfg() SDPConfig {
	return SDPConfig{
		Addr: netip.MustParseAddr("192.0.2.10"), Port: 20000,
		Codecs: []Codec{PCMU, PCMA}, DTMF: true, SessionID: 42, Version: 42,
	}
}

// offerSDP builds a typical offer; m is the m= line plus its attributes.
func offerSDP(sessionAttrs, conn, m string) []byte {
	s := "v=0\no=- 1 1 IN IP4 198.51.100.7\ns=-\n"
	if conn != "" {
		s += "c=" + conn + "\n"
	}
	s += "t=0 0\n" + sessionAttrs + m
	return crlf(s)
}

func TestAnswer(t *testing.T) {
	t.Parallel()
	const c4 = "IN IP4 198.51.100.7"
	remote := netip.MustParseAddrPort("198.51.100.7:4000")
	type want struct {
		codec     Codec
		pt        uint8
		dtmf      int
		ptime     time.Duration
		remote    netip.AddrPort
		rtcp      netip.AddrPort
		remoteDir Direction
		localDir  Direction
		hold      bool
		lines     []string // must appear in the answer
		absent    []string // must not
	}
	base := func(w want) want {
		if w.codec == CodecNone {
			w.codec = PCMU
		}
		if w.ptime == 0 {
			w.ptime = 20 * time.Millisecond
		}
		if !w.remote.IsValid() {
			w.remote = remote
		}
		if !w.rtcp.IsValid() {
			w.rtcp = netip.AddrPortFrom(w.remote.Addr(), w.remote.Port()+1)
		}
		return w
	}
	tests := []struct {
		name    string
		offer   []byte
		local   func(*SDPConfig)
		want    want
		wantErr error
	}{
		{name: "pcmu pcma te101", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0 8 101\na=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\na=sendrecv\n"),
			want: base(want{dtmf: 101, lines: []string{"m=audio 20000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000", "a=sendrecv", "c=IN IP4 192.0.2.10", "o=careline 42 42 IN IP4 192.0.2.10", "a=ptime:20"}, absent: []string{"PCMA"}})},
		{name: "offerer order wins", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 8 0 101\na=rtpmap:101 telephone-event/8000\n"),
			want: base(want{codec: PCMA, pt: 8, dtmf: 101, lines: []string{"m=audio 20000 RTP/AVP 8 101", "a=rtpmap:8 PCMA/8000"}})},
		{name: "telephone-event at 96", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0 96\na=rtpmap:96 telephone-event/8000\na=fmtp:96 0-15\n"),
			want: base(want{dtmf: 96, lines: []string{"m=audio 20000 RTP/AVP 0 96", "a=rtpmap:96 telephone-event/8000"}})},
		{name: "telephone-event at 100", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0 100\na=rtpmap:100 TELEPHONE-EVENT/8000\n"),
			want: base(want{dtmf: 100, lines: []string{"m=audio 20000 RTP/AVP 0 100"}})},
		{name: "telephone-event 8000 chosen over 48000", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0 101 100\na=rtpmap:101 telephone-event/48000\na=rtpmap:100 telephone-event/8000\n"),
			want: base(want{dtmf: 100, absent: []string{"48000"}})},
		{name: "only wideband telephone-event", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0 101\na=rtpmap:101 telephone-event/16000\n"),
			want: base(want{dtmf: -1, absent: []string{"telephone-event"}})},
		{name: "rtpmap for te but not in m= formats", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0\na=rtpmap:101 telephone-event/8000\n"),
			want: base(want{dtmf: -1})},
		{name: "no DTMF locally", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\n"),
			local: func(c *SDPConfig) { c.DTMF = false }, want: base(want{dtmf: -1, absent: []string{"telephone-event"}})},
		{name: "dynamic PCMU", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 97 101\na=rtpmap:97 pcmu/8000\na=rtpmap:101 telephone-event/8000\n"),
			want: base(want{pt: 97, dtmf: 101, lines: []string{"m=audio 20000 RTP/AVP 97 101", "a=rtpmap:97 pcmu/8000"}})},
		{name: "skips unsupported codecs", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 9 18 111 8\na=rtpmap:111 opus/48000/2\n"),
			want: base(want{codec: PCMA, pt: 8, dtmf: -1})},
		{name: "local PCMA only", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0 8\n"),
			local: func(c *SDPConfig) { c.Codecs = []Codec{PCMA} }, want: base(want{codec: PCMA, pt: 8, dtmf: -1})},
		{name: "hold sendonly", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0\na=sendonly\n"),
			want: base(want{dtmf: -1, remoteDir: SendOnly, localDir: RecvOnly, hold: true, lines: []string{"a=recvonly"}})},
		{name: "hold inactive", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0\na=inactive\n"),
			want: base(want{dtmf: -1, remoteDir: Inactive, localDir: Inactive, hold: true, lines: []string{"a=inactive"}})},
		{name: "hold session-level sendonly", offer: offerSDP("a=sendonly\n", c4, "m=audio 4000 RTP/AVP 0\n"),
			want: base(want{dtmf: -1, remoteDir: SendOnly, localDir: RecvOnly, hold: true})},
		{name: "media-level overrides session-level", offer: offerSDP("a=sendonly\n", c4, "m=audio 4000 RTP/AVP 0\na=sendrecv\n"),
			want: base(want{dtmf: -1})},
		{name: "hold c=0.0.0.0", offer: offerSDP("", "IN IP4 0.0.0.0", "m=audio 4000 RTP/AVP 0\n"),
			want: base(want{dtmf: -1, remote: netip.MustParseAddrPort("0.0.0.0:4000"), hold: true})},
		{name: "peer recvonly: we sendonly", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0\na=recvonly\n"),
			want: base(want{dtmf: -1, remoteDir: RecvOnly, localDir: SendOnly, lines: []string{"a=sendonly"}})},
		{name: "we hold: sendonly", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0\n"),
			local: func(c *SDPConfig) { c.Direction = SendOnly }, want: base(want{dtmf: -1, localDir: SendOnly, lines: []string{"a=sendonly"}})},
		{name: "ptime 30 and rtcp attr", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0\na=ptime:30\na=rtcp:4009 IN IP4 198.51.100.9\n"),
			want: base(want{dtmf: -1, ptime: 30 * time.Millisecond, rtcp: netip.MustParseAddrPort("198.51.100.9:4009")})},
		{name: "media-level c= wins", offer: offerSDP("", "IN IP4 203.0.113.1", "m=audio 4000 RTP/AVP 0\nc=IN IP4 198.51.100.7\n"),
			want: base(want{dtmf: -1})},
		{name: "ipv6", offer: offerSDP("", "IN IP6 2001:db8::7", "m=audio 4000 RTP/AVP 0\n"),
			want: base(want{dtmf: -1, remote: netip.MustParseAddrPort("[2001:db8::7]:4000")})},
		{name: "video first is refused", offer: offerSDP("", c4, "m=video 5000 RTP/AVP 96\na=rtpmap:96 H264/90000\nm=audio 4000 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\n"),
			want: base(want{dtmf: 101, lines: []string{"m=video 0 RTP/AVP 96\r\nm=audio 20000 RTP/AVP 0 101"}})},
		{name: "second audio stream refused", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 0\nm=audio 4002 RTP/AVP 8\n"),
			want: base(want{dtmf: -1, lines: []string{"m=audio 20000 RTP/AVP 0", "m=audio 0 RTP/AVP 8"}})},
		{name: "SRTP stream refused, plain one taken", offer: offerSDP("", c4, "m=audio 4100 RTP/SAVP 0\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\nm=audio 4000 RTP/AVP 0\n"),
			want: base(want{dtmf: -1, lines: []string{"m=audio 0 RTP/SAVP 0", "m=audio 20000 RTP/AVP 0"}, absent: []string{"crypto"}})},
		{name: "disabled stream skipped", offer: offerSDP("", c4, "m=audio 0 RTP/AVP 0\nm=audio 4000 RTP/AVP 8\n"),
			want: base(want{codec: PCMA, pt: 8, dtmf: -1, lines: []string{"m=audio 0 RTP/AVP 0", "m=audio 20000 RTP/AVP 8"}})},
		{name: "no common codec", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 18 111\na=rtpmap:18 G729/8000\na=rtpmap:111 opus/48000/2\n"), wantErr: ErrNoCommonCodec},
		{name: "SRTP only", offer: offerSDP("", c4, "m=audio 4000 RTP/SAVP 0\n"), wantErr: ErrNoCommonCodec},
		{name: "video only", offer: offerSDP("", c4, "m=video 4000 RTP/AVP 96\n"), wantErr: ErrNoCommonCodec},
		{name: "PCMU at 16 kHz is not PCMU", offer: offerSDP("", c4, "m=audio 4000 RTP/AVP 96\na=rtpmap:96 PCMU/16000\n"), wantErr: ErrNoCommonCodec},
		{name: "no c= line", offer: offerSDP("", "", "m=audio 4000 RTP/AVP 0\n"), wantErr: ErrBadSDP},
		{name: "hostname in c=", offer: offerSDP("", "IN IP4 pbx.example.com", "m=audio 4000 RTP/AVP 0\n"), wantErr: ErrBadSDP},
		{name: "garbage", offer: []byte("hello"), wantErr: ErrBadSDP},
		{name: "empty", offer: nil, wantErr: ErrBadSDP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			local := localCfg()
			if tc.local != nil {
				tc.local(&local)
			}
			ans, neg, err := Answer(tc.offer, local)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if w.pt == 0 {
				w.pt = w.codec.PayloadType()
			}
			got := want{codec: neg.Codec, pt: neg.PayloadType, dtmf: neg.DTMFPT, ptime: neg.PTime, remote: neg.Remote,
				rtcp: neg.RemoteRTCP, remoteDir: neg.RemoteDirection, localDir: neg.LocalDirection, hold: neg.OnHold}
			w.lines, w.absent = nil, nil
			if got.codec != w.codec || got.pt != w.pt || got.dtmf != w.dtmf || got.ptime != w.ptime || got.remote != w.remote ||
				got.rtcp != w.rtcp || got.remoteDir != w.remoteDir || got.localDir != w.localDir || got.hold != w.hold {
				t.Errorf("negotiated %+v\nwant       %+v", got, w)
			}
			for _, l := range tc.want.lines {
				if !strings.Contains(string(ans), l) {
					t.Errorf("answer lacks %q:\n%s", l, ans)
				}
			}
			for _, l := range tc.want.absent {
				if strings.Contains(string(ans), l) {
					t.Errorf("answer has %q:\n%s", l, ans)
				}
			}
			// Our answer must be readable as an answer by an offerer like us.
			if _, err := parseSDP(ans); err != nil {
				t.Errorf("answer does not parse: %v\n%s", err, ans)
			}
		})
	}
}

// Offers captured from common peers (addresses changed).
func TestAnswerRealPeers(t *testing.T) {
	t.Parallel()
	peers := map[string]string{
		"baresip": `v=0
o=- 2712923395 4025455296 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 10008 RTP/AVP 0 8 101
b=AS:64
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=ssrc:3170131040 cname:sip:agent@127.0.0.1
a=rtcp-rsize
a=ptime:20
`,
		"asterisk": `v=0
o=- 1700000000 1700000001 IN IP4 10.0.0.5
s=Asterisk
c=IN IP4 10.0.0.5
t=0 0
m=audio 17202 RTP/AVP 8 0 3 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:3 GSM/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
`,
		"linphone-zrtp-pt96": `v=0
o=alice 3109 2417 IN IP4 192.168.1.20
s=Talk
c=IN IP4 192.168.1.20
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
m=audio 7078 RTP/AVP 96 97 0 8 98 99
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=rtpmap:98 telephone-event/48000
a=rtpmap:99 telephone-event/8000
a=rtcp:7079
a=rtcp-fb:* trr-int 1000
`,
	}
	wantCodec := map[string]Codec{"baresip": PCMU, "asterisk": PCMA, "linphone-zrtp-pt96": PCMU}
	wantDTMF := map[string]int{"baresip": 101, "asterisk": 101, "linphone-zrtp-pt96": 99}
	for name, offer := range peers {
		_, neg, err := Answer(crlf(offer), localCfg())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if neg.Codec != wantCodec[name] || neg.DTMFPT != wantDTMF[name] {
			t.Errorf("%s: %v", name, neg)
		}
		// LF-only line endings are accepted too.
		if _, _, err := Answer([]byte(strings.TrimLeft(offer, "\n")), localCfg()); err != nil {
			t.Errorf("%s with LF endings: %v", name, err)
		}
	}
}

func TestOfferAndParseAnswer(t *testing.T) {
	t.Parallel()
	cfg := localCfg()
	cfg.DTMFPT = 96
	offer, err := Offer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"v=0\r\n", "o=careline 42 42 IN IP4 192.0.2.10\r\n", "m=audio 20000 RTP/AVP 0 8 96\r\n",
		"a=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:8 PCMA/8000\r\n", "a=rtpmap:96 telephone-event/8000\r\n", "a=fmtp:96 0-16\r\n",
		"a=ptime:20\r\n", "a=sendrecv\r\n", "t=0 0\r\n"} {
		if !strings.Contains(string(offer), l) {
			t.Errorf("offer lacks %q:\n%s", l, offer)
		}
	}
	// A peer like us answers it; we read the answer back.
	peer := SDPConfig{Addr: netip.MustParseAddr("198.51.100.7"), Port: 4000, Codecs: []Codec{PCMA, PCMU}, DTMF: true, SessionID: 7, Version: 7}
	ans, pneg, err := Answer(offer, peer)
	if err != nil {
		t.Fatal(err)
	}
	if pneg.Codec != PCMU || pneg.DTMFPT != 96 || pneg.Remote != netip.MustParseAddrPort("192.0.2.10:20000") {
		t.Fatalf("peer negotiated %v", pneg)
	}
	neg, err := ParseAnswer(ans, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if neg.Codec != PCMU || neg.DTMFPT != 96 || neg.Remote != netip.MustParseAddrPort("198.51.100.7:4000") || neg.OnHold {
		t.Fatalf("negotiated %v", neg)
	}

	for _, tc := range []struct {
		name   string
		answer []byte
		want   error
		check  func(Negotiated) bool
	}{
		{"refused", offerSDP("", "IN IP4 198.51.100.7", "m=audio 0 RTP/AVP 0\n"), ErrNoCommonCodec, nil},
		{"foreign codec", offerSDP("", "IN IP4 198.51.100.7", "m=audio 4000 RTP/AVP 18\n"), ErrNoCommonCodec, nil},
		{"no audio", offerSDP("", "IN IP4 198.51.100.7", "m=video 4000 RTP/AVP 96\n"), ErrNoCommonCodec, nil},
		{"bad", []byte("v=0\r\nbogus"), ErrBadSDP, nil},
		{"hold answer recvonly", offerSDP("", "IN IP4 198.51.100.7", "m=audio 4000 RTP/AVP 8\na=recvonly\n"), nil,
			func(n Negotiated) bool {
				return n.Codec == PCMA && n.RemoteDirection == RecvOnly && !n.OnHold && n.DTMFPT == -1
			}},
		{"peer holds in answer", offerSDP("", "IN IP4 198.51.100.7", "m=audio 4000 RTP/AVP 0 96\na=rtpmap:96 telephone-event/8000\na=inactive\n"), nil,
			func(n Negotiated) bool { return n.OnHold && n.DTMFPT == 96 && !n.CanSend() && !n.ExpectsMedia() }},
	} {
		neg, err := ParseAnswer(tc.answer, cfg)
		if tc.want != nil {
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			}
			continue
		}
		if err != nil || !tc.check(neg) {
			t.Errorf("%s: %v %v", tc.name, neg, err)
		}
	}

	bad := cfg
	bad.Codecs = nil
	if _, err := Offer(bad); err == nil {
		t.Error("offer without codecs")
	}
	bad = cfg
	bad.DTMFPT = 8
	if _, err := Offer(bad); err == nil {
		t.Error("telephone-event PT colliding with PCMA accepted")
	}
}

func TestNegotiatorVersion(t *testing.T) {
	t.Parallel()
	cfg := localCfg()
	cfg.SessionID, cfg.Version = 0, 0
	n := NewNegotiator(cfg)
	id := n.Config().SessionID
	if id == 0 {
		t.Fatal("no session id")
	}
	origin := func(b []byte) string {
		for _, l := range strings.Split(string(b), "\r\n") {
			if strings.HasPrefix(l, "o=") {
				return l
			}
		}
		return ""
	}
	o1, _ := n.Offer()
	o2, _ := n.Offer() // unchanged: same version (a session refresh)
	if origin(o1) != origin(o2) {
		t.Fatalf("version changed without a change: %q → %q", origin(o1), origin(o2))
	}
	n.SetDirection(SendOnly) // hold
	o3, _ := n.Offer()
	if !strings.Contains(string(o3), "a=sendonly") {
		t.Fatal("hold offer lacks sendonly")
	}
	v1, v3 := n.Config().Version-1, n.Config().Version
	if origin(o1) != strings.Replace(origin(o3), " "+itoa(v3)+" ", " "+itoa(v1)+" ", 1) || !strings.Contains(origin(o3), " "+itoa(id)+" ") {
		t.Fatalf("re-offer origin %q after %q: want version +1, same session id", origin(o3), origin(o1))
	}
	// The codec in use is kept first on re-offers and preferred in answers to re-offers.
	peerOffer := offerSDP("", "IN IP4 198.51.100.7", "m=audio 4000 RTP/AVP 8 0\n")
	n2 := NewNegotiator(localCfg())
	if _, neg, err := n2.Answer(peerOffer); err != nil || neg.Codec != PCMA {
		t.Fatalf("%v %v", neg, err)
	}
	reOffer := offerSDP("", "IN IP4 198.51.100.7", "m=audio 4000 RTP/AVP 0 8\na=sendonly\n")
	ans, neg, err := n2.Answer(reOffer)
	if err != nil || neg.Codec != PCMA || !neg.OnHold {
		t.Fatalf("re-offer: %v %v", neg, err)
	}
	if !strings.Contains(string(ans), "o=careline 42 43 ") {
		t.Fatalf("re-answer changed but version not bumped:\n%s", ans)
	}
	o, _ := n2.Offer()
	if !strings.Contains(string(o), "m=audio 20000 RTP/AVP 8 0 101") {
		t.Fatalf("re-offer does not keep PCMA first:\n%s", o)
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func TestDirection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d          Direction
		s          string
		send, recv bool
		rev        Direction
	}{
		{SendRecv, "sendrecv", true, true, SendRecv}, {SendOnly, "sendonly", true, false, RecvOnly},
		{RecvOnly, "recvonly", false, true, SendOnly}, {Inactive, "inactive", false, false, Inactive},
	} {
		if tc.d.String() != tc.s || tc.d.Sends() != tc.send || tc.d.Receives() != tc.recv || tc.d.Reverse() != tc.rev {
			t.Errorf("%v", tc.d)
		}
		if d, ok := ParseDirection(tc.s); !ok || d != tc.d {
			t.Errorf("parse %s", tc.s)
		}
	}
}

func FuzzAnswerSDP(f *testing.F) {
	f.Add(offerSDP("", "IN IP4 198.51.100.7", "m=audio 4000 RTP/AVP 0 8 101\na=rtpmap:101 telephone-event/8000\na=ptime:30\n"))
	f.Add(offerSDP("a=sendonly\n", "IN IP6 ::1", "m=video 1 RTP/AVP 96\nm=audio 4000 RTP/AVP 97 100\na=rtpmap:97 PCMA/8000\na=rtpmap:100 telephone-event/8000\na=rtcp:9 IN IP4 1.2.3.4\n"))
	f.Add(offerSDP("", "IN IP4 0.0.0.0", "m=audio 4000 RTP/SAVP 0\nm=audio 5 RTP/AVP 8\na=inactive\n"))
	f.Add([]byte("v=0\r\n"))
	local := localCfg()
	f.Fuzz(func(t *testing.T, offer []byte) {
		ans, neg, err := Answer(offer, local)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) && !errors.Is(err, ErrNoCommonCodec) {
				t.Fatalf("error wraps neither sentinel: %v", err)
			}
			return
		}
		if !neg.Codec.Valid() || neg.DTMFPT == int(neg.PayloadType) {
			t.Fatalf("bad negotiation %v", neg)
		}
		// Whatever we answered must be a valid answer to our own parser.
		back, err := ParseAnswer(ans, local)
		if err != nil {
			t.Fatalf("our answer does not parse back: %v\n%s", err, ans)
		}
		if back.Codec != neg.Codec || back.DTMFPT != neg.DTMFPT || back.PayloadType != neg.PayloadType {
			t.Fatalf("answer says %v, we negotiated %v", back, neg)
		}
	})
}
