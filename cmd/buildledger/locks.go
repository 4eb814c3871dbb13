package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"buildledger/domain"
)

func init() { extraCommands = append(extraCommands, newLocksCommand) }

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
			rows, err := b.queries.Locks(cmd.Context(), env)
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
press Ctrl-C. Without --wait it keeps trying until granted or interrupted. On success it
prints the lock as JSON.`,
		Args: cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			ctx := cmd.Context()
			if giveUp > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, giveUp)
				defer cancel()
			}
			stillLockedAfter := func() error {
				return &exitError{code: exitRejected, err: fmt.Errorf("env %s is still locked after %s", c.Env, giveUp)}
			}
			for held := false; ; held = true {
				_, ok, err := b.mutate(ctx, c, answered, cmd.OutOrStdout())
				if !isStillLocked(err) {
					// Only a lock seen held turns running out of --wait into "still locked";
					// a service that never answered is a timeout (exit 3).
					if err != nil && held && giveUp > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
						return stillLockedAfter()
					}
					if err != nil || !ok {
						return err
					}
					return printActiveLock(ctx, cmd, b, c.Env)
				}
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				select {
				case <-ctx.Done():
					if errors.Is(ctx.Err(), context.DeadlineExceeded) {
						return stillLockedAfter()
					}
					return errors.New("interrupted; the lock was not taken")
				case <-time.After(every):
				}
			}
		}),
	}
	f := cmd.Flags()
	f.StringVar(&c.Env, "env", "", "environment to lock (required)")
	f.StringVar(&c.User, "user", "", "who takes the lock, e.g. a committer's email (required)")
	f.StringVar(&c.Meta, "meta", "", "free text stored with the lock, e.g. a CI URL")
	f.BoolVar(&c.Uberlock, "uberlock", false, "freeze the env: nobody else can lock it until you release it with --uberlock")
	f.DurationVar(&giveUp, "wait", 0, "give up (exit 1) when the env is still locked after this long; 0 waits until granted or Ctrl-C")
	f.DurationVar(&every, "retry-every", 5*time.Second, "how often to try again while the env is locked")
	f.DurationVar(&answered.wait, "timeout", 30*time.Second, "how long one attempt waits for the service to answer (exit 3)")
	f.BoolVar(&answered.noWait, "no-wait", false, "only enqueue one attempt and print its command id")
	_ = f.MarkHidden("retry-every")
	_ = cmd.MarkFlagRequired("env")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}

// isStillLocked reports the rejection a lock attempt gets while someone else holds the env.
func isStillLocked(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.code == exitRejected && strings.HasPrefix(ee.err.Error(), "Still locked at env ")
}

func printActiveLock(ctx context.Context, cmd *cobra.Command, b *backend, env string) error {
	rows, err := b.queries.Locks(ctx, env)
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
