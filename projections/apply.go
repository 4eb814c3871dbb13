package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/internal/backoff"
)

// applier applies records through guarded transactions; the live Projector, the replay's
// catch-up and single-stream rebuilds share it.
type applier struct {
	store       Store
	events      eventstore.Store
	gens        *generations
	maxAttempts int
	// cache, when set, keeps what the applier read and wrote of each stream (the live
	// projector's).
	cache *rowCache
	// writer, when set, writes concurrent applies together (the live projector's).
	writer *groupWriter
}

// apply applies rec, and the gap before it, to the tables of generation pin, or of the
// projection's current generation when pin is negative.
func (a *applier) apply(ctx context.Context, p *projection, rec eventstore.Record, pin int64) error {
	retry := backoff.Backoff{Base: 5 * time.Millisecond, Max: 250 * time.Millisecond}
	var last error
	for attempt := 1; attempt <= a.maxAttempts; attempt++ {
		gen := pin
		if gen < 0 {
			ptr, err := a.gens.get(ctx)
			if err != nil {
				return err
			}
			gen = ptr.gens[p.name]
		}
		err := a.tryApply(ctx, p, gen, rec)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrConditionFailed):
			// Another writer applied events of this stream, or changed a shared row, after we
			// read: read again and decide again.
		case errors.Is(err, ErrNoTable) && pin < 0:
			// A replay switched generations and dropped the tables we were pointed at.
			a.gens.invalidate()
		default:
			return err
		}
		last = err
		if err := retry.Wait(ctx, attempt-1); err != nil {
			return err
		}
	}
	return fmt.Errorf("projections: apply %s@%d: gave up after %d attempts: %w", rec.Stream, rec.Version, a.maxAttempts, last)
}

func (a *applier) tryApply(ctx context.Context, p *projection, gen int64, rec eventstore.Record) error {
	e, needs, err := p.neededRows(rec)
	if err != nil {
		return err
	}
	// The common case, the next event of a stream this process wrote last, takes no read.
	if cs := a.cache.take(gen, rec.Stream); cs != nil {
		switch {
		case rec.Version <= cs.pos:
			// Applied already: this process wrote the stream up to cs.pos.
			a.cache.put(cs)
			return nil
		case rec.Version == cs.pos+1:
			return a.writeFrom(ctx, p, gen, decoded{rec, e, needs}, cs)
		}
		// A gap: read the position and fill it from the event store.
	}
	// Else one read brings the position and the rows the event needs.
	v := make(view, len(needs))
	items, err := loadRows(ctx, a.store, gen, needs, v, positionKey(gen, rec.Stream))
	if err != nil {
		return fmt.Errorf("projections: read position and rows of %s: %w", rec.Stream, err)
	}
	pos, err := positionOf(items[positionKey(gen, rec.Stream)], rec.Stream)
	if err != nil {
		return err
	}
	switch {
	case rec.Version <= pos:
		return nil
	case rec.Version == pos+1:
		return a.write(ctx, p, gen, rec, e, v, pos)
	}
	err = fillGap(ctx, a.events, rec.Stream, pos, rec.Version, func(m eventstore.Record) error {
		err := a.step(ctx, p, gen, m, pos)
		pos = m.Version
		return err
	})
	if err != nil {
		return err
	}
	return a.step(ctx, p, gen, rec, pos)
}

// fillGap calls step with each event of stream after version pos and before version
// before, in order, loaded from events; it fails when the event store skips or lacks one.
func fillGap(ctx context.Context, events eventstore.Store, stream string, pos, before int64, step func(eventstore.Record) error) error {
	missing, err := events.LoadRange(ctx, stream, pos+1, before-1)
	if err != nil {
		return fmt.Errorf("projections: fill gap %d..%d of %s: %w", pos+1, before-1, stream, err)
	}
	for _, m := range missing {
		if m.Version != pos+1 {
			return fmt.Errorf("projections: fill gap of %s: event store returned version %d, want %d", stream, m.Version, pos+1)
		}
		if err := step(m); err != nil {
			return err
		}
		pos = m.Version
	}
	if pos != before-1 {
		return fmt.Errorf("projections: fill gap of %s: event store has versions up to %d only, want %d", stream, pos, before-1)
	}
	return nil
}

// step applies one record whose predecessor is at pos, loading the rows it needs.
func (a *applier) step(ctx context.Context, p *projection, gen int64, rec eventstore.Record, pos int64) error {
	e, needs, err := p.neededRows(rec)
	if err != nil {
		return err
	}
	v := make(view, len(needs))
	if _, err := loadRows(ctx, a.store, gen, needs, v); err != nil {
		return fmt.Errorf("projections: read rows of %s: %w", rec.Stream, err)
	}
	return a.write(ctx, p, gen, rec, e, v, pos)
}

