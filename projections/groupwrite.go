package projections

import (
	"context"
	"errors"
	"sync"
)

// DefaultWriteSlots is how many transactions a live projector has in flight at once unless
// configured otherwise.
const DefaultWriteSlots = 2

// maxGroupItems bounds the items of one grouped transaction, below MaxWriteItems so that a
// group of large rows stays far from the store's size limit.
const maxGroupItems = 50

// errAlone tells the members of a grouped transaction that failed to write on their own.
var errAlone = errors.New("projections: write alone")

// groupWriter writes the transactions of concurrent applies together. A write that finds a
// free slot goes at once; writes that arrive while every slot is busy wait, and when a slot
// frees, the waiting ones whose items do not overlap go as one transaction. Each write is
// still all or nothing, and a grouped transaction that fails (one member's guard, a
// collision, a limit) is written again member by member, so that every write gets its own
// answer and one stream's conflict never fails another stream's write.
//
// The store's work per event falls as load rises: many applies share one round trip.
type groupWriter struct {
	store   Store
	slots   int
	mu      sync.Mutex
	busy    int
	waiting []*groupCall
}

// groupCall is one write waiting for, or taking part in, a grouped transaction.
type groupCall struct {
	puts []Put
	keys []Key
	// lead receives the group to write when this call is the first of the next group.
	lead chan []*groupCall
	// done receives the write's outcome, or errAlone.
	done chan error
}

// newGroupWriter returns a writer with slots transactions in flight at most; nil when
// slots < 1: the applier then writes every transaction alone.
func newGroupWriter(store Store, slots int) *groupWriter {
	if slots < 1 {
		return nil
	}
	return &groupWriter{store: store, slots: slots}
}

// write writes puts all or nothing, as Store.Write does.
func (g *groupWriter) write(ctx context.Context, puts []Put) error {
	keys, err := putKeys(puts)
	if err != nil || len(puts) > maxGroupItems {
		return g.store.Write(ctx, puts, nil) // the store says what is wrong, or writes it alone
	}
	c := &groupCall{puts: puts, keys: keys, lead: make(chan []*groupCall, 1), done: make(chan error, 1)}
	g.mu.Lock()
	if g.busy < g.slots {
		g.busy++
		g.mu.Unlock()
		g.run(ctx, []*groupCall{c})
	} else {
		g.waiting = append(g.waiting, c)
		g.mu.Unlock()
		select {
		case group := <-c.lead:
			g.run(ctx, group)
		case err := <-c.done:
			return g.answer(ctx, c, err)
		}
	}
	return g.answer(ctx, c, <-c.done)
}

func (g *groupWriter) answer(ctx context.Context, c *groupCall, err error) error {
	if errors.Is(err, errAlone) {
		return g.store.Write(ctx, c.puts, nil)
	}
	return err
}

// run writes a group in the slot its caller holds, answers its members, and passes the slot
// on to the next group, or frees it.
func (g *groupWriter) run(ctx context.Context, group []*groupCall) {
	if len(group) == 1 {
		group[0].done <- g.store.Write(ctx, group[0].puts, nil)
	} else {
		var all []Put
		for _, c := range group {
			all = append(all, c.puts...)
		}
		err := g.store.Write(ctx, all, nil)
		if err != nil {
			err = errAlone
		}
		for _, c := range group {
			c.done <- err
		}
	}
	g.mu.Lock()
	next := g.takeGroup()
	if len(next) == 0 {
		g.busy--
	}
	g.mu.Unlock()
	if len(next) > 0 {
		next[0].lead <- next
	}
}

// takeGroup removes from the waiting writes, oldest first, those that fit one transaction
// together: at most maxGroupItems items, no item twice. The caller holds g.mu.
func (g *groupWriter) takeGroup() []*groupCall {
	var group, rest []*groupCall
	items := 0
	seen := make(map[Key]bool)
	for _, c := range g.waiting {
		if items+len(c.puts) > maxGroupItems || overlaps(seen, c.keys) {
			rest = append(rest, c)
			continue
		}
		for _, k := range c.keys {
			seen[k] = true
		}
		items += len(c.puts)
		group = append(group, c)
	}
	g.waiting = rest
	return group
}

func overlaps(seen map[Key]bool, keys []Key) bool {
	for _, k := range keys {
		if seen[k] {
			return true
		}
	}
	return false
}

func putKeys(puts []Put) ([]Key, error) {
	keys := make([]Key, len(puts))
	for i, p := range puts {
		k, err := KeyOf(p.Table, p.Item)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
}
