package projections_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"buildledger/domain"
	"buildledger/eventstore"
	esmemory "buildledger/eventstore/memory"
	"buildledger/projections"
	"buildledger/projections/projectionstest"
)

// lockDesk decides lock commands of one env with the domain at the times it is given and
// appends their events to an in-memory event store, as the worker does.
type lockDesk struct {
	t   *testing.T
	es  *esmemory.Store
	env string
}

func newLockDesk(t *testing.T, env string) *lockDesk {
	return &lockDesk{t: t, es: esmemory.New(), env: env}
}

// do decides c at time at and fails the test unless it is accepted.
func (d *lockDesk) do(at time.Time, c domain.Command) {
	d.t.Helper()
	version, stored, err := projectionstest.Decide(context.Background(), d.es, at, c)
	if err != nil {
		d.t.Fatalf("%s at %s: %v", c.CommandType(), at.Format(time.TimeOnly), err)
	}
	d.store(version, stored)
}

// append stores events as they are, after version.
func (d *lockDesk) append(version int64, evs ...domain.Event) {
	d.t.Helper()
	stored, err := projectionstest.Encode(evs)
	if err != nil {
		d.t.Fatal(err)
	}
	d.store(version, stored)
}

func (d *lockDesk) store(version int64, stored []eventstore.Event) {
	d.t.Helper()
	if _, err := d.es.Append(context.Background(), domain.LockStreamID(d.env), version, stored,
		eventstore.CommandRef{ID: uuid.NewString(), Type: "Test"}); err != nil {
		d.t.Fatal(err)
	}
}

func (d *lockDesk) log() *projections.LockLog { return projections.NewLockLog(d.es) }

var day = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC) // a Wednesday

func at(d time.Duration) time.Time { return day.Add(d) }

func timePtr(t time.Time) *time.Time { return &t }

// leaseStory: ann locks with a 10m lease and renews it; bob queues (three attempts, 5 s
// apart) and gets the lock when ann releases, and claims it; ops forces it away a minute
// later; carol locks with a 1m lease that runs out; a freeze is added and removed. The
// events land at versions 1 (ann's grant) to 13; bob's grant, passed from the queue in
// the decision of ann's release, is version 7 and carol's is 10.
func leaseStory(t *testing.T) *lockDesk {
	d := newLockDesk(t, "prod")
	d.do(at(0), domain.Lock{Env: "prod", User: "ann", Meta: "CI", Lease: "10m"})
	d.do(at(5*time.Minute), domain.Renew{Env: "prod", User: "ann", Token: 1})
	d.do(at(6*time.Minute), domain.Lock{Env: "prod", User: "bob", Queue: true})
	d.do(at(6*time.Minute+5*time.Second), domain.Lock{Env: "prod", User: "bob", Queue: true})
	d.do(at(6*time.Minute+10*time.Second), domain.Lock{Env: "prod", User: "bob", Queue: true})
	d.do(at(6*time.Minute+15*time.Second), domain.Release{Env: "prod", User: "ann"})
	d.do(at(6*time.Minute+20*time.Second), domain.Lock{Env: "prod", User: "bob", Meta: "deploy 9"})
	d.do(at(7*time.Minute+15*time.Second), domain.Release{Env: "prod", User: "ops", Force: true, Reason: "stuck"})
	d.do(at(9*time.Minute), domain.Lock{Env: "prod", User: "carol", Lease: "1m"})
	d.do(at(11*time.Minute), domain.ExpireLock{Env: "prod", Token: 10})
	d.do(at(12*time.Minute), domain.AddFreeze{Env: "prod", User: "ops", Cron: "0 18 * * FRI", Duration: "64h", TZ: "Europe/Berlin", Reason: "weekend"})
	d.do(at(13*time.Minute), domain.RemoveFreeze{Env: "prod", User: "ops", ID: 1})
	return d
}

