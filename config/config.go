// Package config reads careline's single YAML configuration file strictly, resolves
// secret references, and reports every problem with file:line and what to change.
package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/careline/careline/calendar"
)

// Config is the whole configuration file.
type Config struct {
	Version int                `yaml:"version"`
	Site    Site               `yaml:"site"`
	Log     Log                `yaml:"log"`
	HTTP    HTTP               `yaml:"http"`
	Store   Store              `yaml:"store"`
	Redis   Redis              `yaml:"redis"`
	SIP     SIP                `yaml:"sip"`
	Media   Media              `yaml:"media"`
	Prompts Prompts            `yaml:"prompts"`
	Trunks  map[string]*Trunk  `yaml:"trunks"`
	Numbers map[string]*Number `yaml:"numbers"`
	Agents  map[string]*Agent  `yaml:"agents"`
	// Schedules are business hours by name (ivr branch_hours, queues, dialer windows);
	// timezone defaults to site.timezone.
	Schedules map[string]*calendar.Spec `yaml:"schedules"`
	// Flows are IVR graphs by name (see flows.go; checked by ivr.Validate).
	Flows   map[string]*Flow  `yaml:"flows"`
	Skills  map[string]*Skill `yaml:"skills"`
	Routing Routing           `yaml:"routing"`
	Queues  map[string]*Queue `yaml:"queues"`

	Recordings *Recordings      `yaml:"recordings"` // nil: recording is off
	Users      map[string]*User `yaml:"users"`      // HTTP API users (hashed tokens)
	// Dialer holds compliance settings shared by all campaigns; Campaigns are the
	// outbound campaigns by name (campaigns.go).
	Dialer    Dialer               `yaml:"dialer"`
	Campaigns map[string]*Campaign `yaml:"campaigns"`
	Webhooks  *Webhooks            `yaml:"webhooks"` // nil: no webhooks (webhooks.go)

	file string
	pos  map[string]Pos
}

// Site describes the pharmacy or clinic.
type Site struct {
	Name      string   `yaml:"name"`
	Timezone  string   `yaml:"timezone"`  // IANA zone, default for schedules
	Languages []string `yaml:"languages"` // first is the default language
}

// Log configures logging.
type Log struct {
	Level string `yaml:"level"` // debug, info, warn, error
}

// HTTP configures the metrics/health/API listener.
type HTTP struct {
	Listen string `yaml:"listen"`
}

// Store configures the interaction log.
type Store struct {
	DatabaseURL    Ref           `yaml:"database_url"`
	OutboxDir      string        `yaml:"outbox_dir"`
	FsyncInterval  time.Duration `yaml:"fsync_interval"`
	FsyncBatch     int           `yaml:"fsync_batch"`
	SegmentSize    Size          `yaml:"segment_size"`
	MaxOutboxBytes Size          `yaml:"max_outbox_bytes"`
	ShipBatch      int           `yaml:"ship_batch"`
}

// Redis configures shared state; an empty URL means single-node, in-memory state.
type Redis struct {
	URL Ref `yaml:"url"`
	// Prefix starts every key careline writes (default "careline:"); nodes of one site
	// share it, different sites on one Redis must not.
	Prefix string `yaml:"prefix"`
}

// SIP configures signaling.
type SIP struct {
	Listen         []Listener    `yaml:"listen"`
	Realm          string        `yaml:"realm"`
	ExternalHost   string        `yaml:"external_host"` // host advertised in Contact; default: listen IP
	NonceSecret    Secret        `yaml:"nonce_secret"`  // shared by all nodes; random per process if empty
	DefaultExpires time.Duration `yaml:"default_expires"`
	MinExpires     time.Duration `yaml:"min_expires"`
	MaxExpires     time.Duration `yaml:"max_expires"`
	DrainTimeout   time.Duration `yaml:"drain_timeout"`
}

// Listener is one SIP transport listener.
type Listener struct {
	Network string `yaml:"network"` // udp or tcp (tls later)
	Addr    string `yaml:"addr"`    // host:port
}

