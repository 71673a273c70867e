package config

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Recordings configures encrypted call recording. Without this section nothing is
// recorded; with it, a usable master key is required (never a plaintext fallback).
type Recordings struct {
	Dir               string        `yaml:"dir"`                // encrypted files; keys never live here
	MasterKeys        []MasterKey   `yaml:"master_keys"`        // key-encryption keys by id
	CurrentKey        string        `yaml:"current_key"`        // id new recordings use; default: the only key
	RetentionDays     int           `yaml:"retention_days"`     // default 90
	Chunk             time.Duration `yaml:"chunk"`              // audio sealed per chunk (max loss on a crash); default 1s
	JitterWindow      time.Duration `yaml:"jitter_window"`      // wait for late frames; default 500ms
	RetentionInterval time.Duration `yaml:"retention_interval"` // how often the retention job runs; default 1h
}

// MasterKey is one key-encryption key: 32 bytes, hex or base64, in an environment
// variable.
type MasterKey struct {
	ID  string `yaml:"id"`
	Key Secret `yaml:"key"`

	raw []byte
}

// Bytes returns the decoded 32-byte key (nil if it did not resolve).
func (k MasterKey) Bytes() []byte { return append([]byte(nil), k.raw...) }

// User is an HTTP API user (users.<id>). Only the SHA-256 of the bearer token is
// written here; tokens themselves are handed to the user once and never stored.
type User struct {
	Role        string `yaml:"role"`         // supervisor, auditor, admin, agent
	TokenSHA256 string `yaml:"token_sha256"` // hex SHA-256 of the bearer token
	// Token is the alternative to TokenSHA256: the bearer token in an environment
	// variable ("env:NAME"); careline keeps only its hash.
	Token   Secret    `yaml:"token"`
	Expires time.Time `yaml:"expires"` // RFC 3339; empty: no expiry
}

// UserRoles are the roles a user may have.
var UserRoles = []string{"supervisor", "auditor", "admin", "agent"}

func (c *Config) recordingsDefaults() {
	rc := c.Recordings
	if rc == nil {
		return
	}
	if rc.Dir == "" {
		rc.Dir = "recordings"
	}
	if rc.CurrentKey == "" && len(rc.MasterKeys) == 1 {
		rc.CurrentKey = rc.MasterKeys[0].ID
	}
	if rc.RetentionDays == 0 {
		rc.RetentionDays = 90
	}
	if rc.Chunk == 0 {
		rc.Chunk = time.Second
	}
	if rc.JitterWindow == 0 {
		rc.JitterWindow = 500 * time.Millisecond
	}
	if rc.RetentionInterval == 0 {
		rc.RetentionInterval = time.Hour
	}
}

// resolveRecordingKeys resolves and decodes the master keys. A missing or malformed
// key is an error naming its variable (a warning under AllowMissingSecrets only when
// the variable is unset), never a fallback to plaintext.
func (c *Config) resolveRecordingKeys(r *Reporter, opts LoadOptions) {
	for _, id := range sortedKeys(c.Users) {
		u, p := c.Users[id], Join("users", id)
		if u == nil {
			continue
		}
		if !u.Token.IsZero() {
			if u.TokenSHA256 != "" {
				r.Errorf(Join(p, "token"), "keep only one of token and token_sha256", "user has both token and token_sha256")
				continue
			}
			v, ok := opts.LookupEnv(u.Token.Env)
			if !ok || len(v) < 16 {
				fix := "export " + u.Token.Env + " with a random token of at least 16 characters"
				if opts.AllowMissingSecrets && !ok {
					r.Warnf(Join(p, "token"), fix, "environment variable %s is not set", u.Token.Env)
				} else {
					r.Errorf(Join(p, "token"), fix, "environment variable %s is not set or too short", u.Token.Env)
				}
				continue
			}
			sum := sha256.Sum256([]byte(v))
			u.TokenSHA256 = hex.EncodeToString(sum[:])
		}
	}
	rc := c.Recordings
	if rc == nil {
		return
	}
	for i := range rc.MasterKeys {
		k := &rc.MasterKeys[i]
		p := Join("recordings.master_keys", fmt.Sprintf("[%d]", i), "key")
		if k.Key.IsZero() {
			if _, written := c.pos[p]; written {
				continue // present but refused (a literal value): the decoder said why
			}
			r.Errorf(p, `write key: "env:CARELINE_RECORDING_KEY" and export a 32-byte key (openssl rand -hex 32)`,
				"master key %q has no key reference", k.ID)
			continue
		}
		v, ok := opts.LookupEnv(k.Key.Env)
		k.Key.value, k.Key.set = v, ok && v != ""
		fix := "export " + k.Key.Env + " with 32 random bytes as 64 hex characters or base64 (openssl rand -hex 32)"
		if !k.Key.set {
			if opts.AllowMissingSecrets {
				r.Warnf(p, fix, "environment variable %s (recording master key) is not set", k.Key.Env)
			} else {
				r.Errorf(p, fix, "environment variable %s (recording master key) is not set", k.Key.Env)
			}
			continue
		}
		raw, why := decodeKey32(v)
		if raw == nil {
			r.Errorf(p, fix, "environment variable %s does not hold a valid recording master key: %s", k.Key.Env, why)
			continue
		}
		k.raw = raw
	}
}

