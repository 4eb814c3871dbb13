package domain

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

const prodStream = "lock:production"

func lockCmd(user string, uber bool) Lock {
	return Lock{Env: "production", User: user, Meta: "https://ci.example/1", Uberlock: uber}
}

func releaseCmd(user string, uber bool) Release {
	return Release{Env: "production", User: user, Uberlock: uber}
}

func locked(user string, uber bool, id uuid.UUID) Locked {
	return Locked{Env: "production", User: user, Meta: "https://ci.example/1", Uberlock: uber, LockID: id, At: t0}
}

func released(user string, uber bool, id uuid.UUID) Released {
	return Released{Env: "production", User: user, LockID: id, Uberlock: uber, At: t0}
}

// tokened returns a lock event with its fencing token set, as decisions write it.
func tokened[E Locked | Released](e E, token int64) E {
	switch e := any(&e).(type) {
	case *Locked:
		e.Token = token
	case *Released:
		e.Token = token
	}
	return e
}

func TestLockRules(t *testing.T) {
	lockA := uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000001")
	aliceHolds := []Event{locked("alice", false, lockA)}
	aliceUber := []Event{locked("alice", true, lockA)}
	stillLocked := &LockedError{Env: "production", User: "alice"}
	const stillLockedMsg = "Still locked at env production by alice"
	runScenarios(t, prodStream, []scenario{
		{
			name: "given a free env when alice locks then she gets a new lock",
			when: lockCmd("alice", false),
			then: []Event{tokened(locked("alice", false, rid(1)), 1)},
			check: func(t *testing.T, a Aggregate) {
				l := stateOf[*EnvLock](t, a)
				if !l.Held() || l.Holder() != "alice" || l.LockID() != rid(1) || l.Uberlock() || l.Env() != "production" {
					t.Errorf("state: held %v holder %q id %s uber %v", l.Held(), l.Holder(), l.LockID(), l.Uberlock())
				}
			},
		},
		{
			name:  "given alice holds it when alice locks again then the lock is refreshed with new meta",
			given: aliceHolds,
			when:  Lock{Env: "production", User: "alice", Meta: "Slack"},
			then:  []Event{LockRefreshed{Env: "production", User: "alice", Meta: "Slack", LockID: lockA, At: t0, Token: 1}},
		},
		{
			name:    "given alice holds it when bob locks then he is told it is still locked",
			given:   aliceHolds,
			when:    lockCmd("bob", false),
			thenErr: stillLocked,
			thenMsg: stillLockedMsg,
		},
		{
			name:    "given alice holds it when bob asks for an uberlock then he is told it is still locked",
			given:   aliceHolds,
			when:    lockCmd("bob", true),
			thenErr: stillLocked,
			thenMsg: stillLockedMsg,
		},
		{
			name:    "given alice's uberlock when bob locks then he is told it is still locked",
			given:   aliceUber,
			when:    lockCmd("bob", false),
			thenErr: stillLocked,
			thenMsg: stillLockedMsg,
		},
		{
			name:    "given alice's uberlock when bob asks for an uberlock then he is told it is still locked",
			given:   aliceUber,
			when:    lockCmd("bob", true),
			thenErr: stillLocked,
			thenMsg: stillLockedMsg,
		},
		{
			name:  "given alice holds it when alice asks for an uberlock then her lock is upgraded",
			given: aliceHolds,
			when:  lockCmd("alice", true),
			then: []Event{LockRefreshed{Env: "production", User: "alice", Meta: "https://ci.example/1", Uberlock: true,
				LockID: lockA, At: t0, Token: 1}},
			check: func(t *testing.T, a Aggregate) {
				if !stateOf[*EnvLock](t, a).Uberlock() {
					t.Error("not an uberlock after upgrade")
				}
			},
		},
		{
			name:  "given alice's uberlock when alice locks plainly then it stays an uberlock",
			given: aliceUber,
			when:  lockCmd("alice", false),
			then: []Event{LockRefreshed{Env: "production", User: "alice", Meta: "https://ci.example/1", Uberlock: true,
				LockID: lockA, At: t0, Token: 1}},
		},
		{
			name:  "given alice holds it when alice releases then the env is free",
			given: aliceHolds,
			when:  releaseCmd("alice", false),
			then:  []Event{tokened(released("alice", false, lockA), 1)},
			check: func(t *testing.T, a Aggregate) {
				l := stateOf[*EnvLock](t, a)
				if l.Held() || l.Holder() != "" || l.LockID() != uuid.Nil {
					t.Errorf("still held by %q", l.Holder())
				}
			},
		},
		{
			name:  "given alice holds it when alice releases with uberlock then the env is free",
			given: aliceHolds,
			when:  releaseCmd("alice", true),
			then:  []Event{tokened(released("alice", false, lockA), 1)},
		},
		{
			name:  "given alice's uberlock when alice releases with uberlock then the freeze is lifted",
			given: aliceUber,
			when:  releaseCmd("alice", true),
			then:  []Event{tokened(released("alice", true, lockA), 1)},
		},
		{
			name:    "given alice's uberlock when alice releases plainly then it is rejected",
			given:   aliceUber,
			when:    releaseCmd("alice", false),
			thenErr: &UberlockReleaseError{Env: "production", User: "alice"},
			thenMsg: "domain: env production is uberlocked by alice; only a release with uberlock lifts it",
		},
		{
			name:    "given a free env when bob releases then it is rejected naming nobody",
			when:    releaseCmd("bob", false),
			thenErr: &NotLockHolderError{Env: "production", User: "bob"},
			thenMsg: "domain: bob cannot release env production: it is held by nobody",
		},
		{
			name:    "given alice holds it when bob releases then it is rejected naming alice",
			given:   aliceHolds,
			when:    releaseCmd("bob", false),
			thenErr: &NotLockHolderError{Env: "production", User: "bob", Holder: "alice"},
			thenMsg: "domain: bob cannot release env production: it is held by alice",
		},
		{
			name:    "given alice's uberlock when bob releases it with uberlock then it is rejected",
			given:   aliceUber,
			when:    releaseCmd("bob", true),
			thenErr: &NotLockHolderError{Env: "production", User: "bob", Holder: "alice"},
		},
		{
			name:  "given alice released when bob locks then he gets a new lock",
			given: []Event{locked("alice", true, lockA), released("alice", true, lockA)},
			when:  lockCmd("bob", false),
			then:  []Event{tokened(locked("bob", false, rid(1)), 3)},
		},
		{
			name:    "when Lock has no env then it is invalid",
			when:    Lock{User: "alice"},
			thenErr: invalid("Lock", "env", "must not be empty"),
		},
		{
			name:    "when Lock has an env with a slash then it is invalid",
			when:    Lock{Env: "prod/eu", User: "alice"},
			thenErr: invalid("Lock", "env", `must not contain "/"`),
		},
		{
			name:    "when Lock has no user then it is invalid",
			when:    Lock{Env: "production"},
			thenErr: invalid("Lock", "user", "must not be empty"),
		},
		{
			name:    "when Lock has oversized meta then it is invalid",
			when:    Lock{Env: "production", User: "alice", Meta: strings.Repeat("m", maxTextBytes+1)},
			thenErr: invalid("Lock", "meta", "must be at most 65536 bytes"),
		},
		{
			name:    "when Lock has meta that is not UTF-8 then it is invalid",
			when:    Lock{Env: "production", User: "alice", Meta: "\xc3"},
			thenErr: invalid("Lock", "meta", "must be valid UTF-8"),
		},
		{
			name:    "when Release has no user then it is invalid",
			when:    Release{Env: "production"},
			thenErr: invalid("Release", "user", "must not be empty"),
		},
		{
			name:    "when a lock for another env is handled then it is a wrong stream",
			when:    Lock{Env: "staging", User: "alice"},
			thenErr: &WrongStreamError{Command: "Lock", Target: "lock:staging", Stream: prodStream},
		},
		{
			name:   "when the env has no id source then the decision fails",
			when:   lockCmd("alice", false),
			env:    envWith(func(e *Env) { e.NewID = nil }),
			thenIs: ErrInvalidEnv,
		},
		{
			name:   "when the id source returns the nil uuid then the decision fails",
			when:   lockCmd("alice", false),
			env:    envWith(func(e *Env) { e.NewID = func() uuid.UUID { return uuid.Nil } }),
			thenIs: ErrInvalidEnv,
		},
	})
}
