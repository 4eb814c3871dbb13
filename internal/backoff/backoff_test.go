package backoff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"buildledger/internal/backoff"
)

func TestBackoff_GivenAttempts_ThenDelaysDoubleWithinJitterAndCap(t *testing.T) {
	b := backoff.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	for attempt, ceiling := range []time.Duration{10, 20, 40, 50, 50} {
		ceiling *= time.Millisecond
		for range 100 {
			if d := b.Delay(attempt); d < ceiling/2 || d > ceiling {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", attempt, d, ceiling/2, ceiling)
			}
		}
	}
	if d := (backoff.Backoff{}).Delay(3); d != 0 {
		t.Errorf("zero backoff: delay %v, want 0", d)
	}
}

func TestWait_GivenContextEnded_ThenReturnsItsError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (backoff.Backoff{Base: time.Hour}).Wait(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
}
