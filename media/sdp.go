package media

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/sdp/v3"
)

// SDP errors. A signalling layer maps ErrNoCommonCodec to 488 Not Acceptable Here and
// ErrBadSDP to 400 Bad Request.
var (
	ErrNoCommonCodec = errors.New("sdp: no common codec")
	ErrBadSDP        = errors.New("sdp: malformed or unusable description")
)

// Direction is an SDP media direction (RFC 3264). The zero value is SendRecv.
type Direction uint8

// Directions.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

func (d Direction) String() string {
	switch d {
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return "sendrecv"
}

// Sends reports whether the side with this direction sends media.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether the side with this direction receives media.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// Reverse is the direction the other side sees (sendonly ↔ recvonly).
func (d Direction) Reverse() Direction { return directionOf(d.Receives(), d.Sends()) }

func directionOf(send, recv bool) Direction {
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}

// ParseDirection parses "sendrecv", "sendonly", "recvonly" or "inactive".
func ParseDirection(s string) (Direction, bool) {
	switch s {
	case "sendrecv":
		return SendRecv, true
	case "sendonly":
		return SendOnly, true
	case "recvonly":
		return RecvOnly, true
	case "inactive":
		return Inactive, true
	}
	return SendRecv, false
}

// DefaultDTMFPayloadType is the telephone-event payload type we put in our own offers.
// Answers always use the payload type from the peer's offer.
const DefaultDTMFPayloadType = 101

// SDPConfig describes our side of one audio stream.
type SDPConfig struct {
	Addr      netip.Addr    // address advertised in c= and o= (the public one behind NAT)
	Port      int           // RTP port; RTCP is Port+1
	Codecs    []Codec       // codecs we accept, our preference order for offers
	DTMF      bool          // offer/accept RFC 4733 telephone-event
	DTMFPT    uint8         // payload type for telephone-event in our offers (0 → 101)
	PTime     time.Duration // packet time we send and ask for (0 → 20 ms)
	Direction Direction     // what we want: SendOnly to put the peer on hold
	SessionID uint64        // o= session id
	Version   uint64        // o= session version
	Username  string        // o= username ("" → "careline")
}

// Negotiated is the outcome of an offer/answer exchange: what a Session needs to send
// and receive.
type Negotiated struct {
	Codec           Codec
	PayloadType     uint8          // audio payload type on the wire (from the offer)
	DTMFPT          int            // telephone-event payload type, -1 when not negotiated
	PTime           time.Duration  // packet time the peer asked for (20 ms when absent); we send 20 ms
	Remote          netip.AddrPort // where the peer wants RTP (c= and m= port)
	RemoteRTCP      netip.AddrPort // a=rtcp, else Remote port+1
	RemoteDirection Direction      // the peer's direction attribute
	LocalDirection  Direction      // ours, as answered or offered
	OnHold          bool           // the peer put us on hold: sendonly, inactive or c=0.0.0.0
}

// String summarises n for logs (no PHI: addresses and codecs only).
func (n Negotiated) String() string {
	dtmf := "none"
	if n.DTMFPT >= 0 {
		dtmf = strconv.Itoa(n.DTMFPT)
	}
	return fmt.Sprintf("%s pt=%d dtmf=%s ptime=%s remote=%s rtcp=%s dir=%s/%s hold=%t",
		n.Codec.Name(), n.PayloadType, dtmf, n.PTime, n.Remote, n.RemoteRTCP,
		n.LocalDirection, n.RemoteDirection, n.OnHold)
}

// CanSend reports whether we may send audio: the peer receives, our direction sends, and
// the peer gave an address.
func (n Negotiated) CanSend() bool {
	return n.LocalDirection.Sends() && n.RemoteDirection.Receives() &&
		n.Remote.IsValid() && !n.Remote.Addr().IsUnspecified() && n.Remote.Port() != 0
}

// ExpectsMedia reports whether the peer is expected to send us audio (used for the media
// timeout: a held or receive-only peer may stay silent).
func (n Negotiated) ExpectsMedia() bool {
	return !n.OnHold && n.RemoteDirection.Sends() && n.LocalDirection.Receives()
}

func (c *SDPConfig) ptime() time.Duration {
	if c.PTime <= 0 {
		return FrameDuration
	}
	return c.PTime
}

func (c *SDPConfig) dtmfPT() uint8 {
	if c.DTMFPT == 0 {
		return DefaultDTMFPayloadType
	}
	return c.DTMFPT
}

func (c *SDPConfig) validate() error {
	if !c.Addr.IsValid() {
		return errors.New("sdp: config has no address")
	}
	if c.Port <= 0 || c.Port > 65535 {
		return fmt.Errorf("sdp: config port %d", c.Port)
	}
	if len(c.Codecs) == 0 {
		return errors.New("sdp: config has no codecs")
	}
	for _, k := range c.Codecs {
		if !k.Valid() {
			return fmt.Errorf("sdp: config codec %d is not supported", k)
		}
	}
	return nil
}

func (c *SDPConfig) supports(k Codec) bool {
	for _, x := range c.Codecs {
		if x == k {
			return true
		}
	}
	return false
}

// Offer builds an SDP offer for cfg: one audio m-line with cfg.Codecs in order and, when
// cfg.DTMF, telephone-event at cfg.DTMFPT.
func Offer(cfg SDPConfig) ([]byte, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var pts []uint8
	var maps []string
	for _, k := range cfg.Codecs {
		pts = append(pts, k.PayloadType())
		maps = append(maps, k.Name())
	}
	dtmf := -1
	if cfg.DTMF {
		dtmf = int(cfg.dtmfPT())
		for _, p := range pts {
			if int(p) == dtmf {
				return nil, fmt.Errorf("sdp: telephone-event payload type %d collides with a codec", dtmf)
			}
		}
	}
	return buildSDP(&cfg, pts, maps, dtmf, cfg.Direction, nil, 0)
}

// buildSDP marshals our description. rejected holds the peer's other m-lines (answered
// with port 0); audioIndex is where our audio m-line goes among them.
func buildSDP(cfg *SDPConfig, pts []uint8, names []string, dtmf int, dir Direction, rejected []*sdp.MediaDescription, audioIndex int) ([]byte, error) {
	addrType := "IP4"
	if cfg.Addr.Is6() && !cfg.Addr.Is4In6() {
		addrType = "IP6"
	}
	addr := cfg.Addr.Unmap().String()
	user := cfg.Username
	if user == "" {
		user = "careline"
	}
	sd := &sdp.SessionDescription{
		Origin: sdp.Origin{Username: user, SessionID: cfg.SessionID, SessionVersion: cfg.Version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: addr},
		SessionName:           "careline",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: addr}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
	}
	m := &sdp.MediaDescription{MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: cfg.Port}, Protos: []string{"RTP", "AVP"}}}
	for i, pt := range pts {
		m.MediaName.Formats = append(m.MediaName.Formats, strconv.Itoa(int(pt)))
		m.Attributes = append(m.Attributes, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/8000", pt, names[i])))
	}
	if dtmf >= 0 {
		m.MediaName.Formats = append(m.MediaName.Formats, strconv.Itoa(dtmf))
		m.Attributes = append(m.Attributes,
			sdp.NewAttribute("rtpmap", fmt.Sprintf("%d telephone-event/8000", dtmf)),
			sdp.NewAttribute("fmtp", fmt.Sprintf("%d 0-16", dtmf)))
	}
	m.Attributes = append(m.Attributes,
		sdp.NewAttribute("ptime", strconv.Itoa(int(cfg.ptime()/time.Millisecond))),
		sdp.NewPropertyAttribute(dir.String()))
	for i := 0; i <= len(rejected); i++ {
		if i == audioIndex {
			sd.MediaDescriptions = append(sd.MediaDescriptions, m)
		}
		if i < len(rejected) {
			sd.MediaDescriptions = append(sd.MediaDescriptions, rejected[i])
		}
	}
	b, err := sd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("sdp: marshal: %w", err)
	}
	return b, nil
}

