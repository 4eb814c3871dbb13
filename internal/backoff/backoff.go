// Package backoff is the jittered, doubling wait between retries, written once for the
// command handler, the projections and the DynamoDB adapters (standard library only).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is a doubling, jittered wait between retries.
type Backoff struct {
	// Base is the first wait's ceiling.
	Base time.Duration
	// Max caps every wait.
	Max time.Duration
}

// Delay is the wait before retry attempt (0 for the first retry): a random time between
// half and all of Base·2^attempt, capped at Max, so that racing callers spread out.
func (b Backoff) Delay(attempt int) time.Duration {
	if b.Base <= 0 {
		return 0
	}
	d := b.Base << min(attempt, 30)
	if d <= 0 || (b.Max > 0 && d > b.Max) {
		d = b.Max
	}
	return d/2 + rand.N(d/2+1)
}

// Wait sleeps Delay(attempt), or until ctx ends (then it returns ctx's error).
func (b Backoff) Wait(ctx context.Context, attempt int) error {
	return Sleep(ctx, b.Delay(attempt))
}

// Sleep waits d, or until ctx ends (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
