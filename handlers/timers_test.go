package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/domain"
	"buildledger/envelope"
	"buildledger/eventstore"
	"buildledger/handlers"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// recordingTimers keeps every timer scheduled; failures makes the next calls fail.
type recordingTimers struct{ recorder[domain.LeaseTimer] }

func (r *recordingTimers) Schedule(_ context.Context, t domain.LeaseTimer) error {
	if !r.keep(t) {
		return errors.New("timers queue unavailable")
	}
	return nil
}

// timerFixture is a command handler on the in-memory stores with a clock the test moves
// and the timers it schedules kept, and a timer handler on both.
type timerFixture struct {
	*fixture
	clock  *fakeClock
	timers *recordingTimers
	expiry *handlers.TimerHandler
}

func newTimerFixture(t *testing.T, opts ...fixtureOption) *timerFixture {
	t.Helper()
	f := &timerFixture{clock: &fakeClock{now: testNow}, timers: &recordingTimers{}}
	f.fixture = newFixture(t, append([]fixtureOption{func(c *handlers.CommandHandlerConfig) {
		c.Clock, c.Timers = f.clock.Now, f.timers
	}}, opts...)...)
	var err error
	f.expiry, err = handlers.NewTimerHandler(handlers.TimerHandlerConfig{
		Commands: f.handler, Timers: f.timers, Clock: f.clock.Now, Metrics: f.metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// fire hands timer to the timer handler as the timers queue delivers it.
func (f *timerFixture) fire(t *testing.T, timer domain.LeaseTimer) error {
	t.Helper()
	body, err := json.Marshal(map[string]any{"env": timer.Env, "token": timer.Token, "due": timer.Due})
	if err != nil {
		t.Fatal(err)
	}
	return f.expiry.Handle(context.Background(), body)
}

func types(recs []eventstore.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Type)
	}
	return out
}

func TestTimerDelay_GivenDueAndNow_ThenWholeSecondsLeftRoundedUpAtMostFifteenMinutes(t *testing.T) {
	for _, tc := range []struct {
		name string
		left time.Duration
		want time.Duration
	}{
		{"given due passed, then no delay", -time.Minute, 0},
		{"given due now, then no delay", 0, 0},
		{"given 1ms left, then one second", time.Millisecond, time.Second},
		{"given 1.2s left, then two seconds", 1200 * time.Millisecond, 2 * time.Second},
		{"given exactly 3s left, then three seconds", 3 * time.Second, 3 * time.Second},
		{"given 14m59.5s left, then fifteen minutes", 14*time.Minute + 59500*time.Millisecond, 15 * time.Minute},
		{"given 15m0.5s left, then capped at fifteen minutes", 15*time.Minute + 500*time.Millisecond, handlers.MaxTimerDelay},
		{"given a 30-day lease, then capped at fifteen minutes", 30 * 24 * time.Hour, handlers.MaxTimerDelay},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := handlers.TimerDelay(testNow.Add(tc.left), testNow); got != tc.want {
				t.Errorf("TimerDelay(now+%v) = %v, want %v", tc.left, got, tc.want)
			}
		})
	}
}

func TestExpiryCommandID_GivenTimers_ThenSameTimerSameValidIDAndAnyDifferenceAnotherID(t *testing.T) {
	base := domain.LeaseTimer{Env: "prod", Token: 7, Due: testNow.Add(20 * time.Second)}
	id := handlers.ExpiryCommandID(base)
	if err := envelope.CheckID(id); err != nil {
		t.Fatalf("ExpiryCommandID = %q: %v", id, err)
	}
	same := base
	same.Due = base.Due.In(time.FixedZone("elsewhere", 3600))
	if handlers.ExpiryCommandID(same) != id {
		t.Error("the same instant in another zone gave another id")
	}
	for name, other := range map[string]domain.LeaseTimer{
		"another env":   {Env: "staging", Token: 7, Due: base.Due},
		"another token": {Env: "prod", Token: 8, Due: base.Due},
		"another due":   {Env: "prod", Token: 7, Due: base.Due.Add(time.Nanosecond)},
	} {
		if handlers.ExpiryCommandID(other) == id {
			t.Errorf("%s gave the same id", name)
		}
	}
	long := domain.LeaseTimer{Env: strings.Repeat("e", 200) + " x", Token: 1 << 62, Due: base.Due}
	if err := envelope.CheckID(handlers.ExpiryCommandID(long)); err != nil {
		t.Errorf("id of a long env: %v", err)
	}
}

