package domain

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// lockRun decides commands one after another on one lock stream, applying what each
// decision raises, at times the test chooses.
type lockRun struct {
	t    *testing.T
	lock *EnvLock
	ids  int
	def  time.Duration // the operator's default lease
}

func newLockRun(t *testing.T, given ...Event) *lockRun {
	t.Helper()
	a, err := Rehydrate(prodStream, given)
	if err != nil {
		t.Fatal(err)
	}
	return &lockRun{t: t, lock: a.(*EnvLock)}
}

// at decides c at t0+offset and applies its events.
func (r *lockRun) at(offset time.Duration, c Command) ([]Event, error) {
	r.t.Helper()
	env := Env{Now: t0.Add(offset), DefaultLease: r.def, NewID: func() uuid.UUID { r.ids++; return rid(r.ids) }}
	events, err := r.lock.Handle(c, env)
	for _, e := range events {
		r.lock.Apply(e)
	}
	return events, err
}

// ok is at for a decision that must succeed.
func (r *lockRun) ok(offset time.Duration, c Command) []Event {
	r.t.Helper()
	events, err := r.at(offset, c)
	if err != nil {
		r.t.Fatalf("%T at +%s: %v", c, offset, err)
	}
	return events
}

// code is at for a decision that must be rejected with code.
func (r *lockRun) code(offset time.Duration, c Command, code string) error {
	r.t.Helper()
	events, err := r.at(offset, c)
	if err == nil || RejectionCode(err) != code {
		r.t.Fatalf("%T at +%s: events %v, error %v; want code %q", c, offset, types(events), err, code)
	}
	return err
}

func (r *lockRun) holder(want string, token int64) {
	r.t.Helper()
	if r.lock.Holder() != want || r.lock.Held() != (want != "") || r.lock.Token() != token {
		r.t.Fatalf("held %v by %q token %d; want %q token %d", r.lock.Held(), r.lock.Holder(), r.lock.Token(), want, token)
	}
}

func (r *lockRun) waiters(want ...string) {
	r.t.Helper()
	var got []string
	for _, w := range r.lock.Queue(t0.Add(time.Hour * 24 * 365 * -10)) {
		got = append(got, w.User)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		r.t.Fatalf("queue %q, want %q", got, want)
	}
}

func types(events []Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.EventType())
	}
	return out
}

