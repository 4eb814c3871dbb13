// Package parallel is bounded parallelism written once, with no dependency beyond the
// standard library, so that the storage-neutral cores can use it as well as the adapters.
package parallel

import (
	"context"
	"sync"
)

// ForEach runs fn for every item, at most n at a time, and returns the first error; after
// an error it starts no further items and cancels the context the running ones got.
func ForEach[T any](ctx context.Context, n int, items []T, fn func(ctx context.Context, item T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, max(n, 1))
	var wg sync.WaitGroup
	for _, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, it); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
