package routing

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Entry is a place in a queue as shared between nodes: a waiting caller, or a callback
// keeping its place. The node that created it owns it (dispatches it); other nodes only
// count it for positions.
type Entry struct {
	ID         string    `json:"id"` // interaction id
	Queue      string    `json:"queue"`
	Node       string    `json:"node"`
	Priority   int       `json:"priority"` // 0 normal, 1 urgent
	EnqueuedAt time.Time `json:"enqueued_at"`
	Seq        int64     `json:"seq"` // the owner's arrival counter: breaks ties of EnqueuedAt
	Callback   bool      `json:"callback,omitempty"`
	Expires    time.Time `json:"expires"` // refreshed by the owner; an expired entry is dropped
}

// Store keeps the routing state shared by the nodes of a cluster: agent records and
// queue entries. Every method is safe for concurrent use. Implementations: MemoryStore
// (one node) and routing/redisstore (several nodes sharing Redis).
type Store interface {
	// InitAgents creates a logged-out record for each id that has none; existing
	// records are left alone.
	InitAgents(ctx context.Context, ids []string, now time.Time) error
	// Agent returns one record, or ErrUnknownAgent.
	Agent(ctx context.Context, id string) (AgentRecord, error)
	// Agents returns every record, ordered by id.
	Agents(ctx context.Context) ([]AgentRecord, error)
	// Swap writes next if the stored record's Version equals next.Version, storing it
	// with Version+1, and returns what it stored. If the versions differ it returns the
	// current record and ErrConflict.
	Swap(ctx context.Context, next AgentRecord) (AgentRecord, error)
	// Claim atomically moves an agent that is ready and has no call to offered for
	// c.Call, and returns the new record; otherwise it changes nothing and returns the
	// current record with ErrNotAvailable.
	Claim(ctx context.Context, id string, c Claim) (AgentRecord, error)

	// PutEntry inserts or replaces an entry.
	PutEntry(ctx context.Context, e Entry) error
	// RemoveEntry deletes an entry (no error if absent).
	RemoveEntry(ctx context.Context, queue, id string) error
	// Entries returns a queue's unexpired entries in base order (SortEntries) and
	// drops expired ones.
	Entries(ctx context.Context, queue string, now time.Time) ([]Entry, error)

	// Subscribe returns a channel that receives a value (coalesced) after any change
	// made by any node, until ctx ends. The subscription is active when it returns.
	Subscribe(ctx context.Context) <-chan struct{}
}

// SortEntries orders entries: higher priority first, then earlier EnqueuedAt, then
// lower Seq, then id.
// Anti-starvation is applied by the Router on top of this order.
func SortEntries(es []Entry) {
	sort.SliceStable(es, func(i, j int) bool { return entryLess(es[i], es[j]) })
}

func entryLess(a, b Entry) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	return arrivedBefore(a, b)
}

func arrivedBefore(a, b Entry) bool {
	if !a.EnqueuedAt.Equal(b.EnqueuedAt) {
		return a.EnqueuedAt.Before(b.EnqueuedAt)
	}
	if a.Seq != b.Seq {
		return a.Seq < b.Seq
	}
	return a.ID < b.ID
}

// MemoryStore is a Store in process memory: the default for a single node.
type MemoryStore struct {
	mu     sync.Mutex
	agents map[string]AgentRecord
	queues map[string]map[string]Entry
	subs   map[chan struct{}]struct{}
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{agents: map[string]AgentRecord{}, queues: map[string]map[string]Entry{}, subs: map[chan struct{}]struct{}{}}
}

func (s *MemoryStore) notifyLocked() {
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// InitAgents implements Store.
func (s *MemoryStore) InitAgents(_ context.Context, ids []string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, ok := s.agents[id]; !ok {
			s.agents[id] = AgentRecord{ID: id, State: LoggedOut, Since: now, Version: 1}
		}
	}
	s.notifyLocked()
	return nil
}

// Agent implements Store.
func (s *MemoryStore) Agent(_ context.Context, id string) (AgentRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.agents[id]
	if !ok {
		return AgentRecord{}, fmt.Errorf("%w: %s", ErrUnknownAgent, id)
	}
	return rec, nil
}

// Agents implements Store.
func (s *MemoryStore) Agents(context.Context) ([]AgentRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AgentRecord, 0, len(s.agents))
	for _, rec := range s.agents {
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b AgentRecord) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Swap implements Store.
func (s *MemoryStore) Swap(_ context.Context, next AgentRecord) (AgentRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.agents[next.ID]
	if !ok {
		return AgentRecord{}, fmt.Errorf("%w: %s", ErrUnknownAgent, next.ID)
	}
	if cur.Version != next.Version {
		return cur, fmt.Errorf("%w: agent %s at version %d, not %d", ErrConflict, next.ID, cur.Version, next.Version)
	}
	next.Version++
	s.agents[next.ID] = next
	s.notifyLocked()
	return next, nil
}

// Claim implements Store.
func (s *MemoryStore) Claim(_ context.Context, id string, c Claim) (AgentRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.agents[id]
	if !ok {
		return AgentRecord{}, fmt.Errorf("%w: %s", ErrUnknownAgent, id)
	}
	if cur.State != Ready || cur.Call != "" {
		return cur, fmt.Errorf("%w: agent %s is %s", ErrNotAvailable, id, cur.State)
	}
	cur.State, cur.Reason, cur.Call, cur.Queue, cur.Node = Offered, "", c.Call, c.Queue, c.Node
	cur.Since, cur.Until = c.Now, c.Until
	cur.Version++
	s.agents[id] = cur
	s.notifyLocked()
	return cur, nil
}

// PutEntry implements Store.
func (s *MemoryStore) PutEntry(_ context.Context, e Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[e.Queue]
	if q == nil {
		q = map[string]Entry{}
		s.queues[e.Queue] = q
	}
	q[e.ID] = e
	s.notifyLocked()
	return nil
}

// RemoveEntry implements Store.
func (s *MemoryStore) RemoveEntry(_ context.Context, queue, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queues[queue][id]; ok {
		delete(s.queues[queue], id)
		s.notifyLocked()
	}
	return nil
}

// Entries implements Store.
func (s *MemoryStore) Entries(_ context.Context, queue string, now time.Time) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	for id, e := range s.queues[queue] {
		if !now.Before(e.Expires) {
			delete(s.queues[queue], id)
			continue
		}
		out = append(out, e)
	}
	SortEntries(out)
	return out, nil
}

// Subscribe implements Store.
func (s *MemoryStore) Subscribe(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}()
	return ch
}
