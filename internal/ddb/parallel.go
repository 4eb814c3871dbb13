package ddb

import (
	"context"

	"buildledger/internal/parallel"
)

// ForEach runs fn for every item, at most n at a time, and returns the first error; after
// an error it starts no further items and cancels the context the running ones got. It is
// parallel.ForEach, here so that adapters find all their plumbing in one package.
func ForEach[T any](ctx context.Context, n int, items []T, fn func(ctx context.Context, item T) error) error {
	return parallel.ForEach(ctx, n, items, fn)
}
