package main

import (
	"context"
	"sync"

	"buildledger/eventstore"
	"buildledger/projections"
)

// visibility tracks the highest version of each stream that is visible, and wakes those
// waiting for one.
type visibility struct {
	mu      sync.Mutex
	seen    map[string]int64
	waiters map[string][]visibilityWaiter
}

type visibilityWaiter struct {
	version int64
	ready   chan struct{}
}

func newVisibility() *visibility {
	return &visibility{seen: map[string]int64{}, waiters: map[string][]visibilityWaiter{}}
}

// reached records that stream is visible up to version.
func (v *visibility) reached(stream string, version int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if version <= v.seen[stream] {
		return
	}
	v.seen[stream] = version
	kept := v.waiters[stream][:0]
	for _, w := range v.waiters[stream] {
		if w.version <= version {
			close(w.ready)
		} else {
			kept = append(kept, w)
		}
	}
	v.waiters[stream] = kept
}

// wait returns once stream is visible up to version, or with ctx's error.
func (v *visibility) wait(ctx context.Context, stream string, version int64) error {
	v.mu.Lock()
	if v.seen[stream] >= version {
		v.mu.Unlock()
		return nil
	}
	w := visibilityWaiter{version: version, ready: make(chan struct{})}
	v.waiters[stream] = append(v.waiters[stream], w)
	v.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// watchedApplier applies events with the projector and records what became visible: once
// Apply returns, the read model's position of the stream is at least the event's version.
type watchedApplier struct {
	next *projections.Projector
	vis  *visibility
}

func (a watchedApplier) Apply(ctx context.Context, rec eventstore.Record) error {
	if err := a.next.Apply(ctx, rec); err != nil {
		return err
	}
	a.vis.reached(rec.Stream, rec.Version)
	return nil
}
