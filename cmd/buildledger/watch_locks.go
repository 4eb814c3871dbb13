package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/projections"
)

// lockWatch is the state `locks watch` shows: an env's lock holder, the waiters in line and
// the freeze schedules, as the lock's events say (see projections.LockLog).
type lockWatch struct {
	projections.LockQueue
	Freezes []projections.FreezeView `json:"freezes"`
}

// readLockWatch reads env's lock view from its events, as of now (one read of the stream).
func readLockWatch(ctx context.Context, b *backend, env string, now time.Time) (lockWatch, error) {
	q, f, err := b.app.LockLog.QueueAndFreezes(ctx, env, now)
	if err != nil {
		return lockWatch{}, lockLogError(err)
	}
	return lockWatch{LockQueue: q, Freezes: f}, nil
}

// frame draws the view for a terminal.
func (v lockWatch) frame(color bool) string {
	var b strings.Builder
	h := v.Holder
	switch {
	case !h.Held:
		fmt.Fprintf(&b, "%s: %s\n", v.Env, paint(color, colorGreen, "free"))
	default:
		kind := "lock"
		if h.Uberlock {
			kind = "uberlock"
		}
		fmt.Fprintf(&b, "%s: %s held by %s, token %d", v.Env, kind, paint(color, colorRed, h.User), h.Token)
		if h.Since != nil {
			fmt.Fprintf(&b, ", since %s", h.Since.Local().Format(time.DateTime))
		}
		if h.ExpiresAt != nil {
			fmt.Fprintf(&b, ", lease until %s", h.ExpiresAt.Local().Format(time.DateTime))
		}
		b.WriteString("\n")
	}
	if len(v.Waiting) == 0 {
		b.WriteString("queue: empty\n")
	}
	for _, w := range v.Waiting {
		fmt.Fprintf(&b, "queue %d: %s (since %s)\n", w.Position, w.User, w.Since.Local().Format(time.TimeOnly))
	}
	for _, f := range v.Freezes {
		state := "closed"
		switch {
		case f.Open && f.OpenUntil != nil:
			state = paint(color, colorRed, "frozen until "+f.OpenUntil.Local().Format(time.DateTime))
		case f.NextStart != nil:
			state = "next " + f.NextStart.Local().Format(time.DateTime)
		}
		fmt.Fprintf(&b, "freeze %d: %s %s for %s, %s (%s)\n", f.ID, f.Cron, f.TZ, f.Duration, state, f.Reason)
	}
	return b.String()
}

func newLocksWatchCommand(s *settings) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "watch --env ENV",
		Short: "Follow an environment's lock: holder, token, lease, queue and freezes, until interrupted",
		Long: `Follow an environment's lock as it changes: who holds it (fencing token, lease expiry), who
waits in line and the freeze schedules. On a terminal the view is redrawn in place; piped,
or with -o json, every change is one JSON object on a line of its own. It runs until
interrupted (exit 130).

` + watchLatencyHelp,
		Args: cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			ctx := cmd.Context()
			out := s.watchOutput(cmd)
			view, err := readLockWatch(ctx, b, env, time.Now())
			if err != nil {
				return err
			}
			if err := out.show(view, view.frame); err != nil {
				return err
			}
			// The lock's own events are the view's source: new events of the stream are the
			// signal to read the view again from them (one more read of the stream).
			return b.followStream(ctx, domain.LockStreamID(env), latestVersion(view), func([]eventstore.Record) (bool, error) {
				view, err := readLockWatch(ctx, b, env, time.Now())
				if err != nil {
					return false, err
				}
				return false, out.show(view, view.frame)
			})
		}),
	}
	requiredString(cmd, &env, "env", "environment")
	return cmd
}

// latestVersion is the version of the lock stream a view reflects, as far as it tells: the
// fencing token of the current grant; the stream is then read again from there, which at
// worst shows the same view once more (and show leaves an unchanged view out).
func latestVersion(v lockWatch) int64 { return v.Holder.Token }
