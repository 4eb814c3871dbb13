package handlers_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/handlers"
)

// switchableClock is a ClockCheck whose verdict a test sets.
type switchableClock struct{ off atomic.Bool }

var errTestClockOff = errors.New("clock is off")

func (c *switchableClock) Admit() error {
	if c.off.Load() {
		return errTestClockOff
	}
	return nil
}

func TestCommandHandler_GivenAClockCheckThatRefuses_WhenHandled_ThenTransientErrorNothingWrittenAndDecidedOnceTheClockIsRight(t *testing.T) {
	clock := &switchableClock{}
	clock.off.Store(true)
	f := newFixture(t, func(c *handlers.CommandHandlerConfig) { c.ClockCheck = clock })
	cmd := domain.Lock{Env: "production", User: "alice"}

	_, err := f.handle(t, "cmd-1", cmd)
	if !errors.Is(err, errTestClockOff) || handlers.IsDeadLetter(err) {
		t.Fatalf("Handle with the clock off = %v, want the clock check's transient error", err)
	}
	if recs := f.stream(t, cmd.StreamID()); len(recs) != 0 {
		t.Fatalf("with the clock off, %d events were appended", len(recs))
	}
	if _, err := f.events.Outcome(context.Background(), "cmd-1"); !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatalf("with the clock off, an outcome was stored (%v)", err)
	}

	clock.off.Store(false)
	f.mustAccept(t, "cmd-1", cmd)
	if recs := f.stream(t, cmd.StreamID()); len(recs) != 1 {
		t.Errorf("once the clock is right, %d events, want 1", len(recs))
	}
}
