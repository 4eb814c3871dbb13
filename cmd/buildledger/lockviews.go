package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"buildledger/projections"
)

// instantHelp says which times --at and --since take.
const instantHelp = "a time: RFC 3339 (2026-12-07T10:00:00Z), local 2026-12-07 10:00[:00] or 2026-12-07, " +
	"epoch milliseconds (as lock rows show them), or a duration ago (90m, 2h)"

// parseInstant reads the time a person means by s at now: see instantHelp.
func parseInstant(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty time")
	}
	if s == "now" {
		return now, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration ago must be positive", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not %s", s, instantHelp)
}

// instantFlag is a flag that holds a time as parseInstant reads it, at the moment it is set.
type instantFlag struct {
	t   time.Time
	set bool
	now func() time.Time
}

func (f *instantFlag) String() string {
	if !f.set {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *instantFlag) Set(s string) error {
	t, err := parseInstant(s, f.now())
	if err != nil {
		return err
	}
	f.t, f.set = t, true
	return nil
}

func (f *instantFlag) Type() string { return "TIME" }

// lockLogError maps a LockLog query's bad argument to a usage error.
func lockLogError(err error) error {
	if errors.Is(err, projections.ErrInvalidQuery) {
		return &exitError{code: exitUsage, err: err}
	}
	return err
}

// lockLogQuery completes cmd as a query that answers with what read returns from the lock
// log of the environment its required --env names.
func lockLogQuery[T any](s *settings, cmd *cobra.Command, read func(ctx context.Context, log *projections.LockLog, env string) (T, error)) *cobra.Command {
	var env string
	query(s, cmd, func(cmd *cobra.Command, b *backend) (T, error) {
		v, err := read(cmd.Context(), b.app.LockLog, env)
		return v, lockLogError(err)
	})
	requiredString(cmd, &env, "env", "environment")
	return cmd
}

func newLocksListCommand(s *settings) *cobra.Command {
	var env string
	at := instantFlag{now: time.Now}
	cmd := query(s, &cobra.Command{
		Use:   "list --env ENV [--at TIME]",
		Short: "List the locks of an environment, newest first (history included)",
		Long: `List the locks of an environment, newest first, as a JSON array of Da-Playa's lock rows
(id, user, env, createdAt, updatedAt, active, uberlock, meta), released ones included.

With --at, it answers instead who held the env's lock at that time, from the lock's events
(a lease that had run out by then ends the grant), as one JSON object. --at takes ` + instantHelp + `.

The holder and the queue behind it are under 'locks queue'; every change under 'locks history'.`,
	}, func(cmd *cobra.Command, b *backend) (any, error) {
		if at.set {
			h, err := b.app.LockLog.At(cmd.Context(), env, at.t)
			return h, lockLogError(err)
		}
		rows, err := b.app.Queries.Locks(cmd.Context(), env)
		return rows, err
	})
	requiredString(cmd, &env, "env", "environment, e.g. production")
	cmd.Flags().Var(&at, "at", "who held the lock at this time, from the events")
	return cmd
}

func newLocksQueueCommand(s *settings) *cobra.Command {
	return lockLogQuery(s, &cobra.Command{
		Use:   "queue --env ENV",
		Short: "Show who holds an environment's lock and who waits in line",
		Long: `Show an environment's lock holder (with the grant's fencing token and lease) and the
waiters behind it, in the order the lock passes to them, as JSON. A waiter's place lasts 20
seconds after its last attempt; places that lapsed are left out. It reads the lock's events,
so it is never behind.`,
	}, func(ctx context.Context, log *projections.LockLog, env string) (projections.LockQueue, error) {
		return log.Queue(ctx, env, time.Now())
	})
}

func newLocksHistoryCommand(s *settings) *cobra.Command {
	since := instantFlag{now: time.Now}
	cmd := lockLogQuery(s, &cobra.Command{
		Use:   "history --env ENV [--since TIME]",
		Short: "List every change of an environment's lock, oldest first",
		Long: `List every change of an environment's lock as a JSON array, oldest first, from its events:
grants (with their fencing tokens), refreshes, renewals, claims, releases, forced releases
(by whom and why), lease expiries, places taken and left in the queue, and freeze schedules
added and removed. How long each grant was held is on its release, force or expiry. A
waiter's attempts that kept its place are folded into one entry.

--since lists only what happened from then on; it takes ` + instantHelp + `.`,
	}, func(ctx context.Context, log *projections.LockLog, env string) ([]projections.LockHistoryEntry, error) {
		return log.History(ctx, env, since.t)
	})
	cmd.Flags().Var(&since, "since", "only what happened from this time on")
	return cmd
}
