package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/domain"
	"buildledger/envelope"
	"buildledger/eventstore"
	esmemory "buildledger/eventstore/memory"
	"buildledger/handlers"
	"buildledger/snapshots"
	snapmemory "buildledger/snapshots/memory"
)

var testNow = time.Date(2024, 5, 17, 9, 30, 0, 0, time.UTC)

// recorder keeps every item it is given; failures makes the next calls fail.
type recorder[T any] struct {
	mu       sync.Mutex
	kept     []T
	failures int
}

// keep keeps items, or reports false and keeps nothing while failures are left.
func (r *recorder[T]) keep(items ...T) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		return false
	}
	r.kept = append(r.kept, items...)
	return true
}

// all returns a copy of the items kept.
func (r *recorder[T]) all() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.kept...)
}

// recordingPublisher keeps every published record; failures makes the next calls fail.
type recordingPublisher struct{ recorder[eventstore.Record] }

func (p *recordingPublisher) Publish(_ context.Context, records []eventstore.Record) error {
	if !p.keep(records...) {
		return errors.New("topic unavailable")
	}
	return nil
}

func (p *recordingPublisher) records() []eventstore.Record { return p.all() }

// loadRecorder remembers the fromVersion of every Load, to tell a snapshot load from a
// full replay.
type loadRecorder struct {
	eventstore.Store
	mu    sync.Mutex
	froms []int64
}

func (s *loadRecorder) Load(ctx context.Context, stream string, from int64) ([]eventstore.Record, error) {
	s.mu.Lock()
	s.froms = append(s.froms, from)
	s.mu.Unlock()
	return s.Store.Load(ctx, stream, from)
}

// loads returns how many Loads were made.
func (s *loadRecorder) loads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.froms)
}

func (s *loadRecorder) lastFrom() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.froms[len(s.froms)-1]
}

type fixture struct {
	events    *loadRecorder
	snaps     *snapmemory.Store
	publisher *recordingPublisher
	metrics   *handlers.Metrics
	handler   *handlers.CommandHandler
}

type fixtureOption func(*handlers.CommandHandlerConfig)

// withoutAggregateCache makes every command load its stream from the stores.
func withoutAggregateCache(c *handlers.CommandHandlerConfig) { c.AggregateCacheSize = -1 }

