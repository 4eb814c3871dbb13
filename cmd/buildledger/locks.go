package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/internal/backoff"
)

func newLocksCommand(s *settings) *cobra.Command {
	locks := &cobra.Command{
		Use:   "locks",
		Short: "Deploy locks per environment (list, lock, release)",
		Long: `Deploy locks, one holder per environment at a time.

A user holding an env can lock it again (refreshing it). An uberlock freezes the env: while
it is active nobody else can lock it, normally or with an uberlock, and only its holder
lifts it with 'release --uberlock'.`,
	}
	locks.AddCommand(newLocksListCommand(s), newLocksLockCommand(s), newLocksReleaseCommand(s))
	return locks
}

func newLocksListCommand(s *settings) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "list --env ENV",
		Short: "List the locks of an environment, newest first, as JSON (history included)",
		Args:  cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			rows, err := b.app.Queries.Locks(cmd.Context(), env)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), rows)
		}),
	}
	cmd.Flags().StringVar(&env, "env", "", "environment, e.g. production (required)")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

func newLocksLockCommand(s *settings) *cobra.Command {
	var (
		c        domain.Lock
		giveUp   time.Duration
		every    time.Duration
		answered waitFlags
	)
	cmd := &cobra.Command{
		Use:   "lock --env ENV --user USER [--meta META] [--uberlock] [--wait DURATION]",
		Short: "Lock an environment for a user, retrying while someone else holds it",
		Long: `Lock an environment for a user.

While someone else holds the env, lock prints "Still locked at env <ENV> by <USER>" and tries
again every 5 seconds, until the lock is granted (exit 0), --wait runs out (exit 1), or you
press Ctrl-C (exit 130). Without --wait it keeps trying until granted or interrupted. On
success it prints the lock as JSON.

What lock reports is what happened. --wait bounds the whole wait, however slow the worker
is, and every attempt carries the end of the wait as its deadline; an attempt still
unanswered when the wait ends (or when you press Ctrl-C) is withdrawn, so a lock reported as
not taken is never granted later. If the lock was granted at that very moment, lock says so:
at the end of --wait it reports the lock as taken; on Ctrl-C it releases it again.`,
		Args: cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			c = domain.Normalize(c).(domain.Lock)
			if err := c.Validate(); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if answered.noWait {
				_, _, err := b.mutate(cmd.Context(), c, answered, cmd.OutOrStdout())
				return err
			}
			w := lockWait{b: b, lock: c, giveUp: giveUp, every: every, attempt: answered.wait, stderr: cmd.ErrOrStderr()}
			o, err := w.run(cmd.Context())
			var unprojected *unprojectedError
			switch {
			case errors.As(err, &unprojected):
				// Granted all the same: say so, from the outcome.
				fmt.Fprintf(cmd.ErrOrStderr(), "buildledger: the lock on env %s is %s's, but the read models do not show it yet (%v)\n", c.Env, c.User, unprojected.err)
				return printJSON(cmd.OutOrStdout(), grantedLock{Env: c.Env, User: c.User, Active: true, Uberlock: c.Uberlock, CommandID: o.CommandID, StreamVersion: o.Version})
			case err != nil:
				return err
			}
			return printActiveLock(cmd.Context(), cmd, b, c.Env)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&c.Env, "env", "", "environment to lock (required)")
	f.StringVar(&c.User, "user", "", "who takes the lock, e.g. a committer's email (required)")
	f.StringVar(&c.Meta, "meta", "", "free text stored with the lock, e.g. a CI URL")
	f.BoolVar(&c.Uberlock, "uberlock", false, "freeze the env: nobody else can lock it until you release it with --uberlock")
	f.DurationVar(&giveUp, "wait", 0, "give up (exit 1) when the env is still locked after this long; 0 waits until granted or Ctrl-C")
	f.DurationVar(&every, "retry-every", 5*time.Second, "how often to try again while the env is locked")
	f.DurationVar(&answered.wait, "timeout", 30*time.Second, "without --wait: how long one attempt waits for the service to answer (exit 3); with --wait, attempts wait up to its end")
	f.BoolVar(&answered.noWait, "no-wait", false, "only enqueue one attempt and print its command id")
	_ = f.MarkHidden("retry-every")
	_ = cmd.MarkFlagRequired("env")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}

// lockWait is one `locks lock`: attempts every `every` while someone else holds the env,
// until the lock is granted, --wait runs out, or the user interrupts.
//
// --wait bounds the whole wait: every attempt carries the end of it as its deadline and
// waits for its outcome up to then, however long the worker takes. Without --wait each
// attempt waits at most `attempt` for an answer. An attempt still unanswered when its wait
// ends is withdrawn (see backend.attempt), so what lock reports is what happened: a lock
// reported as not taken is never granted afterwards.
type lockWait struct {
	b       *backend
	lock    domain.Lock
	giveUp  time.Duration
	every   time.Duration
	attempt time.Duration
	stderr  io.Writer
}

