package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"golang.org/x/time/rate"

	"github.com/careline/careline/internal/logx"
)

// ErrServerClosed is returned by Dial and Run once the server has stopped.
var ErrServerClosed = errors.New("sip: server closed")

// Server owns careline's sipgo UserAgent (one UA shared by the server and
// client sides, so responses and in-dialog requests use the same sockets),
// its listeners, the registrar, the call legs and outbound Dial.
type Server struct {
	cfg      Config
	log      *slog.Logger
	sipLog   *slog.Logger // redacting, rate-limited; handed to sipgo
	metrics  *Metrics
	handler  Handler
	creds    Credentials
	bindings BindingStore
	auth     *Authenticator
	now      func() time.Time
	trace    bool
	t1, t2   time.Duration // our own 2xx retransmission / ACK wait timers

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	txl *sipmsg.TransactionLayer
	tpl *sipmsg.TransportLayer

	replyLimiter *rate.Limiter

	mu        sync.Mutex
	listeners []boundListener
	udpConns  map[string]*net.UDPConn // local addr -> listener, for stateless replies
	legs      map[string]*Leg
	draining  bool
	running   bool
	closed    bool
	legsGone  chan struct{} // signalled (non-blocking) whenever a leg is removed
	ready     chan struct{}
	stopped   chan struct{}
	runCancel context.CancelFunc

	baseCtx    context.Context // parent of every leg's context
	baseCancel context.CancelFunc
	wg         sync.WaitGroup // leg and handler goroutines
}

type boundListener struct {
	network string // "udp" or "tcp"
	addr    netip.AddrPort
	closer  interface{ Close() error }
	udp     *net.UDPConn
	tcp     net.Listener
}

// New builds a Server from cfg. It binds nothing until Run.
func New(cfg Config, opts ...Option) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      discardLogger,
		now:      time.Now,
		t1:       sipmsg.T1,
		t2:       sipmsg.T2,
		udpConns: make(map[string]*net.UDPConn),
		legs:     make(map[string]*Leg),
		legsGone: make(chan struct{}, 1),
		ready:    make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	if s.metrics == nil {
		s.metrics = NewMetrics(nil)
	}
	if s.bindings == nil {
		s.bindings = NewMemoryBindingStore(s.now)
	}
	s.baseCtx, s.baseCancel = context.WithCancel(context.Background())
	s.replyLimiter = rate.NewLimiter(rate.Limit(cfg.StatelessRepliesPerSecond), int(2*cfg.StatelessRepliesPerSecond)+1)
	s.sipLog = slog.New(NewRedactingHandler(s.log.Handler(), 20, func() { s.metrics.logDropped.Inc() }))

	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentTransportLayerOptions(
			// The read filter must be set before any TransportsConfig so
			// every transport gets it.
			sipmsg.WithTransportLayerReadFilter(s.readFilter),
			sipmsg.WithTransportLayerLogger(s.sipLog),
		),
		sipgo.WithUserAgentTransactionLayerOptions(
			sipmsg.WithTransactionLayerLogger(s.sipLog),
			sipmsg.WithTransactionLayerUnhandledResponseHandler(s.onStrayResponse),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(s.sipLog))
	if err != nil {
		_ = ua.Close()
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	for m := range knownMethods {
		srv.OnRequest(sipmsg.RequestMethod(m), s.serve)
	}
	srv.OnNoRoute(s.serve)
	s.ua, s.srv = ua, srv
	s.txl, s.tpl = ua.TransactionLayer(), ua.TransportLayer()
	return s, nil
}

// Ready is closed once every listener is bound (Addr then answers).
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the bound address of the first listener of network ("udp"
// or "tcp"); it is valid after Ready.
func (s *Server) Addr(network string) (netip.AddrPort, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		if l.network == strings.ToLower(network) {
			return l.addr, true
		}
	}
	return netip.AddrPort{}, false
}