func newFixture(t *testing.T, opts ...fixtureOption) *fixture {
	t.Helper()
	f := &fixture{
		events:    &loadRecorder{Store: esmemory.NewWithClock(func() time.Time { return testNow })},
		snaps:     snapmemory.New(),
		publisher: &recordingPublisher{},
	}
	var err error
	if f.metrics, err = handlers.NewMetrics(nil); err != nil {
		t.Fatal(err)
	}
	var n atomic.Uint32
	cfg := handlers.CommandHandlerConfig{
		Events:          f.events,
		Publisher:       f.publisher,
		Snapshots:       f.snaps,
		SnapshotPolicy:  snapshots.EveryN(1000),
		ConflictBackoff: time.Millisecond,
		Clock:           func() time.Time { return testNow },
		NewID: func() uuid.UUID {
			return uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%d", n.Add(1)))
		},
		Metrics: f.metrics,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if f.handler, err = handlers.NewCommandHandler(cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

// message returns a command message body: the command's fields plus type, id and metadata.
func message(t testing.TB, id string, cmd domain.Command) []byte {
	t.Helper()
	fields := map[string]any{}
	raw, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	fields["type"] = cmd.CommandType()
	if id != "" {
		fields["id"] = id
	}
	fields["metadata"] = map[string]string{"correlationId": "corr-" + id}
	body, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func (f *fixture) handle(t *testing.T, id string, cmd domain.Command) (handlers.Result, error) {
	t.Helper()
	return f.handler.Handle(context.Background(), handlers.Envelope{Body: message(t, id, cmd), MessageID: "msg-" + id})
}

func (f *fixture) mustAccept(t *testing.T, id string, cmd domain.Command) handlers.Result {
	t.Helper()
	res, err := f.handle(t, id, cmd)
	if err != nil {
		t.Fatalf("%s %s: %v", cmd.CommandType(), id, err)
	}
	if res.Outcome.Status != eventstore.OutcomeAccepted {
		t.Fatalf("%s %s: outcome %+v, want accepted", cmd.CommandType(), id, res.Outcome)
	}
	return res
}

func (f *fixture) stream(t *testing.T, stream string) []eventstore.Record {
	t.Helper()
	recs, err := f.events.Store.Load(context.Background(), stream, 1)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func commandsCount(m *handlers.Metrics, label string) float64 {
	return testutil.ToFloat64(m.Commands.WithLabelValues(label))
}

func TestCommandHandler_GivenFreeEnv_WhenLock_ThenEventAppendedOutcomeAcceptedAndPublished(t *testing.T) {
	f := newFixture(t)
	res := f.mustAccept(t, "c1", domain.Lock{Env: "prod", User: "alice", Meta: "deploy"})

	recs := f.stream(t, "lock:prod")
	if len(recs) != 1 || recs[0].Type != "Locked" || recs[0].Version != 1 || recs[0].CommandID != "c1" {
		t.Fatalf("stream holds %+v, want one Locked at version 1 by c1", recs)
	}
	if recs[0].Metadata.CorrelationID != "corr-c1" || recs[0].Metadata.CausationID != "c1" {
		t.Errorf("metadata = %+v, want correlation corr-c1 and causation c1", recs[0].Metadata)
	}
	stored, err := f.events.Outcome(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != eventstore.OutcomeAccepted || stored.FirstVersion != 1 || stored.LastVersion != 1 || stored.Version != 1 {
		t.Errorf("stored outcome = %+v, want accepted 1..1", stored)
	}
	if res.Outcome.Version != 1 || res.Duplicate {
		t.Errorf("result = %+v", res)
	}
	if pub := f.publisher.records(); len(pub) != 1 || pub[0].Key != recs[0].Key {
		t.Errorf("published %+v, want the committed record", pub)
	}
	if got := commandsCount(f.metrics, handlers.LabelAccepted); got != 1 {
		t.Errorf("accepted metric = %v, want 1", got)
	}
}

func TestCommandHandler_GivenEnvLockedByBob_WhenAliceLocks_ThenRejectedWithStoredReasonAndNothingPublished(t *testing.T) {
	f := newFixture(t)
	f.mustAccept(t, "bob-1", domain.Lock{Env: "prod", User: "bob"})

	res, err := f.handle(t, "alice-1", domain.Lock{Env: "prod", User: "alice"})
	if err != nil {
		t.Fatalf("a rejection must be acked, got error %v", err)
	}
	const reason = "Still locked at env prod by bob"
	if res.Outcome.Status != eventstore.OutcomeRejected || res.Outcome.Reason != reason {
		t.Fatalf("outcome = %+v, want rejected %q", res.Outcome, reason)
	}
	stored, err := f.events.Outcome(context.Background(), "alice-1")
	if err != nil || stored.Status != eventstore.OutcomeRejected || stored.Reason != reason || stored.Stream != "lock:prod" || stored.Version != 1 {
		t.Fatalf("stored outcome = %+v, %v; want rejected %q at version 1", stored, err, reason)
	}
	if n := len(f.stream(t, "lock:prod")); n != 1 {
		t.Errorf("stream has %d events, want 1", n)
	}
	if n := len(f.publisher.records()); n != 1 {
		t.Errorf("published %d records, want only bob's", n)
	}
	if got := commandsCount(f.metrics, handlers.LabelRejected); got != 1 {
		t.Errorf("rejected metric = %v, want 1", got)
	}

	// The same rejected command again is a duplicate: no second outcome, nothing published.
	res, err = f.handle(t, "alice-1", domain.Lock{Env: "prod", User: "alice"})
	if err != nil || !res.Duplicate || res.Outcome.Reason != reason {
		t.Fatalf("redelivered rejection = %+v, %v; want the stored rejection as a duplicate", res, err)
	}
}

func TestCommandHandler_GivenInvalidMessages_WhenHandled_ThenDeadLetteredWithInvalidOutcome(t *testing.T) {
	big := `{"type":"Lock","id":"big-1","env":"prod","user":"alice","meta":"` + strings.Repeat("x", envelope.DefaultMaxBytes) + `"}`
	bigIDLast := `{"type":"Lock","env":"prod","user":"alice","meta":"` + strings.Repeat("x", envelope.DefaultMaxBytes) + `","id":"big-2"}`
	bigNoID := `{"type":"Lock","env":"prod","user":"alice","meta":"` + strings.Repeat("x", envelope.DefaultMaxBytes) + `"}`
	tests := []struct {
		name       string
		body       string
		outcomeID  string // where the invalid outcome is stored
		reasonPart string
	}{
		{"given invalid JSON then dead letter under the message id", `{"type":"Lock",`, "msg-x", "not valid JSON"},
		{"given a JSON array then dead letter", `[1,2]`, "msg-x", "not a JSON object"},
		{"given invalid UTF-8 then dead letter", "{\"type\":\"Lock\",\"env\":\"\xff\"}", "msg-x", "UTF-8"},
		{"given an unknown type then dead letter under its id", `{"type":"Unlock","id":"u1","env":"prod"}`, "u1", `unknown command type "Unlock"`},
		{"given no type then dead letter", `{"id":"n1","env":"prod","user":"alice"}`, "n1", "type: is missing"},
		{"given a missing field then dead letter", `{"type":"Lock","id":"m1","env":"prod"}`, "m1", "user"},
		{"given a field of the wrong JSON type then dead letter", `{"type":"Lock","id":"w1","env":"prod","user":7}`, "w1", "user"},
		{"given a non-string id then dead letter under the message id", `{"type":"Lock","id":5,"env":"prod","user":"alice"}`, "msg-x", "id: must be a string"},
		{"given an oversized body with an id then dead letter under its id", big, "big-1", "at most 65536"},
		{"given an oversized body whose id comes last then dead letter under its id", bigIDLast, "big-2", "at most 65536"},
		{"given an oversized body without an id then dead letter under the message id", bigNoID, "msg-x", "at most 65536"},
		{"given an unknown field then dead letter naming it", `{"type":"Lock","id":"f1","env":"prod","user":"alice","uber_lock":true}`, "f1", "uber_lock: unknown field"},
		{"given a key in another case then dead letter, never folded", `{"type":"Lock","id":"f2","env":"prod","user":"alice","USER":"mallory"}`, "f2", `USER: unknown field (field names are case-sensitive: did you mean "user"?)`},
		{"given a key twice then dead letter", `{"type":"Lock","id":"f3","env":"prod","user":"alice","user":"mallory"}`, "msg-x", `key "user" appears more than once`},
		{"given an envelope key in another case then dead letter", `{"type":"Lock","ID":"f4","env":"prod","user":"alice"}`, "msg-x", "ID: unknown field"},
		{"given an unknown metadata field then dead letter", `{"type":"Lock","id":"f5","env":"prod","user":"alice","metadata":{"correlationID":"x"}}`, "f5", "metadata.correlationID: unknown field"},
		{"given a deadline that is not a time then dead letter", `{"type":"Lock","id":"f6","env":"prod","user":"alice","notAfter":"tomorrow"}`, "f6", `notAfter: "tomorrow" is not an RFC 3339 time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.handler.Handle(context.Background(), handlers.Envelope{Body: []byte(tt.body), MessageID: "msg-x"})
			var dl *handlers.DeadLetterError
			if !errors.As(err, &dl) || dl.Kind != handlers.DeadLetterInvalid {
				t.Fatalf("error = %v, want a dead letter (invalid)", err)
			}
			if !errors.Is(err, domain.ErrInvalidCommand) {
				t.Errorf("error %v does not match domain.ErrInvalidCommand", err)
			}
			if !strings.Contains(dl.Reason, tt.reasonPart) {
				t.Errorf("reason %q does not mention %q", dl.Reason, tt.reasonPart)
			}
			o, err := f.events.Outcome(context.Background(), tt.outcomeID)
			if err != nil || o.Status != eventstore.OutcomeInvalid || o.Reason != dl.Reason {
				t.Errorf("outcome of %s = %+v, %v; want invalid with the reason", tt.outcomeID, o, err)
			}
			if got := commandsCount(f.metrics, handlers.LabelInvalid); got != 1 {
				t.Errorf("invalid metric = %v, want 1", got)
			}
			// Redelivered, it is dead-lettered again and the stored outcome stands.
			_, err = f.handler.Handle(context.Background(), handlers.Envelope{Body: []byte(tt.body), MessageID: "msg-x"})
			if !handlers.IsDeadLetter(err) {
				t.Errorf("redelivery: error = %v, want a dead letter", err)
			}
		})
	}
}

func TestCommandHandler_GivenAcceptedCommand_WhenSameIDAgain_ThenNoNewEventsAndCommittedOnesRepublished(t *testing.T) {
	f := newFixture(t)
	first := f.mustAccept(t, "c1", domain.CreateBuild{User: "api", Repo: "foo", Tag: "v1", Browsers: []string{"chrome", "firefox"}})

	// Same command, other key order, whitespace and correlation metadata: still the same command.
	again := []byte(`{ "browsers":["chrome","firefox"], "tag":"v1", "repo":"foo", "user":"api", "id":"c1", "type":"CreateBuild" }`)
	for i := range 3 {
		res, err := f.handler.Handle(context.Background(), handlers.Envelope{Body: again, MessageID: fmt.Sprintf("m%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Duplicate || len(res.Records) != len(first.Records) || res.Records[0].Key != first.Records[0].Key {
			t.Fatalf("duplicate result = %+v, want the first records re-published", res)
		}
	}
	if n := len(f.stream(t, "repo:api/foo")); n != len(first.Records) {
		t.Fatalf("stream has %d events, want %d (one execution)", n, len(first.Records))
	}
	if n := len(f.publisher.records()); n != 4*len(first.Records) {
		t.Errorf("published %d records, want the same ones 4 times", n)
	}
	if got := testutil.ToFloat64(f.metrics.Duplicates); got != 3 {
		t.Errorf("duplicates metric = %v, want 3", got)
	}
}

func TestCommandHandler_GivenAcceptedCommandAndStreamMovedOn_WhenRedelivered_ThenDuplicateWhateverItWouldDecideNow(t *testing.T) {
	tests := []struct {
		name  string
		after []domain.Command // commands after c1, each accepted
		want  string           // what deciding c1 again would say now
	}{
		{"given_env_now_locked_by_bob_then_not_rejected", []domain.Command{
			domain.Release{Env: "prod", User: "alice"}, domain.Lock{Env: "prod", User: "bob"},
		}, "rejected"},
		{"given_env_released_then_not_locked_again", []domain.Command{
			domain.Release{Env: "prod", User: "alice"},
		}, "accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			first := f.mustAccept(t, "c1", domain.Lock{Env: "prod", User: "alice"})
			for i, cmd := range tt.after {
				f.mustAccept(t, fmt.Sprintf("after-%d", i), cmd)
			}
			version := int64(1 + len(tt.after))
			published := len(f.publisher.records())

			res, err := f.handle(t, "c1", domain.Lock{Env: "prod", User: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Duplicate || res.Outcome.Status != eventstore.OutcomeAccepted || res.Outcome.Version != 1 {
				t.Fatalf("result = %+v, want the first, accepted outcome as a duplicate", res)
			}
			if len(res.Records) != 1 || res.Records[0].Key != first.Records[0].Key {
				t.Errorf("re-published %+v, want the first command's record", res.Records)
			}
			if n := len(f.stream(t, "lock:prod")); int64(n) != version {
				t.Errorf("stream has %d events, want %d: the redelivery %s anew", n, version, tt.want)
			}
			stored, err := f.events.Outcome(context.Background(), "c1")
			if err != nil {
				t.Fatal(err)
			}
			if stored.Status != eventstore.OutcomeAccepted || stored.Version != 1 {
				t.Errorf("stored outcome = %+v, want the first, accepted at 1", stored)
			}
			if n := len(f.publisher.records()) - published; n != 1 {
				t.Errorf("published %d records for the redelivery, want the 1 committed", n)
			}
			if got := commandsCount(f.metrics, handlers.LabelRejected); got != 0 {
				t.Errorf("rejected metric = %v, want 0", got)
			}
		})
	}
}

func TestCommandHandler_GivenRejectedCommandAndEnvFreedSince_WhenRedelivered_ThenDuplicateRejectionAndNoEvents(t *testing.T) {
	f := newFixture(t)
	f.mustAccept(t, "bob-1", domain.Lock{Env: "prod", User: "bob"})
	res, err := f.handle(t, "c1", domain.Lock{Env: "prod", User: "alice"})
	if err != nil || res.Outcome.Status != eventstore.OutcomeRejected {
		t.Fatalf("first delivery: %+v, %v; want rejected", res, err)
	}
	f.mustAccept(t, "bob-2", domain.Release{Env: "prod", User: "bob"})

	res, err = f.handle(t, "c1", domain.Lock{Env: "prod", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Duplicate || res.Outcome.Status != eventstore.OutcomeRejected || len(res.Records) != 0 {
		t.Fatalf("result = %+v, want the stored rejection as a duplicate", res)
	}
	if n := len(f.stream(t, "lock:prod")); n != 2 {
		t.Errorf("stream has %d events, want 2: the redelivery took effect", n)
	}
}

func TestCommandHandler_GivenUsedID_WhenAnotherCommandReusesIt_ThenDeadLetteredAndNeverApplied(t *testing.T) {
	f := newFixture(t)
	f.mustAccept(t, "c1", domain.Lock{Env: "prod", User: "alice"})

	_, err := f.handle(t, "c1", domain.Lock{Env: "staging", User: "alice"})
	var dl *handlers.DeadLetterError
	if !errors.As(err, &dl) || dl.Kind != handlers.DeadLetterReusedID {
		t.Fatalf("error = %v, want a reused-id dead letter", err)
	}
	if !strings.Contains(dl.Reason, "Lock on lock:prod") {
		t.Errorf("reason %q should name the command the id was used for", dl.Reason)
	}
	if n := len(f.stream(t, "lock:staging")); n != 0 {
		t.Errorf("staging stream has %d events, want none", n)
	}
	if n := len(f.publisher.records()); n != 1 {
		t.Errorf("published %d records, want only the first command's", n)
	}
	if got := testutil.ToFloat64(f.metrics.DeadLettered.WithLabelValues("commands", handlers.DeadLetterReusedID)); got != 1 {
		t.Errorf("dead-lettered metric = %v, want 1", got)
	}
}

// conflictingStore lets another writer append to the stream just before the first
// `conflicts` appends, so that they lose the race for real.
type conflictingStore struct {
	eventstore.Store
	conflicts atomic.Int32
	appends   atomic.Int32
}

func (s *conflictingStore) Append(ctx context.Context, stream string, expected int64, events []eventstore.Event, cmd eventstore.CommandRef) ([]eventstore.Record, error) {
	s.appends.Add(1)
	if s.conflicts.Add(-1) >= 0 {
		rival := eventstore.Event{Type: "LockRefreshed", Body: json.RawMessage(`{"env":"prod","user":"alice","lockId":"` + uuid.NewString() + `","at":"2024-05-17T09:00:00Z"}`)}
		if _, err := s.Store.Append(ctx, stream, expected, []eventstore.Event{rival}, eventstore.CommandRef{ID: "rival-" + uuid.NewString()}); err != nil {
			return nil, err
		}
	}
	return s.Store.Append(ctx, stream, expected, events, cmd)
}

func TestCommandHandler_GivenRivalAppendsFirst_WhenLock_ThenDecidedAgainAndAppendedAfterIt(t *testing.T) {
	inner := esmemory.New()
	store := &conflictingStore{Store: inner}
	f := newFixture(t, func(c *handlers.CommandHandlerConfig) { c.Events = store })
	if _, err := inner.Append(context.Background(), "lock:prod", 0, []eventstore.Event{{
		Type: "Locked", Body: json.RawMessage(`{"env":"prod","user":"alice","lockId":"` + uuid.NewString() + `","at":"2024-05-17T09:00:00Z"}`),
	}}, eventstore.CommandRef{ID: "setup"}); err != nil {
		t.Fatal(err)
	}
	store.conflicts.Store(1)

	res, err := f.handle(t, "c1", domain.Lock{Env: "prod", User: "alice", Meta: "again"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome.FirstVersion != 3 || res.Outcome.Version != 3 {
		t.Fatalf("outcome = %+v, want the event at version 3, after the rival's", res.Outcome)
	}
	recs, _ := inner.Load(context.Background(), "lock:prod", 1)
	for i, r := range recs {
		if r.Version != int64(i+1) {
			t.Fatalf("versions not contiguous: %+v", recs)
		}
	}
	if got := testutil.ToFloat64(f.metrics.Conflicts); got != 1 {
		t.Errorf("conflicts metric = %v, want 1", got)
	}
	if got := store.appends.Load(); got != 2 {
		t.Errorf("appends = %d, want 2", got)
	}
}

func TestCommandHandler_GivenEndlessConflicts_WhenRetriesRunOut_ThenTransientErrorAndNoOutcome(t *testing.T) {
	store := &conflictingStore{Store: esmemory.New()}
	store.conflicts.Store(1 << 20)
	f := newFixture(t, func(c *handlers.CommandHandlerConfig) { c.Events = store; c.MaxConflictRetries = 3 })
	if _, err := store.Store.Append(context.Background(), "lock:prod", 0, []eventstore.Event{{
		Type: "Locked", Body: json.RawMessage(`{"env":"prod","user":"alice","lockId":"` + uuid.NewString() + `","at":"2024-05-17T09:00:00Z"}`),
	}}, eventstore.CommandRef{ID: "setup"}); err != nil {
		t.Fatal(err)
	}

	_, err := f.handle(t, "c1", domain.Lock{Env: "prod", User: "alice"})
	if err == nil || handlers.IsDeadLetter(err) || !errors.Is(err, eventstore.ErrVersionConflict) {
		t.Fatalf("error = %v, want a transient version conflict", err)
	}
	if got := store.appends.Load(); got != 4 {
		t.Errorf("appends = %d, want 1 + 3 retries", got)
	}
	if _, err := store.Outcome(context.Background(), "c1"); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("outcome lookup = %v, want none stored", err)
	}
}

// lockReleaseCycle returns the i-th command of alice locking and releasing prod in turn.
func lockReleaseCycle(i int) domain.Command {
	if i%2 == 0 {
		return domain.Lock{Env: "prod", User: "alice"}
	}
	return domain.Release{Env: "prod", User: "alice"}
}

func TestCommandHandler_GivenSnapshotEvery3_When7Commands_ThenSnapshotsTakenAndUsedOnLoad(t *testing.T) {
	f := newFixture(t, withoutAggregateCache, func(c *handlers.CommandHandlerConfig) { c.SnapshotPolicy = snapshots.EveryN(3) })
	for i := range 7 {
		f.mustAccept(t, fmt.Sprintf("c%d", i), lockReleaseCycle(i))
		f.handler.Wait()
	}
	snap, err := f.snaps.Fetch(context.Background(), "lock:prod", 1)
	if err != nil || snap.Version != 6 {
		t.Fatalf("snapshot = %+v, %v; want one at version 6", snap, err)
	}
	if got := testutil.ToFloat64(f.metrics.SnapshotsTaken); got != 2 {
		t.Errorf("snapshots taken = %v, want 2 (at 3 and 6)", got)
	}
	// The 8th command loads the snapshot at 6 and only the events after it.
	f.mustAccept(t, "c7", lockReleaseCycle(7))
	if got := f.events.lastFrom(); got != 7 {
		t.Errorf("last load started at version %d, want 7 (after the snapshot)", got)
	}
	if got := testutil.ToFloat64(f.metrics.SnapshotsUnusable); got != 0 {
		t.Errorf("unusable snapshots = %v, want 0", got)
	}
}

func TestCommandHandler_GivenUnusableSnapshot_WhenCommand_ThenFullReplayAndAccepted(t *testing.T) {
	tests := []struct {
		name string
		snap snapshots.Snapshot
	}{
		{"given another schema", snapshots.Snapshot{AggregateID: "lock:prod", Version: 1, Schema: 99, State: json.RawMessage(`{}`)}},
		{"given state that does not restore", snapshots.Snapshot{AggregateID: "lock:prod", Version: 1, Schema: 1, State: json.RawMessage(`{"unknown":true}`)}},
		{"given state that is not JSON", snapshots.Snapshot{AggregateID: "lock:prod", Version: 1, Schema: 1, State: json.RawMessage(`{nope`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, withoutAggregateCache)
			f.mustAccept(t, "c0", domain.Lock{Env: "prod", User: "alice"})
			if err := f.snaps.PutRaw(context.Background(), tt.snap); err != nil {
				t.Fatal(err)
			}
			res := f.mustAccept(t, "c1", domain.Release{Env: "prod", User: "alice"})
			if res.Outcome.Version != 2 {
				t.Errorf("outcome = %+v, want version 2", res.Outcome)
			}
			if got := f.events.lastFrom(); got != 1 {
				t.Errorf("load started at version %d, want a full replay from 1", got)
			}
			if got := testutil.ToFloat64(f.metrics.SnapshotsUnusable); got != 1 {
				t.Errorf("unusable snapshots = %v, want 1", got)
			}
		})
	}
}

// failingAppends fails the first n appends with a transient error.
type failingAppends struct {
	eventstore.Store
	n atomic.Int32
}

func (s *failingAppends) Append(ctx context.Context, stream string, expected int64, events []eventstore.Event, cmd eventstore.CommandRef) ([]eventstore.Record, error) {
	if s.n.Add(-1) >= 0 {
		return nil, errors.New("ProvisionedThroughputExceededException: throttled")
	}
	return s.Store.Append(ctx, stream, expected, events, cmd)
}

func TestCommandHandler_GivenThrottledStore_WhenHandled_ThenTransientErrorAndRetrySucceedsOnce(t *testing.T) {
	store := &failingAppends{Store: esmemory.New()}
	store.n.Store(1)
	f := newFixture(t, func(c *handlers.CommandHandlerConfig) { c.Events = store })

	if _, err := f.handle(t, "c1", domain.Lock{Env: "prod", User: "alice"}); err == nil || handlers.IsDeadLetter(err) {
		t.Fatalf("error = %v, want a transient error", err)
	}
	if _, err := store.Outcome(context.Background(), "c1"); !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatalf("an outcome was stored for a failed append: %v", err)
	}
	f.mustAccept(t, "c1", domain.Lock{Env: "prod", User: "alice"})
}

func TestCommandHandler_GivenTopicDown_WhenCommitted_ThenErrorAndRedeliveryRepublishesWithoutNewEvents(t *testing.T) {
	f := newFixture(t)
	f.publisher.failures = 1
	if _, err := f.handle(t, "c1", domain.Lock{Env: "prod", User: "alice"}); err == nil || handlers.IsDeadLetter(err) {
		t.Fatalf("error = %v, want a transient publish error", err)
	}
	res, err := f.handle(t, "c1", domain.Lock{Env: "prod", User: "alice"})
	if err != nil || !res.Duplicate || len(res.Records) != 1 {
		t.Fatalf("redelivery = %+v, %v; want a duplicate re-publishing the one event", res, err)
	}
	if n := len(f.stream(t, "lock:prod")); n != 1 {
		t.Errorf("stream has %d events, want 1", n)
	}
	if n := len(f.publisher.records()); n != 1 {
		t.Errorf("published %d records, want 1", n)
	}
}

func TestCommandHandler_GivenConcurrentCommandsOnOneStream_WhenHandled_ThenContiguousVersions(t *testing.T) {
	f := newFixture(t, func(c *handlers.CommandHandlerConfig) { c.SnapshotPolicy = snapshots.EveryN(7) })
	const n = 60
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("b%d", i)
			res, err := f.handler.Handle(context.Background(), handlers.Envelope{
				Body: message(t, id, domain.CreateBuild{User: "api", Repo: "foo", Tag: id, Browsers: []string{"chrome"}}),
			})
			for err != nil && !handlers.IsDeadLetter(err) { // the delivery is retried, as SQS would
				res, err = f.handler.Handle(context.Background(), handlers.Envelope{
					Body: message(t, id, domain.CreateBuild{User: "api", Repo: "foo", Tag: id, Browsers: []string{"chrome"}}),
				})
			}
			if err == nil && res.Outcome.Status != eventstore.OutcomeAccepted {
				err = fmt.Errorf("%s: %+v", id, res.Outcome)
			}
			errs <- err
		})
	}
	wg.Wait()
	f.handler.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	recs := f.stream(t, "repo:api/foo")
	if len(recs) != n {
		t.Fatalf("stream has %d events, want %d", len(recs), n)
	}
	events := make([]domain.Event, len(recs))
	for i, r := range recs {
		if r.Version != int64(i+1) {
			t.Fatalf("version %d at position %d", r.Version, i)
		}
		var err error
		if events[i], err = domain.DecodeEvent(r.Type, r.Body); err != nil {
			t.Fatal(err)
		}
	}
	agg, err := domain.Rehydrate("repo:api/foo", events)
	if err != nil {
		t.Fatal(err)
	}
	if got := agg.(*domain.Repo).NextBuildID(); got != n+1 {
		t.Errorf("next build id = %d, want %d", got, n+1)
	}
}
