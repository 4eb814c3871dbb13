package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"buildledger/eventstore"
	"buildledger/internal/feed"
)

// Payload is the JSON body of a delivery.
type Payload struct {
	// Subscription is the subscription's name.
	Subscription string `json:"subscription"`
	// DeliveryID is the HeaderDelivery value, also here for receivers that log bodies.
	DeliveryID string `json:"deliveryId"`
	// Event is the event, as the event store keeps it.
	Event eventstore.Record `json:"event"`
}

// errParked ends a delivery loop whose subscription it parked.
var errParked = errors.New("webhooks: parked")

// delivery is one worker delivering one leased subscription.
type delivery struct {
	cfg   *DispatcherConfig
	sub   Subscription
	until time.Time // the lease's end as this worker set it
	log   zerolog.Logger
}

// run follows the feed from the checkpoint and delivers each event the subscription wants,
// until ctx ends, the lease is lost or the subscription is parked.
func (d *delivery) run(ctx context.Context) error {
	from, err := feed.ParseCursor(d.sub.Checkpoint)
	if err != nil {
		return err
	}
	return d.cfg.Feed.Follow(ctx, from, d.sub.Filter(), func(it feed.Item) error {
		if err := d.renew(ctx); err != nil {
			return err
		}
		if d.sub.Matches(it.Record.Stream) {
			if err := d.deliver(ctx, it.Record); err != nil {
				return err
			}
		}
		return d.cfg.Store.Checkpoint(ctx, d.sub.Name, d.cfg.Owner, d.sub.Generation, it.Cursor.String())
	})
}

// renew extends the lease when less than half of it is left, so that it always outlasts
// the next request (RequestTimeout is at most half of LeaseTTL).
func (d *delivery) renew(ctx context.Context) error {
	now := d.cfg.Now()
	if d.until.Sub(now) > d.cfg.LeaseTTL/2 {
		return nil
	}
	until := now.Add(d.cfg.LeaseTTL)
	if err := d.cfg.Store.Lease(ctx, d.sub.Name, d.cfg.Owner, d.sub.Generation, now, until); err != nil {
		return err
	}
	d.until = until
	return nil
}

// deliver POSTs rec until the receiver answers 2xx, waiting between attempts and renewing
// the lease before each; after MaxFailures it parks the subscription on rec.
func (d *delivery) deliver(ctx context.Context, rec eventstore.Record) error {
	id := DeliveryID(d.sub.Name, rec.Key)
	body, err := json.Marshal(Payload{Subscription: d.sub.Name, DeliveryID: id, Event: rec})
	if err != nil {
		return fmt.Errorf("webhooks: encode %s: %w", id, err)
	}
	for failures := d.sub.Failures; ; {
		if err := d.renew(ctx); err != nil {
			return err
		}
		postErr := d.post(ctx, id, body)
		if postErr == nil {
			d.sub.Failures = 0
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failures++
		d.sub.Failures = failures
		msg := fmt.Sprintf("event %s (%s@%d): %v", rec.Key, rec.Stream, rec.Version, postErr)
		d.log.Warn().Str("subscription", d.sub.Name).Int("failures", failures).Str("error", msg).Msg("webhook delivery failed")
		if failures >= d.cfg.MaxFailures {
			if err := d.cfg.Store.Park(ctx, d.sub.Name, d.cfg.Owner, d.sub.Generation, rec.Key, failures, msg); err != nil {
				return err
			}
			d.log.Error().Str("subscription", d.sub.Name).Str("event", rec.Key).Msg("webhook subscription parked")
			return errParked
		}
		if err := d.cfg.Store.Fail(ctx, d.sub.Name, d.cfg.Owner, d.sub.Generation, failures, msg); err != nil {
			return err
		}
		if err := d.cfg.Backoff.Wait(ctx, failures-1); err != nil {
			return err
		}
	}
}

// post sends one attempt; an answer other than 2xx is an error.
func (d *delivery) post(ctx context.Context, id string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.sub.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(d.cfg.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "buildledger-webhooks")
	req.Header.Set(HeaderDelivery, id)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(d.sub.Secret, ts, body))
	resp, err := d.cfg.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}