func TestCommandHandler_GivenLockWithLease_WhenAcceptedAndSentAgain_ThenTimerScheduledEachTime(t *testing.T) {
	f := newTimerFixture(t)
	f.mustAccept(t, "lock-1", domain.Lock{Env: "prod", User: "alice", Lease: "2s"})
	want := domain.LeaseTimer{Env: "prod", Token: 1, Due: testNow.Add(2 * time.Second)}
	if got := f.timers.all(); len(got) != 1 || got[0] != want {
		t.Fatalf("scheduled %+v, want [%+v]", got, want)
	}
	// A duplicate re-publishes the events and schedules their timers again: the first
	// delivery may have stopped between its commit and scheduling them.
	res := f.mustAccept(t, "lock-1", domain.Lock{Env: "prod", User: "alice", Lease: "2s"})
	if !res.Duplicate {
		t.Fatalf("second delivery = %+v, want a duplicate", res)
	}
	if got := f.timers.all(); len(got) != 2 || got[1] != want {
		t.Errorf("after the duplicate, scheduled %+v, want the timer twice", got)
	}
	if got := testutil.ToFloat64(f.metrics.TimersScheduled); got != 2 {
		t.Errorf("TimersScheduled = %v, want 2", got)
	}
	// A lock without a lease and no default sets no timer.
	f.mustAccept(t, "lock-2", domain.Lock{Env: "staging", User: "bob"})
	if got := f.timers.all(); len(got) != 2 {
		t.Errorf("a lock without a lease scheduled %+v", got[2:])
	}
}

func TestCommandHandler_GivenSchedulingFails_WhenDeliveredAgain_ThenErrorFirstAndTimerScheduledByTheRedelivery(t *testing.T) {
	f := newTimerFixture(t)
	f.timers.failures = 1
	_, err := f.handle(t, "lock-1", domain.Lock{Env: "prod", User: "alice", Lease: "1m"})
	if err == nil || handlers.IsDeadLetter(err) {
		t.Fatalf("first delivery = %v, want a transient error (the message stays unacked)", err)
	}
	if pub := f.publisher.records(); len(pub) != 0 {
		t.Errorf("published %d records before their timer was scheduled", len(pub))
	}
	res := f.mustAccept(t, "lock-1", domain.Lock{Env: "prod", User: "alice", Lease: "1m"})
	if !res.Duplicate || len(f.timers.all()) != 1 || len(f.publisher.records()) != 1 {
		t.Errorf("redelivery: %+v, timers %+v, published %d; want a duplicate that schedules and publishes",
			res, f.timers.all(), len(f.publisher.records()))
	}
}

func TestTimerHandler_GivenLeaseBeyondSQSDelay_WhenTimerArrivesEarly_ThenSentAgainAndNothingDecided(t *testing.T) {
	f := newTimerFixture(t)
	f.mustAccept(t, "lock-1", domain.Lock{Env: "prod", User: "alice", Lease: "1h"})
	timer := f.timers.all()[0]

	// The first hop of SQS's delay ends after fifteen minutes.
	f.clock.Set(testNow.Add(handlers.MaxTimerDelay))
	if err := f.fire(t, timer); err != nil {
		t.Fatal(err)
	}
	if got := f.timers.all(); len(got) != 2 || got[1] != timer {
		t.Fatalf("scheduled %+v, want the same timer sent again", got)
	}
	if d := handlers.TimerDelay(timer.Due, f.clock.Now()); d != handlers.MaxTimerDelay {
		t.Errorf("the re-sent timer waits %v, want another %v hop", d, handlers.MaxTimerDelay)
	}
	if got := types(f.stream(t, "lock:prod")); len(got) != 1 {
		t.Errorf("stream holds %v after an early timer, want the Locked alone", got)
	}
	if r, fired := testutil.ToFloat64(f.metrics.TimersResent), testutil.ToFloat64(f.metrics.TimersFired); r != 1 || fired != 0 {
		t.Errorf("resent %v, fired %v; want 1 and 0", r, fired)
	}
}

