package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/projections"
)

func newLocksCommand(s *settings) *cobra.Command {
	return group(&cobra.Command{
		Use:   "locks",
		Short: "Deploy locks per environment (list, lock, release, renew, check, run, queue, history)",
		Long: `Deploy locks, one holder per environment at a time.

A user holding an env can lock it again (refreshing it). An uberlock freezes the env: while
it is active nobody else can lock it, normally or with an uberlock, and only its holder
lifts it with 'release --uberlock'.

While the env is held, 'lock' waits in a first-in-first-out queue, and a released lock
passes to the first in line. Every grant has a fencing token that only grows; a lock with a
lease runs out unless renewed. 'run' holds the lock around a command, renewing it, and
'check' tells whether a grant is still the current one. Scheduled freezes are under
'freezes'.`,
	}, newLocksListCommand(s), newLocksLockCommand(s), newLocksReleaseCommand(s),
		newLocksRenewCommand(s), newLocksCheckCommand(s), newLocksRunCommand(s),
		newLocksQueueCommand(s), newLocksHistoryCommand(s), newLocksWatchCommand(s))
}

func printActiveLock(ctx context.Context, cmd *cobra.Command, b *backend, env string) error {
	rows, err := b.app.Queries.Locks(ctx, env)
	if err != nil {
		return err
	}
	return b.s.print(cmd, oneOrAll(rows, func(r projections.Lock) bool { return r.Active }))
}

func newLocksReleaseCommand(s *settings) *cobra.Command {
	var c domain.Release
	cmd := change(s, &cobra.Command{
		Use:   "release --env ENV --user USER [--uberlock] [--force --reason R]",
		Short: "Release the lock a user holds on an environment, or force anyone's away",
		Long: `Release the lock a user holds on an environment. Releasing a lock you do not hold is
rejected with the name of the holder; an uberlock is lifted only with --uberlock.

--force releases whoever holds the env, uberlock included: --user is who forces it, and
--reason, required, is recorded with the release. Either way, the lock passes to the first
in the env's queue, if anyone waits.`,
	}, &c, func(cmd *cobra.Command, b *backend, o eventstore.Outcome) (any, error) {
		if events, err := b.outcomeEvents(cmd.Context(), o); err == nil {
			describeRelease(cmd.ErrOrStderr(), events)
		}
		return struct {
			Env       string `json:"env"`
			User      string `json:"user"`
			Released  bool   `json:"released"`
			CommandID string `json:"commandId"`
		}{c.Env, c.User, true, o.CommandID}, nil
	})
	requiredString(cmd, &c.Env, "env", "environment to release")
	requiredString(cmd, &c.User, "user", "the user holding the lock; with --force, who forces it")
	f := cmd.Flags()
	f.BoolVar(&c.Uberlock, "uberlock", false, "lift an uberlock")
	f.BoolVar(&c.Force, "force", false, "release whoever holds the env (needs --reason)")
	f.StringVar(&c.Reason, "reason", "", "why the lock is forced away; recorded")
	cmd.MarkFlagsRequiredTogether("force", "reason")
	return cmd
}

// describeRelease tells people what a release did beyond the release itself: whose lock a
// forced release took away, and to whom the queue passed it.
func describeRelease(w io.Writer, events []domain.Event) {
	for _, e := range events {
		switch e := e.(type) {
		case domain.Released:
			if e.ForcedBy != "" {
				fmt.Fprintf(w, "Forced the lock on env %s (fencing token %d) away from %s: %s\n", e.Env, e.Token, e.User, e.Reason)
			}
		case domain.Locked:
			if e.Claim {
				fmt.Fprintf(w, "The lock on env %s passed to %s, first in line (fencing token %d); it claims it within %s\n", e.Env, e.User, e.Token, domain.ClaimWindow)
			}
		}
	}
}
