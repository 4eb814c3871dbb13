package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ErrReplayRunning means another replay holds the replay lease.
var ErrReplayRunning = errors.New("projections: another replay is running")

// lease is the replay lease: one item of TableReadModel that at most one replay holds, with
// an expiry so that a crashed replay does not block the next one for longer than its TTL.
type lease struct {
	store Store
	owner string
	ttl   time.Duration
	now   func() time.Time
}

func leaseKey() Key { return Key{Table: readModelTable, Partition: leaseID} }

func (l lease) item(expires time.Time) Item {
	return Item{"id": leaseID, "owner": l.owner, "expiresAt": expires.UnixMilli()}
}

func (l lease) acquire(ctx context.Context) error {
	now := l.now()
	err := l.store.Write(ctx, []Put{{
		Table: readModelTable,
		Item:  l.item(now.Add(l.ttl)),
		Guard: Older([]string{"expiresAt"}, []any{now.UnixMilli()}),
	}}, nil)
	if errors.Is(err, ErrConditionFailed) {
		return ErrReplayRunning
	}
	if err != nil {
		return fmt.Errorf("projections: acquire replay lease: %w", err)
	}
	return nil
}

func (l lease) renew(ctx context.Context) error {
	err := l.store.Write(ctx, []Put{{Table: readModelTable, Item: l.item(l.now().Add(l.ttl)), Guard: Equal("owner", l.owner)}}, nil)
	if err != nil {
		return fmt.Errorf("projections: renew replay lease: %w", err)
	}
	return nil
}

func (l lease) release(ctx context.Context) error {
	err := l.store.Write(ctx, []Put{{Table: readModelTable, Item: l.item(time.UnixMilli(0)), Guard: Equal("owner", l.owner)}}, nil)
	if err != nil {
		return fmt.Errorf("projections: release replay lease: %w", err)
	}
	return nil
}

// keep renews the lease every third of its TTL until ctx ends; a renewal that fails calls
// lost, since another replay may then take over: the holder must stop before both write.
func (l lease) keep(ctx context.Context, lost context.CancelCauseFunc) {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.renew(ctx); err != nil && ctx.Err() == nil {
				lost(err)
				return
			}
		}
	}
}

// holdingLease runs fn while it holds the replay lease, kept renewed; fn's context ends if
// the lease is lost. The lease is released when fn returns.
func (r *Replayer) holdingLease(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l := lease{store: r.store, owner: uuid.NewString(), ttl: r.cfg.LeaseTTL, now: r.cfg.Now}
	if err := l.acquire(ctx); err != nil {
		return err
	}
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		l.keep(ctx, cancel)
	}()
	defer func() {
		cancel(nil)
		<-kept
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		if rerr := l.release(rctx); rerr != nil && err == nil {
			err = rerr
		}
		if err != nil && context.Cause(ctx) != nil && !errors.Is(context.Cause(ctx), context.Canceled) {
			err = errors.Join(err, context.Cause(ctx))
		}
	}()
	return fn(ctx)
}
