package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/careline/careline/media"
	"github.com/careline/careline/sip"
)

// Errors.
var (
	// ErrUnauthorized means the far end refused our credentials (401/407 after we
	// answered its challenge, or a challenge with no password configured).
	ErrUnauthorized = errors.New("phone: credentials refused")
	// ErrClosed is returned once the phone has been closed.
	ErrClosed = errors.New("phone: closed")
	// ErrCallEnded is returned by Call methods once the call has ended.
	ErrCallEnded = errors.New("phone: call ended")
	// ErrWrongDirection is returned by Answer/Reject on a call we placed.
	ErrWrongDirection = errors.New("phone: only an inbound call can be answered or rejected")
)

// StatusError is a final SIP response that failed a request of ours.
type StatusError struct {
	Method string
	Code   int
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("phone: %s failed: %d %s", e.Method, e.Code, e.Reason)
}

// Is makes errors.Is(err, ErrUnauthorized) true for 401 and 407.
func (e *StatusError) Is(target error) bool {
	return target == ErrUnauthorized && (e.Code == 401 || e.Code == 407)
}

// Config is who the phone is and where it talks.
type Config struct {
	// User is our user part: the AOR we register and the From of our calls
	// (default "phone").
	User string
	// Password answers digest challenges (REGISTER, and INVITEs that are challenged).
	// Never log it.
	Password string
	// AuthUser is the digest username (default User).
	AuthUser string
	// DisplayName goes in our From header.
	DisplayName string
	// Registrar is "host:port" of the registrar (careline's SIP listener). Register
	// needs it; a bare number given to Call ("9999") is called there.
	Registrar string
	// Domain is the host of our AOR and From URI (default the Registrar's host, else
	// ListenIP).
	Domain string
	// ListenIP is the address for SIP and RTP, bound and advertised (default 127.0.0.1).
	ListenIP string
	// ListenPort is the SIP UDP port (0: a free one; see Phone.Addr).
	ListenPort int
}

// Option configures a Phone.
type Option func(*options)

type options struct {
	log          *slog.Logger
	autoAnswer   bool
	rtpMin       int
	rtpMax       int
	portRest     time.Duration
	codecs       []media.Codec
	expires      time.Duration
	userAgent    string
	ringTimeout  time.Duration
	mediaTimeout time.Duration
	incomingBuf  int
}

// WithLogger sets the logger (default: discard). Raw SIP never reaches it and received
// digits are never logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithAutoAnswer answers every inbound call at once (it is then delivered on Incoming
// already answered).
func WithAutoAnswer(on bool) Option { return func(o *options) { o.autoAnswer = on } }

// WithRTPPorts sets the RTP port range (default 40000-44999; ports another process
// holds are skipped).
func WithRTPPorts(min, max int) Option {
	return func(o *options) { o.rtpMin, o.rtpMax = min, max }
}

// WithPortRest sets how long a released RTP port rests before reuse (default 2 s).
func WithPortRest(d time.Duration) Option { return func(o *options) { o.portRest = d } }

// WithCodecs sets the codecs we offer and accept, in preference order (default PCMU,
// PCMA).
func WithCodecs(c ...media.Codec) Option { return func(o *options) { o.codecs = c } }

// WithExpires sets the registration expiry we ask for (default 10 min).
func WithExpires(d time.Duration) Option { return func(o *options) { o.expires = d } }

// WithUserAgent sets the User-Agent header (default "careline-phone").
func WithUserAgent(s string) Option { return func(o *options) { o.userAgent = s } }

// WithRingTimeout sets how long an unanswered inbound call rings before the phone
// answers 480 (default 60 s).
func WithRingTimeout(d time.Duration) Option { return func(o *options) { o.ringTimeout = d } }

// WithMediaTimeout sets after how long without RTP a call reports EventMediaTimeout
// (default 60 s; the phone does not hang up by itself).
func WithMediaTimeout(d time.Duration) Option { return func(o *options) { o.mediaTimeout = d } }

// WithIncomingBuffer sets how many unanswered inbound calls may wait in Incoming
// (default 16); beyond that inbound calls are answered 486 Busy Here.
func WithIncomingBuffer(n int) Option { return func(o *options) { o.incomingBuf = n } }

// Phone is one SIP user agent with its own UDP socket, RTP ports and playout clock.
type Phone struct {
	cfg    Config
	o      options
	log    *slog.Logger
	ip     netip.Addr
	addr   netip.AddrPort
	domain string

	conn  *net.UDPConn
	ua    *sipgo.UserAgent
	srv   *sipgo.Server
	cli   *sipgo.Client
	dua   *sipgo.DialogUA
	ports *media.PortAllocator
	clock *media.Clock

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // playout clock and SIP socket reader

	incoming chan *Call

	mu     sync.Mutex
	calls  map[string]*Call // by Call-ID
	closed bool

	reg registration

	closeOnce sync.Once
	closeErr  error
}

