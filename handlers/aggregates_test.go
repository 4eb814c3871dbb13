package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/handlers"
)

// otherWorker returns a second command handler on the fixture's stores, as another worker
// process would be: its appends make the fixture handler's cached aggregates stale.
func (f *fixture) otherWorker(t *testing.T) *fixture {
	t.Helper()
	metrics, err := handlers.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := handlers.NewCommandHandler(handlers.CommandHandlerConfig{
		Events:          f.events.Store,
		Publisher:       f.publisher,
		Snapshots:       f.snaps,
		ConflictBackoff: time.Millisecond,
		Clock:           func() time.Time { return testNow },
		Metrics:         metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{events: &loadRecorder{Store: f.events.Store}, snaps: f.snaps, publisher: f.publisher, metrics: metrics, handler: h}
}

func TestAggregateCache_GivenCachedStream_WhenNextCommands_ThenNothingIsRead(t *testing.T) {
	f := newFixture(t)
	f.mustAccept(t, "c0", domain.Lock{Env: "prod", User: "alice"})
	loads := f.events.loads()
	for i := 1; i < 6; i++ {
		res := f.mustAccept(t, "c"+string(rune('0'+i)), lockReleaseCycle(i))
		if res.Outcome.Version != int64(i+1) {
			t.Fatalf("command %d: outcome %+v, want version %d", i, res.Outcome, i+1)
		}
	}
	if got := f.events.loads() - loads; got != 0 {
		t.Errorf("%d loads after the first command, want none", got)
	}
}

func TestAggregateCache_GivenStaleCacheThatAccepts_WhenAnotherWorkerLockedMeanwhile_ThenConflictDropsItAndRejected(t *testing.T) {
	f := newFixture(t)
	f.mustAccept(t, "a1", domain.Lock{Env: "prod", User: "alice"})
	f.mustAccept(t, "a2", domain.Release{Env: "prod", User: "alice"}) // cached at 2: free
	f.otherWorker(t).mustAccept(t, "b1", domain.Lock{Env: "prod", User: "bob"})

	res, err := f.handle(t, "c1", domain.Lock{Env: "prod", User: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome.Status != eventstore.OutcomeRejected || res.Outcome.Version != 3 || !strings.Contains(res.Outcome.Reason, "by bob") {
		t.Fatalf("outcome = %+v, want rejected at 3 because bob holds prod", res.Outcome)
	}
	if got := testutil.ToFloat64(f.metrics.Conflicts); got != 1 {
		t.Errorf("conflicts = %v, want 1 (the stale aggregate lost)", got)
	}
	if got := f.events.lastFrom(); got != 1 {
		t.Errorf("after the conflict the stream was loaded from %d, want 1: the stale entry must be dropped", got)
	}
	if n := len(f.stream(t, "lock:prod")); n != 3 {
		t.Errorf("stream has %d events, want 3", n)
	}
	// The entry kept after the rejection is the current state.
	loads := f.events.loads()
	f.otherWorker(t).mustAccept(t, "b2", domain.Release{Env: "prod", User: "bob"})
	if res := f.mustAccept(t, "c2", domain.Lock{Env: "prod", User: "carol"}); res.Outcome.Version != 5 {
		t.Errorf("carol's lock: outcome %+v, want version 5", res.Outcome)
	}
	if got := f.events.loads() - loads; got != 1 || f.events.lastFrom() != 4 {
		t.Errorf("%d loads for carol's lock, the last from %d; want 1 from 4: the cached aggregate at 3 refuses, and catching up with bob's release lets carol lock", got, f.events.lastFrom())
	}
}

func TestAggregateCache_GivenStaleCacheThatRejects_WhenAnotherWorkerReleasedMeanwhile_ThenCaughtUpAndAccepted(t *testing.T) {
	f := newFixture(t)
	f.mustAccept(t, "a1", domain.Lock{Env: "prod", User: "alice"}) // cached at 1: alice holds prod
	f.otherWorker(t).mustAccept(t, "a2", domain.Release{Env: "prod", User: "alice"})

	res := f.mustAccept(t, "b1", domain.Lock{Env: "prod", User: "bob"})
	if res.Outcome.Version != 3 || res.Duplicate {
		t.Fatalf("outcome = %+v, want accepted at 3", res.Outcome)
	}
	if got := f.events.lastFrom(); got != 2 {
		t.Errorf("the rejection was checked from version %d, want 2 (the events after the cached 1)", got)
	}
	if got := commandsCount(f.metrics, handlers.LabelRejected); got != 0 {
		t.Errorf("rejected = %v, want 0: a stale aggregate must not reject", got)
	}
	if _, err := f.events.Outcome(context.Background(), "b1"); err != nil {
		t.Errorf("outcome of b1: %v", err)
	}
}

func TestAggregateCache_GivenStaleCacheThatRejects_WhenStillRejectedAfterCatchingUp_ThenRejectedAtTheCurrentVersion(t *testing.T) {
	f := newFixture(t)
	f.mustAccept(t, "a1", domain.Lock{Env: "prod", User: "alice"}) // cached at 1
	other := f.otherWorker(t)
	other.mustAccept(t, "a2", domain.Release{Env: "prod", User: "alice"})
	other.mustAccept(t, "b1", domain.Lock{Env: "prod", User: "bob"})

	res, err := f.handle(t, "c1", domain.Lock{Env: "prod", User: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome.Status != eventstore.OutcomeRejected || res.Outcome.Version != 3 || !strings.Contains(res.Outcome.Reason, "by bob") {
		t.Fatalf("outcome = %+v, want rejected at 3 because bob (not alice) holds prod", res.Outcome)
	}
	stored, err := f.events.Outcome(context.Background(), "c1")
	if err != nil || stored.Version != 3 || !strings.Contains(stored.Reason, "by bob") {
		t.Errorf("stored outcome = %+v, %v; want the rejection at 3 naming bob", stored, err)
	}
}

func TestAggregateCache_GivenCacheHit_WhenAcceptedCommandRedelivered_ThenDuplicateAndCacheStillRight(t *testing.T) {
	f := newFixture(t)
	first := f.mustAccept(t, "c1", domain.Lock{Env: "prod", User: "alice"})
	f.mustAccept(t, "c2", domain.Release{Env: "prod", User: "alice"}) // cached at 2: free
	loads := f.events.loads()

	// Decided on the cached aggregate, c1 would lock again: the append finds its outcome.
	res, err := f.handle(t, "c1", domain.Lock{Env: "prod", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Duplicate || res.Outcome.Version != 1 || len(res.Records) != 1 || res.Records[0].Key != first.Records[0].Key {
		t.Fatalf("result = %+v, want the first outcome as a duplicate with its record", res)
	}
	if n := len(f.stream(t, "lock:prod")); n != 2 {
		t.Fatalf("stream has %d events, want 2", n)
	}
	if res := f.mustAccept(t, "c3", domain.Lock{Env: "prod", User: "bob"}); res.Outcome.Version != 3 {
		t.Errorf("bob's lock: outcome %+v, want version 3", res.Outcome)
	}
	if got := f.events.loads() - loads; got != 0 {
		t.Errorf("%d loads, want none: the duplicate leaves the cached aggregate as it was", got)
	}
}

func TestAggregateCache_GivenSizeTwo_WhenThreeStreams_ThenLeastRecentlyUsedLoadedAgain(t *testing.T) {
	f := newFixture(t, func(c *handlers.CommandHandlerConfig) { c.AggregateCacheSize = 2 })
	for _, env := range []string{"a", "b", "c"} {
		f.mustAccept(t, "lock-"+env, domain.Lock{Env: env, User: "alice"})
	}
	loads := f.events.loads()
	f.mustAccept(t, "release-c", domain.Release{Env: "c", User: "alice"})
	f.mustAccept(t, "release-b", domain.Release{Env: "b", User: "alice"})
	if got := f.events.loads() - loads; got != 0 {
		t.Errorf("%d loads for the two most recent streams, want none", got)
	}
	f.mustAccept(t, "release-a", domain.Release{Env: "a", User: "alice"})
	if got := f.events.loads() - loads; got != 1 {
		t.Errorf("%d loads for the evicted stream, want 1", got)
	}
}

func TestAggregateCache_GivenDisabled_WhenCommands_ThenEveryCommandLoads(t *testing.T) {
	f := newFixture(t, withoutAggregateCache)
	for i := range 4 {
		f.mustAccept(t, "c"+string(rune('0'+i)), lockReleaseCycle(i))
	}
	if got := f.events.loads(); got != 4 {
		t.Errorf("%d loads, want one per command", got)
	}
}
