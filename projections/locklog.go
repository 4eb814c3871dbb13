package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"buildledger/domain"
	"buildledger/eventstore"
)

// StreamLoader is what LockLog reads: the events of one stream (eventstore.Store has it).
type StreamLoader interface {
	Load(ctx context.Context, stream string, fromVersion int64) ([]eventstore.Record, error)
}

// LockLog answers the lock questions that only the events answer — the history of an
// env's lock, who held it at a given time, its queue and its freeze schedules — by reading
// the env's lock stream and folding it with the domain's own rules. It reads the whole
// stream on every call (lock streams are short: a grant, a release, a waiter's attempt
// every 5 s while it waits).
type LockLog struct {
	events StreamLoader
}

// NewLockLog returns a LockLog on events.
func NewLockLog(events StreamLoader) *LockLog { return &LockLog{events: events} }

// LockHolding is who held an env's lock at a time.
type LockHolding struct {
	// Env is the environment.
	Env string `json:"env"`
	// Held tells whether a grant was current: held, and its lease (if any) not run out.
	Held bool `json:"held"`
	// User is the holder; empty when not held.
	User string `json:"user,omitempty"`
	// Token is the grant's fencing token (the version of its grant).
	Token int64 `json:"token,omitempty"`
	// Since is when the lock was granted.
	Since *time.Time `json:"since,omitempty"`
	// ExpiresAt is when the grant's lease runs out unless renewed; nil without a lease.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Uberlock marks an uberlock.
	Uberlock bool `json:"uberlock,omitempty"`
	// Claim marks a grant the queue passed to its head that the waiter has not claimed.
	Claim bool `json:"claim,omitempty"`
}

// QueuedUser is one place in an env's queue.
type QueuedUser struct {
	// Position is the place, 1 for the next to get the lock.
	Position int `json:"position"`
	// User is the waiter.
	User string `json:"user"`
	// Since is the waiter's last attempt, which renewed its place.
	Since time.Time `json:"since"`
}

// LockQueue is an env's lock holder and the waiters behind it, in order.
type LockQueue struct {
	// Env is the environment.
	Env string `json:"env"`
	// Holder is who holds the lock.
	Holder LockHolding `json:"holder"`
	// Waiting are the waiters in order, first the next to get the lock; never null.
	Waiting []QueuedUser `json:"waiting"`
}

// FreezeView is one freeze schedule of an env and where it stands at a given time.
type FreezeView struct {
	// ID numbers the env's schedules from 1.
	ID int `json:"id"`
	// Cron names the windows' starts (five fields or a descriptor such as @daily), in TZ.
	Cron string `json:"cron"`
	// Duration is each window's length as a Go duration, e.g. "64h0m0s".
	Duration string `json:"duration"`
	// TZ is the IANA time zone of Cron.
	TZ string `json:"tz"`
	// Reason says why the env freezes.
	Reason string `json:"reason"`
	// User added the schedule, at AddedAt.
	User    string    `json:"user"`
	AddedAt time.Time `json:"addedAt"`
	// Open tells whether a window of the schedule is open; OpenUntil is its end.
	Open      bool       `json:"open"`
	OpenUntil *time.Time `json:"openUntil,omitempty"`
	// NextStart is when the next window opens, when none is open.
	NextStart *time.Time `json:"nextStart,omitempty"`
}

// lockEvent is one decoded event of a lock stream.
type lockEvent struct {
	version int64
	event   domain.Event
}

// load returns the decoded events of env's lock stream, in version order; events of types
// the domain does not know are left out, as the projections leave them.
func (l *LockLog) load(ctx context.Context, env string) ([]lockEvent, error) {
	if err := required("env", env); err != nil {
		return nil, err
	}
	if err := domain.ValidateStreamName("env", env); err != nil {
		var ice *domain.InvalidCommandError
		if errors.As(err, &ice) {
			return nil, fmt.Errorf("%w: env %s", ErrInvalidQuery, ice.Reason)
		}
		return nil, fmt.Errorf("%w: env: %v", ErrInvalidQuery, err)
	}
	recs, err := l.events.Load(ctx, domain.LockStreamID(env), 1)
	if err != nil {
		return nil, fmt.Errorf("projections: load the lock of env %s: %w", env, err)
	}
	out := make([]lockEvent, 0, len(recs))
	for _, rec := range recs {
		e, known, err := decodeEvent(rec)
		if err != nil {
			return nil, err
		}
		if known {
			out = append(out, lockEvent{version: rec.Version, event: e})
		}
	}
	return out, nil
}

