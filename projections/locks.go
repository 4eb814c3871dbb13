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
	return lockFromItem(it)
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
	return change{puts: []rowPut{put(TableLocks, lockItem(l))}}, nil
}

// Lock is one deploy lock of an environment (Da-Playa's DaPlayaLocks row); released locks
// stay, inactive, as history. Times are epoch milliseconds.
type Lock struct {
	ID        string `json:"id"`
	User      string `json:"user"`
	Env       string `json:"env"`
	CreatedAt int64  `json:"createdAt"`
	UpdatedAt int64  `json:"updatedAt"`
	Active    bool   `json:"active"`
	Uberlock  bool   `json:"uberlock"`
	Meta      string `json:"meta"`
	// StreamVersion is the version of the lock stream the row reflects.
	StreamVersion int64 `json:"streamVersion"`
}

func lockItem(l Lock) Item {
	return Item{
		"env":             l.Env,
		"id":              l.ID,
		"user":            l.User,
		"createdAt":       l.CreatedAt,
		"updatedAt":       l.UpdatedAt,
		"active":          l.Active,
		"uberlock":        l.Uberlock,
		"meta":            l.Meta,
		attrStreamVersion: l.StreamVersion,
	}
}

func lockFromItem(it Item) (Lock, error) {
	r := itemReader{table: TableLocks, item: it}
	l := Lock{
		ID:            r.str("id"),
		User:          r.str("user"),
		Env:           r.str("env"),
		CreatedAt:     r.int("createdAt"),
		UpdatedAt:     r.int("updatedAt"),
		Active:        r.bool("active"),
		Uberlock:      r.bool("uberlock"),
		Meta:          r.str("meta"),
		StreamVersion: r.int(attrStreamVersion),
	}
	return l, r.err
}