func wantTypes(t *testing.T, events []Event, want ...string) {
	t.Helper()
	if got := types(events); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func leased(user, lease string) Lock {
	return Lock{Env: "production", User: user, Meta: "ci", Lease: lease}
}

func waitFor(user string) Lock { return Lock{Env: "production", User: user, Meta: "ci", Queue: true} }

const s = time.Second

func TestLease(t *testing.T) {
	t.Run("given a lock with a 10s lease when nothing happens then it expires at its end, naming the holder", func(t *testing.T) {
		r := newLockRun(t)
		got := r.ok(0, leased("alice", "10s"))
		end := t0.Add(10 * s)
		if l := got[0].(Locked); l.LeaseMs != 10000 || l.ExpiresAt == nil || !l.ExpiresAt.Equal(end) || l.Token != 1 {
			t.Fatalf("grant %+v", l)
		}
		if timer, ok := LeaseTimerOf(got[0]); !ok || !timer.Due.Equal(end) || timer.Token != 1 || timer.Env != "production" {
			t.Fatalf("LeaseTimerOf = %+v, %v", timer, ok)
		}
		wantTypes(t, r.ok(9*s, ExpireLock{Env: "production", Token: 1})) // early: nothing
		r.holder("alice", 1)
		got = r.ok(10*s, ExpireLock{Env: "production", Token: 1})
		want := LockExpired{Env: "production", User: "alice", LockID: rid(1), Token: 1, ExpiresAt: end, At: t0.Add(10 * s)}
		if !reflect.DeepEqual(got, []Event{want}) {
			t.Fatalf("expiry %#v", got)
		}
		r.holder("", 0)
		wantTypes(t, r.ok(11*s, ExpireLock{Env: "production", Token: 1})) // late, twice: nothing
	})
	t.Run("given a lease when the holder locks again then the lease runs from now with the same length and token", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, leased("alice", "10s"))
		got := r.ok(8*s, Lock{Env: "production", User: "alice", Meta: "again"})
		ref := got[0].(LockRefreshed)
		if ref.LeaseMs != 10000 || !ref.ExpiresAt.Equal(t0.Add(18*s)) || ref.Token != 1 || ref.Renewed {
			t.Fatalf("refresh %+v", ref)
		}
		wantTypes(t, r.ok(10*s, ExpireLock{Env: "production", Token: 1})) // the old timer changes nothing
		wantTypes(t, r.ok(18*s, ExpireLock{Env: "production", Token: 1}), "LockExpired")
	})
	t.Run("given a lease when the holder renews with its token then it is extended, with a new length if asked", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, leased("alice", "10s"))
		ref := r.ok(5*s, Renew{Env: "production", User: "alice", Token: 1, Lease: "1m"})[0].(LockRefreshed)
		if !ref.Renewed || ref.LeaseMs != 60000 || !ref.ExpiresAt.Equal(t0.Add(65*s)) || ref.Meta != "ci" {
			t.Fatalf("renewal %+v", ref)
		}
	})
	t.Run("given a lease when another user or a lost token renews then it is rejected lock_lost", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, leased("alice", "10s"))
		err := r.code(1*s, Renew{Env: "production", User: "bob"}, CodeLockLost)
		if err.Error() != "domain: the lock on env production of bob is lost: it is held by alice (token 1)" {
			t.Errorf("message %q", err)
		}
		r.code(1*s, Renew{Env: "production", User: "alice", Token: 7}, CodeLockLost)
		r.code(11*s, Renew{Env: "production", User: "alice", Token: 1}, CodeLockLost) // ran out
	})
	t.Run("given an expired lease when someone else locks then the expiry is decided inline and the lock is theirs", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, leased("alice", "10s"))
		got := r.ok(30*s, Lock{Env: "production", User: "bob"})
		wantTypes(t, got, "LockExpired", "Locked")
		r.holder("bob", 3)
	})
	t.Run("given no lease asked when the operator set a default then the default applies", func(t *testing.T) {
		r := newLockRun(t)
		r.def = time.Minute
		l := r.ok(0, Lock{Env: "production", User: "alice"})[0].(Locked)
		if l.LeaseMs != 60000 {
			t.Fatalf("grant %+v", l)
		}
	})
	t.Run("given a 1h lease when the holder locks again under a 30m default then the lease keeps its 1h", func(t *testing.T) {
		r := newLockRun(t)
		r.def = 30 * time.Minute
		r.ok(0, leased("alice", "1h"))
		if ref := r.ok(s, Lock{Env: "production", User: "alice"})[0].(LockRefreshed); ref.LeaseMs != time.Hour.Milliseconds() {
			t.Fatalf("refresh %+v", ref)
		}
	})
	t.Run("given a lock without a lease then it never expires (Da-Playa's lock)", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, Lock{Env: "production", User: "alice"})
		wantTypes(t, r.ok(1000*time.Hour, ExpireLock{Env: "production"}))
		r.holder("alice", 1)
	})
	t.Run("when a lease is malformed or out of bounds then the command is invalid", func(t *testing.T) {
		for lease, reason := range map[string]string{"soon": "not a duration such as 10m or 1h30m", "10ms": "must be from 1s to 720h0m0s", "-1m": "must be from 1s to 720h0m0s"} {
			err := leased("alice", lease).Validate()
			matchTyped(t, err, invalid("Lock", "lease", reason))
		}
	})
}

