package domain

import (
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Bounds of the lock's timing rules. A waiter attempts every 5 s (Da-Playa's retry), so a
// place not renewed for WaiterTimeout has missed three attempts and then some; a grant
// passed from the queue waits as long for its waiter to claim it.
const (
	// WaiterTimeout is how long a place in the queue lasts without an attempt renewing it.
	WaiterTimeout = 20 * time.Second
	// ClaimWindow is the lease of a grant passed to the head of the queue, until its
	// waiter claims it.
	ClaimWindow = 20 * time.Second
	// MinLease and MaxLease bound a lease.
	MinLease = time.Second
	MaxLease = 30 * 24 * time.Hour
)

// Renew extends the lease of the lock User holds. Token, when set, must be the fencing
// token of the grant being renewed, so that a renewal never extends a later grant of the
// same user. Lease, when set, replaces the lease's length.
type Renew struct {
	Env   string `json:"env"`
	User  string `json:"user"`
	Token int64  `json:"token,omitempty"`
	Lease string `json:"lease,omitempty"`
}

// CommandType returns "Renew".
func (Renew) CommandType() string { return "Renew" }

// StreamID returns the environment's lock stream, "lock:{env}".
func (c Renew) StreamID() string { return LockStreamID(c.Env) }

// Validate checks the environment, user, token and lease.
func (c Renew) Validate() error {
	p := lockProblems(c.CommandType(), c.Env, c.User)
	p.check("lease", leaseProblem(c.Lease))
	p.check("token", tokenProblem(c.Token))
	return p.err()
}

// ExpireLock asks the lock to settle: a lease that has run out ends (LockExpired) and a
// free lock passes to the head of its queue. The worker sends it to itself, delayed until
// a lease's end; it is harmless early, late or twice. Token names the grant it was
// scheduled for, for the record.
type ExpireLock struct {
	Env   string `json:"env"`
	Token int64  `json:"token,omitempty"`
}

// CommandType returns "ExpireLock".
func (ExpireLock) CommandType() string { return "ExpireLock" }

// StreamID returns the environment's lock stream, "lock:{env}".
func (c ExpireLock) StreamID() string { return LockStreamID(c.Env) }

// Validate checks the environment.
func (c ExpireLock) Validate() error {
	p := newProblems(c.CommandType())
	p.check("env", nameProblem(c.Env, false))
	p.check("token", tokenProblem(c.Token))
	return p.err()
}

// LeaveQueue gives up User's place in the env's queue. It is refused with HolderError when
// the lock has already passed to User, so that a waiter that gives up learns it holds the
// lock; leaving a queue one is not in changes nothing.
type LeaveQueue struct {
	Env  string `json:"env"`
	User string `json:"user"`
}

// CommandType returns "LeaveQueue".
func (LeaveQueue) CommandType() string { return "LeaveQueue" }

// StreamID returns the environment's lock stream, "lock:{env}".
func (c LeaveQueue) StreamID() string { return LockStreamID(c.Env) }

// Validate checks the environment and user.
func (c LeaveQueue) Validate() error {
	p := lockProblems(c.CommandType(), c.Env, c.User)
	return p.err()
}

