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

// TestBatcher_given_a_steady_load_then_batches_even_out drives the batcher with callers that
// put again as soon as they are answered, as the put benchmark does, against a writer that
// takes a fixed time per batch, and checks the sizes of the batches: under a steady load
// each slot should carry an even share, not alternate between a lone call and the rest.
func TestBatcher_given_a_steady_load_then_batches_even_out(t *testing.T) {
	tests := []struct {
		name string
		// callers put concurrently, each puts times in a row.
		callers, puts int
		// lo and hi bound the batch sizes that most events (want share) are written in.
		lo, hi int
		share  float64
	}{
		{name: "given_16_callers_when_they_put_in_a_loop_then_two_slots_carry_about_8_each", callers: 16, puts: 60, lo: 5, hi: 11, share: 0.8},
		{name: "given_40_callers_when_they_put_in_a_loop_then_two_slots_carry_about_20_each", callers: 40, puts: 30, lo: 14, hi: 25, share: 0.8},
		{name: "given_2_callers_when_they_put_in_a_loop_then_each_call_is_written_alone_at_once", callers: 2, puts: 100, lo: 1, hi: 1, share: 0.8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			sizes := make(map[int]int) // batch size → batches
			// The window is long beside the writer's latency, so that the test does not
			// depend on how fast a loaded machine schedules the callers back.
			b := newBatcher(50*time.Millisecond, 25, func(_ context.Context, calls []*putCall) {
				time.Sleep(2 * time.Millisecond)
				mu.Lock()
				sizes[len(calls)]++
				mu.Unlock()
				for _, c := range calls {
					c.done <- nil
				}
			})
			b.maxInFlight = 4
			var wg sync.WaitGroup
			for w := range tt.callers {
				wg.Go(func() {
					for i := range tt.puts {
						if err := b.submit(t.Context(), &putCall{key: fmt.Sprint(w, "-", i), done: make(chan error, 1)}); err != nil {
							t.Errorf("caller %d put %d: %v", w, i, err)
							return
						}
					}
				})
			}
			wg.Wait()
			total, within := 0, 0
			for n, count := range sizes {
				if n > 25 {
					t.Errorf("%d batches of %d calls, at most 25", count, n)
				}
				total += n * count
				if n >= tt.lo && n <= tt.hi {
					within += n * count
				}
			}
			if total != tt.callers*tt.puts {
				t.Errorf("%d calls written, want %d", total, tt.callers*tt.puts)
			}
			if got := float64(within) / float64(total); got < tt.share {
				t.Errorf("%.0f%% of the calls in batches of %d to %d, want at least %.0f%%; batches by size: %v",
					100*got, tt.lo, tt.hi, 100*tt.share, sizes)
			}
		})
	}
}