// rtpmapEntry is one a=rtpmap line.
type rtpmapEntry struct {
	name string
	rate int
}

// audioMedia is what we read from one m=audio line.
type audioMedia struct {
	remote   netip.AddrPort
	rtcp     netip.AddrPort
	dir      Direction
	ptime    time.Duration
	formats  []uint8
	rtpmap   map[uint8]rtpmapEntry
	nullAddr bool // c=0.0.0.0 (RFC 2543 hold)
}

// codecOf resolves a payload type through a=rtpmap, then the static table.
func (a *audioMedia) codecOf(pt uint8) (Codec, bool) {
	if e, ok := a.rtpmap[pt]; ok {
		if e.rate != SampleRate {
			return CodecNone, false
		}
		return CodecByName(e.name)
	}
	if pt >= 96 {
		return CodecNone, false
	}
	return CodecByPayloadType(pt)
}

// telephoneEvent returns the payload type of telephone-event/8000 among the formats.
func (a *audioMedia) telephoneEvent() int {
	for _, pt := range a.formats {
		if e, ok := a.rtpmap[pt]; ok && strings.EqualFold(e.name, "telephone-event") && e.rate == SampleRate {
			return int(pt)
		}
	}
	return -1
}

func parseSDP(b []byte) (*sdp.SessionDescription, error) {
	// pion insists on CRLF-or-LF lines and RFC 4566 line order; tolerate a missing final
	// newline, which some stacks produce.
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadSDP)
	}
	if b[len(b)-1] != '\n' {
		b = append(bytes.Clone(b), '\r', '\n')
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	return &sd, nil
}

