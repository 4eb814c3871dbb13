package webhooks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemoryStore is a Store in memory, for tests and single-process use.
type MemoryStore struct {
	mu   sync.Mutex
	subs map[string]Subscription
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{subs: map[string]Subscription{}} }

var _ Store = (*MemoryStore)(nil)

// Add implements Store.
func (m *MemoryStore) Add(_ context.Context, s Subscription) error {
	if err := s.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.subs[s.Name]; ok {
		return fmt.Errorf("%w: %s", ErrExists, s.Name)
	}
	s.State, s.Kinds = StateActive, slices.Clone(s.Kinds)
	s.LeaseOwner, s.LeaseUntil, s.Generation = "", time.Time{}, 0
	m.subs[s.Name] = s
	return nil
}

// Get implements Store.
func (m *MemoryStore) Get(_ context.Context, name string) (Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[name]
	if !ok {
		return Subscription{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	s.Kinds = slices.Clone(s.Kinds)
	return s, nil
}

// List implements Store.
func (m *MemoryStore) List(_ context.Context) ([]Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Subscription, 0, len(m.subs))
	for _, s := range m.subs {
		s.Kinds = slices.Clone(s.Kinds)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Subscription) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Remove implements Store.
func (m *MemoryStore) Remove(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.subs[name]; !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	delete(m.subs, name)
	return nil
}

// Pause implements Store.
func (m *MemoryStore) Pause(_ context.Context, name string) error {
	return m.operate(name, func(s *Subscription) { s.State = StatePaused })
}

// Resume implements Store.
func (m *MemoryStore) Resume(_ context.Context, name string) error {
	return m.operate(name, func(s *Subscription) {
		s.State, s.Failures, s.ParkedKey = StateActive, 0, ""
	})
}

// Replay implements Store.
func (m *MemoryStore) Replay(_ context.Context, name, checkpoint string) error {
	if err := checkReplay(name, checkpoint); err != nil {
		return err
	}
	return m.operate(name, func(s *Subscription) {
		s.Checkpoint, s.Failures, s.ParkedKey = checkpoint, 0, ""
	})
}

// operate applies an operator's change and moves the generation on.
func (m *MemoryStore) operate(name string, change func(*Subscription)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	change(&s)
	s.Generation++
	m.subs[name] = s
	return nil
}

// Lease implements Store.
func (m *MemoryStore) Lease(_ context.Context, name, owner string, generation int64, now, until time.Time) error {
	return m.owned(name, generation, func(s *Subscription) bool {
		return s.State == StateActive && (s.LeaseOwner == "" || s.LeaseOwner == owner || s.LeaseUntil.Before(now))
	}, func(s *Subscription) { s.LeaseOwner, s.LeaseUntil = owner, until })
}

// Checkpoint implements Store.
func (m *MemoryStore) Checkpoint(_ context.Context, name, owner string, generation int64, cursor string) error {
	return m.owned(name, generation, holds(owner), func(s *Subscription) {
		s.Checkpoint, s.Failures, s.LastError = cursor, 0, ""
	})
}

// Fail implements Store.
func (m *MemoryStore) Fail(_ context.Context, name, owner string, generation int64, failures int, lastError string) error {
	return m.owned(name, generation, holds(owner), func(s *Subscription) { s.Failures, s.LastError = failures, lastError })
}

// Park implements Store.
func (m *MemoryStore) Park(_ context.Context, name, owner string, generation int64, key string, failures int, lastError string) error {
	return m.owned(name, generation, holds(owner), func(s *Subscription) {
		s.State, s.ParkedKey, s.Failures, s.LastError = StateParked, key, failures, lastError
		s.LeaseOwner, s.LeaseUntil = "", time.Time{}
	})
}

// Release implements Store.
func (m *MemoryStore) Release(_ context.Context, name, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.subs[name]; ok && s.LeaseOwner == owner {
		s.LeaseOwner, s.LeaseUntil = "", time.Time{}
		m.subs[name] = s
	}
	return nil
}

func holds(owner string) func(*Subscription) bool {
	return func(s *Subscription) bool { return s.LeaseOwner == owner }
}

// owned applies a delivery loop's change when the subscription is at generation and cond
// holds; otherwise ErrLeaseLost.
func (m *MemoryStore) owned(name string, generation int64, cond func(*Subscription) bool, change func(*Subscription)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[name]
	if !ok || s.Generation != generation || !cond(&s) {
		return fmt.Errorf("%w: %s", ErrLeaseLost, name)
	}
	change(&s)
	m.subs[name] = s
	return nil
}