func TestLockLog_History_GivenALeaseStory_ThenEveryChangeInOrderWithDurations(t *testing.T) {
	d := leaseStory(t)
	got, err := d.log().History(context.Background(), "prod", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	claimEnd := at(6*time.Minute + 15*time.Second + domain.ClaimWindow)
	want := []projections.LockHistoryEntry{
		{Version: 1, At: at(0), Event: "granted", User: "ann", Token: 1, Meta: "CI", ExpiresAt: timePtr(at(10 * time.Minute))},
		{Version: 2, At: at(5 * time.Minute), Event: "renewed", User: "ann", Token: 1, Meta: "CI", ExpiresAt: timePtr(at(15 * time.Minute))},
		{Version: 3, At: at(6 * time.Minute), Event: "queued", User: "bob", Position: 1, Attempts: 3, LastAt: timePtr(at(6*time.Minute + 10*time.Second))},
		{Version: 6, At: at(6*time.Minute + 15*time.Second), Event: "released", User: "ann", Token: 1, HeldMs: (6*time.Minute + 15*time.Second).Milliseconds()},
		{Version: 7, At: at(6*time.Minute + 15*time.Second), Event: "granted", User: "bob", Token: 7, ExpiresAt: &claimEnd, Claim: true},
		{Version: 8, At: at(6*time.Minute + 20*time.Second), Event: "claimed", User: "bob", Token: 7, Meta: "deploy 9"},
		{Version: 9, At: at(7*time.Minute + 15*time.Second), Event: "forced", User: "bob", Token: 7, By: "ops", Reason: "stuck", HeldMs: time.Minute.Milliseconds()},
		{Version: 10, At: at(9 * time.Minute), Event: "granted", User: "carol", Token: 10, ExpiresAt: timePtr(at(10 * time.Minute))},
		{Version: 11, At: at(11 * time.Minute), Event: "expired", User: "carol", Token: 10, ExpiresAt: timePtr(at(10 * time.Minute)), HeldMs: time.Minute.Milliseconds()},
		{Version: 12, At: at(12 * time.Minute), Event: "freeze-added", By: "ops", Reason: "weekend", Freeze: 1, Detail: `"0 18 * * FRI" for 64h0m0s, Europe/Berlin`},
		{Version: 13, At: at(13 * time.Minute), Event: "freeze-removed", By: "ops", Freeze: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("entry %d\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestLockLog_History_GivenSince_ThenOnlyLaterEntriesWithTheirDurations(t *testing.T) {
	d := leaseStory(t)
	got, err := d.log().History(context.Background(), "prod", at(7*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, e := range got {
		events = append(events, e.Event)
	}
	want := []string{"forced", "granted", "expired", "freeze-added", "freeze-removed"}
	if !reflect.DeepEqual(events, want) || got[0].HeldMs != time.Minute.Milliseconds() {
		t.Errorf("events since 9:07 = %v (first %+v), want %v with the forced grant held 1m", events, got[0], want)
	}
}

func TestLockLog_History_GivenWaitersThatLeaveOrLapse_ThenLeftAndDropped(t *testing.T) {
	d := newLockDesk(t, "prod")
	d.do(at(0), domain.Lock{Env: "prod", User: "ann"})
	d.do(at(time.Second), domain.Lock{Env: "prod", User: "bob", Queue: true})
	d.do(at(2*time.Second), domain.Lock{Env: "prod", User: "carol", Queue: true})
	d.do(at(3*time.Second), domain.LeaveQueue{Env: "prod", User: "carol"})
	// bob has lapsed by now: carol comes first of the live places, though bob's is dropped only
	// when the lock passes.
	d.do(at(time.Minute), domain.Lock{Env: "prod", User: "carol", Queue: true})
	d.do(at(time.Minute+time.Second), domain.Release{Env: "prod", User: "ann"})
	got, err := d.log().History(context.Background(), "prod", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	type short struct {
		Event, User string
		Position    int
	}
	var gotShort []short
	for _, e := range got {
		gotShort = append(gotShort, short{e.Event, e.User, e.Position})
	}
	want := []short{{"granted", "ann", 0}, {"queued", "bob", 1}, {"queued", "carol", 2}, {"left", "carol", 0},
		{"queued", "carol", 1}, {"released", "ann", 0}, {"dropped", "bob", 0}, {"granted", "carol", 0}}
	if !reflect.DeepEqual(gotShort, want) {
		t.Errorf("history\n got %v\nwant %v", gotShort, want)
	}
}

func TestLockLog_At_GivenALeaseStory_ThenWhoHeldTheLock(t *testing.T) {
	d := leaseStory(t)
	tests := []struct {
		name string
		at   time.Time
		want projections.LockHolding
	}{
		{"given a time before any event then nobody", at(-time.Minute), projections.LockHolding{Env: "prod"}},
		{"given a time inside ann's renewed lease then ann", at(6 * time.Minute), projections.LockHolding{Env: "prod", Held: true, User: "ann",
			Token: 1, Since: timePtr(at(0)), ExpiresAt: timePtr(at(15 * time.Minute))}},
		{"given the moment of the handoff then bob's claim", at(6*time.Minute + 15*time.Second), projections.LockHolding{Env: "prod", Held: true, User: "bob",
			Token: 7, Since: timePtr(at(6*time.Minute + 15*time.Second)), ExpiresAt: timePtr(at(6*time.Minute + 15*time.Second + domain.ClaimWindow)), Claim: true}},
		{"given a time after bob claimed then bob without a lease", at(6*time.Minute + 30*time.Second), projections.LockHolding{Env: "prod",
			Held: true, User: "bob", Token: 7, Since: timePtr(at(6*time.Minute + 15*time.Second))}},
		{"given a time after the forced release then nobody", at(7*time.Minute + 16*time.Second), projections.LockHolding{Env: "prod"}},
		{"given a time inside carol's lease then carol", at(9*time.Minute + 59*time.Second), projections.LockHolding{Env: "prod", Held: true,
			User: "carol", Token: 10, Since: timePtr(at(9 * time.Minute)), ExpiresAt: timePtr(at(10 * time.Minute))}},
		{"given a time after carol's lease ran out but before its expiry was recorded then nobody", at(10*time.Minute + 30*time.Second),
			projections.LockHolding{Env: "prod"}},
		{"given a time after the expiry was recorded then nobody", at(time.Hour), projections.LockHolding{Env: "prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.log().At(context.Background(), "prod", tt.at)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("At %s\n got %+v\nwant %+v", tt.at.Format(time.TimeOnly), got, tt.want)
			}
		})
	}
}

func TestLockLog_GivenEventsWrittenBeforeTokens_ThenTheTokenIsTheGrantsVersion(t *testing.T) {
	d := newLockDesk(t, "prod")
	id1, id2 := uuid.New(), uuid.New()
	d.append(0,
		domain.Locked{Env: "prod", User: "ann", LockID: id1, At: at(0)},
		domain.Released{Env: "prod", User: "ann", LockID: id1, At: at(time.Minute)},
		domain.Locked{Env: "prod", User: "bob", LockID: id2, At: at(2 * time.Minute)},
	)
	ctx := context.Background()
	h, err := d.log().At(ctx, "prod", at(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Held || h.User != "bob" || h.Token != 3 || h.ExpiresAt != nil {
		t.Errorf("holding = %+v, want bob with token 3 and no lease", h)
	}
	hist, err := d.log().History(ctx, "prod", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[1].Token != 1 || hist[1].HeldMs != time.Minute.Milliseconds() || hist[2].Token != 3 {
		t.Errorf("history = %+v, want ann's release of token 1 held 1m, then bob's grant of token 3", hist)
	}
}

func TestLockLog_Queue_GivenWaiters_ThenTheHolderAndTheLiveWaitersInOrder(t *testing.T) {
	d := newLockDesk(t, "prod")
	d.do(at(0), domain.Lock{Env: "prod", User: "ann", Lease: "1h"})
	d.do(at(time.Second), domain.Lock{Env: "prod", User: "dave", Queue: true})
	d.do(at(30*time.Second), domain.Lock{Env: "prod", User: "bob", Queue: true})
	d.do(at(35*time.Second), domain.Lock{Env: "prod", User: "carol", Queue: true})
	d.do(at(40*time.Second), domain.Lock{Env: "prod", User: "bob", Queue: true})
	got, err := d.log().Queue(context.Background(), "prod", at(45*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := projections.LockQueue{Env: "prod",
		Holder: projections.LockHolding{Env: "prod", Held: true, User: "ann", Token: 1, Since: timePtr(at(0)), ExpiresAt: timePtr(at(time.Hour))},
		Waiting: []projections.QueuedUser{
			{Position: 1, User: "bob", Since: at(40 * time.Second)},
			{Position: 2, User: "carol", Since: at(35 * time.Second)},
		}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("given dave lapsed and bob renewed his place then queue\n got %+v\nwant %+v", got, want)
	}
}

func TestLockLog_Freezes_GivenASchedule_ThenTheOpenWindowOrTheNext(t *testing.T) {
	d := newLockDesk(t, "prod")
	d.do(at(0), domain.AddFreeze{Env: "prod", User: "ops", Cron: "0 18 * * FRI", Duration: "64h", TZ: "Europe/Berlin", Reason: "weekend"})
	d.do(at(time.Minute), domain.AddFreeze{Env: "prod", User: "ops", Cron: "@daily", Duration: "1h", Reason: "backup"})
	d.do(at(2*time.Minute), domain.RemoveFreeze{Env: "prod", ID: 2, User: "ops"})
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	friday := time.Date(2026, 12, 4, 18, 0, 0, 0, berlin)
	base := projections.FreezeView{ID: 1, Cron: "0 18 * * FRI", Duration: "64h0m0s", TZ: "Europe/Berlin", Reason: "weekend", User: "ops", AddedAt: at(0)}
	tests := []struct {
		name string
		now  time.Time
		want projections.FreezeView
	}{
		{"given a Wednesday then the window opens on Friday", day, func() projections.FreezeView {
			v := base
			v.NextStart = &friday
			return v
		}()},
		{"given a Saturday then the window is open until Monday 10:00", friday.Add(20 * time.Hour), func() projections.FreezeView {
			v := base
			v.Open, v.OpenUntil = true, timePtr(friday.Add(64*time.Hour))
			return v
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.log().Freezes(context.Background(), "prod", tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("freezes = %+v, want the one not removed", got)
			}
			g := got[0]
			sameTime := func(a, b *time.Time) bool { return a == nil && b == nil || a != nil && b != nil && a.Equal(*b) }
			if !sameTime(g.OpenUntil, tt.want.OpenUntil) || !sameTime(g.NextStart, tt.want.NextStart) {
				t.Errorf("window: open until %v, next %v; want %v, %v", g.OpenUntil, g.NextStart, tt.want.OpenUntil, tt.want.NextStart)
			}
			g.OpenUntil, g.NextStart, tt.want.OpenUntil, tt.want.NextStart = nil, nil, nil, nil
			if !reflect.DeepEqual(g, tt.want) {
				t.Errorf("freeze\n got %+v\nwant %+v", g, tt.want)
			}
		})
	}
}

func TestLockLog_GivenEnvs_WhenQueried_ThenBadNamesAreInvalidAndUnknownEnvsEmpty(t *testing.T) {
	ll := projections.NewLockLog(esmemory.New())
	ctx := context.Background()
	for _, env := range []string{"", "prod ", "a/b"} {
		if _, err := ll.History(ctx, env, time.Time{}); !errors.Is(err, projections.ErrInvalidQuery) {
			t.Errorf("given env %q then History: %v, want ErrInvalidQuery", env, err)
		}
	}
	h, err := ll.At(ctx, "nowhere", day)
	if err != nil || h.Held || h.Env != "nowhere" {
		t.Errorf("given an env without events then At = %+v, %v; want not held", h, err)
	}
	q, err := ll.Queue(ctx, "nowhere", day)
	if err != nil || q.Waiting == nil || len(q.Waiting) != 0 || q.Holder.Held {
		t.Errorf("given an env without events then Queue = %+v, %v; want nobody and an empty list", q, err)
	}
	hist, err := ll.History(ctx, "nowhere", time.Time{})
	if err != nil || hist == nil || len(hist) != 0 {
		t.Errorf("given an env without events then History = %v, %v; want an empty list", hist, err)
	}
	fz, err := ll.Freezes(ctx, "nowhere", day)
	if err != nil || fz == nil || len(fz) != 0 {
		t.Errorf("given an env without events then Freezes = %v, %v; want an empty list", fz, err)
	}
}

// countingLoader counts the reads of a stream.
type countingLoader struct {
	projections.StreamLoader
	loads int
}

func (c *countingLoader) Load(ctx context.Context, stream string, from int64) ([]eventstore.Record, error) {
	c.loads++
	return c.StreamLoader.Load(ctx, stream, from)
}

func TestLockLog_QueueAndFreezes_GivenALock_ThenWhatQueueAndFreezesSayFromOneRead(t *testing.T) {
	d := newLockDesk(t, "prod")
	d.do(at(0), domain.Lock{Env: "prod", User: "ann"})
	d.do(at(time.Minute), domain.Lock{Env: "prod", User: "bob", Queue: true})
	d.do(at(2*time.Minute), domain.AddFreeze{Env: "prod", User: "ops", Cron: "0 18 * * FRI", Duration: "64h", TZ: "Europe/Berlin", Reason: "weekend"})
	ctx, now := context.Background(), at(70*time.Second)
	counted := &countingLoader{StreamLoader: d.es}
	q, f, err := projections.NewLockLog(counted).QueueAndFreezes(ctx, "prod", now)
	if err != nil {
		t.Fatal(err)
	}
	if counted.loads != 1 {
		t.Errorf("QueueAndFreezes read the stream %d times, want once", counted.loads)
	}
	wantQ, err := d.log().Queue(ctx, "prod", now)
	if err != nil {
		t.Fatal(err)
	}
	wantF, err := d.log().Freezes(ctx, "prod", now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q, wantQ) || !reflect.DeepEqual(f, wantF) || !q.Holder.Held || len(q.Waiting) != 1 || len(f) != 1 {
		t.Errorf("QueueAndFreezes = %+v, %+v; want Queue's %+v (ann holds, bob waits) and Freezes' %+v (one)", q, f, wantQ, wantF)
	}
}