func isRTPAVP(protos []string) bool {
	p := strings.Join(protos, "/")
	return strings.EqualFold(p, "RTP/AVP") || strings.EqualFold(p, "RTP/AVPF")
}

// readAudio extracts addresses, formats and attributes of an m=audio line.
func readAudio(sd *sdp.SessionDescription, md *sdp.MediaDescription) (*audioMedia, error) {
	a := &audioMedia{rtpmap: map[uint8]rtpmapEntry{}, ptime: FrameDuration}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return nil, fmt.Errorf("%w: no c= line for the audio stream", ErrBadSDP)
	}
	if ci.NetworkType != "IN" || (ci.AddressType != "IP4" && ci.AddressType != "IP6") {
		return nil, fmt.Errorf("%w: c=%s %s is not an IP connection", ErrBadSDP, ci.NetworkType, ci.AddressType)
	}
	ip, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return nil, fmt.Errorf("%w: c= address %q is not an IP literal", ErrBadSDP, ci.Address.Address)
	}
	port := md.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("%w: audio port %d", ErrBadSDP, port)
	}
	a.remote = netip.AddrPortFrom(ip.Unmap(), uint16(port))
	a.nullAddr = ip.IsUnspecified()
	rtcpPort := port + 1
	if rtcpPort > 65535 {
		rtcpPort = port
	}
	a.rtcp = netip.AddrPortFrom(a.remote.Addr(), uint16(rtcpPort))

	for _, f := range md.MediaName.Formats {
		if pt, err := strconv.ParseUint(f, 10, 7); err == nil {
			a.formats = append(a.formats, uint8(pt))
		}
	}
	dirSet := false
	for _, attr := range sd.Attributes { // session-level defaults
		if d, ok := ParseDirection(attr.Key); ok {
			a.dir, dirSet = d, true
		}
		if attr.Key == "ptime" {
			a.ptime = parsePTime(attr.Value, a.ptime)
		}
	}
	for _, attr := range md.Attributes {
		switch attr.Key {
		case "rtpmap":
			pt, e, ok := parseRTPMap(attr.Value)
			if ok {
				a.rtpmap[pt] = e
			}
		case "ptime":
			a.ptime = parsePTime(attr.Value, a.ptime)
		case "rtcp":
			if ap, ok := parseRTCPAttr(attr.Value, a.remote.Addr()); ok {
				a.rtcp = ap
			}
		default:
			if d, ok := ParseDirection(attr.Key); ok {
				a.dir, dirSet = d, true
			}
		}
	}
	if !dirSet {
		a.dir = SendRecv
	}
	return a, nil
}

func parseRTPMap(v string) (uint8, rtpmapEntry, bool) {
	ptStr, rest, ok := strings.Cut(v, " ")
	if !ok {
		return 0, rtpmapEntry{}, false
	}
	pt, err := strconv.ParseUint(ptStr, 10, 7)
	if err != nil {
		return 0, rtpmapEntry{}, false
	}
	parts := strings.Split(strings.TrimSpace(rest), "/")
	if len(parts) < 2 {
		return 0, rtpmapEntry{}, false
	}
	rate, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0, rtpmapEntry{}, false
	}
	if len(parts) > 2 && parts[2] != "1" { // channels: mono only
		return 0, rtpmapEntry{}, false
	}
	return uint8(pt), rtpmapEntry{name: parts[0], rate: rate}, true
}

func parsePTime(v string, def time.Duration) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 1 || f > 1000 {
		return def
	}
	return time.Duration(f * float64(time.Millisecond))
}

// parseRTCPAttr parses RFC 3605 "a=rtcp:<port> [IN IP4 <addr>]".
func parseRTCPAttr(v string, def netip.Addr) (netip.AddrPort, bool) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, false
	}
	addr := def
	if len(f) == 4 && f[1] == "IN" {
		if ip, err := netip.ParseAddr(f[3]); err == nil {
			addr = ip.Unmap()
		}
	}
	return netip.AddrPortFrom(addr, uint16(port)), true
}

