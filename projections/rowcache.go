package projections

import "buildledger/internal/lru"

// DefaultRowCacheStreams is how many streams' rows a live projector keeps between events
// unless configured otherwise.
const DefaultRowCacheStreams = 10_000

// maxCachedRowsPerStream bounds the rows kept of one stream: a stream that writes a row per
// event (status events, builds) keeps only its latest ones.
const maxCachedRowsPerStream = 8

// rowCache keeps, per generation and stream, the position the live projector last wrote and
// the rows of the stream it read or wrote then, so that the stream's next event needs no
// read. The write that follows is still guarded by the position, so a stream that someone
// else moved on (another worker, a single-stream rebuild) fails the write, the entry is
// dropped and the event is applied again from a fresh read.
//
// Shared rows (status heads, which every version of a package in an environment writes) are
// kept too, though another stream may have changed them since: a shared row only moves
// forward, and every write of one is guarded by that order (GuardOlder), so a stale copy can
// make a write fail, and the event be applied again from a fresh read, but never make it
// wrong, and a decision to leave a newer row alone holds for the row stored now.
//
// An entry is mutable, so take hands it over: it leaves the cache and belongs to the caller
// until it puts it back.
type rowCache struct {
	streams *lru.Cache[streamAt, *cachedStream]
}

// streamAt names a stream's rows in one generation of the read model.
type streamAt struct {
	gen    int64
	stream string
}

// cachedStream is what the projector wrote of a stream: its position and the unguarded rows
// it wrote, as they are stored at that position.
type cachedStream struct {
	at   streamAt
	pos  int64
	rows map[ref]Item
}

// newRowCache returns a cache of at most max streams; nil when max < 1, which caches
// nothing.
func newRowCache(max int) *rowCache {
	if max < 1 {
		return nil
	}
	// Of two entries of one stream (two deliveries overlapped), the one at the higher
	// position stays.
	higher := func(stored, put *cachedStream) bool { return stored.pos > put.pos }
	return &rowCache{streams: lru.New[streamAt](max, higher)}
}

// take removes the entry of stream in generation gen from the cache and returns it, or nil.
func (c *rowCache) take(gen int64, stream string) *cachedStream {
	if c == nil {
		return nil
	}
	cs, _ := c.streams.Take(streamAt{gen, stream})
	return cs
}

// put keeps cs, which the caller must no longer use.
func (c *rowCache) put(cs *cachedStream) {
	if c == nil || cs == nil {
		return
	}
	c.streams.Put(cs.at, cs)
}

// wrote returns the entry of a stream after a write at version pos: the rows it read (seen;
// nil for a row that is not stored) and the rows it wrote (puts), over those of prev (nil for
// none) when prev was at the position the write moved on from and there is room.
func wrote(prev *cachedStream, at streamAt, pos int64, seen view, puts []rowPut) *cachedStream {
	n := len(seen) + len(puts)
	cs := &cachedStream{at: at, pos: pos, rows: make(map[ref]Item, n)}
	if prev != nil && len(prev.rows)+n <= maxCachedRowsPerStream {
		cs.rows = prev.rows
	}
	for r, it := range seen {
		cs.rows[r] = it
	}
	for _, rp := range puts {
		// As a store returns it, so that the next event reads what it would have read.
		if it, err := NormalizeItem(rp.item); err == nil {
			cs.rows[rp.ref] = it
		} else {
			delete(cs.rows, rp.ref)
		}
	}
	return cs
}
