package sip

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/careline/careline/internal/logx"
)

// Config is the sip package's part of careline's configuration.
type Config struct {
	// UDP and TCP are listen addresses ("0.0.0.0:5060", "127.0.0.1:0").
	// Port 0 picks a free port; Server.Addr reports the bound address.
	// TLS listeners come with a later issue (the listener set is a list per
	// transport so a TLS entry slots in beside these).
	UDP []string
	TCP []string

	// PublicHost is the host written in Via and Contact. Default: the IP of
	// the first listener; required when listening on an unspecified address.
	PublicHost string
	// UserAgent is the User-Agent/Server header value (default "careline").
	UserAgent string
	// Realm is the digest realm (default PublicHost).
	Realm string
	// NonceSecret keys the stateless HMAC nonces; nodes sharing it verify
	// each other's nonces. Empty: random per process.
	NonceSecret []byte
	// NonceTTL is how long a nonce stays fresh (default 60 s).
	NonceTTL time.Duration
	// Algorithms are the digest challenge algorithms, most preferred first
	// (default SHA-256 then MD5, RFC 8760).
	Algorithms []Algorithm
	// MD5OnlyUserAgents are User-Agent prefixes (case-insensitive) that get
	// an MD5-only challenge. Some stacks answer only the first
	// WWW-Authenticate and fail when it is SHA-256: measured here, baresip
	// 1.0 (libre fails the REGISTER with ENOSYS) and sipsak 0.9.8
	// ("unsupported authentication algorithm"). The choice depends on the
	// User-Agent only, never on the user, so challenges still reveal
	// nothing about which users exist. nil means the default list
	// (baresip v0/v1, sipsak); an empty non-nil slice disables it. Ignored
	// when Algorithms excludes MD5.
	MD5OnlyUserAgents []string

	// Registrar expiry bounds (defaults 60 s, 3600 s, 7200 s).
	MinExpires     time.Duration
	DefaultExpires time.Duration
	MaxExpires     time.Duration

	// MinSE is the smallest session interval accepted (RFC 4028; default 90 s).
	MinSE time.Duration
	// MaxRingTime bounds how long an inbound INVITE may stay unanswered
	// before careline answers 480 itself (default 3 min): an INVITE server
	// transaction has no timer of its own.
	MaxRingTime time.Duration
	// TCPReadTimeout closes an idle accepted TCP connection (default 10 min;
	// keep it above the phones' keep-alive interval). TCPWriteTimeout bounds
	// a blocked write (default 10 s).
	TCPReadTimeout  time.Duration
	TCPWriteTimeout time.Duration
	// DrainRetryAfter is the Retry-After sent with 503 while draining
	// (default 30 s).
	DrainRetryAfter time.Duration
	// StatelessRepliesPerSecond caps stateless 4xx/5xx replies to malformed
	// UDP datagrams (default 100/s, burst 2×).
	StatelessRepliesPerSecond float64

	// Trunks are the SIP trunks allowed to send calls (by source prefix) and
	// used for outbound Dial.
	Trunks []Trunk
}

// Trunk describes a SIP trunk.
type Trunk struct {
	Name string
	// Addr is where outbound INVITEs go (host:port). Transport is "udp"
	// (default) or "tcp".
	Addr      string
	Transport string
	// Sources are the prefixes inbound INVITEs from this trunk come from.
	Sources []netip.Prefix
	// InboundUser, when set, makes inbound INVITEs from this trunk also
	// pass digest authentication as that user (Credentials lookup).
	InboundUser string
	// Username/Password answer the trunk's 401/407 challenges on Dial.
	Username string
	Password string
	// LocalAddr is the local ip:port outbound requests to this trunk leave
	// from (a trunk that allow-lists our signalling port). Default: our UDP
	// listener.
	LocalAddr string
	// FromHost is the host written in our From URI (default PublicHost).
	FromHost string
}

