package recordings

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/recordings/container"
)

const cfgYAML = `version: 1
sip:
  listen: [{network: udp, addr: "127.0.0.1:0"}]
recordings:
  dir: %DIR%
  master_keys:
    - {id: k1, key: "env:CARELINE_RECORDING_KEY_OLD"}
    - {id: k2, key: "env:CARELINE_RECORDING_KEY"}
  current_key: k2
  retention_days: 30
  chunk: 500ms
users:
  sup1: {role: supervisor, token_sha256: "%HASH%"}
  agentapi: {role: agent, token_sha256: "%HASH2%", expires: "2030-01-01T00:00:00Z"}
`

func loadCfg(t *testing.T, dir string, env map[string]string, allowMissing bool) (*config.Config, config.Issues) {
	t.Helper()
	y := strings.NewReplacer("%DIR%", dir, "%HASH%", HashToken("s3cret-sup"), "%HASH2%", HashToken("s3cret-agent")).Replace(cfgYAML)
	return config.Parse("careline.yaml", []byte(y), config.LoadOptions{
		LookupEnv:           func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		AllowMissingSecrets: allowMissing})
}

// TestStartupKeyErrors: a missing or malformed master key stops start-up with an error
// that names the variable; nothing falls back to plaintext.
func TestStartupKeyErrors(t *testing.T) {
	t.Parallel()
	good := strings.Repeat("ab", 32)
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"current key unset", map[string]string{"CARELINE_RECORDING_KEY_OLD": good}, "CARELINE_RECORDING_KEY"},
		{"old key too short", map[string]string{"CARELINE_RECORDING_KEY_OLD": good[:40], "CARELINE_RECORDING_KEY": good}, "CARELINE_RECORDING_KEY_OLD"},
		{"not hex or base64", map[string]string{"CARELINE_RECORDING_KEY_OLD": good, "CARELINE_RECORDING_KEY": "correct horse battery"}, "CARELINE_RECORDING_KEY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, is := loadCfg(t, t.TempDir(), tc.env, false)
			errs := is.Errors()
			if len(errs) != 1 || !strings.Contains(errs[0].Msg, tc.want) || errs[0].Line == 0 {
				t.Fatalf("config errors %v, want one naming %s with a line", errs, tc.want)
			}
			// Even if a caller ignored the issues, the store refuses to start.
			c, _ := loadCfg(t, t.TempDir(), tc.env, true)
			_, err := NewFromConfig(c.Recordings, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, container.ErrBadKey) {
				t.Fatalf("NewFromConfig: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestFromConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := strings.Repeat("01", 32)
	cur := "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=" // base64 of 32 × 0x42: the test keyring's k1
	c, is := loadCfg(t, t.TempDir(), map[string]string{"CARELINE_RECORDING_KEY_OLD": old, "CARELINE_RECORDING_KEY": cur}, false)
	if len(is.Errors()) != 0 {
		t.Fatal(is)
	}
	s, err := NewFromConfig(c.Recordings, e.pool, e.events, WithClock(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	if s.keys.Current() != "k2" || !s.keys.Has("k1") || s.days != 30 || s.chunk != 500*time.Millisecond || s.dir != c.Recordings.Dir {
		t.Fatalf("store from config: %v days=%d chunk=%s", s.keys, s.days, s.chunk)
	}
	users, err := UsersFromConfig(c.Users)
	if err != nil || len(users) != 2 || users[0].ID != "agentapi" || users[0].Role != RoleAgent || users[1].Role != RoleSupervisor ||
		!users[0].Expires.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("users %+v %v", users, err)
	}
}