// writeFrom applies the next event of a stream whose rows this process wrote last (cs): it
// reads only the needed rows cs does not hold, such as shared ones. The write is guarded by
// cs's position, so it fails if anyone moved the stream on since.
func (a *applier) writeFrom(ctx context.Context, p *projection, gen int64, d decoded, cs *cachedStream) error {
	rows, seen, err := a.plan(ctx, p, gen, []decoded{d}, cs)
	if err != nil {
		return err
	}
	return a.writeRows(ctx, gen, d.rec, rows, cs.pos, cs, seen)
}

// decoded is a record with its event and the rows the projection reads for it, as
// neededRows returns them, so that an event is decoded once per apply.
type decoded struct {
	rec   eventstore.Record
	e     domain.Event
	needs []ref
}

// planRecords decodes recs and plans them (see plan).
func (a *applier) planRecords(ctx context.Context, p *projection, gen int64, recs []eventstore.Record, cs *cachedStream) ([]rowPut, view, error) {
	evs := make([]decoded, len(recs))
	for i, rec := range recs {
		e, needs, err := p.neededRows(rec)
		if err != nil {
			return nil, nil, err
		}
		evs[i] = decoded{rec, e, needs}
	}
	return a.plan(ctx, p, gen, evs, cs)
}

// plan runs the projection over evs, the events of cs's stream after cs.pos in order, from
// the rows cs holds (reading the others once), and returns the rows to write, one write per
// row with its last state and guard, and every row it read or wrote as the events leave it.
func (a *applier) plan(ctx context.Context, p *projection, gen int64, evs []decoded, cs *cachedStream) ([]rowPut, view, error) {
	// working holds the rows as the events so far leave them (nil: no row).
	working := make(view)
	final := make(map[ref]int) // index in rows
	var rows []rowPut
	for _, d := range evs {
		rec, e, needs := d.rec, d.e, d.needs
		v := make(view, len(needs))
		var missing []ref
		for _, r := range needs {
			if it, ok := working[r]; ok {
				v[r] = it
			} else if it, ok := cs.rows[r]; ok {
				v[r] = it
			} else {
				missing = append(missing, r)
			}
		}
		if len(missing) > 0 {
			if _, err := loadRows(ctx, a.store, gen, missing, v); err != nil {
				return nil, nil, fmt.Errorf("projections: read rows of %s: %w", rec.Stream, err)
			}
			for _, r := range missing {
				working[r] = v[r]
			}
		}
		ch, err := p.changeOf(rec, e, v)
		if err != nil {
			return nil, nil, err
		}
		for _, rp := range ch.puts {
			it, err := NormalizeItem(rp.item)
			if err != nil {
				return nil, nil, fmt.Errorf("projections: %s@%d: %w", rec.Stream, rec.Version, err)
			}
			working[rp.ref] = it
			if i, ok := final[rp.ref]; ok {
				rows[i] = rp
				continue
			}
			final[rp.ref] = len(rows)
			rows = append(rows, rp)
		}
	}
	return rows, working, nil
}

// write runs the projection and writes its rows and the stream's new position in one
// transaction, conditioned on the position still being pos.
func (a *applier) write(ctx context.Context, p *projection, gen int64, rec eventstore.Record, e domain.Event, v view, pos int64) error {
	ch, err := p.changeOf(rec, e, v)
	if err != nil {
		return err
	}
	return a.writeRows(ctx, gen, rec, ch.puts, pos, nil, v)
}

// writeRows writes rows and rec's stream's new position, rec.Version, in one transaction
// conditioned on the position still being pos; then it keeps the rows it read (seen) and
// wrote in the cache, over prev (the stream's entry at pos, nil for none).
func (a *applier) writeRows(ctx context.Context, gen int64, rec eventstore.Record, rows []rowPut, pos int64, prev *cachedStream, seen view) error {
	puts := withPosition(gen, rec.Stream, rec.Version, pos, rows)
	var err error
	if a.writer != nil {
		err = a.writer.write(ctx, puts)
	} else {
		err = a.store.Write(ctx, puts, nil)
	}
	if err != nil {
		return err
	}
	if a.cache != nil {
		a.cache.put(wrote(prev, streamAt{gen, rec.Stream}, rec.Version, seen, rows))
	}
	return nil
}

// withPosition returns the writes of rows to generation gen and of stream's position,
// moved from pos to version.
func withPosition(gen int64, stream string, version, pos int64, rows []rowPut) []Put {
	puts := make([]Put, 0, len(rows)+1)
	for _, rp := range rows {
		puts = append(puts, rp.put(gen))
	}
	return append(puts, positionPut(gen, stream, version, pos))
}