// Run binds the configured listeners and serves until ctx is cancelled or
// Shutdown completes. Cancelling ctx is a hard stop: live legs get a BYE
// (best effort, bounded) and end with EndShutdown.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running || s.closed {
		s.mu.Unlock()
		return errors.New("sip: Run called twice")
	}
	s.running = true
	runCtx, cancel := context.WithCancel(ctx)
	s.runCancel = cancel
	s.mu.Unlock()
	defer cancel()
	defer close(s.stopped)

	if err := s.bind(); err != nil {
		s.closeListeners()
		s.shutdownUA()
		return err
	}
	// Register the UDP listeners in sipgo's connection pool before serving,
	// so a Dial right after Ready already sends from the listening port
	// (ServeUDP registers them too, asynchronously).
	for _, l := range s.listeners {
		if l.udp != nil {
			la := l.udp.LocalAddr().String()
			s.tpl.Pool("udp").Add(la, &sipmsg.UDPConnection{PacketConn: l.udp, PacketAddr: la, Listener: true})
		}
	}
	close(s.ready)
	errc := make(chan error, len(s.listeners))
	for _, l := range s.listeners {
		go func() {
			var err error
			if l.udp != nil {
				err = s.srv.ServeUDP(l.udp)
			} else {
				err = s.srv.ServeTCP(l.tcp)
			}
			errc <- err
		}()
	}
	s.log.Info("sip listening", "listeners", len(s.listeners))
	go s.gaugeLoop(runCtx)

	var runErr error
	select {
	case <-runCtx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			runErr = fmt.Errorf("sip: listener stopped: %w", err)
		}
	}
	s.hangupAll(EndShutdown, 2*time.Second)
	s.closeListeners()
	s.baseCancel()
	waitGroupTimeout(&s.wg, 5*time.Second)
	s.shutdownUA()
	return runErr
}

// gaugeLoop keeps the registrations gauge current as bindings expire.
func (s *Server) gaugeLoop(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			s.updateRegistrationsGauge(c)
			cancel()
		}
	}
}

func (s *Server) bind() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.cfg.UDP {
		laddr, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			return fmt.Errorf("sip: udp listen address %q: %w", a, err)
		}
		conn, err := net.ListenUDP("udp", laddr)
		if err != nil {
			return fmt.Errorf("sip: listen udp: %w", err)
		}
		ap := conn.LocalAddr().(*net.UDPAddr).AddrPort()
		s.listeners = append(s.listeners, boundListener{network: "udp", addr: unmapAddrPort(ap), closer: conn, udp: conn})
		s.udpConns[conn.LocalAddr().String()] = conn
	}
	for _, a := range s.cfg.TCP {
		laddr, err := net.ResolveTCPAddr("tcp", a)
		if err != nil {
			return fmt.Errorf("sip: tcp listen address %q: %w", a, err)
		}
		ln, err := net.ListenTCP("tcp", laddr)
		if err != nil {
			return fmt.Errorf("sip: listen tcp: %w", err)
		}
		ap := ln.Addr().(*net.TCPAddr).AddrPort()
		dl := &deadlineListener{Listener: ln, read: s.cfg.TCPReadTimeout, write: s.cfg.TCPWriteTimeout}
		s.listeners = append(s.listeners, boundListener{network: "tcp", addr: unmapAddrPort(ap), closer: ln, tcp: dl})
	}
	if s.cfg.PublicHost == "" {
		ip := s.listeners[0].addr.Addr()
		if ip.IsUnspecified() {
			return errors.New("sip: PublicHost is required when listening on an unspecified address")
		}
		s.cfg.PublicHost = ip.String()
	}
	if s.cfg.Realm == "" {
		s.cfg.Realm = s.cfg.PublicHost
	}
	s.auth = NewAuthenticator(s.cfg.Realm, s.cfg.NonceSecret, s.creds,
		WithNonceTTL(s.cfg.NonceTTL), WithAlgorithms(s.cfg.Algorithms...), WithAuthClock(s.now))
	return nil
}

func unmapAddrPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	ls := s.listeners
	s.mu.Unlock()
	for _, l := range ls {
		_ = l.closer.Close()
	}
}

func (s *Server) shutdownUA() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	_ = s.ua.Close()
}

// Shutdown drains the server: new INVITEs get 503 with Retry-After, live
// legs continue until they end or ctx expires; then remaining legs are hung
// up and the listeners close. It returns when Run has returned, or ctx's
// error if the drain deadline passed with legs still up.
func (s *Server) Shutdown(ctx context.Context) error {
	s.StopAccepting()
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	var err error
	for {
		s.mu.Lock()
		n := len(s.legs)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-s.legsGone:
			continue
		case <-ctx.Done():
			err = ctx.Err()
		}
		break
	}
	s.hangupAll(EndShutdown, 2*time.Second)
	s.mu.Lock()
	cancel := s.runCancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if running {
		<-s.stopped
	} else {
		s.baseCancel()
		s.shutdownUA()
	}
	return err
}