func TestTimerHandler_GivenDueTimer_WhenFiredTwice_ThenLockExpiresOnceAndIsPublished(t *testing.T) {
	f := newTimerFixture(t)
	f.mustAccept(t, "lock-1", domain.Lock{Env: "prod", User: "alice", Lease: "2s"})
	timer := f.timers.all()[0]

	f.clock.Set(timer.Due)
	for range 2 {
		if err := f.fire(t, timer); err != nil {
			t.Fatal(err)
		}
	}
	recs := f.stream(t, "lock:prod")
	if got := types(recs); len(got) != 2 || got[1] != "LockExpired" {
		t.Fatalf("stream holds %v, want Locked then one LockExpired", got)
	}
	id := handlers.ExpiryCommandID(timer)
	if recs[1].CommandID != id {
		t.Errorf("LockExpired carries command %q, want %q", recs[1].CommandID, id)
	}
	if o, err := f.events.Outcome(context.Background(), id); err != nil || o.Status != eventstore.OutcomeAccepted || o.CommandType != "ExpireLock" {
		t.Errorf("outcome of the expiry = %+v, %v; want an accepted ExpireLock", o, err)
	}
	published := 0
	for _, r := range f.publisher.records() {
		if r.Type == "LockExpired" {
			published++
		}
	}
	if published != 2 {
		t.Errorf("LockExpired published %d times, want 2 (once, then again by the duplicate)", published)
	}
	if got := testutil.ToFloat64(f.metrics.TimersFired); got != 2 {
		t.Errorf("TimersFired = %v, want 2", got)
	}
}

func TestTimerHandler_GivenRenewedLease_WhenFirstTimerFires_ThenNothingChangesAndSecondExpires(t *testing.T) {
	f := newTimerFixture(t)
	f.mustAccept(t, "lock-1", domain.Lock{Env: "prod", User: "alice", Lease: "2s"})
	f.clock.Set(testNow.Add(time.Second))
	f.mustAccept(t, "renew-1", domain.Renew{Env: "prod", User: "alice", Lease: "5s"})
	timers := f.timers.all()
	if len(timers) != 2 || !timers[1].Due.Equal(testNow.Add(6*time.Second)) {
		t.Fatalf("scheduled %+v, want the grant's timer and the renewal's, due at +6s", timers)
	}

	f.clock.Set(timers[0].Due)
	if err := f.fire(t, timers[0]); err != nil {
		t.Fatal(err)
	}
	if got := types(f.stream(t, "lock:prod")); len(got) != 2 {
		t.Fatalf("after the first timer the stream holds %v, want Locked and LockRefreshed only", got)
	}
	f.clock.Set(timers[1].Due)
	if err := f.fire(t, timers[1]); err != nil {
		t.Fatal(err)
	}
	recs := f.stream(t, "lock:prod")
	if got := types(recs); len(got) != 3 || got[2] != "LockExpired" {
		t.Fatalf("after the second timer the stream holds %v, want it to end in LockExpired", got)
	}
	e, err := domain.DecodeEvent(recs[2].Type, recs[2].Body)
	if err != nil {
		t.Fatal(err)
	}
	if exp := e.(domain.LockExpired); !exp.ExpiresAt.Equal(timers[1].Due) {
		t.Errorf("LockExpired at lease end %v, want the renewed end %v", exp.ExpiresAt, timers[1].Due)
	}
}

