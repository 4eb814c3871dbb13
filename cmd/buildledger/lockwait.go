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

func newLocksLockCommand(s *settings) *cobra.Command {
	var (
		c        domain.Lock
		giveUp   time.Duration
		every    time.Duration
		answered waitFlags
	)
	cmd := &cobra.Command{
		Use:   "lock --env ENV --user USER [--meta META] [--uberlock] [--lease DURATION] [--break-glass --reason R] [--wait DURATION]",
		Short: "Lock an environment for a user, waiting in line while someone else holds it",
		Long: `Lock an environment for a user.

While someone else holds the env, lock joins the env's first-in-first-out queue and tries
again every 5 seconds; each attempt keeps its place and prints "Still locked at env <ENV> by
<USER>" and, on a second line, its place ("Waiting in line for env <ENV>: position 2 of 3").
When the holder releases the lock (or its lease runs out), it passes to the first in line,
whose next attempt claims it. Lock ends when the lock is granted (exit 0), --wait runs out
(exit 1), or you press Ctrl-C (exit 130). Without --wait it keeps trying until granted or
interrupted.

On success it prints the lock as JSON on stdout and its fencing token on stderr ("Locked env
production for alice (fencing token 7, lease 10m0s, expires 12:03:04)"). The token grows with
every grant: pass it to what you deploy, which can ask 'locks check --env ENV --token N'
whether the grant is still the current one.

--lease makes the lock run out that long after it is granted or renewed ('locks renew'),
unless renewed. While a scheduled freeze is open (see 'freezes'), lock prints why and keeps
trying; --break-glass with a --reason takes the lock anyway, and the reason is recorded.

What lock reports is what happened. --wait bounds the whole wait, however slow the worker
is, and every attempt carries the end of the wait as its deadline; an attempt still
unanswered when the wait ends (or when you press Ctrl-C) is withdrawn, so a lock reported as
not taken is never granted later. Giving up leaves the queue at once. If the lock had just
passed to you, lock says so: at the end of --wait it claims it and reports it as taken; on
Ctrl-C it releases it again. If leaving fails, the place lapses within 20 seconds, and a lock
passed to it is not claimed and passes on.`,
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
			g, err := w.run(cmd.Context())
			return w.report(cmd, g, err)
		}),
	}
	bindTakeFlags(cmd, &c, &giveUp, &every)
	f := cmd.Flags()
	f.BoolVar(&c.Uberlock, "uberlock", false, "freeze the env: nobody else can lock it until you release it with --uberlock")
	f.StringVar(&c.Lease, "lease", "", "the lock runs out this long (e.g. 10m) after it is granted or renewed; default none")
	f.DurationVar(&answered.wait, "timeout", 30*time.Second, "without --wait: how long one attempt waits for the service to answer (exit 3); with --wait, attempts wait up to its end")
	f.BoolVar(&answered.noWait, "no-wait", false, "only enqueue one attempt (without joining the queue) and print its command id")
	return cmd
}

// bindTakeFlags binds the flags with which both lock and run take an environment's lock:
// --env and --user (required), --meta, --break-glass with --reason, --wait and the hidden
// --retry-every.
func bindTakeFlags(cmd *cobra.Command, c *domain.Lock, giveUp, every *time.Duration) {
	f := cmd.Flags()
	requiredString(cmd, &c.Env, "env", "environment to lock")
	requiredString(cmd, &c.User, "user", "who takes the lock, e.g. a committer's email")
	f.StringVar(&c.Meta, "meta", "", "free text stored with the lock, e.g. a CI URL")
	f.BoolVar(&c.BreakGlass, "break-glass", false, "take the lock even while a scheduled freeze is open (needs --reason)")
	f.StringVar(&c.Reason, "reason", "", "why the glass is broken; recorded with the lock")
	f.DurationVar(giveUp, "wait", 0, "give up (exit 1) when the env is still locked after this long; 0 waits until granted or Ctrl-C")
	f.DurationVar(every, "retry-every", 5*time.Second, "how often to try again while the env is locked")
	_ = f.MarkHidden("retry-every")
	cmd.MarkFlagsRequiredTogether("break-glass", "reason")
}