// New binds the phone's SIP socket and starts serving. The phone stops when ctx is
// done or Close is called; Close also hangs up calls and unregisters.
func New(ctx context.Context, cfg Config, opts ...Option) (*Phone, error) {
	o := options{
		log: slog.New(slog.DiscardHandler), rtpMin: 40000, rtpMax: 44999, portRest: 2 * time.Second,
		codecs: []media.Codec{media.PCMU, media.PCMA}, expires: 10 * time.Minute, userAgent: "careline-phone",
		ringTimeout: 60 * time.Second, mediaTimeout: 60 * time.Second, incomingBuf: 16,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if cfg.User == "" {
		cfg.User = "phone"
	}
	if cfg.AuthUser == "" {
		cfg.AuthUser = cfg.User
	}
	if cfg.ListenIP == "" {
		cfg.ListenIP = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(cfg.ListenIP)
	if err != nil || ip.IsUnspecified() {
		return nil, fmt.Errorf("phone: ListenIP must be a concrete IP address, got %q", cfg.ListenIP)
	}
	ip = ip.Unmap()
	p := &Phone{cfg: cfg, o: o, log: o.log, ip: ip, calls: make(map[string]*Call),
		incoming: make(chan *Call, max(o.incomingBuf, 1))}
	p.domain = cfg.Domain
	if p.domain == "" && cfg.Registrar != "" {
		if h, _, err := net.SplitHostPort(cfg.Registrar); err == nil {
			p.domain = h
		}
	}
	if p.domain == "" {
		p.domain = ip.String()
	}
	p.reg.callID = uuid.NewString()
	p.reg.tag = sipmsg.GenerateTagN(16)

	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(cfg.ListenPort))))
	if err != nil {
		return nil, fmt.Errorf("phone: listen udp: %w", err)
	}
	p.conn = conn
	p.addr = netip.AddrPortFrom(ip, conn.LocalAddr().(*net.UDPAddr).AddrPort().Port())

	p.ports, err = media.NewPortAllocator(ip, o.rtpMin, o.rtpMax, media.WithRest(o.portRest), media.WithLogger(p.log))
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("phone: rtp ports: %w", err)
	}
	sipLog := slog.New(sip.NewRedactingHandler(p.log.Handler(), 20, nil))
	p.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent(o.userAgent),
		sipgo.WithUserAgentHostname(ip.String()),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(sipLog)),
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(sipLog)),
	)
	if err != nil {
		_ = conn.Close()
		p.ports.Close()
		return nil, fmt.Errorf("phone: user agent: %w", err)
	}
	p.srv, err = sipgo.NewServer(p.ua, sipgo.WithServerLogger(sipLog))
	if err == nil {
		p.cli, err = sipgo.NewClient(p.ua, sipgo.WithClientLogger(sipLog), sipgo.WithClientHostname(ip.String()),
			sipgo.WithClientPort(int(p.addr.Port())), sipgo.WithClientConnectionAddr(p.addr.String()))
	}
	if err != nil {
		_ = p.ua.Close()
		_ = conn.Close()
		p.ports.Close()
		return nil, fmt.Errorf("phone: sipgo: %w", err)
	}
	p.dua = &sipgo.DialogUA{Client: p.cli, ContactHDR: sipmsg.ContactHeader{Address: p.contactURI()}}
	p.srv.OnInvite(p.guard(p.onInvite))
	p.srv.OnAck(p.guard(p.onAck))
	p.srv.OnBye(p.guard(p.onBye))
	p.srv.OnCancel(p.guard(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		// CANCELs matching an INVITE are answered by sipgo's transaction layer.
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
	}))
	p.srv.OnOptions(p.guard(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		res := sipmsg.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sipmsg.NewHeader("Allow", allowValue))
		res.AppendHeader(sipmsg.NewHeader("Accept", "application/sdp"))
		_ = tx.Respond(res)
	}))
	p.srv.OnInfo(p.guard(p.onInfo))
	p.srv.OnNoRoute(p.guard(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		if req.Method != sipmsg.ACK {
			res := sipmsg.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
			res.AppendHeader(sipmsg.NewHeader("Allow", allowValue))
			_ = tx.Respond(res)
		}
	}))

	// Register the socket in sipgo's pool before serving, so requests of ours leave
	// from the listening port at once (a registrar's binding then points back here).
	la := conn.LocalAddr().String()
	p.ua.TransportLayer().Pool("udp").Add(la, &sipmsg.UDPConnection{PacketConn: conn, PacketAddr: la, Listener: true})

	p.ctx, p.cancel = context.WithCancel(ctx)
	p.clock = media.NewClock(media.WithLogger(p.log))
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		_ = p.clock.Run(p.ctx)
	}()
	go func() {
		defer p.wg.Done()
		if err := p.srv.ServeUDP(conn); err != nil && !errors.Is(err, net.ErrClosed) && p.ctx.Err() == nil {
			p.log.Warn("phone: sip socket stopped", "err", err)
		}
	}()
	go func() {
		<-p.ctx.Done()
		_ = p.Close()
	}()
	p.log.Info("phone ready", "sip", p.addr.String(), "user", cfg.User)
	return p, nil
}