// grantedLock is what lock prints when the read models do not show a granted lock yet.
type grantedLock struct {
	Env           string `json:"env"`
	User          string `json:"user"`
	Active        bool   `json:"active"`
	Uberlock      bool   `json:"uberlock"`
	CommandID     string `json:"commandId"`
	StreamVersion int64  `json:"streamVersion"`
}

// run returns the outcome of the attempt that was granted; an *unprojectedError means it
// was granted but the read models do not show it yet.
func (w *lockWait) run(ctx context.Context) (eventstore.Outcome, error) {
	var end time.Time
	if w.giveUp > 0 {
		end = time.Now().Add(w.giveUp)
	}
	for held := false; ; held = true {
		deadline, waited := end, w.giveUp
		if end.IsZero() {
			deadline, waited = time.Now().Add(w.attempt), w.attempt
		}
		o, err := w.b.attempt(ctx, w.lock, deadline, waited)
		var unprojected *unprojectedError
		granted := err == nil || errors.As(err, &unprojected)
		switch {
		case granted && ctx.Err() != nil:
			// Granted just as the user interrupted: they no longer want it.
			return o, w.giveBack()
		case granted:
			return o, err
		case isStillLocked(err):
			fmt.Fprintln(w.stderr, err)
		case held && !end.IsZero() && time.Now().After(end) && withdrawnOrExpired(err):
			// The last attempt ran into the end of --wait; it will never take effect.
			return o, w.stillLockedAfter()
		default:
			return o, err
		}
		pause := w.every
		if !end.IsZero() {
			if pause >= time.Until(end) {
				// No attempt left that could be decided before the end of --wait.
				_ = backoff.Sleep(ctx, time.Until(end))
				if ctx.Err() != nil {
					return o, interrupted(w.lock.Env)
				}
				return o, w.stillLockedAfter()
			}
		}
		if backoff.Sleep(ctx, pause) != nil {
			return o, interrupted(w.lock.Env)
		}
	}
}

func (w *lockWait) stillLockedAfter() error {
	return &exitError{code: exitRejected, rejection: domain.CodeLocked,
		err: fmt.Errorf("env %s is still locked after %s", w.lock.Env, w.giveUp)}
}

// giveBack releases a lock that was granted as the user interrupted.
func (w *lockWait) giveBack() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	release := domain.Release{Env: w.lock.Env, User: w.lock.User, Uberlock: w.lock.Uberlock}
	_, err := w.b.attempt(ctx, release, time.Now().Add(30*time.Second), 30*time.Second)
	var unprojected *unprojectedError
	if err != nil && !errors.As(err, &unprojected) {
		return &exitError{code: exitRejected, err: fmt.Errorf("interrupted, but the lock on env %s was granted to %s just before, and releasing it failed: %w; %s holds it now",
			w.lock.Env, w.lock.User, err, w.lock.User)}
	}
	return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted: the lock on env %s was granted just before, so it was released again", w.lock.Env)}
}

func interrupted(env string) error {
	return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted; the lock on env %s was not taken", env)}
}

// isStillLocked reports the rejection a lock attempt gets while someone else holds the env.
func isStillLocked(err error) bool {
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitRejected {
		return false
	}
	// Outcomes stored before rejection codes existed say it in words only.
	return ee.rejection == domain.CodeLocked || ee.rejection == "" && strings.HasPrefix(ee.err.Error(), "Still locked at env ")
}

// withdrawnOrExpired reports an attempt that did not take effect because its wait ended.
func withdrawnOrExpired(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.rejection == eventstore.RejectionExpired
}

func printActiveLock(ctx context.Context, cmd *cobra.Command, b *backend, env string) error {
	rows, err := b.app.Queries.Locks(ctx, env)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Active {
			return printJSON(cmd.OutOrStdout(), r)
		}
	}
	return printJSON(cmd.OutOrStdout(), rows)
}

func newLocksReleaseCommand(s *settings) *cobra.Command {
	var (
		c domain.Release
		w waitFlags
	)
	cmd := &cobra.Command{
		Use:   "release --env ENV --user USER [--uberlock]",
		Short: "Release the lock a user holds on an environment",
		Long: `Release the lock a user holds on an environment. Releasing a lock you do not hold is
rejected with the name of the holder; an uberlock is lifted only with --uberlock.`,
		Args: cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			o, ok, err := b.mutate(cmd.Context(), c, w, cmd.OutOrStdout())
			if err != nil || !ok {
				return err
			}
			return printJSON(cmd.OutOrStdout(), struct {
				Env       string `json:"env"`
				User      string `json:"user"`
				Released  bool   `json:"released"`
				CommandID string `json:"commandId"`
			}{c.Env, c.User, true, o.CommandID})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&c.Env, "env", "", "environment to release (required)")
	f.StringVar(&c.User, "user", "", "the user holding the lock (required)")
	f.BoolVar(&c.Uberlock, "uberlock", false, "lift an uberlock")
	w.bind(f, "wait")
	_ = cmd.MarkFlagRequired("env")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}
