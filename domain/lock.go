package domain

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Lock asks for an environment's deploy lock. Uberlock freezes the environment until its
// holder releases it with Uberlock set.
type Lock struct {
	Env      string `json:"env"`
	User     string `json:"user"`
	Meta     string `json:"meta"`
	Uberlock bool   `json:"uberlock"`
	// Lease, a Go duration such as "10m", makes the lock expire that long after it is
	// granted or last renewed; empty means no lease (or the operator's default).
	Lease string `json:"lease,omitempty"`
	// Queue, while someone else holds the env, takes or keeps the user's place in the
	// env's FIFO queue (an accepted LockQueued) instead of a rejection. Each attempt renews
	// the place; a place not renewed for WaiterTimeout is dropped.
	Queue bool `json:"queue,omitempty"`
	// BreakGlass takes the lock during a scheduled freeze; it needs a Reason.
	BreakGlass bool `json:"breakGlass,omitempty"`
	// Reason says why the glass was broken.
	Reason string `json:"reason,omitempty"`
}

// CommandType returns "Lock".
func (Lock) CommandType() string { return "Lock" }

// StreamID returns the environment's lock stream, "lock:{env}".
func (c Lock) StreamID() string { return LockStreamID(c.Env) }

// Validate checks the environment and user; meta is optional free text (a CI URL, "Slack").
func (c Lock) Validate() error {
	p := lockProblems(c.CommandType(), c.Env, c.User)
	p.check("meta", textProblem(c.Meta, false))
	p.check("lease", leaseProblem(c.Lease))
	p.check("reason", reasonProblem(c.Reason, c.BreakGlass, "breakGlass"))
	return p.err()
}

// lockProblems starts the problems of a command on a lock stream with the two names it
// carries: the env, part of the stream id, and the user.
func lockProblems(command, env, user string) *problems {
	p := newProblems(command)
	p.check("env", nameProblem(env, false))
	p.check("user", nameProblem(user, true))
	return p
}

// Release gives an environment's deploy lock back. An uberlock is released only with
// Uberlock set, so that a routine release at the end of a deploy cannot lift a freeze.
type Release struct {
	Env      string `json:"env"`
	User     string `json:"user"`
	Uberlock bool   `json:"uberlock"`
	// Force releases whoever holds the env (an operator's override); User is recorded as
	// who forced it, and Reason is required.
	Force bool `json:"force,omitempty"`
	// Reason says why a lock was forced away.
	Reason string `json:"reason,omitempty"`
	// Token, when set, releases only the grant with that fencing token: a release that comes
	// late never ends a later grant (LockLostError instead).
	Token int64 `json:"token,omitempty"`
}

// CommandType returns "Release".
func (Release) CommandType() string { return "Release" }

// StreamID returns the environment's lock stream, "lock:{env}".
func (c Release) StreamID() string { return LockStreamID(c.Env) }

// Validate checks the environment and user, and that a forced release says why.
func (c Release) Validate() error {
	p := lockProblems(c.CommandType(), c.Env, c.User)
	p.check("reason", reasonProblem(c.Reason, c.Force, "force"))
	p.check("token", tokenProblem(c.Token))
	return p.err()
}

// Locked records that a user took an environment's lock; LockID identifies the lock's row.
// Events written before leases, queues and fencing tokens have none of the optional fields.
type Locked struct {
	Env      string    `json:"env"`
	User     string    `json:"user"`
	Meta     string    `json:"meta"`
	Uberlock bool      `json:"uberlock"`
	LockID   uuid.UUID `json:"lockId"`
	At       time.Time `json:"at"`
	// Token is the grant's fencing token: the version of this event in the lock stream.
	// Zero in events written before tokens, whose token is their version all the same.
	Token int64 `json:"token,omitempty"`
	// LeaseMs is the lease in milliseconds; 0 for a lock without one.
	LeaseMs int64 `json:"leaseMs,omitempty"`
	// ExpiresAt is when the lease runs out unless renewed; nil without a lease.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Claim marks a grant passed to the head of the queue: it lasts ClaimWindow, and the
	// waiter's next attempt claims it (LockRefreshed with Claimed).
	Claim bool `json:"claim,omitempty"`
	// BreakGlass marks a grant that overrode the scheduled freeze named by Freeze.
	BreakGlass bool `json:"breakGlass,omitempty"`
	// Freeze describes the freeze window the grant overrode.
	Freeze string `json:"freeze,omitempty"`
	// Reason is the break-glass reason.
	Reason string `json:"reason,omitempty"`
}

// EventType returns "Locked".
func (Locked) EventType() string { return "Locked" }

// LockRefreshed records that the holder locked again, or renewed the lease: same lock,
// new meta and time. Uberlock is the lock's flag afterwards (a holder may upgrade, never
// downgrade).
type LockRefreshed struct {
	Env      string    `json:"env"`
	User     string    `json:"user"`
	Meta     string    `json:"meta"`
	Uberlock bool      `json:"uberlock"`
	LockID   uuid.UUID `json:"lockId"`
	At       time.Time `json:"at"`
	// Token is the grant's fencing token, unchanged by a refresh; 0 in older events.
	Token int64 `json:"token,omitempty"`
	// LeaseMs is the lease from now on, in milliseconds; 0 for none.
	LeaseMs int64 `json:"leaseMs,omitempty"`
	// ExpiresAt is the new end of the lease; nil without a lease.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Renewed marks a Renew (rather than a lock taken again).
	Renewed bool `json:"renewed,omitempty"`
	// Claimed marks the waiter claiming a grant that the queue passed to it.
	Claimed bool `json:"claimed,omitempty"`
}

// EventType returns "LockRefreshed".
func (LockRefreshed) EventType() string { return "LockRefreshed" }

// Released records that the lock was given back; Uberlock tells whether it was one. User
// is the holder; ForcedBy, when set, is who forced it away.
type Released struct {
	Env      string    `json:"env"`
	User     string    `json:"user"`
	LockID   uuid.UUID `json:"lockId"`
	Uberlock bool      `json:"uberlock"`
	At       time.Time `json:"at"`
	// Token is the released grant's fencing token; 0 in older events.
	Token int64 `json:"token,omitempty"`
	// ForcedBy is the operator who forced the release; empty for the holder's own.
	ForcedBy string `json:"forcedBy,omitempty"`
	// Reason is why the lock was forced away.
	Reason string `json:"reason,omitempty"`
}

// EventType returns "Released".
func (Released) EventType() string { return "Released" }

// LockedError rejects a lock while another user holds the environment. Its message is
// Da-Playa's, verbatim, because scripts and people wait on it.
type LockedError struct {
	rejection
	Env  string
	User string // the holder
}

// Error returns exactly "Still locked at env <ENV> by <USER>".
func (e *LockedError) Error() string { return "Still locked at env " + e.Env + " by " + e.User }

// NotLockHolderError rejects releasing a lock the user does not hold.
type NotLockHolderError struct {
	rejection
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

// UberlockReleaseError rejects a plain release of an uberlock.
type UberlockReleaseError struct {
	rejection
	Env  string
	User string // the holder
}

// Error says how to release it.
func (e *UberlockReleaseError) Error() string {
	return fmt.Sprintf("domain: env %s is uberlocked by %s; only a release with uberlock lifts it", e.Env, e.User)
}