// Answer answers an SDP offer. It takes the first audio m-line (RTP/AVP) that offers a
// codec from local.Codecs, choosing the first such codec in the offer's order, and the
// offer's telephone-event payload type (matched by name and clock rate, whatever its
// number). Other m-lines are refused with port 0. Our direction is local.Direction
// limited by the mirror of the offer's (offer sendonly → we answer recvonly). Errors wrap
// ErrBadSDP (answer 400) or ErrNoCommonCodec (answer 488).
func Answer(offer []byte, local SDPConfig) ([]byte, Negotiated, error) {
	return answer(offer, local, CodecNone)
}

func answer(offer []byte, local SDPConfig, prefer Codec) ([]byte, Negotiated, error) {
	if err := local.validate(); err != nil {
		return nil, Negotiated{}, err
	}
	sd, err := parseSDP(offer)
	if err != nil {
		return nil, Negotiated{}, err
	}
	var (
		chosen   = -1
		am       *audioMedia
		codec    Codec
		pt       uint8
		rejected []*sdp.MediaDescription
		badErr   error
	)
	for i, md := range sd.MediaDescriptions {
		if chosen < 0 && md.MediaName.Media == "audio" && md.MediaName.Port.Value != 0 && isRTPAVP(md.MediaName.Protos) {
			a, err := readAudio(sd, md)
			if err != nil {
				badErr = err
			} else if c, p, ok := pickCodec(a, &local, prefer); ok {
				chosen, am, codec, pt = i, a, c, p
				continue
			}
		}
		rejected = append(rejected, &sdp.MediaDescription{MediaName: sdp.MediaName{
			Media: md.MediaName.Media, Port: sdp.RangedPort{Value: 0},
			Protos: md.MediaName.Protos, Formats: md.MediaName.Formats,
		}})
	}
	if chosen < 0 {
		if badErr != nil {
			return nil, Negotiated{}, badErr
		}
		return nil, Negotiated{}, fmt.Errorf("%w: offer has no RTP/AVP audio stream with %s", ErrNoCommonCodec, codecList(local.Codecs))
	}
	dtmf := -1
	if local.DTMF {
		if d := am.telephoneEvent(); d >= 0 && d != int(pt) {
			dtmf = d
		}
	}
	dir := directionOf(local.Direction.Sends() && am.dir.Receives(), local.Direction.Receives() && am.dir.Sends())
	name := codec.Name()
	if e, ok := am.rtpmap[pt]; ok {
		name = e.name // echo the offerer's spelling
	}
	b, err := buildSDP(&local, []uint8{pt}, []string{name}, dtmf, dir, rejected, chosen)
	if err != nil {
		return nil, Negotiated{}, err
	}
	return b, am.negotiated(codec, pt, dtmf, dir), nil
}

func (a *audioMedia) negotiated(c Codec, pt uint8, dtmf int, local Direction) Negotiated {
	return Negotiated{
		Codec: c, PayloadType: pt, DTMFPT: dtmf, PTime: a.ptime,
		Remote: a.remote, RemoteRTCP: a.rtcp,
		RemoteDirection: a.dir, LocalDirection: local,
		OnHold: a.nullAddr || a.dir == SendOnly || a.dir == Inactive,
	}
}

// pickCodec returns prefer if the offer has it, else the first offered codec we support.
func pickCodec(a *audioMedia, local *SDPConfig, prefer Codec) (Codec, uint8, bool) {
	var (
		first   Codec
		firstPT uint8
	)
	for _, pt := range a.formats {
		c, ok := a.codecOf(pt)
		if !ok || !local.supports(c) {
			continue
		}
		if c == prefer {
			return c, pt, true
		}
		if first == CodecNone {
			first, firstPT = c, pt
		}
	}
	return first, firstPT, first != CodecNone
}

func codecList(cs []Codec) string {
	var names []string
	for _, c := range cs {
		names = append(names, c.Name())
	}
	return strings.Join(names, "/")
}