// Media configures RTP.
type Media struct {
	IP          string        `yaml:"ip"` // bind and advertise address for RTP
	RTPPorts    PortRange     `yaml:"rtp_ports"`
	PortRest    time.Duration `yaml:"port_rest"`
	Timeout     time.Duration `yaml:"timeout"`
	HoldTimeout time.Duration `yaml:"hold_timeout"`
	Codecs      []string      `yaml:"codecs"`
}

// Prompts configures where prompt audio lives.
type Prompts struct {
	Dir string `yaml:"dir"` // <dir>/<lang>/<id>.wav
}

// Trunk is a SIP trunk or PBX that sends us calls and carries our outbound calls.
type Trunk struct {
	Address     string     `yaml:"address"`   // host:port to send INVITEs to
	Transport   string     `yaml:"transport"` // udp (default) or tcp
	AllowFrom   []Prefix   `yaml:"allow_from"`
	Auth        *TrunkAuth `yaml:"auth"`
	LocalPort   int        `yaml:"local_port"` // source port the trunk expects; 0 = the listener's
	MaxChannels int        `yaml:"max_channels"`
	MaxCPS      float64    `yaml:"max_cps"`
	CallerIDs   []string   `yaml:"caller_ids"`
}

// TrunkAuth holds digest credentials toward a trunk.
type TrunkAuth struct {
	Username Ref    `yaml:"username"`
	Password Secret `yaml:"password"`
}

// Number routes an inbound dialed number (DID or extension) to a flow or built-in app.
type Number struct {
	Flow     string `yaml:"flow"`
	App      string `yaml:"app"`      // built-in: dtmf_echo
	Language string `yaml:"language"` // starting language; default: site default
}

// Agent is a staff member with a SIP softphone.
type Agent struct {
	Name string `yaml:"name"`
	// Supervisor lets this person monitor agents' calls (listen, whisper, barge) by
	// feature code from their softphone.
	Supervisor bool           `yaml:"supervisor"`
	SIP        AgentSIP       `yaml:"sip"`
	Skills     map[string]int `yaml:"skills"`
	Languages  []string       `yaml:"languages"`
}

// AgentSIP holds an agent's SIP credentials: HA1 (hex MD5 of user:realm:password, or
// SHA-256 with ha1_sha256) or a password reference.
type AgentSIP struct {
	User      string `yaml:"user"`
	HA1       string `yaml:"ha1"`
	HA1SHA256 string `yaml:"ha1_sha256"`
	Password  Secret `yaml:"password"`
}

// Built-in apps a number may use.
var builtinApps = map[string]bool{"dtmf_echo": true}

// File returns the path the config was loaded from.
func (c *Config) File() string { return c.file }

// Position returns the source position of a YAML path, walking up to the nearest known
// ancestor.
func (c *Config) Position(path string) Pos {
	for p := path; ; {
		if pos, ok := c.pos[p]; ok {
			return pos
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			return c.pos[""]
		}
		p = p[:i]
	}
}

// Locate fills File/Line/Col of issues from their paths.
func (c *Config) Locate(is Issues) Issues {
	out := make(Issues, len(is))
	for i, iss := range is {
		if iss.File == "" {
			iss.File = c.file
		}
		if iss.Line == 0 {
			p := c.Position(iss.Path)
			iss.Line, iss.Col = p.Line, p.Col
		}
		out[i] = iss
	}
	return out
}

// DefaultLanguage is the first configured language.
func (c *Config) DefaultLanguage() string {
	if len(c.Site.Languages) == 0 {
		return "en"
	}
	return c.Site.Languages[0]
}

// LoadOptions tunes Load.
type LoadOptions struct {
	// LookupEnv resolves env: references; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// AllowMissingSecrets turns unset secret variables into warnings (config validate).
	AllowMissingSecrets bool
}

// Load reads, decodes, resolves and validates the file at path. It returns the config
// (usable when no issue has severity Error) and every issue found, each located.
func Load(path string, opts LoadOptions) (*Config, Issues) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, Issues{{File: path, Severity: Error, Msg: fmt.Sprintf("cannot read config: %v", err),
			Fix: "pass an existing file with --config"}}
	}
	return Parse(path, src, opts)
}