func (c Config) withDefaults() Config {
	if c.UserAgent == "" {
		c.UserAgent = "careline"
	}
	if c.NonceTTL <= 0 {
		c.NonceTTL = 60 * time.Second
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []Algorithm{SHA256, MD5}
	}
	if c.MD5OnlyUserAgents == nil {
		c.MD5OnlyUserAgents = []string{"baresip v0.", "baresip v1.", "sipsak"}
	}
	if c.MinExpires <= 0 {
		c.MinExpires = 60 * time.Second
	}
	if c.DefaultExpires <= 0 {
		c.DefaultExpires = 3600 * time.Second
	}
	if c.MaxExpires <= 0 {
		c.MaxExpires = 7200 * time.Second
	}
	if c.MinSE <= 0 {
		c.MinSE = 90 * time.Second
	}
	if c.MaxRingTime <= 0 {
		c.MaxRingTime = 3 * time.Minute
	}
	if c.TCPReadTimeout <= 0 {
		c.TCPReadTimeout = 10 * time.Minute
	}
	if c.TCPWriteTimeout <= 0 {
		c.TCPWriteTimeout = 10 * time.Second
	}
	if c.DrainRetryAfter <= 0 {
		c.DrainRetryAfter = 30 * time.Second
	}
	if c.StatelessRepliesPerSecond <= 0 {
		c.StatelessRepliesPerSecond = 100
	}
	return c
}

func (c Config) validate() error {
	if len(c.UDP) == 0 && len(c.TCP) == 0 {
		return fmt.Errorf("sip: no UDP or TCP listen address configured")
	}
	if c.DefaultExpires < c.MinExpires || c.MaxExpires < c.DefaultExpires {
		return fmt.Errorf("sip: expires bounds must satisfy min <= default <= max")
	}
	seen := map[string]bool{}
	for _, t := range c.Trunks {
		if t.Name == "" {
			return fmt.Errorf("sip: trunk without name")
		}
		if seen[t.Name] {
			return fmt.Errorf("sip: duplicate trunk %q", t.Name)
		}
		seen[t.Name] = true
		switch strings.ToLower(t.Transport) {
		case "", "udp", "tcp":
		default:
			return fmt.Errorf("sip: trunk %q: unsupported transport %q", t.Name, t.Transport)
		}
	}
	return nil
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger (default: discard). Raw SIP is never logged at
// info; sipgo's own logging goes through a redacting, rate-limited wrapper.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) {
		if l != nil {
			s.log = l
		}
	}
}

// WithMetrics sets the metrics (default: unregistered collectors).
func WithMetrics(m *Metrics) Option { return func(s *Server) { s.metrics = m } }

// WithHandler sets the policy that receives inbound calls.
func WithHandler(h Handler) Option { return func(s *Server) { s.handler = h } }

// WithCredentials sets the digest credential store for registered users
// (and trunks with InboundUser).
func WithCredentials(c Credentials) Option { return func(s *Server) { s.creds = c } }

// WithBindingStore sets the registrar's binding store (default: memory).
func WithBindingStore(b BindingStore) Option { return func(s *Server) { s.bindings = b } }

// WithClock injects the clock used by the registrar and nonces.
func WithClock(now func() time.Time) Option {
	return func(s *Server) {
		if now != nil {
			s.now = now
		}
	}
}

// WithTrace enables a debug-level trace of every SIP request and response
// with numbers and names masked (logx.MaskURI). Off by default.
func WithTrace(on bool) Option { return func(s *Server) { s.trace = on } }

var discardLogger = logx.Discard()

// withT1 shortens the leg's own 2xx retransmission and ACK-wait timers
// (T1, T2 = 8*T1); tests use it so 64*T1 passes quickly. sipgo's
// transaction timers are package globals and stay untouched.
func withT1(d time.Duration) Option {
	return func(s *Server) {
		s.t1, s.t2 = d, 8*d
	}
}
