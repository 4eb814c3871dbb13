package projections

import (
	"context"
	"errors"
	"fmt"
)

// rebuildStream rebuilds the rows of one stream in place (see Replayer).
func (r *Replayer) rebuildStream(ctx context.Context, ptr pointer, stream string, res *ReplayResult) error {
	p, parts, err := splitStream(stream)
	if err != nil {
		return err
	}
	gen := ptr.gens[p.name]
	res.Generation = gen
	if err := r.fence(ctx, gen, stream); err != nil {
		return err
	}
	st, err := r.projectStream(ctx, p, gen, stream)
	if err != nil {
		return err
	}
	res.Events = st.pos
	if err := r.replaceRows(ctx, st, gen, p.owned(parts)); err != nil {
		return err
	}
	if err := r.liftFence(ctx, gen, stream, st.pos); err != nil {
		return err
	}
	// Events appended while the stream was fenced were refused by the live projector.
	more, err := r.cfg.Events.Load(ctx, stream, st.pos+1)
	if err != nil {
		return fmt.Errorf("projections: replay %s: catch up: %w", stream, err)
	}
	for _, rec := range more {
		if err := r.a.apply(ctx, p, rec, gen); err != nil {
			return err
		}
	}
	res.CaughtUp = int64(len(more))
	return nil
}

// projectStream projects every event of the stream into rows held in memory. The stream's
// own rows are computed from nothing; a shared row (the status head) is computed as if
// absent too and written by its guard, like the scan does.
func (r *Replayer) projectStream(ctx context.Context, p *projection, gen int64, stream string) (*replayStream, error) {
	recs, err := r.cfg.Events.Load(ctx, stream, 1)
	if err != nil {
		return nil, fmt.Errorf("projections: replay %s: %w", stream, err)
	}
	st := newReplayStream(p, stream, 0)
	w := &replayWorker{r: r, gen: gen}
	for _, rec := range recs {
		if rec.Version != st.pos+1 {
			return nil, fmt.Errorf("projections: replay %s: event store returned version %d, want %d", stream, rec.Version, st.pos+1)
		}
		if err := w.project(ctx, st, rec); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// replaceRows writes the rebuilt rows of st and deletes the rows of owned that it no
// longer has.
func (r *Replayer) replaceRows(ctx context.Context, st *replayStream, gen int64, owned rowSet) error {
	existing, err := r.existingKeys(ctx, gen, owned)
	if err != nil {
		return err
	}
	var puts, shared []Put
	keep := map[Key]bool{}
	for _, ref := range st.order {
		rp := st.dirty[ref]
		if rp.guard != nil {
			shared = append(shared, rp.put(gen))
			continue
		}
		puts = append(puts, rp.put(gen))
		keep[ref.key(gen)] = true
	}
	var deletes []Key
	for _, k := range existing {
		if !keep[k] {
			deletes = append(deletes, k)
		}
	}
	if err := r.store.WriteBatch(ctx, puts, deletes); err != nil {
		return fmt.Errorf("projections: replay %s: write rows: %w", st.stream, err)
	}
	for _, put := range shared {
		if err := r.writeSharedInPlace(ctx, put); err != nil {
			return err
		}
	}
	return nil
}

// fence sets the stream's position to fenceVersion, remembering the position it had, so
// that the live projector leaves the stream alone until the rebuild is done.
func (r *Replayer) fence(ctx context.Context, gen int64, stream string) error {
	k := positionKey(gen, stream)
	for attempt := 1; ; attempt++ {
		items, err := r.store.Get(ctx, []Key{k})
		if err != nil {
			return fmt.Errorf("projections: replay %s: read position: %w", stream, err)
		}
		var before int64
		guard := Absent()
		if it := items[k]; it != nil {
			v, was, err := readPosition(it)
			if err != nil {
				return err
			}
			if v == fenceVersion {
				// A rebuild that was interrupted: take its fence over.
				before, guard = was, Equal(attrVersion, int64(fenceVersion))
			} else {
				before, guard = v, Equal(attrVersion, v)
			}
		}
		it := positionItem(stream, fenceVersion)
		it[attrBefore] = before
		err = r.store.Write(ctx, []Put{{Table: positionsTable(gen), Item: it, Guard: guard}}, nil)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrConditionFailed) || attempt >= r.cfg.MaxAttempts {
			return fmt.Errorf("projections: replay %s: fence: %w", stream, err)
		}
	}
}

// liftFence sets the stream's position to pos. It is unconditional: the lease makes this
// replay the fence's only writer.
func (r *Replayer) liftFence(ctx context.Context, gen int64, stream string, pos int64) error {
	var err error
	if pos == 0 {
		// A stream without events has no position, as if it had never been fenced.
		err = r.store.Write(ctx, nil, []Key{positionKey(gen, stream)})
	} else {
		err = r.store.Write(ctx, []Put{{Table: positionsTable(gen), Item: positionItem(stream, pos)}}, nil)
	}
	if err != nil {
		return fmt.Errorf("projections: replay %s: lift fence: %w", stream, err)
	}
	return nil
}

// writeSharedInPlace writes a rebuilt shared row. A status head that is the stream's own is
// replaced whatever its stream version (it may be wrong: that is why one rebuilds); any
// other head is only replaced by a newer one.
func (r *Replayer) writeSharedInPlace(ctx context.Context, put Put) error {
	k, err := KeyOf(put.Table, put.Item)
	if err != nil {
		return err
	}
	items, err := r.store.Get(ctx, []Key{k})
	if err != nil {
		return fmt.Errorf("projections: replay: read %s: %w", k, err)
	}
	if cur := items[k]; cur != nil && cur["version"] == put.Item["version"] {
		put.Guard = Equal(attrStartedKey, cur[attrStartedKey])
	}
	if err := r.store.Write(ctx, []Put{put}, nil); err != nil && !errors.Is(err, ErrConditionFailed) {
		return fmt.Errorf("projections: replay: write %s: %w", k, err)
	}
	return nil
}

// existingKeys returns the keys of the rows of set stored in generation gen.
func (r *Replayer) existingKeys(ctx context.Context, gen int64, set rowSet) ([]Key, error) {
	var keys []Key
	if len(set.rows) > 0 {
		v := view{}
		if _, err := loadRows(ctx, r.store, gen, set.rows, v); err != nil {
			return nil, fmt.Errorf("projections: replay: read rows: %w", err)
		}
		for _, ref := range set.rows {
			if v[ref] != nil {
				keys = append(keys, ref.key(gen))
			}
		}
	}
	for _, q := range set.partitions {
		q.Table.Generation = gen
		items, err := r.store.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("projections: replay: query rows: %w", err)
		}
		for _, it := range items {
			k, err := KeyOf(q.Table, it)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}