func TestTimerHandler_GivenExpiryPassesLockToWaiter_ThenTheClaimLeaseIsScheduled(t *testing.T) {
	f := newTimerFixture(t)
	f.mustAccept(t, "lock-1", domain.Lock{Env: "prod", User: "alice", Lease: "2s"})
	f.clock.Set(testNow.Add(time.Second))
	f.mustAccept(t, "queue-1", domain.Lock{Env: "prod", User: "bob", Queue: true})
	first := f.timers.all()[0]

	f.clock.Set(first.Due)
	if err := f.fire(t, first); err != nil {
		t.Fatal(err)
	}
	if got := types(f.stream(t, "lock:prod")); len(got) != 4 || got[2] != "LockExpired" || got[3] != "Locked" {
		t.Fatalf("stream holds %v, want the expiry to pass the lock to bob", got)
	}
	want := domain.LeaseTimer{Env: "prod", Token: 4, Due: first.Due.Add(domain.ClaimWindow)}
	if got := f.timers.all(); len(got) != 2 || got[1] != want {
		t.Errorf("scheduled %+v, want bob's claim lease %+v", got, want)
	}
}

func TestTimerHandler_GivenMalformedTimerMessages_ThenDeadLetters(t *testing.T) {
	f := newTimerFixture(t)
	for _, tc := range []struct{ name, body string }{
		{"given no JSON", `nope`},
		{"given an unknown field", `{"env":"prod","token":1,"due":"2024-05-17T09:30:02Z","extra":1}`},
		{"given no due", `{"env":"prod","token":1}`},
		{"given no env", `{"token":1,"due":"2024-05-17T09:30:02Z"}`},
		{"given a negative token", `{"env":"prod","token":-1,"due":"2024-05-17T09:30:02Z"}`},
		{"given a due that is not a time", `{"env":"prod","token":1,"due":"soon"}`},
		{"given two objects", `{"env":"prod","token":1,"due":"2024-05-17T09:30:02Z"}{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.expiry.Handle(context.Background(), []byte(tc.body)); !handlers.IsDeadLetter(err) {
				t.Errorf("Handle(%s) = %v, want a dead letter", tc.body, err)
			}
		})
	}
	if got := testutil.ToFloat64(f.metrics.DeadLettered.WithLabelValues("timers", handlers.DeadLetterInvalid)); got != 7 {
		t.Errorf("dead-lettered timers = %v, want 7", got)
	}
}

func TestCommandHandler_GivenDefaultLease_WhenLockAsksForNone_ThenLeaseIsTheDefaultAndTimerScheduled(t *testing.T) {
	f := newTimerFixture(t, func(c *handlers.CommandHandlerConfig) { c.DefaultLease = 10 * time.Second })
	f.mustAccept(t, "lock-1", domain.Lock{Env: "prod", User: "alice"})
	want := domain.LeaseTimer{Env: "prod", Token: 1, Due: testNow.Add(10 * time.Second)}
	if got := f.timers.all(); len(got) != 1 || got[0] != want {
		t.Errorf("scheduled %+v, want [%+v]", got, want)
	}
	// A lease asked for wins over the default.
	f.mustAccept(t, "lock-2", domain.Lock{Env: "staging", User: "alice", Lease: "1m"})
	if got := f.timers.all(); len(got) != 2 || !got[1].Due.Equal(testNow.Add(time.Minute)) {
		t.Errorf("scheduled %+v, want the asked-for minute", got)
	}
}

func TestCommandHandlerConfig_GivenDefaultLeaseOutOfBounds_ThenInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lease time.Duration
		ok    bool
	}{
		{"given none, then valid", 0, true},
		{"given the minimum, then valid", domain.MinLease, true},
		{"given the maximum, then valid", domain.MaxLease, true},
		{"given a negative lease, then invalid", -time.Second, false},
		{"given less than the minimum, then invalid", 500 * time.Millisecond, false},
		{"given more than the maximum, then invalid", domain.MaxLease + time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := handlers.NewCommandHandler(handlers.CommandHandlerConfig{
				Events: newFixture(t).events, Publisher: &recordingPublisher{}, DefaultLease: tc.lease,
			})
			if (err == nil) != tc.ok || err != nil && !strings.Contains(err.Error(), "DefaultLease") {
				t.Errorf("NewCommandHandler(DefaultLease %v) = %v, want ok=%v", tc.lease, err, tc.ok)
			}
		})
	}
}
