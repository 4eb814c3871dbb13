package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"buildledger/eventstore"
	esdynamo "buildledger/eventstore/dynamo"
	"buildledger/handlers"
	"buildledger/projections"
	projdynamo "buildledger/projections/dynamo"
)

// inlineEvents is the event store of a worker whose projector runs in the same process. An
// append carries the read side of its events in its own transaction whenever the projector
// can prepare it without reading (projections.Projector.Prepare: it wrote the stream's
// previous version itself), so that a command's effects show in the read model the moment
// it is committed, and the projector has nothing left to write when the published events
// reach it. When the read side moved on (another worker, a rebuild, a replay's switch) or
// the carried writes fail for any other reason, the events are appended alone and the
// projector applies them as it always does: the command never fails for its read side.
type inlineEvents struct {
	*esdynamo.Store
	reads     *projdynamo.Store
	projector *projections.Projector
	// committed, when set, is told of the records whose read side was committed with them.
	committed func([]eventstore.Record)
	// results counts appends by what became of their read side (see inlineResults).
	results *prometheus.CounterVec
}

// Values of the result label of buildledger_read_side_inline_total.
const (
	inlineCommitted = "committed" // the rows went with the events
	inlineDeferred  = "deferred"  // nothing prepared: the projector applies the events
	inlineRefused   = "refused"   // the carried rows failed: the events went alone
)

// inlineResults returns the counter of appends by what became of their read side,
// registered with reg (nil: unregistered); workers sharing a registry share it.
func inlineResults(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "buildledger", Name: "read_side_inline_total",
		Help: "Appended commands by what became of their read-model rows: committed with the events, deferred to the projector, or refused (the events went alone).",
	}, []string{"result"})
	if reg == nil {
		return c, nil
	}
	shared, err := handlers.RegisterShared(reg, c)
	if err != nil {
		return nil, fmt.Errorf("app: register read side metric: %w", err)
	}
	return shared.(*prometheus.CounterVec), nil
}

// Append implements eventstore.Store.
func (s inlineEvents) Append(ctx context.Context, stream string, expectedVersion int64, events []eventstore.Event, cmd eventstore.CommandRef) ([]eventstore.Record, error) {
	var prepared *projections.Prepared
	recs, err := s.Store.AppendWith(ctx, stream, expectedVersion, events, cmd, func(recs []eventstore.Record, room esdynamo.Room) (esdynamo.Carried, error) {
		pr, err := s.projector.Prepare(ctx, recs)
		if err != nil || pr == nil {
			return esdynamo.Carried{}, nil // the projector applies them once they are published
		}
		items, err := s.reads.TransactItems(pr.Puts)
		// The position's guard at the expected version proves that version stored, so the
		// append's own check of it is left out.
		proves := expectedVersion > 0 && pr.After == expectedVersion
		limit := room.Items
		if proves {
			limit = room.Proving
		}
		if err != nil || len(items) > limit {
			pr.Done(false)
			return esdynamo.Carried{}, nil
		}
		prepared = pr
		return esdynamo.Carried{Items: items, ProveExpected: proves}, nil
	})
	if prepared == nil {
		if err == nil {
			s.results.WithLabelValues(inlineDeferred).Inc()
		}
		return recs, err
	}
	prepared.Done(err == nil)
	switch {
	case err == nil:
		s.results.WithLabelValues(inlineCommitted).Inc()
		if s.committed != nil {
			s.committed(recs)
		}
		return recs, nil
	case errors.Is(err, eventstore.ErrDuplicateCommand), ctx.Err() != nil:
		return recs, err
	}
	// The read side's guard failed, or its writes could not go: the events go alone (a real
	// version conflict is reported again by this append).
	recs, err = s.Store.Append(ctx, stream, expectedVersion, events, cmd)
	if err == nil {
		s.results.WithLabelValues(inlineRefused).Inc()
	}
	return recs, err
}