const allowValue = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"

// Addr is the bound SIP UDP address.
func (p *Phone) Addr() netip.AddrPort { return p.addr }

// URI is the phone's contact URI (sip:user@ip:port): another phone calls it there.
func (p *Phone) URI() string {
	u := p.contactURI()
	return u.String()
}

func (p *Phone) contactURI() sipmsg.Uri {
	return sipmsg.Uri{Scheme: "sip", User: p.cfg.User, Host: p.ip.String(), Port: int(p.addr.Port())}
}

// Incoming delivers inbound calls. Without WithAutoAnswer they ring until Answer,
// Reject or the ring timeout; with it they arrive answered. It is never closed.
func (p *Phone) Incoming() <-chan *Call { return p.incoming }

// ActiveCalls is the number of calls not yet ended.
func (p *Phone) ActiveCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// Close hangs up every call, removes the registration, and stops the phone. It waits
// at most a few seconds for the far ends.
func (p *Phone) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		calls := make([]*Call, 0, len(p.calls))
		for _, c := range p.calls {
			calls = append(calls, c)
		}
		p.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, c := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.Hangup(ctx)
			}()
		}
		wg.Wait()
		p.stopRefresh()
		if p.Registered() {
			if err := p.Unregister(ctx); err != nil {
				p.log.Warn("phone: unregister on close failed", "err", err)
			}
		}
		p.cancel()
		_ = p.conn.Close()
		_ = p.ua.Close()
		p.wg.Wait()
		p.ports.Close()
	})
	return p.closeErr
}

// guard runs a sipgo handler under recover: a bug in the phone fails one request, not
// the process.
func (p *Phone) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				p.log.Error("phone: handler panic", "method", string(req.Method), "panic", fmt.Sprint(r))
			}
		}()
		h(req, tx)
	}
}

func respond(tx sipmsg.ServerTransaction, req *sipmsg.Request, code int, reason string, hdrs ...sipmsg.Header) {
	res := sipmsg.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

func (p *Phone) addCall(c *Call) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.calls[c.id] = c
	return nil
}

func (p *Phone) removeCall(c *Call) {
	p.mu.Lock()
	if p.calls[c.id] == c {
		delete(p.calls, c.id)
	}
	p.mu.Unlock()
}

func (p *Phone) callByID(m sipmsg.Message) *Call {
	cid := m.CallID()
	if cid == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[cid.Value()]
}

func (p *Phone) sdpConfig(port int) media.SDPConfig {
	return media.SDPConfig{Addr: p.ip, Port: port, Codecs: p.o.codecs, DTMF: true, PTime: media.FrameDuration,
		Direction: media.SendRecv, Username: "careline-phone"}
}

func (p *Phone) mediaOptions() []media.Option {
	return []media.Option{media.WithLogger(p.log), media.WithTimeout(p.o.mediaTimeout), media.WithInbandDTMF(true),
		media.WithDTMFBuffer(64)}
}

// resolveTarget turns what a person typed into a Request-URI and a next hop: "9999"
// (a number at the registrar), "user@host:port", or a full sip: URI.
func (p *Phone) resolveTarget(target string) (sipmsg.Uri, string, error) {
	target = strings.TrimSpace(target)
	var u sipmsg.Uri
	switch {
	case target == "":
		return u, "", errors.New("phone: empty call target")
	case strings.HasPrefix(target, "sip:") || strings.HasPrefix(target, "sips:"):
		if err := sipmsg.ParseUri(target, &u); err != nil {
			return u, "", fmt.Errorf("phone: call target: %w", err)
		}
	case strings.Contains(target, "@"):
		if err := sipmsg.ParseUri("sip:"+target, &u); err != nil {
			return u, "", fmt.Errorf("phone: call target: %w", err)
		}
	default:
		if p.cfg.Registrar == "" {
			return u, "", errors.New("phone: calling a bare number needs Config.Registrar")
		}
		h, ps, err := net.SplitHostPort(p.cfg.Registrar)
		if err != nil {
			return u, "", fmt.Errorf("phone: registrar: %w", err)
		}
		port, _ := strconv.Atoi(ps)
		u = sipmsg.Uri{Scheme: "sip", User: sip.SanitizeURIUser(target), Host: h, Port: port}
		return u, p.cfg.Registrar, nil
	}
	u.Headers = nil
	return u, "", nil
}