// StopAccepting starts draining without waiting: from now on new INVITEs
// get 503 with Retry-After and Dial fails; live legs are untouched.
// Shutdown calls it first.
func (s *Server) StopAccepting() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
}

// Draining reports whether the server stopped accepting calls.
func (s *Server) Draining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// ActiveLegs returns the number of live legs.
func (s *Server) ActiveLegs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.legs)
}

// Bindings returns the current registrar bindings of a user (AOR user part),
// most recent first.
func (s *Server) Bindings(ctx context.Context, user string) ([]Binding, error) {
	return s.bindings.List(ctx, user)
}

func (s *Server) hangupAll(cause EndCause, wait time.Duration) {
	s.mu.Lock()
	legs := make([]*Leg, 0, len(s.legs))
	for _, l := range s.legs {
		legs = append(legs, l)
	}
	s.mu.Unlock()
	if len(legs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range legs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = l.terminateWith(ctx, EndReason{Cause: cause, Code: 503, Detail: "shutdown"})
		}()
	}
	wg.Wait()
}

func waitGroupTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// legKey identifies a dialog from our side.
func legKey(callID, localTag, remoteTag string) string {
	return callID + "\x00" + localTag + "\x00" + remoteTag
}

func (s *Server) addLeg(l *Leg) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.legs[l.key] = l
	s.metrics.legsActive.WithLabelValues(l.dir.String()).Inc()
	return true
}

func (s *Server) removeLeg(l *Leg) {
	s.mu.Lock()
	if cur, ok := s.legs[l.key]; ok && cur == l {
		delete(s.legs, l.key)
		s.metrics.legsActive.WithLabelValues(l.dir.String()).Dec()
	}
	s.mu.Unlock()
	select {
	case s.legsGone <- struct{}{}:
	default:
	}
}

// findLeg finds the leg an in-dialog request belongs to (To tag = ours).
func (s *Server) findLeg(m sipmsg.Message) *Leg {
	cid, to, from := m.CallID(), m.To(), m.From()
	if cid == nil || to == nil || from == nil {
		return nil
	}
	lt, _ := to.Params.Get("tag")
	rt, _ := from.Params.Get("tag")
	if _, isRes := m.(*sipmsg.Response); isRes {
		lt, rt = rt, lt
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.legs[legKey(cid.Value(), lt, rt)]
}

// listenPort returns our listening port for a transport.
func (s *Server) listenPort(transport string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	nw := "udp"
	if strings.EqualFold(transport, "TCP") {
		nw = "tcp"
	}
	for _, l := range s.listeners {
		if l.network == nw {
			return int(l.addr.Port())
		}
	}
	return 0
}

// udpLaddr returns the address of our first UDP listener (requests leave
// from it, so phones and trunks see one signalling address).
func (s *Server) udpLaddr() (sipmsg.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		if l.udp != nil {
			ua := l.udp.LocalAddr().(*net.UDPAddr)
			return sipmsg.Addr{IP: ua.IP, Port: ua.Port}, true
		}
	}
	return sipmsg.Addr{}, false
}

// contactURI returns our Contact URI for a transport and user.
func (s *Server) contactURI(user, transport string) sipmsg.Uri {
	u := sipmsg.Uri{Scheme: "sip", User: user, Host: s.cfg.PublicHost, Port: s.listenPort(transport)}
	if strings.EqualFold(transport, "TCP") {
		u.UriParams = sipmsg.NewParams()
		u.UriParams.Add("transport", "tcp")
	}
	return u
}

// readFilter is the raw-bytes stage (see preparse.go). It must never return
// an error: sipgo stops reading the socket when the filter fails.
func (s *Server) readFilter(props sipmsg.TransportReadProps, data []byte) (out []byte, err error) {
	if props.Transport != "UDP" {
		return data, nil
	}
	defer func() {
		if p := recover(); p != nil {
			s.metrics.panics.Inc()
			s.log.Error("sip pre-parse panic", "panic", redactString(fmt.Sprint(p)))
			out, err = nil, nil
		}
	}()
	res := preParse(data, nil)
	s.metrics.preparse.WithLabelValues(res.label).Inc()
	switch res.verdict {
	case prePass:
		return res.data, nil
	case preReply:
		s.statelessReply(props, res.reply)
	}
	return nil, nil
}

