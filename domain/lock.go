package domain

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// lockSchema is the version of the EnvLock snapshot state.
const lockSchema = 1

// Lock asks for an environment's deploy lock. Uberlock freezes the environment until its
// holder releases it with Uberlock set.
type Lock struct {
	Env      string `json:"env"`
	User     string `json:"user"`
	Meta     string `json:"meta"`
	Uberlock bool   `json:"uberlock"`
}

// CommandType returns "Lock".
func (Lock) CommandType() string { return "Lock" }

// StreamID returns the environment's lock stream, "lock:{env}".
func (c Lock) StreamID() string { return LockStreamID(c.Env) }

// Validate checks the environment and user; meta is optional free text (a CI URL, "Slack").
func (c Lock) Validate() error {
	p := newProblems(c.CommandType())
	p.check("env", nameProblem(c.Env, false))
	p.check("user", nameProblem(c.User, true))
	p.check("meta", textProblem(c.Meta, false))
	return p.err()
}

// Release gives an environment's deploy lock back. An uberlock is released only with
// Uberlock set, so that a routine release at the end of a deploy cannot lift a freeze.
type Release struct {
	Env      string `json:"env"`
	User     string `json:"user"`
	Uberlock bool   `json:"uberlock"`
}

// CommandType returns "Release".
func (Release) CommandType() string { return "Release" }

// StreamID returns the environment's lock stream, "lock:{env}".
func (c Release) StreamID() string { return LockStreamID(c.Env) }

// Validate checks the environment and user.
func (c Release) Validate() error {
	p := newProblems(c.CommandType())
	p.check("env", nameProblem(c.Env, false))
	p.check("user", nameProblem(c.User, true))
	return p.err()
}

// Locked records that a user took an environment's lock; LockID identifies the lock's row.
type Locked struct {
	Env      string    `json:"env"`
	User     string    `json:"user"`
	Meta     string    `json:"meta"`
	Uberlock bool      `json:"uberlock"`
	LockID   uuid.UUID `json:"lockId"`
	At       time.Time `json:"at"`
}

// EventType returns "Locked".
func (Locked) EventType() string { return "Locked" }

// LockRefreshed records that the holder locked again: same lock, new meta and time.
// Uberlock is the lock's flag afterwards (a holder may upgrade, never downgrade).
type LockRefreshed struct {
	Env      string    `json:"env"`
	User     string    `json:"user"`
	Meta     string    `json:"meta"`
	Uberlock bool      `json:"uberlock"`
	LockID   uuid.UUID `json:"lockId"`
	At       time.Time `json:"at"`
}

// EventType returns "LockRefreshed".
func (LockRefreshed) EventType() string { return "LockRefreshed" }

// Released records that the holder gave the lock back; Uberlock tells whether it was one.
type Released struct {
	Env      string    `json:"env"`
	User     string    `json:"user"`
	LockID   uuid.UUID `json:"lockId"`
	Uberlock bool      `json:"uberlock"`
	At       time.Time `json:"at"`
}

// EventType returns "Released".
func (Released) EventType() string { return "Released" }

// LockedError rejects a lock while another user holds the environment. Its message is
// Da-Playa's, verbatim, because scripts and people wait on it.
type LockedError struct {
	Env  string
	User string // the holder
}

// Error returns exactly "Still locked at env <ENV> by <USER>".
func (e *LockedError) Error() string { return "Still locked at env " + e.Env + " by " + e.User }

// Is reports whether target is ErrRejected.
func (e *LockedError) Is(target error) bool { return target == ErrRejected }

// NotLockHolderError rejects releasing a lock the user does not hold.
type NotLockHolderError struct {
	Env  string
	User string // who asked to release
	// Holder is who holds the lock, empty when nobody does.
	Holder string
}

// Error names the environment, the user and the actual holder or "nobody".
func (e *NotLockHolderError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "nobody"
	}
	return fmt.Sprintf("domain: %s cannot release env %s: it is held by %s", e.User, e.Env, holder)
}

// Is reports whether target is ErrRejected.
func (e *NotLockHolderError) Is(target error) bool { return target == ErrRejected }

// UberlockReleaseError rejects a plain release of an uberlock.
type UberlockReleaseError struct {
	Env  string
	User string // the holder
}

// Error says how to release it.
func (e *UberlockReleaseError) Error() string {
	return fmt.Sprintf("domain: env %s is uberlocked by %s; only a release with uberlock lifts it", e.Env, e.User)
}

// Is reports whether target is ErrRejected.
func (e *UberlockReleaseError) Is(target error) bool { return target == ErrRejected }