// Parse is Load on bytes already read; file names the source in issues.
func Parse(file string, src []byte, opts LoadOptions) (*Config, Issues) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	c := &Config{file: file}
	pos, issues := decodeYAML(src, c)
	c.pos = pos
	if len(issues) > 0 && strings.HasPrefix(issues[0].Msg, "YAML syntax") {
		issues[0].File = file
		return c, issues // nothing else can be trusted
	}
	c.applyDefaults()
	var r Reporter
	c.resolveEnv(&r, opts)
	c.validate(&r)
	issues = append(issues, c.Locate(r.Issues())...)
	for i := range issues {
		if issues[i].File == "" {
			issues[i].File = file
		}
	}
	issues.Sort()
	return c, issues
}

func (c *Config) applyDefaults() {
	if len(c.Site.Languages) == 0 {
		c.Site.Languages = []string{"en", "es"}
	}
	if c.Site.Timezone == "" {
		c.Site.Timezone = "America/Chicago"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = "127.0.0.1:9464"
	}
	s := &c.Store
	if s.OutboxDir == "" {
		s.OutboxDir = "outbox"
	}
	if s.FsyncInterval == 0 {
		s.FsyncInterval = 10 * time.Millisecond
	}
	if s.FsyncBatch == 0 {
		s.FsyncBatch = 512
	}
	if s.SegmentSize == 0 {
		s.SegmentSize = 16 << 20
	}
	if s.MaxOutboxBytes == 0 {
		s.MaxOutboxBytes = 2 << 30
	}
	if s.ShipBatch == 0 {
		s.ShipBatch = 1000
	}
	if c.Redis.Prefix == "" {
		c.Redis.Prefix = "careline:"
	}
	if c.SIP.Realm == "" {
		c.SIP.Realm = "careline"
	}
	if c.SIP.DefaultExpires == 0 {
		c.SIP.DefaultExpires = time.Hour
	}
	if c.SIP.MinExpires == 0 {
		c.SIP.MinExpires = 60 * time.Second
	}
	if c.SIP.MaxExpires == 0 {
		c.SIP.MaxExpires = 2 * time.Hour
	}
	if c.SIP.DrainTimeout == 0 {
		c.SIP.DrainTimeout = 30 * time.Second
	}
	m := &c.Media
	if m.IP == "" {
		m.IP = "127.0.0.1"
	}
	if m.RTPPorts.Min == 0 {
		m.RTPPorts = PortRange{Min: 20000, Max: 29999}
	}
	if m.PortRest == 0 {
		m.PortRest = 30 * time.Second
	}
	if m.Timeout == 0 {
		m.Timeout = 30 * time.Second
	}
	if m.HoldTimeout == 0 {
		m.HoldTimeout = 10 * m.Timeout
	}
	if len(m.Codecs) == 0 {
		m.Codecs = []string{"PCMU", "PCMA"}
	}
	if c.Prompts.Dir == "" {
		c.Prompts.Dir = "prompts"
	}
	for _, t := range c.Trunks {
		if t != nil && t.Transport == "" {
			t.Transport = "udp"
		}
	}
	c.scheduleDefaults()
	c.applyRoutingDefaults()
	c.recordingsDefaults()
	c.campaignDefaults()
}