func TestQueue(t *testing.T) {
	t.Run("given alice holds it when bob and carol wait then they queue in order and keep their places", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, Lock{Env: "production", User: "alice"})
		q := r.ok(1*s, waitFor("bob"))[0].(LockQueued)
		if q.Position != 1 || q.Waiting != 1 || q.Holder != "alice" {
			t.Fatalf("bob %+v", q)
		}
		q = r.ok(2*s, waitFor("carol"))[0].(LockQueued)
		if q.Position != 2 || q.Waiting != 2 {
			t.Fatalf("carol %+v", q)
		}
		q = r.ok(6*s, waitFor("bob"))[0].(LockQueued)
		if q.Position != 1 || q.Waiting != 2 {
			t.Fatalf("bob again %+v", q)
		}
		r.waiters("bob", "carol")
		// A plain lock (no queue) still gets Da-Playa's rejection, and takes no place.
		err := r.code(7*s, Lock{Env: "production", User: "dave"}, CodeLocked)
		if err.Error() != "Still locked at env production by alice" {
			t.Errorf("message %q", err)
		}
	})
	t.Run("given waiters when the holder releases then the head gets a claim in the same decision, and claims it", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, Lock{Env: "production", User: "alice"})
		r.ok(1*s, waitFor("bob"))
		r.ok(2*s, waitFor("carol"))
		got := r.ok(3*s, Release{Env: "production", User: "alice"})
		wantTypes(t, got, "Released", "Locked")
		grant := got[1].(Locked)
		if grant.User != "bob" || !grant.Claim || grant.Token != 5 || grant.LeaseMs != ClaimWindow.Milliseconds() {
			t.Fatalf("handoff %+v", grant)
		}
		r.waiters("carol")
		// carol's next attempt keeps her place behind bob.
		if q := r.ok(4*s, waitFor("carol"))[0].(LockQueued); q.Holder != "bob" || q.Position != 1 {
			t.Fatalf("carol %+v", q)
		}
		ref := r.ok(5*s, waitFor("bob"))[0].(LockRefreshed)
		if !ref.Claimed || ref.Token != 5 || ref.ExpiresAt != nil {
			t.Fatalf("claim %+v", ref)
		}
		r.holder("bob", 5)
		if r.lock.Claim() || !r.lock.ExpiresAt().IsZero() {
			t.Fatal("claimed lock still a claim with a lease")
		}
	})
	t.Run("given a claim when its waiter never claims it then it expires and passes to the next", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, Lock{Env: "production", User: "alice"})
		r.ok(1*s, waitFor("bob"))
		r.ok(2*s, waitFor("carol"))
		r.ok(3*s, Release{Env: "production", User: "alice"}) // bob's claim until 23s
		r.ok(7*s, waitFor("carol"))
		r.ok(12*s, waitFor("carol"))
		r.ok(17*s, waitFor("carol"))
		r.ok(22*s, waitFor("carol"))
		got := r.ok(23*s, ExpireLock{Env: "production", Token: 5})
		wantTypes(t, got, "LockExpired", "Locked")
		if e := got[0].(LockExpired); e.User != "bob" || !e.Claim {
			t.Fatalf("expiry %+v", e)
		}
		r.holder("carol", 11)
	})
	t.Run("given a waiter that stopped attempting when the lock passes then it is dropped and the next gets it", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, Lock{Env: "production", User: "alice"})
		r.ok(1*s, waitFor("bob")) // bob's CLI dies after this attempt
		r.ok(2*s, waitFor("carol"))
		r.ok(12*s, waitFor("carol"))
		r.ok(22*s, waitFor("carol"))
		got := r.ok(25*s, Release{Env: "production", User: "alice"})
		wantTypes(t, got, "Released", "LockQueueLeft", "Locked")
		if left := got[1].(LockQueueLeft); left.User != "bob" || !left.Dropped {
			t.Fatalf("drop %+v", left)
		}
		r.holder("carol", 8)
	})
	t.Run("given an expiring lease with a waiter when the timer fires then the waiter gets the lock", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, leased("alice", "10s"))
		r.ok(6*s, waitFor("bob"))
		got := r.ok(10*s, ExpireLock{Env: "production", Token: 1})
		wantTypes(t, got, "LockExpired", "Locked")
		r.holder("bob", 4)
	})
	t.Run("given a waiter whose place lapsed when it attempts again then it goes to the back of the line", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, Lock{Env: "production", User: "alice"})
		r.ok(1*s, waitFor("bob"))
		r.ok(2*s, waitFor("carol"))
		r.ok(22*s, waitFor("carol"))
		got := r.ok(25*s, waitFor("bob"))
		wantTypes(t, got, "LockQueueLeft", "LockQueued")
		if q := got[1].(LockQueued); q.Position != 2 || q.Waiting != 2 {
			t.Fatalf("bob back %+v", q)
		}
		r.waiters("carol", "bob")
	})
	t.Run("given a lapsed place ahead when a waiter attempts then its position counts only live places", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, Lock{Env: "production", User: "alice"})
		r.ok(1*s, waitFor("bob"))
		if q := r.ok(30*s, waitFor("carol"))[0].(LockQueued); q.Position != 1 || q.Waiting != 1 {
			t.Fatalf("carol %+v", q)
		}
	})
	t.Run("given a waiter when it leaves then its place is gone; leaving twice changes nothing", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, Lock{Env: "production", User: "alice"})
		r.ok(1*s, waitFor("bob"))
		wantTypes(t, r.ok(2*s, LeaveQueue{Env: "production", User: "bob"}), "LockQueueLeft")
		r.waiters()
		wantTypes(t, r.ok(3*s, LeaveQueue{Env: "production", User: "bob"}))
	})
	t.Run("given the lock passed to a waiter when it leaves then it is told it holds the lock", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, Lock{Env: "production", User: "alice"})
		r.ok(1*s, waitFor("bob"))
		r.ok(2*s, Release{Env: "production", User: "alice"})
		r.code(3*s, LeaveQueue{Env: "production", User: "bob"}, CodeHolder)
	})
	t.Run("given eight waiters when each holder releases then they get the lock in the order they came", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, Lock{Env: "production", User: "u0"})
		for i := 1; i <= 8; i++ {
			r.ok(time.Duration(i)*time.Millisecond, waitFor(fmt.Sprintf("u%d", i)))
		}
		for i := 1; i <= 8; i++ {
			r.ok(time.Duration(i)*s, Release{Env: "production", User: fmt.Sprintf("u%d", i-1)})
			r.ok(time.Duration(i)*s+time.Millisecond, waitFor(fmt.Sprintf("u%d", i))) // claims
			if r.lock.Holder() != fmt.Sprintf("u%d", i) || r.lock.Claim() {
				t.Fatalf("after release %d: %q claim %v", i, r.lock.Holder(), r.lock.Claim())
			}
			for j := i + 1; j <= 8; j++ { // the others keep their places
				r.ok(time.Duration(i)*s+2*time.Millisecond, waitFor(fmt.Sprintf("u%d", j)))
			}
		}
	})
}

