package sip

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"
)

// Binding is one registered contact of an address-of-record (an agent's
// softphone). Source and Transport record where the REGISTER really came
// from (received/rport), so calls to the phone go back through its NAT
// binding; Local is our listener address that received it.
type Binding struct {
	AOR        string    `json:"aor"`     // user part of the To URI
	Contact    string    `json:"contact"` // Contact URI as registered
	InstanceID string    `json:"instance,omitempty"`
	Source     string    `json:"source"`    // ip:port the REGISTER came from
	Transport  string    `json:"transport"` // UDP, TCP, TLS
	Local      string    `json:"local"`     // our listener ip:port
	CallID     string    `json:"call_id"`
	CSeq       uint32    `json:"cseq"`
	Expires    time.Time `json:"expires"`
	Updated    time.Time `json:"updated"`
}

// Key identifies a binding within its AOR: the +sip.instance when the phone
// sent one (RFC 5626), else the Contact URI.
func (b Binding) Key() string {
	if b.InstanceID != "" {
		return "inst:" + b.InstanceID
	}
	return "uri:" + b.Contact
}

// BindingStore keeps registrar bindings with a TTL. It is shaped so a Redis
// implementation is direct: one hash (or sorted set) per AOR, field = Key(),
// value = the JSON Binding, expiry per field (HEXPIRE) or by Expires score.
// List returns unexpired bindings, most recently updated first.
type BindingStore interface {
	Put(ctx context.Context, b Binding, ttl time.Duration) error
	Remove(ctx context.Context, aor, key string) error
	List(ctx context.Context, aor string) ([]Binding, error)
	RemoveAll(ctx context.Context, aor string) error
}

// MemoryBindingStore is a BindingStore in process memory.
type MemoryBindingStore struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]map[string]Binding
}

// NewMemoryBindingStore returns an empty store; now may be nil (time.Now).
func NewMemoryBindingStore(now func() time.Time) *MemoryBindingStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryBindingStore{now: now, m: make(map[string]map[string]Binding)}
}

func normAOR(aor string) string { return strings.ToLower(aor) }

// Put implements BindingStore.
func (s *MemoryBindingStore) Put(_ context.Context, b Binding, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	aor := normAOR(b.AOR)
	if s.m[aor] == nil {
		s.m[aor] = make(map[string]Binding)
	}
	b.Expires = s.now().Add(ttl)
	s.m[aor][b.Key()] = b
	return nil
}

// Remove implements BindingStore.
func (s *MemoryBindingStore) Remove(_ context.Context, aor, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	aor = normAOR(aor)
	delete(s.m[aor], key)
	if len(s.m[aor]) == 0 {
		delete(s.m, aor)
	}
	return nil
}

// List implements BindingStore.
func (s *MemoryBindingStore) List(_ context.Context, aor string) ([]Binding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	aor = normAOR(aor)
	now := s.now()
	var out []Binding
	for k, b := range s.m[aor] {
		if !now.Before(b.Expires) {
			delete(s.m[aor], k)
			continue
		}
		out = append(out, b)
	}
	if len(s.m[aor]) == 0 {
		delete(s.m, aor)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Updated.After(out[j].Updated) })
	return out, nil
}

// RemoveAll implements BindingStore.
func (s *MemoryBindingStore) RemoveAll(_ context.Context, aor string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, normAOR(aor))
	return nil
}

// Count returns the number of unexpired bindings (for the registrations gauge).
func (s *MemoryBindingStore) Count(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	n := 0
	for _, bs := range s.m {
		for _, b := range bs {
			if now.Before(b.Expires) {
				n++
			}
		}
	}
	return n, nil
}
