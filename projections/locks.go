package projections

import (
	"time"

	"buildledger/domain"
	"buildledger/eventstore"
)

// locksProjection keeps Da-Playa's locks of lock streams: one row per lock id, kept as
// history.
var locksProjection = &projection{
	name: ProjectionLocks, kind: domain.KindLock,
	needs: locksNeeds, project: projectLocks, owned: locksOwned,
}

// locksOwned: every lock of the environment.
func locksOwned(parts []string) rowSet {
	return rowSet{partitions: []Query{{Table: Table{Name: TableLocks}, Partition: parts[0]}}}
}

func lockRef(env, id string) ref { return ref{table: TableLocks, partition: env, sort: id} }

func locksNeeds(e domain.Event) []ref {
	if env, id, _, _, ok := lockUpdate(e); ok {
		return []ref{lockRef(env, id)}
	}
	return nil
}

// lockUpdate returns the lock an event after its grant changes, the user the event names
// and when it happened; ok is false for the grant and for events that change no lock row.
func lockUpdate(e domain.Event) (env, id, user string, at time.Time, ok bool) {
	switch e := e.(type) {
	case domain.LockRefreshed:
		return e.Env, e.LockID.String(), e.User, e.At, true
	case domain.Released:
		return e.Env, e.LockID.String(), e.User, e.At, true
	case domain.LockExpired:
		return e.Env, e.LockID.String(), e.User, e.At, true
	}
	return "", "", "", time.Time{}, false
}

func (v view) lock(env, id, user string, at time.Time) (Lock, error) {
	return loadedRow(v, lockRows, lockRef(env, id), Lock{ID: id, Env: env, User: user, CreatedAt: ms(at), UpdatedAt: ms(at)})
}

// Values of Lock.Ended.
const (
	// LockEndedExpired: the lease ran out and the system released the lock.
	LockEndedExpired = "expired"
	// LockEndedForced: an operator forced the lock away (Lock.ForcedBy).
	LockEndedForced = "forced"
)

// Lease, queue and force fields of the row are set only by events that carry them, so
// that the row of a lock without them is the one Da-Playa's fields alone make.
func projectLocks(rec eventstore.Record, e domain.Event, v view) (change, error) {
	l, ok, err := lockRow(e, v)
	if err != nil || !ok {
		return change{}, err
	}
	l.StreamVersion = rec.Version
	return change{puts: []rowPut{lockRows.put(l)}}, nil
}

// lockRow returns the row of the lock e grants or changes; ok is false when e changes none.
func lockRow(e domain.Event, v view) (l Lock, ok bool, err error) {
	if e, ok := e.(domain.Locked); ok {
		return Lock{
			ID: e.LockID.String(), User: e.User, Env: e.Env, CreatedAt: ms(e.At), UpdatedAt: ms(e.At),
			Active: true, Uberlock: e.Uberlock, Meta: e.Meta,
			FencingToken: e.Token, LeaseMs: e.LeaseMs, ExpiresAt: optMs(e.ExpiresAt), Claim: e.Claim,
			BreakGlass: e.BreakGlass, Reason: e.Reason,
		}, true, nil
	}
	env, id, user, at, ok := lockUpdate(e)
	if !ok {
		return Lock{}, false, nil
	}
	if l, err = v.lock(env, id, user, at); err != nil {
		return Lock{}, false, err
	}
	switch e := e.(type) {
	case domain.LockRefreshed:
		l.User, l.Meta, l.Uberlock, l.Active, l.UpdatedAt = e.User, e.Meta, e.Uberlock, true, ms(e.At)
		l.LeaseMs, l.ExpiresAt, l.Claim = e.LeaseMs, optMs(e.ExpiresAt), false
	case domain.Released:
		l.Active, l.Uberlock, l.UpdatedAt = false, e.Uberlock, ms(e.At)
		if e.ForcedBy != "" {
			l.Ended, l.ForcedBy, l.Reason = LockEndedForced, e.ForcedBy, e.Reason
		}
	case domain.LockExpired:
		l.Active, l.UpdatedAt, l.Ended = false, ms(e.At), LockEndedExpired
	}
	return l, true, nil
}

// optMs returns t in epoch milliseconds, 0 for nil.
func optMs(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return ms(*t)
}

// Lock is one deploy lock of an environment (Da-Playa's DaPlayaLocks row); released locks
// stay, inactive, as history. Times are epoch milliseconds. The fields after Meta are
// stored only when set, so that the row of a lock without leases, queues or overrides is
// exactly Da-Playa's.
type Lock struct {
	ID        string `json:"id" row:"id,sort"`
	User      string `json:"user" row:"user"`
	Env       string `json:"env" row:"env,partition"`
	CreatedAt int64  `json:"createdAt" row:"createdAt"`
	UpdatedAt int64  `json:"updatedAt" row:"updatedAt"`
	Active    bool   `json:"active" row:"active"`
	Uberlock  bool   `json:"uberlock" row:"uberlock"`
	Meta      string `json:"meta" row:"meta"`
	// FencingToken is the grant's fencing token. It is 0 (absent) on locks granted before
	// tokens, whose events carry none; their token is the version of their grant, which
	// LockLog shows.
	FencingToken int64 `json:"fencingToken,omitempty" row:"fencingToken,omitempty"`
	// LeaseMs is the lease's length in milliseconds; 0 without a lease.
	LeaseMs int64 `json:"leaseMs,omitempty" row:"leaseMs,omitempty"`
	// ExpiresAt is when the lease runs out unless renewed (epoch ms); 0 without a lease.
	ExpiresAt int64 `json:"expiresAt,omitempty" row:"expiresAt,omitempty"`
	// Claim marks a grant the queue passed to its head that the waiter has not claimed yet.
	Claim bool `json:"claim,omitempty" row:"claim,omitempty"`
	// Ended says how an inactive lock ended when it was not its holder's own release:
	// LockEndedExpired or LockEndedForced.
	Ended string `json:"ended,omitempty" row:"ended,omitempty"`
	// ForcedBy is the operator who forced the lock away.
	ForcedBy string `json:"forcedBy,omitempty" row:"forcedBy,omitempty"`
	// Reason is why the lock was forced away, or why the glass was broken to take it.
	Reason string `json:"reason,omitempty" row:"reason,omitempty"`
	// BreakGlass marks a grant taken during a scheduled freeze.
	BreakGlass bool `json:"breakGlass,omitempty" row:"breakGlass,omitempty"`
	// StreamVersion is the version of the lock stream the row reflects.
	StreamVersion int64 `json:"streamVersion" row:"streamVersion"`
}

var lockRows = newRowCodec[Lock](TableLocks)
