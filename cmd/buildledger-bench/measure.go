package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// op is operation i of worker w; each worker's i counts 0, 1, 2, … over the whole
// comparison, warm-up included, so that a worker can own a stream and its versions.
type op func(ctx context.Context, w, i int) error

// contender is one side of a throughput comparison.
type contender struct {
	name string
	op   op
	next []int // per worker: the i of its next operation
	ops  int
	took time.Duration
}

func (c *contender) rate() float64 {
	if c.took <= 0 {
		return 0
	}
	return float64(c.ops) / c.took.Seconds()
}

// comparison is the outcome of compareRates.
type comparison struct {
	ours, raw float64 // operations per second
	// oursRounds and rawRounds are the rates of each round, for the spread.
	oursRounds, rawRounds []float64
}

// compareRates runs n operations of each side over workers goroutines, after a short
// warm-up of both, in cfg.Rounds rounds whose order alternates (ours, raw, raw, ours, …) so
// that a machine growing slower or faster during the run affects both sides alike. Each
// rate is all its operations over all its time.
func (e *environment) compareRates(ctx context.Context, label string, n, workers int, ours, raw op) (comparison, error) {
	sides := []*contender{
		{name: "ours", op: ours, next: make([]int, workers)},
		{name: "raw", op: raw, next: make([]int, workers)},
	}
	warm := min(max(n/20, workers), 200)
	for _, s := range sides {
		if _, err := runOps(ctx, s, warm, workers); err != nil {
			return comparison{}, fmt.Errorf("%s warm-up: %w", s.name, err)
		}
	}
	var cmp comparison
	rounds := min(e.cfg.Rounds, max(n/workers, 1))
	for r := range rounds {
		share := n / rounds
		if r < n%rounds {
			share++
		}
		order := sides
		if r%2 == 1 {
			order = []*contender{sides[1], sides[0]}
		}
		for _, s := range order {
			took, err := runOps(ctx, s, share, workers)
			if err != nil {
				return comparison{}, fmt.Errorf("%s: %w", s.name, err)
			}
			s.ops += share
			s.took += took
			rate := float64(share) / took.Seconds()
			if s == sides[0] {
				cmp.oursRounds = append(cmp.oursRounds, rate)
			} else {
				cmp.rawRounds = append(cmp.rawRounds, rate)
			}
		}
	}
	cmp.ours, cmp.raw = sides[0].rate(), sides[1].rate()
	e.logf("%s: ours %.0f/s, raw %.0f/s (%.2fx)", label, cmp.ours, cmp.raw, cmp.ours/cmp.raw)
	return cmp, nil
}

// runOps runs n operations of c over workers goroutines and returns how long they took.
// The first error stops every worker.
func runOps(ctx context.Context, c *contender, n, workers int) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		count := n / workers
		if w < n%workers {
			count++
		}
		first := c.next[w]
		c.next[w] += count
		wg.Go(func() {
			for i := first; i < first+count; i++ {
				if ctx.Err() != nil {
					return
				}
				if err := c.op(ctx, w, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return took, err
	}
	return took, nil
}

// median returns the median of values (0 for none).
func median(values []float64) float64 {
	return percentile(values, 50)
}

// percentile returns the p-th percentile of values by the nearest-rank method (0 for none).
func percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	rank := int(p/100*float64(len(s)) + 0.999999)
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// spread returns (max - min) / median of values, the noise of a set of rounds.
func spread(values []float64) float64 {
	if len(values) < 2 {
		return 0
	}
	m := median(values)
	if m == 0 {
		return 0
	}
	return (slices.Max(values) - slices.Min(values)) / m
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
