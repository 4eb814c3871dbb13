package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"buildledger/eventstore"
	"buildledger/eventstore/memory"
	"buildledger/internal/backoff"
	"buildledger/internal/feed"
	"buildledger/internal/webhooks"
)

const secret = "s3cret"

// receiver is a webhook receiver on 127.0.0.1 that verifies every signature, records what
// arrives and, on demand, fails, answers slowly or drops connections (down).
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	arrivals []webhooks.Payload    // every 2xx-answered delivery, in arrival order
	failN    int                   // fail this many more requests with 500
	slow     time.Duration         // answer after this long
	down     bool                  // drop the connection without answering
	refuse   func(key string) bool // answer 503 for these events
	inFlight atomic.Int32
	overlap  atomic.Bool // two requests were in flight at once
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	if r.inFlight.Add(1) > 1 {
		r.overlap.Store(true)
	}
	defer r.inFlight.Add(-1)
	body, _ := io.ReadAll(req.Body)
	if err := webhooks.Verify(secret, req.Header.Get(webhooks.HeaderTimestamp), req.Header.Get(webhooks.HeaderSignature), body, time.Now(), time.Minute); err != nil {
		r.t.Errorf("delivery %s: %v", req.Header.Get(webhooks.HeaderDelivery), err)
	}
	var p webhooks.Payload
	if err := json.Unmarshal(body, &p); err != nil || req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("undecodable delivery (%s): %v", req.Header.Get("Content-Type"), err)
	}
	if p.DeliveryID != req.Header.Get(webhooks.HeaderDelivery) || p.DeliveryID != webhooks.DeliveryID(p.Subscription, p.Event.Key) {
		r.t.Errorf("delivery id %q, header %q", p.DeliveryID, req.Header.Get(webhooks.HeaderDelivery))
	}
	r.mu.Lock()
	slow, down := r.slow, r.down
	fail := r.failN > 0 || (r.refuse != nil && r.refuse(p.Event.Key))
	if r.failN > 0 {
		r.failN--
	}
	r.mu.Unlock()
	time.Sleep(slow)
	switch {
	case down:
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = c.Close()
		}
	case fail:
		http.Error(w, "not now", http.StatusServiceUnavailable)
	default:
		r.mu.Lock()
		r.arrivals = append(r.arrivals, p)
		r.mu.Unlock()
	}
}

func (r *receiver) set(fn func(*receiver)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r)
}

func (r *receiver) got() []webhooks.Payload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhooks.Payload(nil), r.arrivals...)
}

// checkArrivals requires every event of want to have arrived at least once, and each
// stream's first arrivals to be in version order.
func checkArrivals(t *testing.T, got []webhooks.Payload, want []eventstore.Record) {
	t.Helper()
	seen := map[string]bool{}
	next := map[string]int64{}
	for _, p := range got {
		if seen[p.Event.Key] {
			continue
		}
		seen[p.Event.Key] = true
		if want := next[p.Event.Stream] + 1; p.Event.Version != want {
			t.Errorf("%s: version %d arrived when %d was due", p.Event.Stream, p.Event.Version, want)
		}
		next[p.Event.Stream] = p.Event.Version
	}
	for _, rec := range want {
		if !seen[rec.Key] {
			t.Errorf("%s@%d (%s) never arrived", rec.Stream, rec.Version, rec.Key)
		}
	}
}

// appendEvents appends n events to each stream, whose versions start after from, and
// returns them.
func appendEvents(t *testing.T, es *memory.Store, from, n int, streams ...string) []eventstore.Record {
	t.Helper()
	var all []eventstore.Record
	for i := from; i < from+n; i++ {
		for _, s := range streams {
			recs, err := es.Append(context.Background(), s, int64(i), []eventstore.Event{{Type: "Noted", Body: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}},
				eventstore.CommandRef{ID: fmt.Sprintf("%s-%d", s, i)})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, recs...)
		}
	}
	return all
}

// hookedStore returns a subscriptions table on DynamoDB Local holding "hook", which sends
// every event of every stream to a new receiver, and an empty event store.
func hookedStore(t *testing.T) (webhooks.Store, *memory.Store, *receiver) {
	t.Helper()
	st, rcv := newDynamoStore(t), newReceiver(t)
	s := sub("hook", rcv.srv.URL)
	s.Kinds, s.Streams, s.Secret = nil, "", secret
	add(t, st, s)
	return st, memory.New(), rcv
}

