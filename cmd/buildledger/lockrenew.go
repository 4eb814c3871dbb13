package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/eventstore"
)

func newLocksRenewCommand(s *settings) *cobra.Command {
	var c domain.Renew
	cmd := change(s, &cobra.Command{
		Use:   "renew --env ENV --user USER [--token N] [--lease DURATION]",
		Short: "Extend the lease of the lock a user holds",
		Long: `Renew the lease of the lock a user holds on an environment: it runs out a whole lease from
now. --lease also changes the lease's length; without it the length stays.

--token names the grant to renew (the fencing token 'lock' printed), so that a renewal never
extends a later grant of the same user. If that grant is no longer held (its lease ran out,
it was forced away, or it was released), renew is rejected (exit 1) with code lock_lost and
says who holds the env now.

It prints the renewed grant as JSON.`,
	}, &c, func(cmd *cobra.Command, b *backend, o eventstore.Outcome) (renewedLock, error) {
		events, err := b.acceptedEvents(cmd.Context(), o, "the renewal", "accepted")
		if err != nil {
			return renewedLock{}, err
		}
		a := answerOf(c.User, events)
		if !a.Granted {
			return renewedLock{}, fmt.Errorf("the renewal %s was accepted, but recorded no renewal of %s's lock", o.CommandID, c.User)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "Renewed the lock on env %s of %s (%s)\n", c.Env, c.User, grantDetails(a))
		return renewedLock{Env: c.Env, User: c.User, FencingToken: a.Token,
			Lease: durationText(a.Lease), ExpiresAt: optionalTime(a.ExpiresAt), CommandID: o.CommandID}, nil
	})
	requiredString(cmd, &c.Env, "env", "environment whose lock to renew")
	requiredString(cmd, &c.User, "user", "the user holding the lock")
	f := cmd.Flags()
	f.Int64Var(&c.Token, "token", 0, "fencing token of the grant to renew; 0 renews whichever grant the user holds")
	f.StringVar(&c.Lease, "lease", "", "new length of the lease, e.g. 10m; default: the length it has")
	return cmd
}

// renewedLock is what renew prints.
type renewedLock struct {
	Env          string     `json:"env"`
	User         string     `json:"user"`
	FencingToken int64      `json:"fencingToken"`
	Lease        string     `json:"lease,omitempty"`
	ExpiresAt    *time.Time `json:"expiresAt,omitempty"`
	CommandID    string     `json:"commandId"`
}

// durationText is d as a Go duration, "" for none.
func durationText(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return d.String()
}

// optionalTime is t, nil when zero.
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
