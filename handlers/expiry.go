package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"buildledger/domain"
	"buildledger/envelope"
	"buildledger/internal/settings"
)

// Expire carries out, in process, the ExpireLock that timer t causes, as a command with
// the id ExpiryCommandID(t) and through the same path as a command message: the lock is
// settled, the events appended with the outcome, their timers scheduled (a lock passed to
// its next waiter has a claim lease) and published. The same timer again is a duplicate.
func (h *CommandHandler) Expire(ctx context.Context, t domain.LeaseTimer) (Result, error) {
	cmd := domain.ExpireLock{Env: t.Env, Token: t.Token}
	if err := cmd.Validate(); err != nil {
		return Result{}, &DeadLetterError{Kind: DeadLetterInvalid, Reason: domain.Reason(err), Err: err}
	}
	hash, err := domain.CommandHash(cmd)
	if err != nil {
		return Result{}, fmt.Errorf("handlers: expire the lock on %s: %w", t.Env, err)
	}
	id := ExpiryCommandID(t)
	return h.handle(ctx, envelope.Decoded{ID: id, Type: cmd.CommandType(), CorrelationID: id, BodyHash: hash, Command: cmd})
}

// TimerHandlerConfig configures a TimerHandler.
type TimerHandlerConfig struct {
	// Commands carries out the expiries; required.
	Commands *CommandHandler
	// Timers sends again a timer that arrived before it was due; required.
	Timers TimerScheduler
	// Clock tells whether a timer is due; default time.Now. It should be the Commands'
	// clock, which the decision reads.
	Clock func() time.Time
	// Logger receives structured logs; nil is silent.
	Logger *zerolog.Logger
	// Metrics are updated as timers are handled; nil creates unregistered ones.
	Metrics *Metrics
}

func (c *TimerHandlerConfig) setDefaults() {
	settings.DefaultFunc(&c.Clock, time.Now)
}

// Validate reports every problem of the configuration.
func (c TimerHandlerConfig) Validate() error {
	p := settings.Wrapped("handlers: timer handler config")
	p.If(c.Commands == nil, "Commands is required")
	p.If(c.Timers == nil, "Timers is required")
	return p.Err()
}

// TimerHandler handles the messages of the timers queue: lease timers the worker sent
// itself, delayed until the lease's end. A timer that arrives before it is due (a lease
// longer than MaxTimerDelay, or a clock behind the sender's) is sent again for the time
// left; a timer that is due expires the lock (CommandHandler.Expire). A renewed lease
// leaves its first timer to find nothing due: settling then changes nothing.
type TimerHandler struct {
	handlerBase
	cfg TimerHandlerConfig
}

// NewTimerHandler returns a TimerHandler for a validated configuration.
func NewTimerHandler(cfg TimerHandlerConfig) (*TimerHandler, error) {
	base, err := prepare(&cfg, cfg.Logger, cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &TimerHandler{handlerBase: base, cfg: cfg}, nil
}

// Handle handles one timer message. A nil error means the message may be acked: the timer
// was sent again, or its expiry is durable and published. A *DeadLetterError means the
// message is not a timer; any other error is transient, and handling it again is safe.
func (h *TimerHandler) Handle(ctx context.Context, body []byte) error {
	t, err := decodeTimer(body)
	if err != nil {
		h.deadLetterUndecodable("timers", "timer", err)
		return &DeadLetterError{Kind: DeadLetterInvalid, Reason: envelope.Truncate(err.Error(), envelope.MaxReasonBytes), Err: err}
	}
	log := h.log.With().Str("env", t.Env).Int64("token", t.Token).Time("due", t.Due).Logger()
	if now := h.cfg.Clock(); now.Before(t.Due) {
		if err := h.cfg.Timers.Schedule(ctx, t); err != nil {
			return fmt.Errorf("handlers: send again the lease timer of %s (token %d): %w", t.Env, t.Token, err)
		}
		h.metrics.TimersResent.Inc()
		log.Debug().Dur("left", t.Due.Sub(now)).Msg("lease timer early; sent again")
		return nil
	}
	res, err := h.cfg.Commands.Expire(ctx, t)
	if err != nil {
		return err
	}
	h.metrics.TimersFired.Inc()
	log.Info().Int("events", len(res.Records)).Bool("duplicate", res.Duplicate).Msg("lease timer fired")
	return nil
}
