package container

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// KeySize is the size of master keys and data keys: AES-256.
const KeySize = 32

// ErrBadKey is returned for master key material that is not exactly 32 bytes of hex or
// base64.
var ErrBadKey = errors.New("container: master key must be 32 bytes, written as 64 hex characters or base64")

// Keyring holds the master keys (key-encryption keys) by id. New recordings wrap their
// data key with the current key; files wrapped with any other key in the ring stay
// readable, so keys can be rotated by adding a new current key and keeping the old ones
// until every file that uses them has been re-wrapped (Rewrap) or deleted.
// A Keyring is safe for concurrent use and never exposes key bytes.
type Keyring struct {
	current string
	keks    map[string]cipher.AEAD
}

// NewKeyring builds a keyring from raw 32-byte keys. current must be one of the ids.
func NewKeyring(current string, keys map[string][]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("container: keyring has no keys")
	}
	k := &Keyring{current: current, keks: make(map[string]cipher.AEAD, len(keys))}
	for id, key := range keys {
		if err := validKeyID(id); err != nil {
			return nil, err
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("container: master key %q: %w (got %d bytes)", id, ErrBadKey, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("container: master key %q: %w", id, err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("container: master key %q: %w", id, err)
		}
		k.keks[id] = gcm
	}
	if _, ok := k.keks[current]; !ok {
		return nil, fmt.Errorf("container: current key %q is not in the keyring (have %s)", current, strings.Join(k.IDs(), ", "))
	}
	return k, nil
}

// Current returns the id of the key new recordings are wrapped with.
func (k *Keyring) Current() string { return k.current }

// Has reports whether id is in the ring.
func (k *Keyring) Has(id string) bool { _, ok := k.keks[id]; return ok }

// IDs returns the key ids, sorted.
func (k *Keyring) IDs() []string {
	ids := make([]string, 0, len(k.keks))
	for id := range k.keks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// String names the keyring without revealing key material.
func (k *Keyring) String() string {
	return fmt.Sprintf("keyring(current=%s, keys=%s)", k.current, strings.Join(k.IDs(), ","))
}

func validKeyID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("container: key id %q must be 1 to 64 characters", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("container: key id %q may only use letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}

// ValidKeyID reports whether id can name a master key (1–64 of [A-Za-z0-9._-]).
func ValidKeyID(id string) bool { return validKeyID(id) == nil }

// ParseKey decodes a 32-byte master key written as 64 hex characters or as standard or
// URL-safe base64 (padded or not). Surrounding white space is ignored. The error never
// contains the input.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: it is empty", ErrBadKey)
	}
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("%w: it decodes to %d bytes", ErrBadKey, len(b))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: it is neither hex nor base64 (%d characters)", ErrBadKey, len(s))
}
