package projections

import (
	"context"
	"fmt"

	"buildledger/eventstore"
	"buildledger/internal/backoff"
	"buildledger/internal/parallel"
)

// rebuild builds the projections into a fresh generation and switches readers over.
func (r *Replayer) rebuild(ctx context.Context, ptr pointer, projs []*projection, res *ReplayResult) error {
	dropped, err := r.dropUnreferenced(ctx, ptr)
	res.Dropped = append(res.Dropped, dropped...)
	if err != nil {
		return err
	}
	gen := ptr.next
	reserved := ptr.clone()
	reserved.next = gen + 1
	if ptr, err = savePointer(ctx, r.store, ptr, reserved); err != nil {
		return err
	}
	res.Generation = gen
	if _, err := r.store.CreateTables(ctx, generationTables(gen, projs)); err != nil {
		return fmt.Errorf("projections: replay: create generation %d: %w", gen, err)
	}

	from := eventstore.FirstKeyAt(r.cfg.Now().Add(-r.cfg.CatchUpMargin))
	n, err := r.scan(ctx, gen, projs)
	res.Events = n
	if err != nil {
		return err
	}

	switched := ptr.clone()
	for _, p := range projs {
		switched.gens[p.name] = gen
		switched.catchUp[p.name] = from
	}
	if ptr, err = savePointer(ctx, r.store, ptr, switched); err != nil {
		return err
	}
	if ptr, err = r.finishCatchUps(ctx, ptr, res); err != nil {
		return err
	}
	dropped, err = r.dropUnreferenced(ctx, ptr)
	res.Dropped = append(res.Dropped, dropped...)
	return err
}

// generationTables returns the tables of generation gen that projs write, positions
// included.
func generationTables(gen int64, projs []*projection) []Table {
	tables := []Table{positionsTable(gen)}
	for _, p := range projs {
		for _, name := range projectionTables(p.name) {
			tables = append(tables, Table{Name: name, Generation: gen})
		}
	}
	return tables
}

// finishCatchUps runs the catch-up passes the pointer lists, then clears them. It first
// waits GenerationCacheTTL, so that writers still pointed at the old generation have moved
// to the new one: what they wrote to the old one is recorded by then and the pass reads it.
func (r *Replayer) finishCatchUps(ctx context.Context, ptr pointer, res *ReplayResult) (pointer, error) {
	if len(ptr.catchUp) == 0 {
		return ptr, nil
	}
	if err := backoff.Sleep(ctx, GenerationCacheTTL+GenerationCacheTTL/4); err != nil {
		return ptr, err
	}
	byFrom := map[string][]*projection{}
	for name, from := range ptr.catchUp {
		p, ok := projectionByName(name)
		if !ok {
			continue
		}
		byFrom[from] = append(byFrom[from], p)
	}
	for from, projs := range byFrom {
		n, err := r.catchUp(ctx, ptr, projs, from)
		res.CaughtUp += n
		if err != nil {
			return ptr, err
		}
	}
	done := ptr.clone()
	clear(done.catchUp)
	return savePointer(ctx, r.store, ptr, done)
}

// catchUp applies, through the live path, the events recorded after key from to the
// projections' current generations.
func (r *Replayer) catchUp(ctx context.Context, ptr pointer, projs []*projection, from string) (int64, error) {
	scope := inScope(projs)
	var n int64
	err := readPages(ctx, r.cfg.Events, from, r.cfg.PageSize, func(page eventstore.Page) error {
		n += int64(len(page.Records))
		return r.catchUpPage(ctx, ptr, scope, page.Records)
	})
	if err != nil {
		return n, fmt.Errorf("projections: catch up: %w", err)
	}
	return n, nil
}

// catchUpPage applies the in-scope records of one page, stream by stream in parallel.
func (r *Replayer) catchUpPage(ctx context.Context, ptr pointer, scope map[*projection]bool, recs []eventstore.Record) error {
	streams := map[string][]eventstore.Record{}
	var order []string
	for _, rec := range recs {
		if p := projectionOf(rec.Stream); p != nil && scope[p] {
			if streams[rec.Stream] == nil {
				order = append(order, rec.Stream)
			}
			streams[rec.Stream] = append(streams[rec.Stream], rec)
		}
	}
	// Most events of the pass are in the new generation already: one batched read of
	// the positions skips them instead of one read per event.
	keys := make([]Key, len(order))
	for i, stream := range order {
		keys[i] = positionKey(ptr.gens[projectionOf(stream).name], stream)
	}
	positions, err := r.store.Get(ctx, keys)
	if err != nil {
		return fmt.Errorf("read positions: %w", err)
	}
	return parallel.ForEach(ctx, r.cfg.Workers, order, func(ctx context.Context, stream string) error {
		p := projectionOf(stream)
		var pos int64
		if it := positions[positionKey(ptr.gens[p.name], stream)]; it != nil {
			pos, _, _ = readPosition(it)
		}
		for _, rec := range streams[stream] {
			if rec.Version <= pos {
				continue
			}
			if err := r.a.apply(ctx, p, rec, ptr.gens[p.name]); err != nil {
				return err
			}
		}
		return nil
	})
}

// dropUnreferenced drops every table the pointer does not refer to: old generations and
// the partial tables of interrupted replays.
func (r *Replayer) dropUnreferenced(ctx context.Context, ptr pointer) ([]Table, error) {
	tables, err := r.store.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("projections: replay: list tables: %w", err)
	}
	var drop []Table
	for _, t := range tables {
		if !ptr.references(t) {
			drop = append(drop, t)
		}
	}
	if len(drop) == 0 {
		return nil, nil
	}
	if err := r.store.DropTables(ctx, drop); err != nil {
		return nil, fmt.Errorf("projections: replay: drop tables: %w", err)
	}
	return drop, nil
}
