// Package memory is an in-memory eventstore.Store for fast tests of the code above the event
// store. It applies the same validation, limits and error semantics as the DynamoDB adapter
// (both pass eventstore/eventstoretest), items sized as that adapter's (see
// eventstore/dynamo/layout), and, with a fixed clock, produces the same keys and
// records on every run. It keeps nothing across processes.
package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"sync"
	"time"

	"buildledger/eventstore"
	"buildledger/eventstore/dynamo/layout"
)

// Store is an in-memory event store, safe for concurrent use.
type Store struct {
	now  func() time.Time
	keys *eventstore.KeyGenerator

	mu       sync.Mutex
	streams  map[string][]eventstore.Record
	all      []eventstore.Record // every record in key order: keys are made under mu
	outcomes map[string]eventstore.Outcome
}

var _ eventstore.Store = (*Store)(nil)

// New returns an empty store that reads the time from time.Now.
func New() *Store { return NewWithClock(nil) }

// NewWithClock returns an empty store that reads the time from now (time.Now when nil).
// With a fixed or stepping clock, keys and records are the same on every run.
func NewWithClock(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	// Node 0: this store is the only writer of its keys.
	keys, err := eventstore.NewKeyGeneratorWithNode(now, 0)
	if err != nil {
		panic(err) // node 0 is always valid
	}
	return &Store{
		now:      now,
		keys:     keys,
		streams:  make(map[string][]eventstore.Record),
		outcomes: make(map[string]eventstore.Outcome),
	}
}

func (s *Store) clock() time.Time { return s.now().Round(0).UTC() }

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expectedVersion int64, events []eventstore.Event, cmd eventstore.CommandRef) ([]eventstore.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("eventstore/memory: append to %s: %w", stream, err)
	}
	if err := eventstore.ValidateAppend(stream, expectedVersion, events, cmd); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	at := s.clock()
	records := eventstore.NewRecords(stream, expectedVersion, events, cmd, at, s.keys)
	sizes := make([]int, len(records))
	for i := range records {
		records[i].Body = cloneBody(records[i].Body)
		sizes[i] = layout.RecordSize(records[i])
	}
	out := eventstore.AcceptedOutcome(cmd, stream, expectedVersion, records, at)
	if err := eventstore.CheckAppendSize(records, sizes, out, layout.OutcomeSize(out)); err != nil {
		return nil, err
	}

	if _, ok := s.outcomes[cmd.ID]; ok {
		return nil, &eventstore.DuplicateCommandError{CommandID: cmd.ID}
	}
	if int64(len(s.streams[stream])) != expectedVersion {
		return nil, &eventstore.ConflictError{Stream: stream, ExpectedVersion: expectedVersion}
	}
	s.streams[stream] = append(s.streams[stream], records...)
	s.all = append(s.all, records...)
	s.outcomes[cmd.ID] = out
	return cloneRecords(records), nil
}

// Load implements eventstore.Store.
func (s *Store) Load(ctx context.Context, stream string, fromVersion int64) ([]eventstore.Record, error) {
	return s.LoadRange(ctx, stream, fromVersion, int64(^uint64(0)>>1))
}

// LoadRange implements eventstore.Store.
func (s *Store) LoadRange(ctx context.Context, stream string, fromVersion, toVersion int64) ([]eventstore.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("eventstore/memory: load %s: %w", stream, err)
	}
	if stream == "" {
		return nil, fmt.Errorf("%w: stream is empty", eventstore.ErrInvalidInput)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	records := s.streams[stream]
	from, to := max(fromVersion, 1), min(toVersion, int64(len(records)))
	if from > to {
		return []eventstore.Record{}, nil
	}
	return cloneRecords(records[from-1 : to]), nil
}

