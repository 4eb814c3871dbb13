package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"buildledger/client"
	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/internal/app"
	"buildledger/internal/awsconf"
	"buildledger/internal/costmeter"
	"buildledger/projections"
)

// backend is what the CLI commands talk to: the installation (see internal/app) — its event
// store (outcomes, events), read models (queries) and the commands queue. It is built on
// first use, so --help and usage errors never need AWS.
type backend struct {
	s      *settings
	app    *app.App
	sender *client.Client
}

// openBackend builds the installation s names; with a meter, every AWS request it makes
// (the worker's included) is counted there.
func openBackend(ctx context.Context, s *settings, meter *costmeter.Meter) (*backend, error) {
	cfg, err := awsconf.Load(ctx, awsconf.Config{Debug: s.AWSDebug})
	if err != nil {
		return nil, err
	}
	if meter != nil {
		cfg = meter.Attach(cfg)
	}
	if cfg, err = s.Clock.attach(cfg); err != nil {
		return nil, err
	}
	a, err := app.New(app.Config{AWS: cfg, Names: s.names(), TimeShards: s.TimeShards})
	if err != nil {
		return nil, err
	}
	return &backend{s: s, app: a}, nil
}

// commandSender returns the client that sends commands, resolving the queue on first use.
func (b *backend) commandSender(ctx context.Context) (*client.Client, error) {
	if b.sender != nil {
		return b.sender, nil
	}
	ep, err := b.app.ResolveMessaging(ctx)
	if err != nil {
		return nil, err
	}
	b.sender, err = b.withIDTokens(b.app.Client(ep.CommandsQueueURL))
	return b.sender, err
}

// waitFlags are the flags of every command that changes state.
type waitFlags struct {
	wait   time.Duration
	noWait bool
}

func (w *waitFlags) bind(fs *pflag.FlagSet, waitName string) {
	fs.DurationVar(&w.wait, waitName, 30*time.Second, "how long to wait for the outcome and for the read models to show it (exit 3 when it runs out)")
	fs.BoolVar(&w.noWait, "no-wait", false, "only enqueue the command and print its id")
}

// mutate sends cmd and, unless --no-wait, waits for its outcome and for the projection to
// reach the version it produced, so that whatever the caller reads next includes it. It
// returns the outcome of an accepted command; a rejection is an exit-1 error with the reason,
// running out of time an exit-3 error and an interrupt an exit-130 one. A command that has
// no outcome when the wait ends is settled first (see attempt), so that what is reported
// is what happened.
func (b *backend) mutate(ctx context.Context, cmd domain.Command, w waitFlags, out io.Writer) (eventstore.Outcome, bool, error) {
	cmd = domain.Normalize(cmd)
	if err := cmd.Validate(); err != nil {
		return eventstore.Outcome{}, false, &exitError{code: exitUsage, err: err}
	}
	sender, err := b.commandSender(ctx)
	if err != nil {
		return eventstore.Outcome{}, false, err
	}
	if w.noWait {
		id, err := sender.Send(ctx, cmd)
		if err != nil {
			return eventstore.Outcome{}, false, err
		}
		fmt.Fprintln(out, id)
		return eventstore.Outcome{CommandID: id}, false, nil
	}
	o, err := b.attempt(ctx, cmd, time.Now().Add(w.wait), w.wait)
	if err != nil {
		return o, false, err
	}
	return o, true, nil
}

// attempt sends cmd with deadline as its notAfter, waits for its outcome until then and,
// when accepted, for the read models to show it. When the wait ends (deadline, interrupt)
// before the outcome is known, the command is withdrawn: either the withdrawal wins and the
// command never takes effect, or the worker's outcome had won and that is the answer. waited
// names the wait in messages.
func (b *backend) attempt(ctx context.Context, cmd domain.Command, deadline time.Time, waited time.Duration) (eventstore.Outcome, error) {
	o, err := b.submit(ctx, cmd, deadline, waited)
	if err != nil {
		return o, err
	}
	return o, b.awaitProjected(ctx, o, deadline)
}

// submit is attempt without the wait for the read models: for commands whose answer is in
// their events, and for outcomes nobody reads back (a place in the lock's queue).
func (b *backend) submit(ctx context.Context, cmd domain.Command, deadline time.Time, waited time.Duration) (eventstore.Outcome, error) {
	sender, err := b.commandSender(ctx)
	if err != nil {
		return eventstore.Outcome{}, err
	}
	waitCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	id := uuid.NewString()
	o, err := sender.Submit(waitCtx, cmd, client.WithID(id))
	if err != nil {
		return o, outcomeError(err, waited, id)
	}
	return o, nil
}

// awaitProjected waits for the read models to show the accepted outcome o (read-your-writes).
// They catch up moments after the outcome; an outcome that came just at the deadline gets a
// little longer. Running out is an exit-3 *unprojectedError: the command took effect.
func (b *backend) awaitProjected(ctx context.Context, o eventstore.Outcome, deadline time.Time) error {
	sender, err := b.commandSender(ctx)
	if err != nil {
		return err
	}
	projCtx, cancel := context.WithTimeout(ctx, max(time.Until(deadline), projectionGrace))
	defer cancel()
	if err := sender.WaitProjected(projCtx, o.Stream, o.Version); err != nil {
		return &exitError{code: exitTimeout, err: &unprojectedError{commandID: o.CommandID, err: err}}
	}
	return nil
}

