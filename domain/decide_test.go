package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"buildledger/domain"
)

func TestDecide_GivenDecodedCommand_ThenSameEventsAsHandle(t *testing.T) {
	cmd, err := domain.DecodeCommand("Lock", []byte(`{"env":"prod","user":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.MustParse("6f1e1c52-3f0b-4f43-9a55-2a3b8b1c7d10")
	env := domain.Env{Now: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC), NewID: func() uuid.UUID { return id }, NewTimeID: func() uuid.UUID { return id }}
	decide := func(f func(domain.Aggregate) ([]domain.Event, error)) []domain.Event {
		events, err := f(mustAggregate(t, "lock:prod"))
		if err != nil {
			t.Fatal(err)
		}
		return events
	}
	handled := decide(func(a domain.Aggregate) ([]domain.Event, error) { return a.Handle(cmd, env) })
	decided := decide(func(a domain.Aggregate) ([]domain.Event, error) { return domain.Decide(a, cmd, env) })
	if len(decided) != 1 || !reflect.DeepEqual(handled, decided) {
		t.Errorf("Decide = %#v, Handle = %#v; want the same one event", decided, handled)
	}
	if _, err := domain.Decide(mustAggregate(t, "lock:prod"), nil, env); err == nil {
		t.Error("Decide of no command succeeded")
	}
}

func mustAggregate(t *testing.T, stream string) domain.Aggregate {
	t.Helper()
	agg, err := domain.NewAggregate(stream)
	if err != nil {
		t.Fatal(err)
	}
	return agg
}