// EnvLock is the state of an environment's deploy lock.
type EnvLock struct {
	stream
	env      string
	held     bool
	holder   string
	lockID   uuid.UUID
	uberlock bool
}

// Env returns the environment.
func (l *EnvLock) Env() string { return l.env }

// Held reports whether somebody holds the lock.
func (l *EnvLock) Held() bool { return l.held }

// Holder returns who holds the lock, empty when nobody does.
func (l *EnvLock) Holder() string { return l.holder }

// LockID returns the id of the lock held, uuid.Nil when none.
func (l *EnvLock) LockID() uuid.UUID { return l.lockID }

// Uberlock reports whether the lock held is an uberlock.
func (l *EnvLock) Uberlock() bool { return l.uberlock }

func (l *EnvLock) kind() string { return KindLock }

// Handle decides Lock and Release.
func (l *EnvLock) Handle(c Command, env Env) ([]Event, error) {
	c, err := begin(l, c)
	if err != nil {
		return nil, err
	}
	switch c := c.(type) {
	case Lock:
		return l.lock(c, env)
	case Release:
		return l.release(c, env)
	}
	return nil, unsupported(l, c)
}

func (l *EnvLock) lock(c Lock, env Env) ([]Event, error) {
	if l.held && l.holder != c.User {
		// Whether the holder's lock is an uberlock or not, nobody else gets in.
		return nil, &LockedError{Env: l.env, User: l.holder}
	}
	at, err := env.at()
	if err != nil {
		return nil, err
	}
	if l.held {
		return []Event{LockRefreshed{
			Env:      l.env,
			User:     c.User,
			Meta:     c.Meta,
			Uberlock: l.uberlock || c.Uberlock,
			LockID:   l.lockID,
			At:       at,
		}}, nil
	}
	id, err := env.randomID()
	if err != nil {
		return nil, err
	}
	return []Event{Locked{Env: l.env, User: c.User, Meta: c.Meta, Uberlock: c.Uberlock, LockID: id, At: at}}, nil
}

func (l *EnvLock) release(c Release, env Env) ([]Event, error) {
	if !l.held || l.holder != c.User {
		return nil, &NotLockHolderError{Env: l.env, User: c.User, Holder: l.holder}
	}
	if l.uberlock && !c.Uberlock {
		return nil, &UberlockReleaseError{Env: l.env, User: l.holder}
	}
	at, err := env.at()
	if err != nil {
		return nil, err
	}
	return []Event{Released{Env: l.env, User: c.User, LockID: l.lockID, Uberlock: l.uberlock, At: at}}, nil
}

// Apply changes the state by one event.
func (l *EnvLock) Apply(e Event) {
	e = derefEvent(e)
	if e == nil {
		return
	}
	l.version++
	switch e := e.(type) {
	case Locked:
		l.held, l.holder, l.lockID, l.uberlock = true, e.User, e.LockID, e.Uberlock
	case LockRefreshed:
		l.held, l.holder, l.lockID, l.uberlock = true, e.User, e.LockID, e.Uberlock
	case Released:
		l.held, l.holder, l.lockID, l.uberlock = false, "", uuid.Nil, false
	}
}

// SnapshotSchema returns the version of the state schema.
func (l *EnvLock) SnapshotSchema() int { return lockSchema }

type lockState struct {
	Env      string    `json:"env"`
	Held     bool      `json:"held"`
	Holder   string    `json:"holder"`
	LockID   uuid.UUID `json:"lockId"`
	Uberlock bool      `json:"uberlock"`
}

// MarshalState returns the state as JSON.
func (l *EnvLock) MarshalState() ([]byte, error) {
	return jsonMarshal(lockState{Env: l.env, Held: l.held, Holder: l.holder, LockID: l.lockID, Uberlock: l.uberlock})
}

func (l *EnvLock) restore(state []byte) error {
	var s lockState
	if err := decodeState(state, &s); err != nil {
		return err
	}
	switch {
	case s.Env != l.env:
		return fmt.Errorf("state is of env %s", s.Env)
	case s.Held && (s.Holder == "" || s.LockID == uuid.Nil):
		return fmt.Errorf("a held lock has no holder or id")
	case !s.Held && (s.Holder != "" || s.LockID != uuid.Nil || s.Uberlock):
		return fmt.Errorf("a free lock has a holder, id or uberlock")
	}
	l.held, l.holder, l.lockID, l.uberlock = s.Held, s.Holder, s.LockID, s.Uberlock
	return nil
}