// decodeKey32 decodes 32 bytes of hex or base64; on failure it says why without
// repeating the value.
func decodeKey32(s string) ([]byte, string) {
	s = strings.TrimSpace(s)
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, ""
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Sprintf("it decodes to %d bytes, need 32", len(b))
			}
			return b, ""
		}
	}
	return nil, fmt.Sprintf("%d characters that are neither 64 hex digits nor base64 of 32 bytes", len(s))
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (c *Config) validateRecordings(r *Reporter) {
	if rc := c.Recordings; rc != nil {
		if len(rc.MasterKeys) == 0 {
			r.Errorf("recordings.master_keys", `add master_keys: [{id: k1, key: "env:CARELINE_RECORDING_KEY"}]`,
				"recordings need a master key; they are never stored unencrypted")
		}
		ids := map[string]bool{}
		for i, k := range rc.MasterKeys {
			p := Join("recordings.master_keys", fmt.Sprintf("[%d]", i))
			switch {
			case !validKeyID(k.ID):
				r.Errorf(Join(p, "id"), "use 1-64 letters, digits, '-', '_' or '.', e.g. k1", "bad master key id %q", k.ID)
			case ids[k.ID]:
				r.Errorf(Join(p, "id"), "give each master key its own id", "master key id %q is used twice", k.ID)
			}
			ids[k.ID] = true
		}
		switch {
		case rc.CurrentKey == "" && len(rc.MasterKeys) > 1:
			r.Errorf("recordings.current_key", "name the key new recordings use", "several master keys and no current_key")
		case rc.CurrentKey != "" && !ids[rc.CurrentKey]:
			r.Errorf("recordings.current_key", "use the id of one of master_keys", "current_key %q is not a master key", rc.CurrentKey)
		}
		if rc.RetentionDays < 1 || rc.RetentionDays > 36500 {
			r.Errorf("recordings.retention_days", "use a number of days between 1 and 36500", "retention of %d days", rc.RetentionDays)
		}
		if rc.Chunk < 20*time.Millisecond || rc.Chunk > time.Minute {
			r.Errorf("recordings.chunk", "use a value between 20ms and 1m (1s is a good default)", "chunk %s out of range", rc.Chunk)
		}
		if rc.JitterWindow < 0 || rc.JitterWindow > 10*time.Second {
			r.Errorf("recordings.jitter_window", "use a value between 0 and 10s", "jitter window %s out of range", rc.JitterWindow)
		}
		if rc.RetentionInterval < time.Minute {
			r.Errorf("recordings.retention_interval", "use at least 1m", "retention interval %s too short", rc.RetentionInterval)
		}
	}
	hashes := map[string]string{}
	for _, id := range sortedKeys(c.Users) {
		u, p := c.Users[id], Join("users", id)
		if u == nil {
			r.Errorf(p, "give the user a role and token_sha256, or remove it", "empty user")
			continue
		}
		if !validUserID(id) {
			r.Errorf(p, "use letters, digits, '.', '_', '-' or '@'", "bad user id %q", id)
		}
		known := false
		for _, role := range UserRoles {
			known = known || u.Role == role
		}
		if !known {
			r.Errorf(Join(p, "role"), "use one of: "+strings.Join(UserRoles, ", "), "unknown role %q", u.Role)
		}
		if !u.Token.IsZero() && u.TokenSHA256 == "" {
			continue // reported by resolveRecordingKeys
		}
		h := strings.ToLower(u.TokenSHA256)
		if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
			r.Errorf(Join(p, "token_sha256"), "write the 64-hex-digit SHA-256 of the token (printf %s TOKEN | sha256sum)",
				"token_sha256 must be 64 hex characters")
		} else if other, dup := hashes[h]; dup {
			r.Errorf(Join(p, "token_sha256"), "give every user its own token", "user %s has the same token as %s", id, other)
		} else {
			hashes[h] = id
			u.TokenSHA256 = h
		}
	}
}

func validUserID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-@", c)) {
			return false
		}
	}
	return true
}
