package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const base = `version: 1
site:
  name: Test Pharmacy
  timezone: America/Chicago
  languages: [en, es]
sip:
  listen:
    - {network: udp, addr: "127.0.0.1:0"}
`

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestBaseConfigIsValid(t *testing.T) {
	c, is := Parse("t.yaml", []byte(base), LoadOptions{LookupEnv: env(nil)})
	if len(is.Errors()) != 0 {
		t.Fatalf("unexpected issues:\n%v", is)
	}
	if c.Store.FsyncInterval != 10*time.Millisecond || c.Media.RTPPorts.Min != 20000 || c.DefaultLanguage() != "en" {
		t.Fatalf("defaults not applied: %+v", c.Store)
	}
}

func TestErrorsNameLineAndFix(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		want  []string // each "line:substring"
		wantN int      // exact number of errors (0 = don't check)
	}{
		{"unknown key with suggestion", base + "htp:\n  listen: x\n", []string{`9:1: error: htp: unknown key "htp" (fix: did you mean "http"?)`}, 1},
		{"unknown nested key", base + "store:\n  outbox_dri: /tmp/x\n", []string{`10:3: error: store.outbox_dri: unknown key "outbox_dri"`}, 1},
		{"wrong type int", strings.Replace(base, "version: 1", "version: one", 1), []string{`1:10: error: version: expected a whole number, found text`}, 0},
		{"wrong type list", base + "media:\n  codecs: PCMU\n", []string{`10:11: error: media.codecs: expected a list, found text`}, 1},
		{"bad duration", base + "store:\n  fsync_interval: 10\n", []string{`10:19: error: store.fsync_interval: "10" is not a duration (fix: write a duration such as "5s"`}, 1},
		{"bad duration text", base + "media:\n  timeout: soon\n", []string{`10:12: error: media.timeout: "soon" is not a duration`}, 1},
		{"literal secret", base + "sip2: 1\n", []string{`9:1: error: sip2: unknown key`}, 1},
		{"secret must be env", base + "agents:\n  a1:\n    sip: {user: \"1001\", password: hunter2}\n", []string{`11:35: error: agents.a1.sip.password: secrets must be environment references, not literal values (fix: write it as "env:NAME"`}, 0},
		{"missing secret env", base + "agents:\n  a1:\n    sip: {user: \"1001\", password: \"env:NOPE_PW\"}\n", []string{`11:35: error: agents.a1.sip.password: environment variable NOPE_PW is not set (fix: export NOPE_PW`}, 1},
		{"undefined reference lang", base + "numbers:\n  \"100\": {app: dtmf_echo, language: fr}\n", []string{`10:37: error: numbers.100.language: language "fr" is not configured`}, 1},
		{"unknown app", base + "numbers:\n  \"100\": {app: voicemailz}\n", []string{`10:16: error: numbers.100.app: unknown app "voicemailz"`}, 1},
		{"duplicate key", base + "log:\n  level: info\n  level: debug\n", []string{`11:3: error: YAML syntax: mapping key "level" already defined at [10:3]`}, 1},
		{"bad cidr", base + "trunks:\n  t1:\n    allow_from: [\"10.0.0.300/8\"]\n", []string{`11:18: error: trunks.t1.allow_from[0]: "10.0.0.300/8" is not an IP address or CIDR`}, 1},
		{"bad port range", base + "media:\n  rtp_ports: \"30000-20000\"\n", []string{`10:14: error: media.rtp_ports: "30000-20000" is not a port range`}, 1},
		{"syntax error", "version: 1\nsite:\n  name: [unclosed\n", []string{`error: YAML syntax`}, 1},
		{"all errors listed", base + "htp: 1\nlog:\n  level: loud\nmedia:\n  codecs: [G729]\n", []string{
			`9:1: error: htp: unknown key`, `11:10: error: log.level: unknown log level "loud"`, `13:12: error: media.codecs[0]: unsupported codec "G729"`}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, is := Parse("careline.yaml", []byte(tc.yaml), LoadOptions{LookupEnv: env(nil)})
			errs := is.Errors()
			if tc.wantN > 0 && len(errs) != tc.wantN {
				t.Errorf("got %d errors, want %d:\n%v", len(errs), tc.wantN, errs)
			}
			text := errs.Error()
			for _, w := range tc.want {
				if !strings.Contains(text, "careline.yaml:"+w) && !strings.Contains(text, w) {
					t.Errorf("missing %q in:\n%s", w, text)
				}
				if strings.Contains(w, ":") && w[0] >= '0' && w[0] <= '9' && !strings.Contains(text, "careline.yaml:"+w) {
					t.Errorf("want file:line prefix for %q in:\n%s", w, text)
				}
			}
		})
	}
}

func TestQuotedDTMFKeys(t *testing.T) {
	type opts struct {
		Options map[string]string `yaml:"options,quotedkeys"`
	}
	var out opts
	_, is := decodeYAML([]byte("options:\n  \"1\": a\n  2: b\n  '#': c\n"), &out)
	if len(is) != 1 || is[0].Line != 3 || !strings.Contains(is[0].Msg, "DTMF key 2 must be a quoted string") ||
		!strings.Contains(is[0].Fix, `"2"`) {
		t.Fatalf("issues: %v", is)
	}
	if out.Options["1"] != "a" || out.Options["#"] != "c" {
		t.Fatalf("decoded %v", out.Options)
	}
}

func TestEnvOverridesAndSecrets(t *testing.T) {
	y := base + "store:\n  database_url: postgres://file\nredis:\n  url: redis://file\n" +
		"agents:\n  a1:\n    sip: {user: \"1001\", password: \"env:A1_PW\"}\n"
	c, is := Parse("t.yaml", []byte(y), LoadOptions{LookupEnv: env(map[string]string{
		"CARELINE_DATABASE_URL": "postgres://env", "CARELINE_REDIS_URL": "", "A1_PW": "s3cret"})})
	if len(is.Errors()) != 0 {
		t.Fatal(is)
	}
	if c.Store.DatabaseURL.Value() != "postgres://env" || c.Redis.URL.Value() != "" {
		t.Fatalf("overrides not applied: %q %q", c.Store.DatabaseURL.Value(), c.Redis.URL.Value())
	}
	if c.Agents["a1"].SIP.Password.Value() != "s3cret" || c.Agents["a1"].SIP.Password.String() != "env:A1_PW" {
		t.Fatal("secret not resolved or leaks in String")
	}
}

func TestMissingSecretIsWarningForValidate(t *testing.T) {
	y := base + "agents:\n  a1:\n    sip: {user: \"1001\", password: \"env:A1_PW\"}\n"
	_, is := Parse("t.yaml", []byte(y), LoadOptions{LookupEnv: env(nil), AllowMissingSecrets: true})
	if len(is.Errors()) != 0 || len(is.Warnings()) != 1 {
		t.Fatalf("issues: %v", is)
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "configs", "careline.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("example config missing: %v", err)
	}
	_, is := Load(path, LoadOptions{LookupEnv: env(nil), AllowMissingSecrets: true})
	if len(is.Errors()) != 0 {
		t.Fatalf("example config has errors:\n%v", is)
	}
}