// leaveTimeout bounds leaving the queue (and giving back a lock passed on meanwhile) after
// the wait has ended: Ctrl-C leaves at once, not when a stalled worker recovers.
const leaveTimeout = 5 * time.Second

// lockWait is one `locks lock`: attempts every `every` while someone else holds the env,
// each keeping the user's place in the env's queue, until the lock is granted, --wait runs
// out, or the user interrupts.
//
// --wait bounds the whole wait: every attempt carries the end of it as its deadline and
// waits for its outcome up to then, however long the worker takes. Without --wait each
// attempt waits at most `attempt` for an answer. An attempt still unanswered when its wait
// ends is withdrawn (see backend.attempt), so what lock reports is what happened: a lock
// reported as not taken is never granted afterwards. Whether an attempt was granted or
// queued is read from the events it appended, not from the read models.
type lockWait struct {
	b       *backend
	lock    domain.Lock
	giveUp  time.Duration
	every   time.Duration
	attempt time.Duration
	stderr  io.Writer

	// queued: an attempt took a place in the queue, so giving up leaves it.
	queued bool
	// frozen: the last attempt met a freeze window rather than a holder.
	frozen bool
}

// lockGrant is the attempt that was granted.
type lockGrant struct {
	outcome eventstore.Outcome
	answer  lockAnswer
}

// grantedLock is what lock prints when the read models do not show a granted lock yet.
type grantedLock struct {
	Env           string `json:"env"`
	User          string `json:"user"`
	Active        bool   `json:"active"`
	Uberlock      bool   `json:"uberlock"`
	CommandID     string `json:"commandId"`
	StreamVersion int64  `json:"streamVersion"`
	FencingToken  int64  `json:"fencingToken,omitempty"`
}

// report prints what run returned: the grant on stderr, the lock row on stdout.
func (w *lockWait) report(cmd *cobra.Command, g lockGrant, err error) error {
	var unprojected *unprojectedError
	switch {
	case errors.As(err, &unprojected):
		// Granted all the same: say so, from the outcome.
		fmt.Fprintln(w.stderr, grantLine(w.lock.Env, w.lock.User, g.answer))
		fmt.Fprintf(w.stderr, "buildledger: the lock on env %s is %s's, but the read models do not show it yet (%v)\n", w.lock.Env, w.lock.User, unprojected.err)
		return w.b.s.print(cmd, grantedLock{Env: w.lock.Env, User: w.lock.User, Active: true, Uberlock: w.lock.Uberlock,
			CommandID: g.outcome.CommandID, StreamVersion: g.outcome.Version, FencingToken: g.answer.Token})
	case err != nil:
		return err
	}
	fmt.Fprintln(w.stderr, grantLine(w.lock.Env, w.lock.User, g.answer))
	return printActiveLock(cmd.Context(), cmd, w.b, w.lock.Env)
}

