package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"buildledger/domain"
)

func newLocksCheckCommand(s *settings) *cobra.Command {
	var (
		env   string
		token int64
	)
	cmd := &cobra.Command{
		Use:   "check --env ENV --token N",
		Short: "Exit 0 only while the grant with that fencing token is the current lock of the env",
		Long: `Check whether a grant of an environment's lock is still the current one: held, not
released, forced away or replaced, and its lease not run out. It exits 0 and says so while
it is; otherwise it exits 1 and names the env's current holder and token.

A deploy that was given a fencing token (by 'lock', or by 'run' in BUILDLEDGER_LOCK_TOKEN)
runs this before each step that must not happen without the lock. It reads the lock's
events, not the read models, so it is never behind.`,
		Args: cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			if token < 1 {
				return usageError("--token must be 1 or more")
			}
			l, err := b.envLock(cmd.Context(), env)
			if err != nil {
				return err
			}
			now := time.Now()
			if !l.Current(token, now) {
				return &exitError{code: exitRejected, rejection: domain.CodeLockLost, err: notCurrent(l, token, now)}
			}
			line := fmt.Sprintf("Fencing token %d is the current lock of env %s, held by %s", token, env, l.Holder())
			if end := l.ExpiresAt(); !end.IsZero() {
				line += " until " + clock(end) + " unless renewed"
			}
			fmt.Fprintln(cmd.OutOrStdout(), line)
			return nil
		}),
	}
	requiredString(cmd, &env, "env", "environment")
	cmd.Flags().Int64Var(&token, "token", 0, "the fencing token of the grant (required)")
	required(cmd, "token")
	return cmd
}

// notCurrent says why the grant with token is not the current lock of l at now.
func notCurrent(l *domain.EnvLock, token int64, now time.Time) error {
	env := l.Env()
	switch {
	case l.Held() && l.Token() == token:
		return fmt.Errorf("fencing token %d is not the current lock of env %s: its lease ran out at %s", token, env, clock(l.ExpiresAt()))
	case l.Held() && !l.ExpiresAt().IsZero() && !now.Before(l.ExpiresAt()):
		return fmt.Errorf("fencing token %d is not the current lock of env %s: nobody holds it (the lease of %s's, token %d, ran out at %s)",
			token, env, l.Holder(), l.Token(), clock(l.ExpiresAt()))
	case l.Held():
		return fmt.Errorf("fencing token %d is not the current lock of env %s: %s holds it with token %d", token, env, l.Holder(), l.Token())
	}
	return fmt.Errorf("fencing token %d is not the current lock of env %s: nobody holds it", token, env)
}