// resolveEnv applies CARELINE_* overrides and resolves env: references.
func (c *Config) resolveEnv(r *Reporter, opts LoadOptions) {
	if v, ok := opts.LookupEnv("CARELINE_DATABASE_URL"); ok {
		c.Store.DatabaseURL.Set(v)
	}
	if v, ok := opts.LookupEnv("CARELINE_REDIS_URL"); ok {
		c.Redis.URL.Set(v)
	}
	ref := func(path string, x *Ref) {
		if x.Env == "" || x.set {
			return
		}
		v, ok := opts.LookupEnv(x.Env)
		x.value, x.set = v, ok
		if !ok {
			r.Warnf(path, "set "+x.Env+" in the environment", "environment variable %s is not set; using an empty value", x.Env)
		}
	}
	secret := func(path string, s *Secret) {
		if s.Env == "" {
			return
		}
		v, ok := opts.LookupEnv(s.Env)
		s.value, s.set = v, ok && v != ""
		if !s.set {
			fix := "export " + s.Env + " before starting careline"
			if opts.AllowMissingSecrets {
				r.Warnf(path, fix, "environment variable %s is not set", s.Env)
			} else {
				r.Errorf(path, fix, "environment variable %s is not set", s.Env)
			}
		}
	}
	ref("store.database_url", &c.Store.DatabaseURL)
	ref("redis.url", &c.Redis.URL)
	secret("sip.nonce_secret", &c.SIP.NonceSecret)
	for _, name := range sortedKeys(c.Trunks) {
		if t := c.Trunks[name]; t != nil && t.Auth != nil {
			ref(Join("trunks", name, "auth", "username"), &t.Auth.Username)
			secret(Join("trunks", name, "auth", "password"), &t.Auth.Password)
		}
	}
	for _, id := range sortedKeys(c.Agents) {
		if a := c.Agents[id]; a != nil {
			secret(Join("agents", id, "sip", "password"), &a.SIP.Password)
		}
	}
	c.resolveRecordingKeys(r, opts)
	c.resolveWebhooks(r, opts)
}