func (s *Server) statelessReply(props sipmsg.TransportReadProps, reply []byte) {
	if !s.replyLimiter.Allow() {
		s.metrics.preparse.WithLabelValues("ratelimited").Inc()
		return
	}
	if props.LocalAddr == nil || props.RemoteAddr == nil {
		return
	}
	s.mu.Lock()
	conn := s.udpConns[props.LocalAddr.String()]
	s.mu.Unlock()
	if conn == nil {
		return
	}
	_, _ = conn.WriteTo(reply, props.RemoteAddr)
	if s.trace {
		s.log.Debug("sip stateless reply", "status", string(reply[8:min(len(reply), 11)]))
	}
}

// onStrayResponse sees responses matching no client transaction: a 2xx
// retransmission for an INVITE whose transaction is gone still needs our
// ACK (or ACK+BYE when the dialog is unknown to us).
func (s *Server) onStrayResponse(res *sipmsg.Response) {
	defer func() {
		if p := recover(); p != nil {
			s.metrics.panics.Inc()
		}
	}()
	if !res.IsSuccess() || res.CSeq() == nil || res.CSeq().MethodName != sipmsg.INVITE {
		return
	}
	if l := s.findLeg(res); l != nil {
		l.resendAck()
	}
}

// responder answers one server transaction and remembers the final code.
type responder struct {
	s   *Server
	req *sipmsg.Request
	tx  sipmsg.ServerTransaction

	mu    sync.Mutex
	final int
}

func (r *responder) finalCode() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.final
}

func (r *responder) responded() bool { return r.finalCode() != 0 }

// newResponse builds a response to r.req (always SIP/2.0).
func (r *responder) newResponse(code int, reason string, body []byte) *sipmsg.Response {
	res := sipmsg.NewResponseFromRequest(r.req, code, reason, body)
	res.SipVersion = "SIP/2.0"
	res.AppendHeader(sipmsg.NewHeader("Server", r.s.cfg.UserAgent))
	return res
}

func (r *responder) send(res *sipmsg.Response) error {
	if r.req.Method == sipmsg.ACK {
		return nil
	}
	if res.StatusCode >= 200 {
		r.mu.Lock()
		if r.final != 0 {
			r.mu.Unlock()
			return errors.New("sip: final response already sent")
		}
		r.final = res.StatusCode
		r.mu.Unlock()
	}
	r.s.traceOut(res)
	err := r.tx.Respond(res)
	if errors.Is(err, sipmsg.ErrUDPMTUCongestion) {
		// sipgo refuses UDP messages over MTU-200 bytes; a response must go
		// back on the request's transport, so send it anyway (IP fragments).
		err = r.s.writeLargeUDP(res)
	}
	if err != nil {
		if res.StatusCode >= 200 {
			r.mu.Lock()
			if r.final == res.StatusCode {
				r.final = 0 // not sent; a CANCEL's 487 may record itself
			}
			r.mu.Unlock()
		}
		return fmt.Errorf("sip: respond %d: %w", res.StatusCode, err)
	}
	return nil
}

// writeLargeUDP writes a response that exceeds sipgo's UDP size guard
// through our first UDP listener.
func (s *Server) writeLargeUDP(res *sipmsg.Response) error {
	dst, err := net.ResolveUDPAddr("udp", res.Destination())
	if err != nil {
		return err
	}
	s.mu.Lock()
	var conn *net.UDPConn
	for _, l := range s.listeners {
		if l.udp != nil {
			conn = l.udp
			break
		}
	}
	s.mu.Unlock()
	if conn == nil {
		return sipmsg.ErrUDPMTUCongestion
	}
	_, err = conn.WriteTo([]byte(res.String()), dst)
	return err
}

