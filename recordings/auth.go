package recordings

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/careline/careline/config"
)

// Role is what an API user may do.
type Role string

// Roles. Supervisors and auditors may play recordings; supervisors and the agent API
// may pause and resume them; admins export them from the command line.
const (
	RoleSupervisor Role = "supervisor"
	RoleAuditor    Role = "auditor"
	RoleAdmin      Role = "admin"
	RoleAgent      Role = "agent" // the agent-desktop API (a service token)
	RoleSystem     Role = "system"
)

func (r Role) valid() bool {
	switch r {
	case RoleSupervisor, RoleAuditor, RoleAdmin, RoleAgent, RoleSystem:
		return true
	}
	return false
}

// canRead reports whether the role may receive recording audio (defence in depth: the
// HTTP API narrows this to supervisor and auditor).
func (r Role) canRead() bool { return r == RoleSupervisor || r == RoleAuditor || r == RoleAdmin }

// User is an API user. Only the SHA-256 of its bearer token is kept.
type User struct {
	ID          string
	Role        Role
	TokenSHA256 [32]byte
	Expires     time.Time // zero: never
}

// HashToken returns the hex SHA-256 of a bearer token, as written in users.*.token_sha256.
// Tokens must be long random strings (e.g. 32 random bytes, base64): a fast hash is
// enough for those, and compare is constant-time.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// UsersFromConfig converts the users section.
func UsersFromConfig(users map[string]*config.User) ([]User, error) {
	var out []User
	for id, u := range users {
		if u == nil {
			continue
		}
		b, err := hex.DecodeString(u.TokenSHA256)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("recordings: users.%s.token_sha256 must be 64 hex characters", id)
		}
		role := Role(u.Role)
		if !role.valid() || role == RoleSystem {
			return nil, fmt.Errorf("recordings: users.%s: unknown role %q", id, u.Role)
		}
		out = append(out, User{ID: id, Role: role, TokenSHA256: [32]byte(b), Expires: u.Expires})
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Authentication failures (never returned to clients: they all get a bare 401).
var (
	errNoToken      = errors.New("no bearer token")
	errUnknownToken = errors.New("unknown token")
	errExpiredToken = errors.New("expired token")
)

// Authenticator checks bearer tokens against the configured users.
type Authenticator struct {
	users []User
	now   func() time.Time
}

// NewAuthenticator returns an authenticator over users; now is the clock for expiry
// (nil: time.Now).
func NewAuthenticator(users []User, now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	return &Authenticator{users: slices.Clone(users), now: now}
}

// Authenticate returns the user whose token the request bears. Every user's hash is
// compared, in constant time, whatever matches, so timing says nothing about which
// tokens exist.
func (a *Authenticator) Authenticate(r *http.Request) (User, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return User{}, errNoToken
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	found := -1
	for i := range a.users {
		if subtle.ConstantTimeCompare(sum[:], a.users[i].TokenSHA256[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return User{}, errUnknownToken
	}
	u := a.users[found]
	if !u.Expires.IsZero() && !a.now().Before(u.Expires) {
		return u, errExpiredToken
	}
	return u, nil
}