// ParseAnswer reads the peer's answer to our offer (made from local). The answer's first
// accepted audio m-line must carry a codec from local.Codecs; a refused stream (port 0)
// or an unknown codec is ErrNoCommonCodec.
func ParseAnswer(answer []byte, local SDPConfig) (Negotiated, error) {
	sd, err := parseSDP(answer)
	if err != nil {
		return Negotiated{}, err
	}
	refused := ""
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		if md.MediaName.Port.Value == 0 {
			refused = "the peer refused the audio stream"
			continue
		}
		if !isRTPAVP(md.MediaName.Protos) {
			refused = "answer uses profile " + strings.Join(md.MediaName.Protos, "/")
			continue
		}
		a, err := readAudio(sd, md)
		if err != nil {
			return Negotiated{}, err
		}
		c, pt, ok := pickCodec(a, &local, CodecNone)
		if !ok {
			return Negotiated{}, fmt.Errorf("%w: answer has none of %s", ErrNoCommonCodec, codecList(local.Codecs))
		}
		dtmf := -1
		if local.DTMF {
			if d := a.telephoneEvent(); d >= 0 && d != int(pt) {
				dtmf = d
			}
		}
		return a.negotiated(c, pt, dtmf, local.Direction), nil
	}
	if refused != "" {
		return Negotiated{}, fmt.Errorf("%w: %s", ErrNoCommonCodec, refused)
	}
	return Negotiated{}, fmt.Errorf("%w: answer has no audio stream", ErrNoCommonCodec)
}

// Negotiator keeps our side of one leg's SDP across offers and answers: the o= session id
// stays fixed and the version goes up by one exactly when our description changes (RFC
// 3264 §8), and a re-offer keeps the codec already in use when the peer still offers it.
// It is safe for concurrent use.
type Negotiator struct {
	mu       sync.Mutex
	cfg      SDPConfig
	lastBody []byte // last SDP we produced, o= line blanked
	sent     bool
	codec    Codec // codec in use, preferred on re-offers
}

// NewNegotiator starts with cfg; a zero SessionID is replaced by a random one.
func NewNegotiator(cfg SDPConfig) *Negotiator {
	if cfg.SessionID == 0 {
		cfg.SessionID = rand.Uint64N(1<<62) + 1
	}
	if cfg.Version == 0 {
		cfg.Version = cfg.SessionID
	}
	return &Negotiator{cfg: cfg}
}

// Config returns the current configuration (with the current o= version).
func (n *Negotiator) Config() SDPConfig {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg
}

// SetDirection changes the direction for the next offer or answer (SendOnly = hold).
func (n *Negotiator) SetDirection(d Direction) {
	n.mu.Lock()
	n.cfg.Direction = d
	n.mu.Unlock()
}

// Offer builds an offer (initial or re-offer).
func (n *Negotiator) Offer() ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	cfg := n.cfg
	if n.codec != CodecNone { // keep the codec in use first
		cfg.Codecs = append([]Codec{n.codec}, without(cfg.Codecs, n.codec)...)
	}
	return n.produce(func(c SDPConfig) ([]byte, error) { return Offer(c) }, cfg)
}

// Answer answers an offer (initial or re-offer).
func (n *Negotiator) Answer(offer []byte) ([]byte, Negotiated, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var neg Negotiated
	b, err := n.produce(func(c SDPConfig) ([]byte, error) {
		b, ng, err := answer(offer, c, n.codec)
		neg = ng
		return b, err
	}, n.cfg)
	if err != nil {
		return nil, Negotiated{}, err
	}
	n.codec = neg.Codec
	return b, neg, nil
}

// ParseAnswer reads the answer to our last offer.
func (n *Negotiator) ParseAnswer(answer []byte) (Negotiated, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	neg, err := ParseAnswer(answer, n.cfg)
	if err == nil {
		n.codec = neg.Codec
	}
	return neg, err
}

// produce builds with the current version and bumps it if the body changed since the
// last description we produced.
func (n *Negotiator) produce(build func(SDPConfig) ([]byte, error), cfg SDPConfig) ([]byte, error) {
	cfg.Version = n.cfg.Version
	b, err := build(cfg)
	if err != nil {
		return nil, err
	}
	body := blankOrigin(b)
	if n.sent && !bytes.Equal(body, n.lastBody) {
		n.cfg.Version++
		cfg.Version = n.cfg.Version
		if b, err = build(cfg); err != nil {
			return nil, err
		}
	}
	n.sent, n.lastBody = true, body
	return b, nil
}

func blankOrigin(b []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("o=")) {
			continue
		}
		out = append(out, line...)
	}
	return out
}

func without(cs []Codec, c Codec) []Codec {
	var out []Codec
	for _, x := range cs {
		if x != c {
			out = append(out, x)
		}
	}
	return out
}