func TestForceRelease(t *testing.T) {
	t.Run("given alice's uberlock when ops forces it with a reason then it is released, recording who and why", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, Lock{Env: "production", User: "alice", Uberlock: true})
		got := r.ok(1*s, Release{Env: "production", User: "ops", Force: true, Reason: "job crashed"})
		want := Released{Env: "production", User: "alice", LockID: rid(1), Uberlock: true, At: t0.Add(s), Token: 1, ForcedBy: "ops", Reason: "job crashed"}
		if !reflect.DeepEqual(got, []Event{want}) {
			t.Fatalf("force %#v", got)
		}
	})
	t.Run("when a force has no reason then it is invalid", func(t *testing.T) {
		matchTyped(t, Release{Env: "production", User: "ops", Force: true}.Validate(), invalid("Release", "reason", "is required with force"))
	})
	t.Run("given a free env when ops forces then it is rejected naming nobody", func(t *testing.T) {
		newLockRun(t).code(0, Release{Env: "production", User: "ops", Force: true, Reason: "r"}, CodeNotHolder)
	})
	t.Run("given a release fenced with an old token when a later grant holds the lock then it is rejected lock_lost", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, leased("alice", "10s"))
		r.ok(11*s, Lock{Env: "production", User: "alice"}) // expired, then alice's new grant
		r.holder("alice", 3)
		r.code(12*s, Release{Env: "production", User: "alice", Token: 1}, CodeLockLost)
		wantTypes(t, r.ok(13*s, Release{Env: "production", User: "alice", Token: 3}), "Released")
	})
	t.Run("given a waiter when the lock is forced away then the waiter gets it", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, Lock{Env: "production", User: "alice"})
		r.ok(1*s, waitFor("bob"))
		wantTypes(t, r.ok(2*s, Release{Env: "production", User: "ops", Force: true, Reason: "r"}), "Released", "Locked")
		r.holder("bob", 4)
	})
}

