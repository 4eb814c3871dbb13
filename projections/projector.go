package projections

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"buildledger/domain"
	"buildledger/eventstore"
)

// ErrStreamRebuilding means a single-stream replay is rebuilding the stream's rows: the
// event cannot be applied now and should be retried later (the worker's redelivery does).
var ErrStreamRebuilding = errors.New("projections: stream is being rebuilt")

// ProjectorConfig configures a Projector.
type ProjectorConfig struct {
	// Store is the read-model store; required.
	Store Store
	// Events is the event store that gaps are filled from; required.
	Events eventstore.Store
	// MaxAttempts bounds how often one event is tried again after losing a race to another
	// writer of the same rows; default 10.
	MaxAttempts int
	// Now is the clock of the generation pointer cache; default time.Now.
	Now func() time.Time
}

const defaultMaxAttempts = 10

func (c *ProjectorConfig) setDefaults() {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = defaultMaxAttempts
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every problem of the configuration at once.
func (c ProjectorConfig) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("projections: projector config: Store is nil"))
	}
	if c.Events == nil {
		errs = append(errs, errors.New("projections: projector config: Events is nil"))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("projections: projector config: MaxAttempts %d is below 1", c.MaxAttempts))
	}
	return errors.Join(errs...)
}

// Projector applies published events to the read models, each exactly once and in stream
// order. It is safe for concurrent use, also by several processes: every write is
// conditioned on the stream position it read.
type Projector struct {
	a *applier
}

// NewProjector returns a Projector.
func NewProjector(cfg ProjectorConfig) (*Projector, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Projector{a: &applier{
		store:       cfg.Store,
		events:      cfg.Events,
		gens:        newGenerations(cfg.Store, GenerationCacheTTL, cfg.Now),
		maxAttempts: cfg.MaxAttempts,
	}}, nil
}

// Apply applies one event to its projection. An event at or below the stream's position is
// skipped (a duplicate or an older delivery); an event after a gap first applies the missing
// events, loaded from the event store. Events of streams no projection follows and events
// of types the domain does not know are skipped without error; the latter still advance
// the position.
func (p *Projector) Apply(ctx context.Context, rec eventstore.Record) error {
	proj := projectionOf(rec.Stream)
	if proj == nil {
		return nil
	}
	if rec.Version < 1 {
		return fmt.Errorf("projections: apply %s: version %d is below 1", rec.Stream, rec.Version)
	}
	return p.a.apply(ctx, proj, rec, -1)
}

// Position returns the last version of stream applied to the read models that queries
// read, so that a client can wait until they show its own writes.
func (p *Projector) Position(ctx context.Context, stream string) (int64, error) {
	return streamPosition(ctx, p.a.store, p.a.gens, stream)
}

// applier applies records through guarded transactions; the live Projector, the replay's
// catch-up and single-stream rebuilds share it.
type applier struct {
	store       Store
	events      eventstore.Store
	gens        *generations
	maxAttempts int
}

// apply applies rec, and the gap before it, to the tables of generation pin, or of the
// projection's current generation when pin is negative.
func (a *applier) apply(ctx context.Context, p *projection, rec eventstore.Record, pin int64) error {
	wait := 5 * time.Millisecond
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
		if err := sleep(ctx, wait/2+rand.N(wait)); err != nil {
			return err
		}
		wait = min(2*wait, 250*time.Millisecond)
	}
	return fmt.Errorf("projections: apply %s@%d: gave up after %d attempts: %w", rec.Stream, rec.Version, a.maxAttempts, last)
}

func (a *applier) tryApply(ctx context.Context, p *projection, gen int64, rec eventstore.Record) error {
	// One read brings the position and the rows the event needs: the common case, the
	// next event of the stream, then takes one read and one write.
	e, known, err := decodeEvent(rec)
	if err != nil {
		return err
	}
	var needs []ref
	if known {
		needs = p.needs(e)
	}
	keys := make([]Key, 0, len(needs)+1)
	keys = append(keys, positionKey(gen, rec.Stream))
	for _, r := range needs {
		keys = append(keys, r.key(gen))
	}
	items, err := a.store.Get(ctx, keys)
	if err != nil {
		return fmt.Errorf("projections: read position and rows of %s: %w", rec.Stream, err)
	}
	pos, err := positionOf(items[keys[0]], rec.Stream)
	if err != nil {
		return err
	}
	if rec.Version <= pos {
		return nil
	}
	if rec.Version == pos+1 {
		v := make(view, len(needs))
		for i, r := range needs {
			v[r] = items[keys[i+1]]
		}
		return a.write(ctx, p, gen, rec, e, known, v, pos)
	}
	missing, err := a.events.LoadRange(ctx, rec.Stream, pos+1, rec.Version-1)
	if err != nil {
		return fmt.Errorf("projections: fill gap %d..%d of %s: %w", pos+1, rec.Version-1, rec.Stream, err)
	}
	for _, m := range missing {
		if m.Version != pos+1 {
			return fmt.Errorf("projections: fill gap of %s: event store returned version %d, want %d", rec.Stream, m.Version, pos+1)
		}
		if err := a.step(ctx, p, gen, m, pos); err != nil {
			return err
		}
		pos = m.Version
	}
	if pos != rec.Version-1 {
		return fmt.Errorf("projections: fill gap of %s: event store has versions up to %d only, want %d", rec.Stream, pos, rec.Version-1)
	}
	return a.step(ctx, p, gen, rec, pos)
}

// step applies one record whose predecessor is at pos, loading the rows it needs.
func (a *applier) step(ctx context.Context, p *projection, gen int64, rec eventstore.Record, pos int64) error {
	e, known, err := decodeEvent(rec)
	if err != nil {
		return err
	}
	v := view{}
	if known {
		needs := p.needs(e)
		if len(needs) > 0 {
			keys := make([]Key, len(needs))
			for i, r := range needs {
				keys[i] = r.key(gen)
			}
			items, err := a.store.Get(ctx, keys)
			if err != nil {
				return fmt.Errorf("projections: read rows of %s: %w", rec.Stream, err)
			}
			for i, r := range needs {
				v[r] = items[keys[i]]
			}
		}
	}
	return a.write(ctx, p, gen, rec, e, known, v, pos)
}

// write runs the projection and writes its rows and the stream's new position in one
// transaction, conditioned on the position still being pos.
func (a *applier) write(ctx context.Context, p *projection, gen int64, rec eventstore.Record, e domain.Event, known bool, v view, pos int64) error {
	var ch change
	if known {
		var err error
		if ch, err = p.project(rec, e, v); err != nil {
			return err
		}
	}
	puts := make([]Put, 0, len(ch.puts)+1)
	for _, rp := range ch.puts {
		puts = append(puts, Put{Table: Table{Name: rp.ref.table, Generation: gen}, Item: rp.item, Guard: rp.guard})
	}
	puts = append(puts, positionPut(gen, rec.Stream, rec.Version, pos))
	return a.store.Write(ctx, puts, nil)
}

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

// positionOf returns the position a position item holds (0 for none);
// ErrStreamRebuilding while a single-stream rebuild holds it.
func positionOf(it Item, stream string) (int64, error) {
	if it == nil {
		return 0, nil
	}
	r := itemReader{table: TablePositions, item: it}
	v := r.int(attrVersion)
	if r.err != nil {
		return 0, r.err
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
		r := itemReader{table: TablePositions, item: it}
		v := r.int(attrVersion)
		if v < 0 {
			v = r.int(attrBefore)
		}
		return v, r.err
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