func (r *responder) reply(code int, reason string, hdrs ...sipmsg.Header) error {
	res := r.newResponse(code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	return r.send(res)
}

func (r *responder) rejectWith(rej *Rejection) error {
	return r.reply(rej.Code, rej.Reason, rej.Headers...)
}

// serve is the single entry for every request sipgo hands us.
func (s *Server) serve(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	rw := &responder{s: s, req: req, tx: tx}
	defer func() {
		if p := recover(); p != nil {
			s.metrics.panics.Inc()
			s.log.Error("sip handler panic", "method", methodLabel(string(req.Method)),
				"panic", redactString(fmt.Sprint(p)), "stack", string(debug.Stack()))
			if req.Method != sipmsg.ACK && !rw.responded() {
				_ = rw.reply(500, "Server Internal Error")
			}
		}
		s.metrics.request(string(req.Method), rw.finalCode())
	}()
	s.traceIn(req)
	if rej := Validate(req); rej != nil {
		if req.Method != sipmsg.ACK {
			_ = rw.rejectWith(rej)
		}
		return
	}
	switch req.Method {
	case sipmsg.INVITE:
		if hasToTag(req) {
			s.inDialog(rw)
			return
		}
		s.onInvite(rw)
	case sipmsg.ACK:
		if l := s.findLeg(req); l != nil {
			l.postAck(req)
		}
	case sipmsg.CANCEL:
		// CANCELs matching an INVITE are answered by sipgo's transaction
		// layer (200 + 487); this one matched nothing.
		_ = rw.reply(481, "Call/Transaction Does Not Exist")
	case sipmsg.REGISTER:
		s.onRegister(rw)
	case sipmsg.OPTIONS:
		if hasToTag(req) {
			s.inDialog(rw)
			return
		}
		_ = rw.reply(200, "OK", capabilityHeaders()...)
	default: // BYE, INFO, UPDATE, REFER, NOTIFY
		if !hasToTag(req) {
			_ = rw.reply(481, "Call/Transaction Does Not Exist")
			return
		}
		s.inDialog(rw)
	}
}

func capabilityHeaders() []sipmsg.Header {
	return []sipmsg.Header{
		sipmsg.NewHeader("Allow", allowValue),
		sipmsg.NewHeader("Accept", acceptValue),
		sipmsg.NewHeader("Supported", supportedValue),
	}
}

func hasToTag(m sipmsg.Message) bool {
	if to := m.To(); to != nil {
		_, ok := to.Params.Get("tag")
		return ok
	}
	return false
}

// inDialog hands a request to its leg's mailbox and waits until the leg
// answered it (returning earlier would end the server transaction).
func (s *Server) inDialog(rw *responder) {
	l := s.findLeg(rw.req)
	if l == nil {
		_ = rw.reply(481, "Call/Transaction Does Not Exist")
		return
	}
	done := make(chan struct{})
	if !l.postRequest(inRequest{rw: rw, done: done}) {
		if !rw.responded() {
			_ = rw.reply(503, "Service Unavailable", sipmsg.NewHeader("Retry-After", "1"))
		}
		return
	}
	select {
	case <-done:
	case <-rw.tx.Done():
	case <-l.done:
		// The leg ended with the request still queued.
		select {
		case <-done:
		default:
			if !rw.responded() {
				_ = rw.reply(481, "Call/Transaction Does Not Exist")
			}
		}
	}
}

func (s *Server) traceIn(req *sipmsg.Request) {
	if !s.trace {
		return
	}
	var from, to string
	if h := req.From(); h != nil {
		from = logx.MaskURI(h.Address.String())
	}
	if h := req.To(); h != nil {
		to = logx.MaskURI(h.Address.String())
	}
	s.log.Debug("sip in", "method", methodLabel(string(req.Method)), "ruri", logx.MaskURI(req.Recipient.String()),
		"from", from, "to", to, "src", req.Source(), "transport", req.Transport())
}

func (s *Server) traceOut(res *sipmsg.Response) {
	if !s.trace {
		return
	}
	s.log.Debug("sip out", "status", res.StatusCode, "dst", res.Destination())
}

func (s *Server) traceReq(req *sipmsg.Request) {
	if !s.trace {
		return
	}
	s.log.Debug("sip send", "method", methodLabel(string(req.Method)), "ruri", logx.MaskURI(req.Recipient.String()))
}

func retryAfter(d time.Duration) sipmsg.Header {
	return sipmsg.NewHeader("Retry-After", strconv.Itoa(int(d.Seconds())))
}
