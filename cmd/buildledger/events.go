package main

import (
	"github.com/spf13/cobra"

	"buildledger/eventstore"
)

func newEventsCommand(s *settings) *cobra.Command {
	var (
		stream string
		since  string
		limit  int
	)
	list := query(s, &cobra.Command{
		Use:   "list [--stream S] [--since KEY] [--limit N]",
		Short: "List events: one stream in version order, or all in time order",
		Long: `List stored events as a JSON array.

With --stream, the events of that stream (e.g. repo:api/foo, lock:production) in version
order. Without it, the events of every stream in timestamp-key order, starting after
--since (a key such as 20261121T101500123000010042, or a prefix of one such as 20261121T10).`,
	}, func(cmd *cobra.Command, b *backend) ([]eventstore.Record, error) {
		if limit < 1 {
			return nil, usageError("--limit must be at least 1")
		}
		if stream == "" {
			return readPages(limit, 1000, since, func(after string, n int) ([]eventstore.Record, string, error) {
				page, err := b.app.Events.ReadAll(cmd.Context(), after, n)
				return page.Records, page.Next, err
			})
		}
		recs, err := b.app.Events.Load(cmd.Context(), stream, 1)
		if err != nil {
			return nil, err
		}
		out := []eventstore.Record{}
		for _, r := range recs {
			if r.Key > since && len(out) < limit {
				out = append(out, r)
			}
		}
		return out, nil
	})
	f := list.Flags()
	f.StringVar(&stream, "stream", "", "one stream's events, e.g. repo:api/foo")
	f.StringVar(&since, "since", "", "only events whose timestamp key sorts after this")
	f.IntVar(&limit, "limit", 100, "most events to print")
	return group(&cobra.Command{Use: "events", Short: "The event store (list)"}, list)
}
