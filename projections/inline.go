package projections

import (
	"context"

	"buildledger/eventstore"
)

// Prepared is the read side of an append, prepared to be committed in the append's own
// transaction (see Projector.Prepare).
type Prepared struct {
	// Puts are the rows the events change, each once with its last state, and the stream's
	// new position, guarded as the projector's own writes are.
	Puts []Put
	// After is the stream version the position's guard requires: the writes commit only
	// while the read model is at it, which it reached only once that version's event was
	// committed (the event store never deletes one).
	After int64
	done  func(committed bool)
}

// Done tells the projector whether Puts were committed: it then keeps them as what it
// knows of the stream, or else forgets the stream. Call it once, after the transaction.
func (pr *Prepared) Done(committed bool) { pr.done(committed) }

// Prepare returns the read-model writes that apply recs, the next events of one stream in
// order, for a caller that commits them in one transaction with the events themselves, so
// that the read model shows the events as soon as they are committed and the projector has
// nothing left to write when they reach it.
//
// It prepares nothing (nil, nil) unless this projector wrote the stream's version before
// recs itself and still holds it (see ProjectorConfig.RowCacheStreams), and for streams no
// projection follows: such events reach the read model through Apply as always. The writes
// are guarded by the stream's position, so a transaction that carries them fails whole if
// anyone moved the stream on; the caller then appends without them.
func (p *Projector) Prepare(ctx context.Context, recs []eventstore.Record) (*Prepared, error) {
	a := p.a
	if len(recs) == 0 || a.cache == nil {
		return nil, nil
	}
	proj := projectionOf(recs[0].Stream)
	if proj == nil {
		return nil, nil
	}
	for i, r := range recs {
		if r.Stream != recs[0].Stream || r.Version != recs[0].Version+int64(i) {
			return nil, nil
		}
	}
	ptr, err := a.gens.get(ctx)
	if err != nil {
		return nil, err
	}
	gen := ptr.gens[proj.name]
	cs := a.cache.take(gen, recs[0].Stream)
	if cs == nil {
		return nil, nil
	}
	if cs.pos != recs[0].Version-1 {
		a.cache.put(cs)
		return nil, nil
	}
	rows, seen, err := a.planRecords(ctx, proj, gen, recs, cs)
	if err != nil {
		a.cache.put(cs) // nothing was written: what it holds still stands
		return nil, err
	}
	last := recs[len(recs)-1].Version
	return &Prepared{
		Puts:  withPosition(gen, cs.at.stream, last, cs.pos, rows),
		After: cs.pos,
		done: func(committed bool) {
			if committed {
				a.cache.put(wrote(cs, cs.at, last, seen, rows))
			}
		},
	}, nil
}