// lockState folds events into the env's lock with the domain's rules, and returns it with the
// time each grant (by fencing token) was made.
func lockState(env string, events []lockEvent) (*domain.EnvLock, map[int64]time.Time, error) {
	history := make([]domain.Event, len(events))
	granted := map[int64]time.Time{}
	for i, le := range events {
		history[i] = le.event
		if g, ok := le.event.(domain.Locked); ok {
			granted[cmp.Or(g.Token, le.version)] = g.At
		}
	}
	agg, err := domain.Rehydrate(domain.LockStreamID(env), history)
	if err != nil {
		return nil, nil, fmt.Errorf("projections: the lock of env %s: %w", env, err)
	}
	lock, ok := agg.(*domain.EnvLock)
	if !ok {
		return nil, nil, fmt.Errorf("projections: the lock stream of env %s rehydrates to %T", env, agg)
	}
	return lock, granted, nil
}

// holding describes lock at t. A grant whose lease has run out by t is not held, even
// when the event that records its expiry comes later: the lease, not that event, ends it.
func holding(env string, lock *domain.EnvLock, granted map[int64]time.Time, t time.Time) LockHolding {
	h := LockHolding{Env: env}
	if !lock.Current(lock.Token(), t) {
		return h
	}
	h.Held, h.User, h.Token, h.Uberlock, h.Claim = true, lock.Holder(), lock.Token(), lock.Uberlock(), lock.Claim()
	if since, ok := granted[lock.Token()]; ok {
		h.Since = &since
	}
	if end := lock.ExpiresAt(); !end.IsZero() {
		h.ExpiresAt = &end
	}
	return h
}

// At answers who held env's lock at time t, from the events (lease expiry included: a
// grant whose lease had run out at t was not held even if the LockExpired event came
// later). It folds the events up to the first one that happened after t.
func (l *LockLog) At(ctx context.Context, env string, t time.Time) (LockHolding, error) {
	events, err := l.load(ctx, env)
	if err != nil {
		return LockHolding{}, err
	}
	upTo := len(events)
	for i, le := range events {
		if eventTime(le.event).After(t) {
			upTo = i
			break
		}
	}
	lock, granted, err := lockState(env, events[:upTo])
	if err != nil {
		return LockHolding{}, err
	}
	return holding(env, lock, granted, t), nil
}

// Queue returns the holder and the waiters in order at now; places that lapsed by now
// (no attempt for domain.WaiterTimeout) are left out, as the lock leaves them out.
func (l *LockLog) Queue(ctx context.Context, env string, now time.Time) (LockQueue, error) {
	q, _, err := l.QueueAndFreezes(ctx, env, now)
	return q, err
}

// Freezes returns env's freeze schedules with the window open at now, or the next one, in
// the order they were added.
func (l *LockLog) Freezes(ctx context.Context, env string, now time.Time) ([]FreezeView, error) {
	_, views, err := l.QueueAndFreezes(ctx, env, now)
	return views, err
}

// QueueAndFreezes returns what Queue and Freezes return, from one read of the lock's
// events.
func (l *LockLog) QueueAndFreezes(ctx context.Context, env string, now time.Time) (LockQueue, []FreezeView, error) {
	events, err := l.load(ctx, env)
	if err != nil {
		return LockQueue{}, nil, err
	}
	lock, granted, err := lockState(env, events)
	if err != nil {
		return LockQueue{}, nil, err
	}
	q := LockQueue{Env: env, Holder: holding(env, lock, granted, now), Waiting: []QueuedUser{}}
	for _, w := range lock.Queue(now) {
		q.Waiting = append(q.Waiting, QueuedUser{Position: w.Position, User: w.User, Since: w.Since})
	}
	views := []FreezeView{}
	for _, f := range lock.Freezes() {
		v := FreezeView{ID: f.ID, Cron: f.Cron, Duration: f.Duration.String(), TZ: f.TZ, Reason: f.Reason,
			User: f.User, AddedAt: f.AddedAt}
		if w, open := f.OpenAt(now); open {
			v.Open, v.OpenUntil = true, &w.End
		} else if w, ok := f.Next(now); ok {
			v.NextStart = &w.Start
		}
		views = append(views, v)
	}
	return q, views, nil
}

// eventTime returns when a lock event happened.
func eventTime(e domain.Event) time.Time {
	switch e := e.(type) {
	case domain.Locked:
		return e.At
	case domain.LockRefreshed:
		return e.At
	case domain.Released:
		return e.At
	case domain.LockExpired:
		return e.At
	case domain.LockQueued:
		return e.At
	case domain.LockQueueLeft:
		return e.At
	case domain.FreezeAdded:
		return e.At
	case domain.FreezeRemoved:
		return e.At
	}
	return time.Time{}
}