func (c *Config) validate(r *Reporter) {
	c.validateRecordings(r)
	c.validateWebhooks(r)
	if c.Version != 1 {
		r.Errorf("version", "write version: 1", "unsupported config version %d", c.Version)
	}
	if _, err := time.LoadLocation(c.Site.Timezone); err != nil {
		r.Errorf("site.timezone", `use an IANA zone such as "America/Chicago"`, "unknown time zone %q", c.Site.Timezone)
	}
	langs := map[string]bool{}
	for i, l := range c.Site.Languages {
		if l != "en" && l != "es" {
			r.Errorf(Join("site.languages", fmt.Sprintf("[%d]", i)), `use "en" or "es"`, "unsupported language %q", l)
		}
		langs[l] = true
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		r.Errorf("log.level", "use debug, info, warn or error", "unknown log level %q", c.Log.Level)
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		r.Errorf("http.listen", `write host:port, e.g. "127.0.0.1:9464"`, "bad listen address %q", c.HTTP.Listen)
	}
	if c.Store.FsyncInterval < time.Millisecond || c.Store.FsyncInterval > 5*time.Second {
		r.Errorf("store.fsync_interval", "use a value between 1ms and 5s", "fsync interval %s out of range", c.Store.FsyncInterval)
	}
	if c.Store.ShipBatch < 1 || c.Store.ShipBatch > 50000 {
		r.Errorf("store.ship_batch", "use a value between 1 and 50000", "ship batch %d out of range", c.Store.ShipBatch)
	}
	if c.Store.SegmentSize < 1<<16 {
		r.Errorf("store.segment_size", `use at least "64KiB"`, "segment size too small")
	}
	if len(c.SIP.Listen) == 0 {
		r.Errorf("sip.listen", `add a listener such as {network: udp, addr: "0.0.0.0:5060"}`, "no SIP listener configured")
	}
	for i, l := range c.SIP.Listen {
		p := Join("sip.listen", fmt.Sprintf("[%d]", i))
		if l.Network != "udp" && l.Network != "tcp" {
			r.Errorf(Join(p, "network"), "use udp or tcp", "unsupported network %q", l.Network)
		}
		if _, _, err := net.SplitHostPort(l.Addr); err != nil {
			r.Errorf(Join(p, "addr"), `write host:port, e.g. "0.0.0.0:5060"`, "bad listen address %q", l.Addr)
		}
	}
	if c.SIP.MinExpires > c.SIP.DefaultExpires || c.SIP.DefaultExpires > c.SIP.MaxExpires {
		r.Errorf("sip.default_expires", "keep min_expires <= default_expires <= max_expires", "inconsistent registration expiry bounds")
	}
	if _, err := netip.ParseAddr(c.Media.IP); err != nil {
		r.Errorf("media.ip", `write an IP address such as "127.0.0.1"`, "bad media IP %q", c.Media.IP)
	}
	for i, codec := range c.Media.Codecs {
		if codec != "PCMU" && codec != "PCMA" {
			r.Errorf(Join("media.codecs", fmt.Sprintf("[%d]", i)), "use PCMU and/or PCMA", "unsupported codec %q", codec)
		}
	}
	for _, name := range sortedKeys(c.Trunks) {
		t, p := c.Trunks[name], Join("trunks", name)
		if t == nil {
			r.Errorf(p, "describe the trunk or remove it", "empty trunk")
			continue
		}
		if t.Address != "" {
			if _, _, err := net.SplitHostPort(t.Address); err != nil {
				r.Errorf(Join(p, "address"), `write host:port, e.g. "203.0.113.10:5060"`, "bad trunk address %q", t.Address)
			}
		}
		if t.Transport != "udp" && t.Transport != "tcp" {
			r.Errorf(Join(p, "transport"), "use udp or tcp", "unsupported transport %q", t.Transport)
		}
		if len(t.AllowFrom) == 0 && t.Address == "" {
			r.Errorf(p, "add allow_from (inbound) and/or address (outbound)", "trunk neither accepts nor places calls")
		}
		if t.MaxChannels < 0 || t.MaxCPS < 0 {
			r.Errorf(p, "use zero (unlimited) or a positive number", "negative channel or CPS limit")
		}
	}
	for _, num := range sortedKeys(c.Numbers) {
		n, p := c.Numbers[num], Join("numbers", num)
		if n == nil {
			r.Errorf(p, "give the number a flow or app", "empty number entry")
			continue
		}
		switch {
		case n.Flow == "" && n.App == "":
			r.Errorf(p, "add flow: <name> or app: dtmf_echo", "number has neither flow nor app")
		case n.Flow != "" && n.App != "":
			r.Errorf(p, "keep only one of flow and app", "number has both flow and app")
		case n.App != "" && !builtinApps[n.App]:
			r.Errorf(Join(p, "app"), "use one of: dtmf_echo", "unknown app %q", n.App)
		}
		if n.Language != "" && !langs[n.Language] {
			r.Errorf(Join(p, "language"), "use one of site.languages", "language %q is not configured", n.Language)
		}
	}
	c.validateNumberFlows(r)
	c.validateSchedules(r)
	c.validateCampaigns(r)
	users := map[string]string{}
	for _, id := range sortedKeys(c.Agents) {
		a, p := c.Agents[id], Join("agents", id)
		if a == nil {
			r.Errorf(p, "describe the agent or remove it", "empty agent")
			continue
		}
		if a.SIP.User == "" {
			r.Errorf(Join(p, "sip", "user"), `add sip: {user: "1001", password: "env:..."}`, "agent has no SIP user")
		} else if other, dup := users[a.SIP.User]; dup {
			r.Errorf(Join(p, "sip", "user"), "give each agent its own SIP user", "SIP user %q is also used by agent %s", a.SIP.User, other)
		} else {
			users[a.SIP.User] = id
		}
		creds := 0
		for _, h := range []struct{ name, v string }{{"ha1", a.SIP.HA1}, {"ha1_sha256", a.SIP.HA1SHA256}} {
			if h.v == "" {
				continue
			}
			creds++
			want := 32
			if h.name == "ha1_sha256" {
				want = 64
			}
			if b, err := hex.DecodeString(h.v); err != nil || len(b)*2 != want {
				r.Errorf(Join(p, "sip", h.name), fmt.Sprintf("write %d hex characters", want), "bad %s", h.name)
			}
		}
		if !a.SIP.Password.IsZero() {
			creds++
		}
		if creds == 0 {
			r.Errorf(Join(p, "sip"), `add password: "env:NAME" or ha1: <hex>`, "agent has no SIP credentials")
		}
		for i, l := range a.Languages {
			if !langs[l] {
				r.Errorf(Join(p, "languages", fmt.Sprintf("[%d]", i)), "use one of site.languages", "language %q is not configured", l)
			}
		}
	}
	c.validateRouting(r, langs)
}
