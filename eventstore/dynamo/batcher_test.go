package dynamo

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBatcher_given_a_lone_caller_then_written_at_once_without_waiting_for_the_window(t *testing.T) {
	b := newBatcher(time.Hour, 25, func(_ context.Context, calls []*putCall) {
		for _, c := range calls {
			c.done <- nil
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		if err := b.submit(ctx, &putCall{key: fmt.Sprint(i), done: make(chan error, 1)}); err != nil {
			t.Fatalf("call %d: %v (waited for the hour-long window?)", i, err)
		}
	}
}

func TestBatcher_given_slots_busy_then_calls_gather_and_at_most_max_in_flight_are_written(t *testing.T) {
	release := make(chan struct{})
	var inFlight, most atomic.Int64
	var mu sync.Mutex
	var sizes []int
	b := newBatcher(time.Millisecond, 25, func(_ context.Context, calls []*putCall) {
		n := inFlight.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		mu.Lock()
		sizes = append(sizes, len(calls))
		mu.Unlock()
		<-release
		inFlight.Add(-1)
		for _, c := range calls {
			c.done <- nil
		}
	})
	b.maxInFlight = 2
	const calls = 40
	var wg sync.WaitGroup
	errs := make([]error, calls)
	for i := range calls {
		wg.Go(func() { errs[i] = b.submit(t.Context(), &putCall{key: fmt.Sprint(i), done: make(chan error, 1)}) })
	}
	// Hold the first batches until every call has arrived, then let them all finish.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		arrived := len(b.pending)
		b.mu.Unlock()
		mu.Lock()
		for _, n := range sizes {
			arrived += n
		}
		mu.Unlock()
		if arrived == calls {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if m := most.Load(); m > 2 {
		t.Errorf("%d batches written at once, at most 2", m)
	}
	total := 0
	for _, n := range sizes {
		if n > 25 {
			t.Errorf("a batch of %d calls, at most 25", n)
		}
		total += n
	}
	if total != calls || len(sizes) > calls/2 {
		t.Errorf("batches %v: %d calls in %d batches, want them gathered", sizes, total, len(sizes))
	}
}
