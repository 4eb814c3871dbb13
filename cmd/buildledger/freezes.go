package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/projections"
)

func newFreezesCommand(s *settings) *cobra.Command {
	return group(&cobra.Command{
		Use:   "freezes",
		Short: "Scheduled freeze windows of deploy locks (add, remove, list)",
		Long: `Scheduled freezes: windows in which nobody takes an environment's lock, e.g. from Friday
18:00 over the weekend. A window opens at every time a cron expression names, in a time
zone, and lasts a duration. While one is open, 'locks lock' is refused (code frozen) and
waits, unless it breaks the glass with --break-glass and a --reason, which is recorded. A
holder keeps and renews a lock it took before the window opened, and a released lock does
not pass to the queue until the window closes.`,
	}, newFreezesAddCommand(s), newFreezesRemoveCommand(s), newFreezesListCommand(s))
}

func newFreezesAddCommand(s *settings) *cobra.Command {
	var c domain.AddFreeze
	cmd := change(s, &cobra.Command{
		Use:   `add --env ENV --cron "0 18 * * FRI" --duration 64h [--tz ZONE] --reason R --user USER`,
		Short: "Schedule freeze windows on an environment and print the schedule with its id",
		Long: `Schedule freeze windows on an environment. --cron has the five standard fields (minute,
hour, day of month, month, day of week) or a descriptor such as @daily; each time it names,
in --tz (an IANA zone such as Europe/Berlin; default UTC), a window opens for --duration.

It prints the schedule as JSON, as 'freezes list' does: its id (for 'freezes remove') and
whether a window is open now (until when) or when the next one opens.`,
	}, &c, func(cmd *cobra.Command, b *backend, o eventstore.Outcome) (projections.FreezeView, error) {
		events, err := b.acceptedEvents(cmd.Context(), o, "the freeze", "added")
		if err != nil {
			return projections.FreezeView{}, err
		}
		for _, e := range events {
			if e, ok := e.(domain.FreezeAdded); ok {
				return freezeViewOf(domain.FreezeOf(e), time.Now()), nil
			}
		}
		return projections.FreezeView{}, fmt.Errorf("command %s was accepted but recorded no FreezeAdded event", o.CommandID)
	})
	requiredString(cmd, &c.Env, "env", "environment to freeze")
	requiredString(cmd, &c.User, "user", "who schedules it")
	requiredString(cmd, &c.Cron, "cron", `when windows open: five cron fields, e.g. "0 18 * * FRI"`)
	requiredString(cmd, &c.Duration, "duration", "how long each window lasts, e.g. 64h")
	cmd.Flags().StringVar(&c.TZ, "tz", "", "the cron expression's time zone, e.g. Europe/Berlin (default UTC)")
	requiredString(cmd, &c.Reason, "reason", "why the env is frozen; shown to whoever is refused")
	return cmd
}

func newFreezesRemoveCommand(s *settings) *cobra.Command {
	var c domain.RemoveFreeze
	cmd := change(s, &cobra.Command{
		Use:   "remove --env ENV --id N --user USER",
		Short: "Remove a freeze schedule of an environment; an open window closes with it",
		Long: `Remove the freeze schedule --id (as 'freezes add' or 'freezes list' shows it) of an
environment. A window of it that is open closes at once. An id the env does not have is
rejected (exit 1, code unknown_freeze).`,
	}, &c, func(_ *cobra.Command, _ *backend, o eventstore.Outcome) (any, error) {
		return struct {
			Env       string `json:"env"`
			ID        int    `json:"id"`
			Removed   bool   `json:"removed"`
			CommandID string `json:"commandId"`
		}{c.Env, c.ID, true, o.CommandID}, nil
	})
	requiredString(cmd, &c.Env, "env", "environment")
	cmd.Flags().IntVar(&c.ID, "id", 0, "id of the freeze schedule (required)")
	required(cmd, "id")
	requiredString(cmd, &c.User, "user", "who removes it")
	return cmd
}

// freezeViewOf is a freeze schedule as 'freezes list' shows it, at now.
func freezeViewOf(f domain.Freeze, now time.Time) projections.FreezeView {
	v := projections.FreezeView{ID: f.ID, Cron: f.Cron, Duration: f.Duration.String(), TZ: f.TZ, Reason: f.Reason,
		User: f.User, AddedAt: f.AddedAt}
	if w, open := f.OpenAt(now); open {
		v.Open, v.OpenUntil = true, &w.End
	} else if w, ok := f.Next(now); ok {
		v.NextStart = &w.Start
	}
	return v
}

func newFreezesListCommand(s *settings) *cobra.Command {
	return lockLogQuery(s, &cobra.Command{
		Use:   "list --env ENV",
		Short: "List the freeze schedules of an environment, with the open or next window",
		Long: `List the freeze schedules of an environment as a JSON array, in the order they were added:
id, cron, duration, tz, reason, who added it and when, and whether a window is open (until
when) or when the next one opens. It reads the lock's events, so it is never behind.`,
	}, func(ctx context.Context, log *projections.LockLog, env string) ([]projections.FreezeView, error) {
		return log.Freezes(ctx, env, time.Now())
	})
}