// outcomeEvents returns the events an accepted command appended, decoded.
func (b *backend) outcomeEvents(ctx context.Context, o eventstore.Outcome) ([]domain.Event, error) {
	if o.FirstVersion == 0 {
		return nil, nil
	}
	recs, err := b.app.Events.LoadRange(ctx, o.Stream, o.FirstVersion, o.LastVersion)
	if err != nil {
		return nil, fmt.Errorf("read the events of command %s: %w", o.CommandID, err)
	}
	return decodeRecords(recs)
}

// acceptedEvents returns the events that o, the outcome of an accepted command whose answer
// is in them, appended. Failing to read them is an error that says the command took effect
// all the same: "<what> <command id> was <done>, but: <why>".
func (b *backend) acceptedEvents(ctx context.Context, o eventstore.Outcome, what, done string) ([]domain.Event, error) {
	events, err := b.outcomeEvents(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("%s %s was %s, but: %w", what, o.CommandID, done, err)
	}
	return events, nil
}

// envLock returns the state of env's lock now, rebuilt from its stream.
func (b *backend) envLock(ctx context.Context, env string) (*domain.EnvLock, error) {
	stream := domain.LockStreamID(env)
	recs, err := b.app.Events.Load(ctx, stream, 1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	events, err := decodeRecords(recs)
	if err != nil {
		return nil, err
	}
	agg, err := domain.Rehydrate(stream, events)
	if err != nil {
		return nil, err
	}
	l, ok := agg.(*domain.EnvLock)
	if !ok {
		return nil, fmt.Errorf("%s is not a lock stream", stream)
	}
	return l, nil
}

func decodeRecords(recs []eventstore.Record) ([]domain.Event, error) {
	events := make([]domain.Event, 0, len(recs))
	for _, r := range recs {
		e, err := domain.DecodeEvent(r.Type, r.Body)
		if err != nil {
			return nil, fmt.Errorf("event %s@%d: %w", r.Stream, r.Version, err)
		}
		events = append(events, e)
	}
	return events, nil
}

// unprojectedError says that a command was accepted, and so took effect, but the read
// models did not show it in time.
type unprojectedError struct {
	commandID string
	err       error
}

func (e *unprojectedError) Error() string {
	return fmt.Sprintf("command %s was accepted, but the read models did not show it in time: %v", e.commandID, e.err)
}

func (e *unprojectedError) Unwrap() error { return e.err }

// projectionGrace is how long the read models are waited for after a command that was
// accepted at the end of its wait.
const projectionGrace = 10 * time.Second

func outcomeError(err error, wait time.Duration, id string) error {
	var (
		rejected  *client.RejectedError
		invalid   *client.InvalidError
		withdrawn *client.WithdrawnError
		unknown   *client.UnknownOutcomeError
	)
	switch {
	case errors.As(err, &rejected) && rejected.Code == eventstore.RejectionExpired:
		return &exitError{code: exitTimeout, rejection: rejected.Code,
			err: fmt.Errorf("no answer within %s: command %s expired before the worker decided it and was not carried out (is the worker running?)", wait, id)}
	case errors.As(err, &rejected):
		return &exitError{code: exitRejected, rejection: rejected.Code, err: errors.New(userReason(rejected.Reason))}
	case errors.As(err, &invalid):
		return &exitError{code: exitRejected, err: errors.New(userReason(invalid.Reason))}
	case errors.As(err, &withdrawn) && !errors.Is(withdrawn.Cause, context.Canceled) && !errors.Is(withdrawn.Cause, context.DeadlineExceeded):
		return &exitError{code: exitRejected, rejection: eventstore.RejectionExpired,
			err: fmt.Errorf("sending command %s failed (%v); it was withdrawn and will not take effect", id, withdrawn.Cause)}
	case errors.As(err, &withdrawn) && errors.Is(withdrawn.Cause, context.Canceled):
		return &exitError{code: exitInterrupted, rejection: eventstore.RejectionExpired,
			err: fmt.Errorf("interrupted: command %s was withdrawn before it was decided and will not take effect", id)}
	case errors.As(err, &withdrawn):
		return &exitError{code: exitTimeout, rejection: eventstore.RejectionExpired,
			err: fmt.Errorf("no answer within %s: command %s was withdrawn before it was decided and will not take effect (is the worker running?)", wait, id)}
	case errors.As(err, &unknown):
		return &exitError{code: exitTimeout, err: fmt.Errorf("no answer within %s, and the outcome of command %s is unknown: %w", wait, id, unknown)}
	}
	return timeoutOr(err, wait, fmt.Sprintf("the outcome of command %s (is the worker running?)", id))
}

func timeoutOr(err error, wait time.Duration, what string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &exitError{code: exitTimeout, err: fmt.Errorf("no answer within %s while waiting for %s", wait, what)}
	}
	return err
}

// withBackend wraps a RunE body that needs the backend.
func withBackend(s *settings, fn func(cmd *cobra.Command, b *backend) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		b, err := openBackend(cmd.Context(), s, nil)
		if err != nil {
			return err
		}
		return fn(cmd, b)
	}
}

// notFound turns a missing read row, the one the format names, into a clear exit-1 error;
// other errors (nil included) pass as they are.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, projections.ErrNotFound) {
		return &exitError{code: exitRejected, err: fmt.Errorf(format+" not found", args...)}
	}
	return err
}

// userReason is a stored reason as a person reads it: without the Go package prefix.
func userReason(reason string) string {
	return strings.TrimPrefix(reason, "domain: ")
}