// run returns the attempt that was granted; an *unprojectedError means it was granted but
// the read models do not show it yet.
func (w *lockWait) run(ctx context.Context) (lockGrant, error) {
	w.lock.Queue = true
	var end time.Time
	if w.giveUp > 0 {
		end = time.Now().Add(w.giveUp)
	}
	for held := false; ; held = true {
		deadline, waited := end, w.giveUp
		if end.IsZero() {
			deadline, waited = time.Now().Add(w.attempt), w.attempt
		}
		g, done, err := w.try(ctx, deadline, waited)
		switch {
		case done:
			return g, err
		case err == nil:
			// Queued: the place is kept until the next attempt.
		case isFrozen(err), isStillLocked(err):
			fmt.Fprintln(w.stderr, err)
		case ctx.Err() != nil:
			return lockGrant{}, w.leaveInterrupted(err)
		case held && !end.IsZero() && time.Now().After(end) && withdrawnOrExpired(err):
			// The last attempt ran into the end of --wait; it will never take effect.
			return w.leaveAtEnd(ctx)
		default:
			w.leaveAfter(err)
			return lockGrant{}, err
		}
		pause := w.every
		if !end.IsZero() && pause >= time.Until(end) {
			// No attempt left that could be decided before the end of --wait.
			if backoff.Sleep(ctx, time.Until(end)) != nil {
				return lockGrant{}, w.leaveInterrupted(nil)
			}
			return w.leaveAtEnd(ctx)
		}
		if backoff.Sleep(ctx, pause) != nil {
			return lockGrant{}, w.leaveInterrupted(nil)
		}
	}
}

// try makes one attempt. done means run has its answer (a grant, or an error to return);
// otherwise err is nil for an attempt that kept the user's place, or the attempt's failure.
func (w *lockWait) try(ctx context.Context, deadline time.Time, waited time.Duration) (g lockGrant, done bool, err error) {
	o, err := w.b.submit(ctx, w.lock, deadline, waited)
	w.frozen = isFrozen(err)
	if err != nil {
		return lockGrant{}, false, err
	}
	events, err := w.b.outcomeEvents(context.WithoutCancel(ctx), o)
	if err != nil {
		return lockGrant{outcome: o}, true, fmt.Errorf("attempt %s on env %s was accepted, but what it did is not known (%w); 'locks check' or 'locks queue' tells", o.CommandID, w.lock.Env, err)
	}
	a := answerOf(w.lock.User, events)
	g = lockGrant{outcome: o, answer: a}
	switch {
	case a.Granted && ctx.Err() != nil:
		// Granted just as the user interrupted: they no longer want it.
		return g, true, w.giveBack("interrupted")
	case a.Granted:
		return g, true, w.b.awaitProjected(ctx, o, deadline)
	case a.Queued:
		w.queued = true
		fmt.Fprintln(w.stderr, placeLines(w.lock.Env, a.Place))
		if ctx.Err() != nil {
			return g, true, w.leaveInterrupted(nil)
		}
		return g, false, nil
	}
	return g, true, fmt.Errorf("attempt %s on env %s was accepted, but it neither granted the lock to %s nor queued it", o.CommandID, w.lock.Env, w.lock.User)
}

// leave gives up the user's place in the queue; an error with rejection CodeHolder means
// the lock has passed to the user.
func (w *lockWait) leave() error {
	ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	_, err := w.b.submit(ctx, domain.LeaveQueue{Env: w.lock.Env, User: w.lock.User}, time.Now().Add(leaveTimeout), leaveTimeout)
	return err
}

// leaveAtEnd leaves the queue when --wait runs out. If the lock has passed to the user
// meanwhile, it claims it with one more attempt and reports it as taken.
func (w *lockWait) leaveAtEnd(ctx context.Context) (lockGrant, error) {
	if !w.queued {
		return lockGrant{}, w.notTakenAfter()
	}
	err := w.leave()
	switch {
	case err == nil:
		return lockGrant{}, w.notTakenAfter()
	case rejectionOf(err) != domain.CodeHolder:
		w.lapses(err)
		return lockGrant{}, w.notTakenAfter()
	}
	fmt.Fprintf(w.stderr, "The lock on env %s passed to %s as the wait ended; claiming it\n", w.lock.Env, w.lock.User)
	g, done, err := w.try(ctx, time.Now().Add(w.attempt), w.attempt)
	if !done && err == nil {
		// Passed on again before the claim (its window ran out): the place is kept by the
		// attempt, and leaving it is what is left to do.
		w.leaveAfter(nil)
		return lockGrant{}, w.notTakenAfter()
	}
	if !done {
		return lockGrant{}, fmt.Errorf("the lock on env %s passed to %s as the wait ended, but claiming it failed: %w; unclaimed, it passes on within %s",
			w.lock.Env, w.lock.User, err, domain.ClaimWindow)
	}
	return g, err
}

