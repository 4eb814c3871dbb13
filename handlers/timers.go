package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"buildledger/domain"
	"buildledger/eventstore"
)

// MaxTimerDelay is the longest delivery delay SQS allows a message (15 minutes). A lease
// that ends later is reached in hops: its timer arrives early and is sent again.
const MaxTimerDelay = 15 * time.Minute

// TimerScheduler sends lease timers so that each is delivered back to a worker when it is
// due (or, when that is further than MaxTimerDelay away, earlier, to be sent again).
// Scheduling a timer twice must be harmless: the expiry a timer causes happens once.
type TimerScheduler interface {
	Schedule(ctx context.Context, t domain.LeaseTimer) error
}

// TimerDelay is the delivery delay of a timer due at due, sent at now: the time left,
// rounded up to whole seconds (SQS's unit, so that a timer never arrives before it is due
// because of rounding), at most MaxTimerDelay, and 0 when due has passed.
func TimerDelay(due, now time.Time) time.Duration {
	left := due.Sub(now)
	if left <= 0 {
		return 0
	}
	seconds := (left + time.Second - 1) / time.Second
	return min(seconds*time.Second, MaxTimerDelay)
}

// timerMessage is the body of a message on the timers queue, e.g.
// {"env":"prod","token":7,"due":"2024-05-17T09:30:20Z"}.
type timerMessage struct {
	Env   string    `json:"env"`
	Token int64     `json:"token"`
	Due   time.Time `json:"due"`
}

// encodeTimer returns the message body of t.
func encodeTimer(t domain.LeaseTimer) ([]byte, error) {
	body, err := json.Marshal(timerMessage{Env: t.Env, Token: t.Token, Due: t.Due.UTC()})
	if err != nil {
		return nil, fmt.Errorf("handlers: encode timer of %s: %w", t.Env, err)
	}
	return body, nil
}

// decodeTimer reads a timer message strictly: exact keys, nothing unknown, every field
// usable. Its error says why the message can never be carried out.
func decodeTimer(body []byte) (domain.LeaseTimer, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var m timerMessage
	if err := dec.Decode(&m); err != nil {
		return domain.LeaseTimer{}, fmt.Errorf("not a timer message: %w", err)
	}
	if dec.More() {
		return domain.LeaseTimer{}, errors.New("not a timer message: data after the JSON object")
	}
	if m.Due.IsZero() {
		return domain.LeaseTimer{}, errors.New("due: is missing")
	}
	if err := (domain.ExpireLock{Env: m.Env, Token: m.Token}).Validate(); err != nil {
		return domain.LeaseTimer{}, err
	}
	return domain.LeaseTimer{Env: m.Env, Token: m.Token, Due: m.Due}, nil
}

// expiryNamespace derives the command ids of lease expiries.
var expiryNamespace = uuid.MustParse("0b6d4a0e-55c1-4d7e-a1f3-7a2f4c9e2b18")

// ExpiryCommandID is the command id of the ExpireLock that timer t causes. It depends on
// the env, token and due alone, so that every delivery of the same timer (sent twice,
// redelivered, scheduled again on a re-publish) is the same command and takes effect once;
// a renewed lease, with another due, gets another id.
func ExpiryCommandID(t domain.LeaseTimer) string {
	key := t.Env + "\x00" + strconv.FormatInt(t.Token, 10) + "\x00" + t.Due.UTC().Format(time.RFC3339Nano)
	return "lease-expiry-" + uuid.NewSHA1(expiryNamespace, []byte(key)).String()
}

// leaseTimers returns the lease timers that committed records set.
func leaseTimers(records []eventstore.Record) ([]domain.LeaseTimer, error) {
	var timers []domain.LeaseTimer
	for _, r := range records {
		e, err := domain.DecodeEvent(r.Type, r.Body)
		if err != nil {
			return nil, fmt.Errorf("handlers: decode %s@%d for its lease: %w", r.Stream, r.Version, err)
		}
		if t, ok := domain.LeaseTimerOf(e); ok {
			timers = append(timers, t)
		}
	}
	return timers, nil
}

// scheduleTimers schedules the lease timers of committed records, before they are
// published: a failure fails the delivery, which is not acked, and its redelivery, a
// duplicate, schedules them again.
func (h *CommandHandler) scheduleTimers(ctx context.Context, records []eventstore.Record) error {
	if h.cfg.Timers == nil {
		return nil
	}
	timers, err := leaseTimers(records)
	if err != nil {
		return err
	}
	for _, t := range timers {
		if err := h.cfg.Timers.Schedule(ctx, t); err != nil {
			return fmt.Errorf("handlers: schedule the lease timer of %s (token %d): %w", t.Env, t.Token, err)
		}
		h.metrics.TimersScheduled.Inc()
	}
	return nil
}
