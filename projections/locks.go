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
	switch e := e.(type) {
	case domain.LockRefreshed:
		return []ref{lockRef(e.Env, e.LockID.String())}
	case domain.Released:
		return []ref{lockRef(e.Env, e.LockID.String())}
	}
	return nil
}

func (v view) lock(env, id, user string, at time.Time) (Lock, error) {
	it, err := v.loaded(lockRef(env, id))
	if err != nil || it == nil {
		return Lock{ID: id, Env: env, User: user, CreatedAt: ms(at), UpdatedAt: ms(at)}, err
	}
	return lockRows.row(it)
}

func projectLocks(rec eventstore.Record, e domain.Event, v view) (change, error) {
	var l Lock
	switch e := e.(type) {
	case domain.Locked:
		l = Lock{
			ID: e.LockID.String(), User: e.User, Env: e.Env, CreatedAt: ms(e.At), UpdatedAt: ms(e.At),
			Active: true, Uberlock: e.Uberlock, Meta: e.Meta,
		}
	case domain.LockRefreshed:
		var err error
		if l, err = v.lock(e.Env, e.LockID.String(), e.User, e.At); err != nil {
			return change{}, err
		}
		l.User, l.Meta, l.Uberlock, l.Active, l.UpdatedAt = e.User, e.Meta, e.Uberlock, true, ms(e.At)
	case domain.Released:
		var err error
		if l, err = v.lock(e.Env, e.LockID.String(), e.User, e.At); err != nil {
			return change{}, err
		}
		l.Active, l.Uberlock, l.UpdatedAt = false, e.Uberlock, ms(e.At)
	default:
		return change{}, nil
	}
	l.StreamVersion = rec.Version
	return change{puts: []rowPut{lockRows.put(l)}}, nil
}

// Lock is one deploy lock of an environment (Da-Playa's DaPlayaLocks row); released locks
// stay, inactive, as history. Times are epoch milliseconds.
type Lock struct {
	ID        string `json:"id" row:"id,sort"`
	User      string `json:"user" row:"user"`
	Env       string `json:"env" row:"env,partition"`
	CreatedAt int64  `json:"createdAt" row:"createdAt"`
	UpdatedAt int64  `json:"updatedAt" row:"updatedAt"`
	Active    bool   `json:"active" row:"active"`
	Uberlock  bool   `json:"uberlock" row:"uberlock"`
	Meta      string `json:"meta" row:"meta"`
	// StreamVersion is the version of the lock stream the row reflects.
	StreamVersion int64 `json:"streamVersion" row:"streamVersion"`
}

var lockRows = newRowCodec[Lock](TableLocks)
