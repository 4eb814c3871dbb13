package projectionstest

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"buildledger/domain"
	"buildledger/eventstore"
)

// Encode returns evs as the event store keeps them.
func Encode(evs []domain.Event) ([]eventstore.Event, error) {
	out := make([]eventstore.Event, len(evs))
	for i, e := range evs {
		typ, body, err := domain.EncodeEvent(e)
		if err != nil {
			return nil, err
		}
		out[i] = eventstore.Event{Type: typ, Body: body}
	}
	return out, nil
}

// Decide loads the stream of c from es, rehydrates its aggregate and decides c at time at
// with random ids, as the worker's command handler does. It returns the version the stream
// is at and the events of c, encoded for es, without appending them; a rule rejection is
// returned as the domain's error.
func Decide(ctx context.Context, es eventstore.Store, at time.Time, c domain.Command) (int64, []eventstore.Event, error) {
	recs, err := es.Load(ctx, c.StreamID(), 1)
	if err != nil {
		return 0, nil, err
	}
	history := make([]domain.Event, len(recs))
	for i, r := range recs {
		if history[i], err = domain.DecodeEvent(r.Type, r.Body); err != nil {
			return 0, nil, fmt.Errorf("%s@%d: %w", r.Stream, r.Version, err)
		}
	}
	agg, err := domain.Rehydrate(c.StreamID(), history)
	if err != nil {
		return 0, nil, err
	}
	evs, err := agg.Handle(c, domain.Env{Now: at, NewID: uuid.New, NewTimeID: func() uuid.UUID { return uuid.Must(uuid.NewV7()) }})
	if err != nil {
		return 0, nil, err
	}
	stored, err := Encode(evs)
	return agg.Version(), stored, err
}