// leaveInterrupted leaves the queue on Ctrl-C and returns the error to exit with: cause, the
// failed attempt's own, or a plain "interrupted". A lock passed to the user meanwhile is
// released again.
func (w *lockWait) leaveInterrupted(cause error) error {
	if cause == nil {
		cause = interrupted(w.lock.Env)
	}
	if !w.queued {
		return cause
	}
	err := w.leave()
	switch {
	case err == nil:
		fmt.Fprintf(w.stderr, "Left the queue of env %s\n", w.lock.Env)
	case rejectionOf(err) == domain.CodeHolder:
		return w.giveBack("interrupted")
	default:
		w.lapses(err)
	}
	return cause
}

// leaveAfter leaves the queue after a failure that ends the wait; a lock passed to the user
// meanwhile is released again.
func (w *lockWait) leaveAfter(cause error) {
	if !w.queued {
		return
	}
	err := w.leave()
	switch {
	case rejectionOf(err) == domain.CodeHolder:
		fmt.Fprintln(w.stderr, "buildledger:", w.giveBack("gave up"))
	case err != nil:
		w.lapses(err)
	}
}

func (w *lockWait) lapses(err error) {
	fmt.Fprintf(w.stderr, "buildledger: leaving the queue of env %s failed (%v): the place lapses within %s, and a lock passed to it is not claimed and passes on\n",
		w.lock.Env, err, domain.WaiterTimeout)
}

func (w *lockWait) notTakenAfter() error {
	if w.frozen {
		return &exitError{code: exitRejected, rejection: domain.CodeFrozen,
			err: fmt.Errorf("env %s is still frozen after %s", w.lock.Env, w.giveUp)}
	}
	return &exitError{code: exitRejected, rejection: domain.CodeLocked,
		err: fmt.Errorf("env %s is still locked after %s", w.lock.Env, w.giveUp)}
}

// giveBack releases a lock that was granted, or passed on, as the user gave up (why:
// "interrupted", "gave up").
func (w *lockWait) giveBack(why string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	release := domain.Release{Env: w.lock.Env, User: w.lock.User, Uberlock: w.lock.Uberlock}
	_, err := w.b.submit(ctx, release, time.Now().Add(30*time.Second), 30*time.Second)
	if err != nil {
		return &exitError{code: exitRejected, err: fmt.Errorf("%s, but the lock on env %s was granted to %s just before, and releasing it failed: %w; %s holds it now",
			why, w.lock.Env, w.lock.User, err, w.lock.User)}
	}
	return &exitError{code: exitInterrupted, err: fmt.Errorf("%s: the lock on env %s was granted just before, so it was released again", why, w.lock.Env)}
}

func interrupted(env string) error {
	return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted; the lock on env %s was not taken", env)}
}

// rejectionOf returns the rejection code of a command's failure, "" when it was not rejected.
func rejectionOf(err error) string {
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitRejected {
		return ""
	}
	return ee.rejection
}

// isStillLocked reports the rejection a lock attempt gets while someone else holds the env
// (an attempt that does not queue).
func isStillLocked(err error) bool {
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitRejected {
		return false
	}
	// Outcomes stored before rejection codes existed say it in words only.
	return ee.rejection == domain.CodeLocked || ee.rejection == "" && strings.HasPrefix(ee.err.Error(), "Still locked at env ")
}

// isFrozen reports the rejection a lock attempt gets while a freeze window is open.
func isFrozen(err error) bool { return rejectionOf(err) == domain.CodeFrozen }

// withdrawnOrExpired reports an attempt that did not take effect because its wait ended.
func withdrawnOrExpired(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.rejection == eventstore.RejectionExpired
}
