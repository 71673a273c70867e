package recordings

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careline/careline/config"
	"github.com/careline/careline/recordings/container"
)

// KeyringFromConfig builds the keyring from a loaded recordings section. A key whose
// variable was unset or did not hold 32 bytes is an error naming the variable (the
// config loader reports the same with file:line); there is no plaintext fallback.
func KeyringFromConfig(rc *config.Recordings) (*container.Keyring, error) {
	if rc == nil {
		return nil, fmt.Errorf("recordings: no recordings section")
	}
	keys := map[string][]byte{}
	for _, k := range rc.MasterKeys {
		raw := k.Bytes()
		if len(raw) != container.KeySize {
			env := k.Key.Env
			if env == "" {
				env = "(no env: reference)"
			}
			return nil, fmt.Errorf("recordings: master key %q: environment variable %s is unset or does not hold a 32-byte key (hex or base64): %w",
				k.ID, env, container.ErrBadKey)
		}
		keys[k.ID] = raw
	}
	return container.NewKeyring(rc.CurrentKey, keys)
}

// NewFromConfig builds a Store from the recordings section (directory, keys,
// retention, chunk, jitter window). opts come after and may override.
func NewFromConfig(rc *config.Recordings, pool *pgxpool.Pool, events EventLog, opts ...Option) (*Store, error) {
	kr, err := KeyringFromConfig(rc)
	if err != nil {
		return nil, err
	}
	base := []Option{WithChunk(rc.Chunk), WithRetentionDays(rc.RetentionDays), WithJitterWindow(rc.JitterWindow)}
	return New(rc.Dir, kr, pool, events, append(base, opts...)...)
}