// Version implements eventstore.Store.
func (s *Store) Version(ctx context.Context, stream string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("eventstore/memory: version of %s: %w", stream, err)
	}
	if stream == "" {
		return 0, fmt.Errorf("%w: stream is empty", eventstore.ErrInvalidInput)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.streams[stream])), nil
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, after string, limit int) (eventstore.Page, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.Page{}, fmt.Errorf("eventstore/memory: read all: %w", err)
	}
	if limit <= 0 {
		return eventstore.Page{}, fmt.Errorf("%w: limit %d is not positive", eventstore.ErrInvalidInput, limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.all), func(i int) bool { return s.all[i].Key > after })
	end := min(i+limit, len(s.all))
	page := eventstore.Page{Records: cloneRecords(s.all[i:end])}
	if end < len(s.all) {
		page.Next = s.all[end-1].Key
	}
	return page, nil
}

// scanPageSize is the most records one call of ScanSegments' fn carries.
const scanPageSize = 100

// ScanSegments calls fn with every stored event, as the DynamoDB adapter's ScanSegments
// does: the streams are spread over segments segments (each stream in one, in version
// order), which call fn concurrently, a page of records at a time. It reads the events
// stored when it is called.
func (s *Store) ScanSegments(ctx context.Context, segments int, fn func(segment int, recs []eventstore.Record) error) error {
	if segments < 1 {
		return fmt.Errorf("%w: scan of %d segments", eventstore.ErrInvalidInput, segments)
	}
	s.mu.Lock()
	parts := make([][]eventstore.Record, segments)
	for _, r := range s.all {
		h := fnv.New32a()
		h.Write([]byte(r.Stream))
		i := h.Sum32() % uint32(segments)
		parts[i] = append(parts[i], r)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for seg, recs := range parts {
		wg.Go(func() {
			for start := 0; start < len(recs) && ctx.Err() == nil; start += scanPageSize {
				if err := fn(seg, cloneRecords(recs[start:min(start+scanPageSize, len(recs))])); err != nil {
					cancel(err)
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// EstimateEvents returns the number of stored events.
func (s *Store) EstimateEvents(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.all)), nil
}

// Put implements eventstore.Store.
func (s *Store) Put(ctx context.Context, body json.RawMessage) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("eventstore/memory: put: %w", err)
	}
	if err := eventstore.ValidateBody(body); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := eventstore.NewPutRecord(s.keys.Next(), cloneBody(body), s.clock())
	if err := eventstore.CheckPutSize(layout.RecordSize(r)); err != nil {
		return "", err
	}
	s.streams[r.Stream] = []eventstore.Record{r}
	s.all = append(s.all, r)
	return r.Key, nil
}

// RecordOutcome implements eventstore.Store.
func (s *Store) RecordOutcome(ctx context.Context, o eventstore.Outcome) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("eventstore/memory: record outcome of %s: %w", o.CommandID, err)
	}
	if err := eventstore.ValidateOutcome(o); err != nil {
		return err
	}
	if o.RecordedAt.IsZero() {
		o.RecordedAt = s.clock()
	}
	o.RecordedAt = o.RecordedAt.Round(0).UTC()
	if err := eventstore.CheckOutcomeSize(o, layout.OutcomeSize(o)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.outcomes[o.CommandID]; ok {
		return &eventstore.DuplicateCommandError{CommandID: o.CommandID}
	}
	s.outcomes[o.CommandID] = o
	return nil
}

// Outcome implements eventstore.Store.
func (s *Store) Outcome(ctx context.Context, commandID string) (eventstore.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.Outcome{}, fmt.Errorf("eventstore/memory: outcome of %s: %w", commandID, err)
	}
	if commandID == "" {
		return eventstore.Outcome{}, fmt.Errorf("%w: command id is empty", eventstore.ErrInvalidInput)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.outcomes[commandID]
	if !ok {
		return eventstore.Outcome{}, fmt.Errorf("eventstore/memory: outcome of %s: %w", commandID, eventstore.ErrNotFound)
	}
	return o, nil
}

func cloneBody(b json.RawMessage) json.RawMessage { return bytes.Clone(b) }

// cloneRecords copies records and their bodies so that callers never share the store's memory.
func cloneRecords(in []eventstore.Record) []eventstore.Record {
	out := make([]eventstore.Record, len(in))
	for i, r := range in {
		r.Body = cloneBody(r.Body)
		out[i] = r
	}
	return out
}
