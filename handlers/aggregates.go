package handlers

import (
	"buildledger/domain"
	"buildledger/internal/lru"
)

// DefaultAggregateCacheSize is how many streams' aggregates a command handler keeps
// between commands unless configured otherwise.
const DefaultAggregateCacheSize = 10_000

// aggregateCache keeps the aggregates of the streams decided most recently, each at the
// version its last command left it, so that the next command on a stream needs no snapshot
// and no replay. An entry is the state of the stream's committed events 1..Version; it may
// be stale (another worker appended since), which the caller must allow for.
//
// A cached aggregate is mutable and not safe for concurrent use, so take hands it over:
// the entry leaves the cache and belongs to the caller until it puts it back.
type aggregateCache struct {
	streams *lru.Cache[string, domain.Aggregate]
}

// newAggregateCache returns a cache of at most max aggregates; nil when max < 1, which
// caches nothing.
func newAggregateCache(max int) *aggregateCache {
	if max < 1 {
		return nil
	}
	// Of two aggregates of one stream (two deliveries of its commands overlapped), the one
	// at the higher version stays.
	higher := func(stored, put domain.Aggregate) bool { return stored.Version() > put.Version() }
	return &aggregateCache{streams: lru.New[string](max, higher)}
}

// take removes the aggregate of stream from the cache and returns it, or nil.
func (c *aggregateCache) take(stream string) domain.Aggregate {
	if c == nil {
		return nil
	}
	agg, _ := c.streams.Take(stream)
	return agg
}

// put keeps agg, which the caller must no longer use.
func (c *aggregateCache) put(agg domain.Aggregate) {
	if c == nil || agg == nil {
		return
	}
	c.streams.Put(agg.StreamID(), agg)
}

// len returns how many aggregates are cached.
func (c *aggregateCache) len() int {
	if c == nil {
		return 0
	}
	return c.streams.Len()
}
