package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"buildledger/eventstore"
	"buildledger/internal/settings"
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
	// RowCacheStreams is how many streams' positions and rows the projector keeps after
	// writing them, so that a stream's next event is applied without reading them again;
	// default DefaultRowCacheStreams, negative keeps none.
	RowCacheStreams int
	// WriteSlots is how many transactions the projector has in flight at once; events
	// applied while all are busy wait and are written together, one transaction for several
	// streams. Default DefaultWriteSlots; negative writes every event alone.
	WriteSlots int
}

const defaultMaxAttempts = 10

func (c *ProjectorConfig) setDefaults() {
	settings.Default(&c.MaxAttempts, defaultMaxAttempts)
	settings.DefaultFunc(&c.Now, time.Now)
	settings.Default(&c.RowCacheStreams, DefaultRowCacheStreams)
	settings.Default(&c.WriteSlots, DefaultWriteSlots)
}

// Validate reports every problem of the configuration at once.
func (c ProjectorConfig) Validate() error {
	p := settings.Prefixed("projections: projector config")
	p.If(c.Store == nil, "Store is nil")
	p.If(c.Events == nil, "Events is nil")
	settings.AtLeast(p, "MaxAttempts", c.MaxAttempts, 1)
	return p.Err()
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
		cache:       newRowCache(cfg.RowCacheStreams),
		writer:      newGroupWriter(cfg.Store, cfg.WriteSlots),
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