// TestFencingTokensOnlyGrow drives a lock through every way a grant starts and ends and
// checks that each grant's token is larger than every token before it, and stays put
// while the grant lasts.
func TestFencingTokensOnlyGrow(t *testing.T) {
	r := newLockRun(t)
	var last int64
	step := func(offset time.Duration, c Command) {
		t.Helper()
		r.ok(offset, c)
		if r.lock.Held() {
			if r.lock.Token() < last {
				t.Fatalf("token %d after %d", r.lock.Token(), last)
			}
			last = r.lock.Token()
		}
	}
	step(0, leased("alice", "10s"))
	step(1*s, waitFor("bob"))
	step(2*s, Lock{Env: "production", User: "alice"}) // refresh: same token
	if r.lock.Token() != 1 {
		t.Fatalf("refresh changed the token to %d", r.lock.Token())
	}
	step(12*s, ExpireLock{Env: "production"}) // expiry, handoff to bob
	first := last
	step(13*s, waitFor("bob")) // claim
	step(14*s, Release{Env: "production", User: "ops", Force: true, Reason: "r"})
	step(15*s, Lock{Env: "production", User: "carol", Uberlock: true})
	if last <= first {
		t.Fatalf("carol's token %d not above bob's %d", last, first)
	}
	step(16*s, Release{Env: "production", User: "carol", Uberlock: true})
	step(17*s, Lock{Env: "production", User: "alice"})
	if last != r.lock.Version() {
		t.Fatalf("token %d, want the grant's version %d", last, r.lock.Version())
	}
}

func TestLegacyLockEventsKeepTheirVersionAsToken(t *testing.T) {
	a, err := Rehydrate(prodStream, []Event{
		Locked{Env: "production", User: "alice", LockID: rid(1), At: t0},
		Released{Env: "production", User: "alice", LockID: rid(1), At: t0},
		Locked{Env: "production", User: "bob", LockID: rid(2), At: t0},
	})
	if err != nil {
		t.Fatal(err)
	}
	if l := a.(*EnvLock); l.Token() != 3 || !l.Current(3, t0) || l.Current(1, t0) {
		t.Fatalf("token %d", l.Token())
	}
}

func TestLockSnapshots(t *testing.T) {
	t.Run("given a held lock with lease, queue and freezes when snapshotted then it restores the same", func(t *testing.T) {
		r := newLockRun(t)
		r.ok(0, AddFreeze{Env: "production", User: "ops", Cron: "0 18 * * FRI", Duration: "64h", TZ: "Europe/Berlin", Reason: "weekend"})
		r.ok(1*s, leased("alice", "10m"))
		r.ok(2*s, waitFor("bob"))
		state, err := r.lock.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		got, err := RestoreAggregate(prodStream, r.lock.Version(), lockSchema, state)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := got.MarshalState()
		if string(again) != string(state) {
			t.Fatalf("restored state\n%s\nwant\n%s", again, state)
		}
		if !reflect.DeepEqual(got.(*EnvLock).Freezes(), r.lock.Freezes()) || got.(*EnvLock).Token() != 2 {
			t.Fatalf("restored %+v", got)
		}
	})
	t.Run("given a held lock's snapshot from before fencing tokens then it is unusable, and a free one restores", func(t *testing.T) {
		held := `{"env":"production","held":true,"holder":"alice","lockId":"00000000-0000-4000-8000-000000000001","uberlock":false}`
		if _, err := RestoreAggregate(prodStream, 1, lockSchema, []byte(held)); !errors.Is(err, ErrUnusableSnapshot) {
			t.Fatalf("legacy held snapshot: %v", err)
		}
		free := `{"env":"production","held":false,"holder":"","lockId":"00000000-0000-0000-0000-000000000000","uberlock":false}`
		if _, err := RestoreAggregate(prodStream, 2, lockSchema, []byte(free)); err != nil {
			t.Fatalf("legacy free snapshot: %v", err)
		}
	})
}