func newFeed(t *testing.T, es *memory.Store) *feed.Reader {
	t.Helper()
	r, err := feed.New(feed.Config{Events: es, Settle: 5 * time.Millisecond, Reorder: 5 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func dispatcher(t *testing.T, st webhooks.Store, f *feed.Reader, owner string, maxFailures int) *webhooks.Dispatcher {
	t.Helper()
	d, err := webhooks.NewDispatcher(webhooks.DispatcherConfig{Store: st, Feed: f, Owner: owner, LeaseTTL: time.Second,
		RequestTimeout: 400 * time.Millisecond, MaxFailures: maxFailures, Backoff: backoff.Backoff{Base: 10 * time.Millisecond, Max: 80 * time.Millisecond},
		ScanInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// start runs d until the test ends or the returned stop is called.
func start(t *testing.T, d *webhooks.Dispatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allArrived(r *receiver, want []eventstore.Record) func() bool {
	return func() bool {
		seen := map[string]bool{}
		for _, p := range r.got() {
			seen[p.Event.Key] = true
		}
		for _, rec := range want {
			if !seen[rec.Key] {
				return false
			}
		}
		return true
	}
}

func TestDispatcher_GivenAReceiverThatFailsThenIsSlowThenDown_WhenEventsArrive_ThenEachArrivesInOrderPerStreamSigned(t *testing.T) {
	st, es, rcv := hookedStore(t)
	ctx := context.Background()
	want := appendEvents(t, es, 0, 4, "lock:prod", "repo:acme/api", "status:web/prod/1.0.0")
	rcv.set(func(r *receiver) { r.failN = 3 })
	start(t, dispatcher(t, st, newFeed(t, es), "w1", 1000))

	waitFor(t, "the first events", func() bool { return len(rcv.got()) >= 3 })
	rcv.set(func(r *receiver) { r.slow = 150 * time.Millisecond })
	want = append(want, appendEvents(t, es, 4, 2, "lock:prod", "repo:acme/api")...)
	waitFor(t, "slow deliveries", func() bool { return len(rcv.got()) >= 8 })
	rcv.set(func(r *receiver) { r.slow, r.down = 0, true })
	want = append(want, appendEvents(t, es, 6, 2, "lock:prod", "repo:acme/api")...)
	time.Sleep(500 * time.Millisecond)
	rcv.set(func(r *receiver) { r.down = false })

	waitFor(t, "every event", allArrived(rcv, want))
	checkArrivals(t, rcv.got(), want)
	waitFor(t, "the last checkpoint", func() bool {
		got, err := st.Get(ctx, "hook")
		return err == nil && got.Checkpoint != "" && got.Checkpoint >= want[len(want)-1].Key && got.Failures == 0
	})
}

func TestDispatcher_GivenAnEventTheReceiverRefuses_WhenMaxFailuresPass_ThenParkedOnItAndResumeDeliversItFirst(t *testing.T) {
	st, es, rcv := hookedStore(t)
	ctx := context.Background()
	want := appendEvents(t, es, 0, 3, "lock:prod")
	bad := want[1].Key
	rcv.set(func(r *receiver) { r.refuse = func(key string) bool { return key == bad } })
	start(t, dispatcher(t, st, newFeed(t, es), "w1", 3))

	var parked webhooks.Subscription
	waitFor(t, "the subscription to park", func() bool {
		parked, _ = st.Get(ctx, "hook")
		return parked.State == webhooks.StateParked
	})
	if parked.ParkedKey != bad || parked.Failures != 3 || parked.LastError == "" {
		t.Errorf("parked as %+v, want on %s after 3 failures with the error", parked, bad)
	}
	time.Sleep(300 * time.Millisecond) // nothing after the failing event is sent meanwhile
	if got := rcv.got(); len(got) != 1 || got[0].Event.Key != want[0].Key {
		t.Fatalf("while parked, arrived %v; want only the first event", got)
	}

	rcv.set(func(r *receiver) { r.refuse = nil })
	if err := st.Resume(ctx, "hook"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every event", allArrived(rcv, want))
	if got := rcv.got(); got[1].Event.Key != bad {
		t.Errorf("after resume, %s arrived first; want the parked event %s", got[1].Event.Key, bad)
	}
	checkArrivals(t, rcv.got(), want)
}

// noRelease is a store whose Release does nothing: its dispatcher stops like a killed
// worker, leaving its lease to expire.
type noRelease struct{ webhooks.Store }

func (noRelease) Release(context.Context, string, string) error { return nil }

func TestDispatcher_GivenTwoWorkers_WhenOneStopsAbruptlyMidDelivery_ThenNeverTwoAtOnceAndTheOtherContinuesFromTheCheckpoint(t *testing.T) {
	st, es, rcv := hookedStore(t)
	ctx := context.Background()
	want := appendEvents(t, es, 0, 10, "lock:prod", "repo:acme/api")
	rcv.set(func(r *receiver) { r.slow = 30 * time.Millisecond })
	f := newFeed(t, es)
	stop1 := start(t, dispatcher(t, noRelease{st}, f, "w1", 1000))
	waitFor(t, "w1 to take the lease", func() bool { got, _ := st.Get(ctx, "hook"); return got.LeaseOwner == "w1" })
	start(t, dispatcher(t, st, f, "w2", 1000))
	waitFor(t, "some deliveries", func() bool { return len(rcv.got()) >= 5 })
	stop1() // mid-delivery: its request is cut off, its checkpoint stays before the event
	before, _ := st.Get(ctx, "hook")

	want = append(want, appendEvents(t, es, 10, 3, "lock:prod", "repo:acme/api")...)
	waitFor(t, "every event", allArrived(rcv, want))
	checkArrivals(t, rcv.got(), want)
	after, _ := st.Get(ctx, "hook")
	if after.LeaseOwner != "w2" || after.Checkpoint < before.Checkpoint {
		t.Errorf("after the handover: owner %s, checkpoint %s (was %s)", after.LeaseOwner, after.Checkpoint, before.Checkpoint)
	}
	if rcv.overlap.Load() {
		t.Error("two deliveries of the subscription were in flight at once")
	}
}
