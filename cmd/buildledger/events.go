package main

import (
	"github.com/spf13/cobra"

	"buildledger/eventstore"
)

func newEventsCommand(s *settings) *cobra.Command {
	events := &cobra.Command{Use: "events", Short: "The event store (list)"}
	var (
		stream string
		since  string
		limit  int
	)
	list := &cobra.Command{
		Use:   "list [--stream S] [--since KEY] [--limit N]",
		Short: "List events: one stream in version order, or all in time order",
		Long: `List stored events as a JSON array.

With --stream, the events of that stream (e.g. repo:api/foo, lock:production) in version
order. Without it, the events of every stream in timestamp-key order, starting after
--since (a key such as 20261121T101500123000010042, or a prefix of one such as 20261121T10).`,
		Args: cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			if limit < 1 {
				return usageError("--limit must be at least 1")
			}
			ctx := cmd.Context()
			var out []eventstore.Record
			if stream != "" {
				recs, err := b.app.Events.Load(ctx, stream, 1)
				if err != nil {
					return err
				}
				for _, r := range recs {
					if r.Key > since && len(out) < limit {
						out = append(out, r)
					}
				}
			} else {
				after := since
				for len(out) < limit {
					page, err := b.app.Events.ReadAll(ctx, after, min(limit-len(out), 1000))
					if err != nil {
						return err
					}
					out = append(out, page.Records...)
					if page.Next == "" {
						break
					}
					after = page.Next
				}
			}
			if out == nil {
				out = []eventstore.Record{}
			}
			return s.print(cmd, out)
		}),
	}
	f := list.Flags()
	f.StringVar(&stream, "stream", "", "one stream's events, e.g. repo:api/foo")
	f.StringVar(&since, "since", "", "only events whose timestamp key sorts after this")
	f.IntVar(&limit, "limit", 100, "most events to print")
	events.AddCommand(list)
	return events
}
