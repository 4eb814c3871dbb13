package feed

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"buildledger/eventstore"
)

// follower is one position in the feed and the events read past it, held until they are
// older than the reorder window.
type follower struct {
	cfg    Config
	filter Filter
	cur    Cursor
	// readAfter is the key of the last event read from the store.
	readAfter string
	// held are the events read and not yet passed, in key order.
	held []eventstore.Record
}

func (r *Reader) follower(from Cursor, f Filter) *follower {
	return &follower{cfg: r.cfg, filter: f, cur: from, readAfter: from.Position}
}

// step reads the events keyed before the high-water mark, page by page, and passes on each
// page the events that have become older than the reorder window.
func (fl *follower) step(ctx context.Context, fn func(Item) error) error {
	mark := fl.cfg.Now().Add(-fl.cfg.Settle).UTC().Truncate(time.Millisecond)
	markKey := eventstore.FirstKeyAt(mark)
	for {
		page, err := fl.cfg.Events.ReadAll(ctx, fl.readAfter, fl.cfg.PageSize)
		if err != nil {
			return fmt.Errorf("feed: read after %q: %w", fl.readAfter, err)
		}
		reached := page.Next == "" || len(page.Records) == 0
		for _, rec := range page.Records {
			if rec.Key >= markKey {
				reached = true
				break
			}
			fl.held = append(fl.held, rec)
			fl.readAfter = rec.Key
		}
		// Every event keyed before covered has been read.
		covered := mark
		if !reached {
			if covered, err = eventstore.ParseKey(fl.readAfter); err != nil {
				return fmt.Errorf("feed: %w", err)
			}
		}
		if err := fl.pass(covered, fn); err != nil {
			return err
		}
		if reached {
			return nil
		}
	}
}

// pass sends, in key order, the held events keyed more than Reorder before covered: by
// then every earlier version of their stream has been read, and goes first.
func (fl *follower) pass(covered time.Time, fn func(Item) error) error {
	for len(fl.held) > 0 {
		head := fl.held[0]
		at, err := eventstore.ParseKey(head.Key)
		if err != nil {
			return fmt.Errorf("feed: %w", err)
		}
		if !at.Add(fl.cfg.Reorder).Before(covered) {
			return nil
		}
		fl.held[0] = eventstore.Record{} // let the passed event go
		fl.held = fl.held[1:]
		if len(fl.held) == 0 {
			fl.held = nil
		}
		if fl.cur.sent(head.Key) || !fl.filter.Matches(head.Stream) {
			fl.cur = fl.cur.advance(head.Key)
			continue
		}
		for _, earlier := range fl.earlierVersions(head) {
			fl.cur = fl.cur.withAhead(earlier.Key)
			if err := fn(Item{Record: earlier, Cursor: fl.cur}); err != nil {
				return err
			}
		}
		fl.cur = fl.cur.advance(head.Key)
		if err := fn(Item{Record: head, Cursor: fl.cur}); err != nil {
			return err
		}
	}
	return nil
}

// earlierVersions returns the held, unsent events of head's stream with lower versions,
// in version order.
func (fl *follower) earlierVersions(head eventstore.Record) []eventstore.Record {
	var earlier []eventstore.Record
	for _, r := range fl.held {
		if r.Stream == head.Stream && r.Version < head.Version && !fl.cur.sent(r.Key) {
			earlier = append(earlier, r)
		}
	}
	slices.SortFunc(earlier, func(a, b eventstore.Record) int { return cmp.Compare(a.Version, b.Version) })
	return earlier
}
