package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"buildledger/eventstore"
	"buildledger/internal/settings"
)

// EventApplier applies one committed event to the read side. It must be idempotent (the
// same record arrives again after a redelivery or a re-publish) and must cope with records
// out of order, for instance by filling a gap from the event store.
type EventApplier interface {
	Apply(ctx context.Context, rec eventstore.Record) error
}

// ProjectorHandlerConfig configures a ProjectorHandler.
type ProjectorHandlerConfig struct {
	// Applier applies events to the read side; required.
	Applier EventApplier
	// Clock measures projection lag; default time.Now.
	Clock func() time.Time
	// Logger receives structured logs; nil is silent.
	Logger *zerolog.Logger
	// Metrics are updated as events are applied; nil creates unregistered ones.
	Metrics *Metrics
}

func (c *ProjectorHandlerConfig) setDefaults() {
	settings.DefaultFunc(&c.Clock, time.Now)
}

// Validate reports every problem of the configuration.
func (c ProjectorHandlerConfig) Validate() error {
	if c.Applier == nil {
		return errors.New("handlers: projector config: Applier is required")
	}
	return nil
}

// ProjectorHandler hands published event messages to the read side (an EventApplier such
// as projections.Projector).
type ProjectorHandler struct {
	handlerBase
	cfg ProjectorHandlerConfig
}

// NewProjectorHandler returns a ProjectorHandler for a validated configuration.
func NewProjectorHandler(cfg ProjectorHandlerConfig) (*ProjectorHandler, error) {
	base, err := prepare(&cfg, cfg.Logger, cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &ProjectorHandler{handlerBase: base, cfg: cfg}, nil
}

// Handle applies one published event. A body that is not an event record is a
// *DeadLetterError; an Apply error is returned as it is, to be retried.
func (p *ProjectorHandler) Handle(ctx context.Context, body []byte) error {
	rec, err := DecodeRecord(body)
	if err != nil {
		p.deadLetterUndecodable("projector", "event", err)
		return err
	}
	if err := p.cfg.Applier.Apply(ctx, rec); err != nil {
		return fmt.Errorf("handlers: apply %s %s@%d: %w", rec.Type, rec.Stream, rec.Version, err)
	}
	p.metrics.EventsApplied.Inc()
	if !rec.RecordedAt.IsZero() {
		p.metrics.ProjectionLag.Observe(max(p.cfg.Clock().Sub(rec.RecordedAt).Seconds(), 0))
	}
	return nil
}
