package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"buildledger/handlers"
)

func newInitCommand(s *settings) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create the tables, queues and topic (idempotent)",
		Long: `init creates, under the configured prefix, everything buildledger uses:

  DynamoDB  <prefix>events (with the time-ordered index byTime), <prefix>commands,
            <prefix>snapshots and the read tables (repos, builds, statuses, status_heads,
            status_events, status_counters, locks, jobs, positions, readmodel)
  SQS       <prefix>commands.fifo with <prefix>commands-dlq.fifo as its dead-letter queue,
            <prefix>projector with <prefix>projector-dlq, <prefix>timers (lease expiry
            timers) with <prefix>timers-dlq
  SNS       <prefix>events, with <prefix>projector subscribed (raw delivery)

Running it again changes nothing and says so.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return initResources(cmd.Context(), s, cmd.OutOrStdout())
		},
	}
}

// initResources creates whatever is missing and says what it created.
func initResources(ctx context.Context, s *settings, out io.Writer) error {
	b, err := openBackend(ctx, s, nil)
	if err != nil {
		return err
	}
	tables, err := b.app.CreateTables(ctx)
	if err != nil {
		return err
	}
	created := prefixAll("table ", tables)
	_, messaging, err := b.app.ProvisionMessaging(ctx, handlers.MessagingConfig{MaxReceiveCount: s.MaxReceiveCount})
	if err != nil {
		return err
	}
	created = append(created, messaging...)
	if len(created) == 0 {
		fmt.Fprintf(out, "everything under prefix %q already exists; nothing changed\n", b.app.Names.Prefix)
		return nil
	}
	for _, c := range created {
		fmt.Fprintln(out, "created", c)
	}
	return nil
}

func prefixAll(p string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = p + x
	}
	return out
}
