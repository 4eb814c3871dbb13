// Package memory is an in-memory snapshots.Store for tests and for running buildledger
// without DynamoDB. It keeps the DynamoDB adapter's semantics, including createdAt kept to
// the millisecond, so that code tested against it behaves the same in production.
package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"buildledger/snapshots"
)

// Store is an in-memory snapshots.Store, safe for concurrent use. The zero value is ready.
type Store struct {
	mu    sync.Mutex
	items map[string]snapshots.Snapshot
	now   func() time.Time
}

var _ snapshots.Store = (*Store)(nil)

// New returns an empty Store whose clock is time.Now.
func New() *Store {
	return &Store{items: map[string]snapshots.Snapshot{}, now: time.Now}
}

// NewWithClock returns an empty Store that stamps snapshots without a createdAt with now().
func NewWithClock(now func() time.Time) *Store {
	s := New()
	if now != nil {
		s.now = now
	}
	return s
}

// Store keeps s unless a snapshot of the same or a newer version is already kept.
func (st *Store) Store(ctx context.Context, s snapshots.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("snapshots/memory: store: %w", err)
	}
	if err := snapshots.Validate(s); err != nil {
		return fmt.Errorf("snapshots/memory: store: %w", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = st.clock()()
	}
	if old, ok := st.items[s.AggregateID]; ok && old.Version >= s.Version {
		return nil
	}
	st.put(s)
	return nil
}

// Fetch returns the snapshot of aggregateID if its schema is schema and its state is JSON.
// An empty aggregateID is invalid input.
func (st *Store) Fetch(ctx context.Context, aggregateID string, schema int) (snapshots.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return snapshots.Snapshot{}, fmt.Errorf("snapshots/memory: fetch %s: %w", aggregateID, err)
	}
	if aggregateID == "" {
		return snapshots.Snapshot{}, fmt.Errorf("snapshots/memory: fetch: %w: aggregateId is empty", snapshots.ErrInvalidInput)
	}
	st.mu.Lock()
	s, ok := st.items[aggregateID]
	st.mu.Unlock()
	if !ok {
		return snapshots.Snapshot{}, fmt.Errorf("snapshots/memory: fetch %s: %w", aggregateID, snapshots.ErrNotFound)
	}
	if s.Schema != schema {
		return snapshots.Snapshot{}, fmt.Errorf("snapshots/memory: fetch %s: %w", aggregateID, &snapshots.UnusableError{
			AggregateID: aggregateID, Version: s.Version, Reason: fmt.Sprintf("schema %d, want %d", s.Schema, schema),
		})
	}
	if !json.Valid(s.State) {
		return snapshots.Snapshot{}, fmt.Errorf("snapshots/memory: fetch %s: %w", aggregateID, &snapshots.UnusableError{
			AggregateID: aggregateID, Version: s.Version, Reason: "state is not JSON",
		})
	}
	s.State = bytes.Clone(s.State)
	return s, nil
}

// PutRaw keeps s as given, without validation and without the newer-wins rule, so that tests
// can check how a snapshot that cannot be used is fetched. It is not for production code.
func (st *Store) PutRaw(ctx context.Context, s snapshots.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("snapshots/memory: put raw: %w", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.put(s)
	return nil
}

// put keeps a copy of s, with createdAt cut to the millisecond as DynamoDB keeps it. The
// caller holds mu.
func (st *Store) put(s snapshots.Snapshot) {
	if st.items == nil {
		st.items = map[string]snapshots.Snapshot{}
	}
	if !s.CreatedAt.IsZero() {
		s.CreatedAt = time.UnixMilli(s.CreatedAt.UnixMilli()).UTC()
	}
	s.State = bytes.Clone(s.State)
	st.items[s.AggregateID] = s
}

func (st *Store) clock() func() time.Time {
	if st.now == nil {
		return time.Now
	}
	return st.now
}
