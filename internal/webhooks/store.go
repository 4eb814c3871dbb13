package webhooks

import (
	"context"
	"time"
)

// Store keeps the subscriptions: the operator's changes (Add, Pause, Resume, Replay,
// Remove) and the delivery loop's conditional writes (Lease, Checkpoint, Fail, Park,
// Release). DynamoStore and MemoryStore implement it; storetest-style tests run on both.
type Store interface {
	// Add stores a new, validated subscription; ErrExists when the name is taken.
	Add(ctx context.Context, s Subscription) error
	// Get returns the subscription name; ErrNotFound when there is none.
	Get(ctx context.Context, name string) (Subscription, error)
	// List returns every subscription, by name.
	List(ctx context.Context) ([]Subscription, error)
	// Remove deletes the subscription name; ErrNotFound when there is none.
	Remove(ctx context.Context, name string) error
	// Pause stops delivering name, keeping its checkpoint.
	Pause(ctx context.Context, name string) error
	// Resume delivers name again from its checkpoint: a parked subscription starts with
	// the event it is parked on; the failure count starts again at zero.
	Resume(ctx context.Context, name string) error
	// Replay moves name's checkpoint to checkpoint (see CheckpointAt, CheckpointBefore),
	// clearing its failures; its state is kept.
	Replay(ctx context.Context, name, checkpoint string) error

	// Lease gives owner the delivery of name until until, if the subscription is active,
	// still at generation and leased to nobody else at now (or that lease ended);
	// otherwise ErrLeaseLost. Owner renews it the same way.
	Lease(ctx context.Context, name, owner string, generation int64, now, until time.Time) error
	// Checkpoint stores cursor as name's checkpoint and clears its failures, if owner
	// holds the lease at generation; otherwise ErrLeaseLost.
	Checkpoint(ctx context.Context, name, owner string, generation int64, cursor string) error
	// Fail records a failed attempt (the consecutive count and the error), if owner holds
	// the lease at generation; otherwise ErrLeaseLost.
	Fail(ctx context.Context, name, owner string, generation int64, failures int, lastError string) error
	// Park stops name on the event keyed key after failures attempts, with lastError, and
	// ends the lease, if owner holds it at generation; otherwise ErrLeaseLost.
	Park(ctx context.Context, name, owner string, generation int64, key string, failures int, lastError string) error
	// Release ends owner's lease on name, if it holds it, so another worker need not wait
	// for it to expire.
	Release(ctx context.Context, name, owner string) error
}
