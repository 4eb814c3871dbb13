package handlers

import (
	"container/list"
	"sync"

	"buildledger/domain"
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
	mu      sync.Mutex
	max     int
	order   *list.List // of domain.Aggregate, most recently put first
	streams map[string]*list.Element
}

// newAggregateCache returns a cache of at most max aggregates; nil when max < 1, which
// caches nothing.
func newAggregateCache(max int) *aggregateCache {
	if max < 1 {
		return nil
	}
	return &aggregateCache{max: max, order: list.New(), streams: make(map[string]*list.Element)}
}

// take removes the aggregate of stream from the cache and returns it, or nil.
func (c *aggregateCache) take(stream string) domain.Aggregate {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.streams[stream]
	if !ok {
		return nil
	}
	c.order.Remove(e)
	delete(c.streams, stream)
	return e.Value.(domain.Aggregate)
}

// put keeps agg, which the caller must no longer use. Of two aggregates of one stream (two
// deliveries of its commands overlapped), the one at the higher version stays.
func (c *aggregateCache) put(agg domain.Aggregate) {
	if c == nil || agg == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	stream := agg.StreamID()
	if e, ok := c.streams[stream]; ok {
		if e.Value.(domain.Aggregate).Version() > agg.Version() {
			return
		}
		e.Value = agg
		c.order.MoveToFront(e)
		return
	}
	c.streams[stream] = c.order.PushFront(agg)
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.streams, oldest.Value.(domain.Aggregate).StreamID())
	}
}

// len returns how many aggregates are cached.
func (c *aggregateCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