// LockExpired records that a lease ran out: the system released the lock of User.
type LockExpired struct {
	Env       string    `json:"env"`
	User      string    `json:"user"`
	LockID    uuid.UUID `json:"lockId"`
	Uberlock  bool      `json:"uberlock"`
	Token     int64     `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	At        time.Time `json:"at"`
	// Claim marks a grant from the queue that its waiter never claimed.
	Claim bool `json:"claim,omitempty"`
}

// EventType returns "LockExpired".
func (LockExpired) EventType() string { return "LockExpired" }

// LockQueued records an attempt by User while someone else held the env: User joined the
// queue, or renewed its place. Position is User's place afterwards (1 = next), of Waiting.
type LockQueued struct {
	Env      string    `json:"env"`
	User     string    `json:"user"`
	Meta     string    `json:"meta"`
	Uberlock bool      `json:"uberlock,omitempty"`
	LeaseMs  int64     `json:"leaseMs,omitempty"`
	Holder   string    `json:"holder"`
	Position int       `json:"position"`
	Waiting  int       `json:"waiting"`
	At       time.Time `json:"at"`
}

// EventType returns "LockQueued".
func (LockQueued) EventType() string { return "LockQueued" }

// LockQueueLeft records that User's place in the queue ended: given up, or Dropped because
// no attempt renewed it for WaiterTimeout.
type LockQueueLeft struct {
	Env     string    `json:"env"`
	User    string    `json:"user"`
	Dropped bool      `json:"dropped,omitempty"`
	At      time.Time `json:"at"`
}

// EventType returns "LockQueueLeft".
func (LockQueueLeft) EventType() string { return "LockQueueLeft" }

// LockLostError rejects a renewal of a grant that is no longer held.
type LockLostError struct {
	rejection
	Env   string
	User  string
	Token int64 // the token asked for, 0 for any
	// Holder and Current describe the lock now: its holder ("" for none) and token.
	Holder  string
	Current int64
}

// Error says whose the lock is now.
func (e *LockLostError) Error() string {
	asked := e.User
	if e.Token > 0 {
		asked += " (token " + strconv.FormatInt(e.Token, 10) + ")"
	}
	if e.Holder == "" {
		return fmt.Sprintf("domain: the lock on env %s of %s is lost: nobody holds it", e.Env, asked)
	}
	return fmt.Sprintf("domain: the lock on env %s of %s is lost: it is held by %s (token %d)", e.Env, asked, e.Holder, e.Current)
}

// Code returns CodeLockLost.
func (*LockLostError) Code() string { return CodeLockLost }

// HolderError refuses to take User out of the queue: the lock has passed to User.
type HolderError struct {
	rejection
	Env   string
	User  string
	Token int64
}

// Error says that the user holds the lock.
func (e *HolderError) Error() string {
	return fmt.Sprintf("domain: %s holds the lock on env %s (token %d); release it instead of leaving the queue", e.User, e.Env, e.Token)
}

// Code returns CodeHolder.
func (*HolderError) Code() string { return CodeHolder }

// LeaseTimer is when a committed event's lease runs out: the worker schedules ExpireLock
// for then.
type LeaseTimer struct {
	Env   string
	Token int64
	Due   time.Time
}

// LeaseTimerOf returns the lease end a Locked or LockRefreshed event sets, if any.
func LeaseTimerOf(e Event) (LeaseTimer, bool) {
	switch e := deref(e).(type) {
	case Locked:
		if e.ExpiresAt != nil {
			return LeaseTimer{Env: e.Env, Token: e.Token, Due: *e.ExpiresAt}, true
		}
	case LockRefreshed:
		if e.ExpiresAt != nil {
			return LeaseTimer{Env: e.Env, Token: e.Token, Due: *e.ExpiresAt}, true
		}
	}
	return LeaseTimer{}, false
}

// ParseLease reads a lease such as "10m"; "" is no lease.
func ParseLease(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration such as 10m or 1h30m")
	}
	if d < MinLease || d > MaxLease {
		return 0, fmt.Errorf("must be from %s to %s", MinLease, MaxLease)
	}
	return d, nil
}

func leaseProblem(s string) string {
	if _, err := ParseLease(s); err != nil {
		return err.Error()
	}
	return ""
}

// tokenProblem checks a fencing token; 0 names no grant.
func tokenProblem(token int64) string {
	if token < 0 {
		return "must not be negative"
	}
	return ""
}

// reasonProblem checks an override's reason: required when the override is asked for.
func reasonProblem(reason string, override bool, flag string) string {
	if override && reason == "" {
		return "is required with " + flag
	}
	return textProblem(reason, false)
}

// waiter is one place in an env's queue.
type waiter struct {
	User     string    `json:"user"`
	Meta     string    `json:"meta,omitempty"`
	Uberlock bool      `json:"uberlock,omitempty"`
	LeaseMs  int64     `json:"leaseMs,omitempty"`
	LastSeen time.Time `json:"lastSeen"`
}

// Waiter is a place in an env's queue, as queries show it.
type Waiter struct {
	User     string
	Since    time.Time // the last attempt that renewed the place
	Position int
}

func leaseEnd(at time.Time, leaseMs int64) *time.Time {
	if leaseMs <= 0 {
		return nil
	}
	end := at.Add(time.Duration(leaseMs) * time.Millisecond)
	return &end
}
