package projections

import (
	"context"
	"errors"
	"fmt"
)

// Attributes of a position item.
const (
	attrStream  = "stream"
	attrVersion = "version"
	// attrBefore is the position a fenced stream had before its rebuild began.
	attrBefore = "before"
)

// fenceVersion is the version of a position item while a single-stream rebuild owns the
// stream: no live write's condition can match it.
const fenceVersion = -1

func positionsTable(gen int64) Table { return Table{Name: TablePositions, Generation: gen} }

func positionKey(gen int64, stream string) Key {
	return Key{Table: positionsTable(gen), Partition: stream}
}

func positionItem(stream string, version int64) Item {
	return Item{attrStream: stream, attrVersion: version}
}

// positionGuard is the condition of a write that moves a stream on from pos: nobody
// wrote the stream since we read pos. A stream with no position must still have none; a
// deleted position never matches a stale writer's expected version.
func positionGuard(pos int64) *Guard {
	if pos == 0 {
		return Absent()
	}
	return Equal(attrVersion, pos)
}

func positionPut(gen int64, stream string, version, pos int64) Put {
	return Put{Table: positionsTable(gen), Item: positionItem(stream, version), Guard: positionGuard(pos)}
}

// readPosition returns what a position item holds: the last version applied, or
// fenceVersion and the version before the fence while a single-stream rebuild holds it.
func readPosition(it Item) (version, before int64, err error) {
	r := itemReader{table: TablePositions, item: it}
	version, before = r.int(attrVersion), r.int(attrBefore)
	return version, before, r.err
}

// positionOf returns the position a position item holds (0 for none);
// ErrStreamRebuilding while a single-stream rebuild holds it.
func positionOf(it Item, stream string) (int64, error) {
	if it == nil {
		return 0, nil
	}
	v, _, err := readPosition(it)
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("%w: %s", ErrStreamRebuilding, stream)
	}
	return v, nil
}

// streamPosition returns the position clients wait on: during a single-stream rebuild, the
// position the stream had when the rebuild began.
func streamPosition(ctx context.Context, store Store, gens *generations, stream string) (int64, error) {
	p := projectionOf(stream)
	if p == nil {
		return 0, fmt.Errorf("%w: stream %q is not a repo:, status:, lock: or job: stream", ErrInvalidQuery, stream)
	}
	for attempt := 0; ; attempt++ {
		ptr, err := gens.get(ctx)
		if err != nil {
			return 0, err
		}
		k := positionKey(ptr.gens[p.name], stream)
		items, err := store.Get(ctx, []Key{k})
		if errors.Is(err, ErrNoTable) && attempt == 0 {
			gens.invalidate()
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("projections: position of %s: %w", stream, err)
		}
		it := items[k]
		if it == nil {
			return 0, nil
		}
		v, before, err := readPosition(it)
		if v < 0 {
			v = before
		}
		return v, err
	}
}
