package projections

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"buildledger/domain"
)

// Values of LockHistoryEntry.Event.
const (
	HistoryGranted       = "granted"        // the lock was granted (Claim: passed from the queue)
	HistoryRefreshed     = "refreshed"      // the holder locked again
	HistoryRenewed       = "renewed"        // the holder renewed the lease
	HistoryClaimed       = "claimed"        // the waiter claimed the grant the queue passed to it
	HistoryReleased      = "released"       // the holder released the lock
	HistoryForced        = "forced"         // an operator (By) forced the lock away
	HistoryExpired       = "expired"        // the lease ran out
	HistoryQueued        = "queued"         // a waiter joined the queue
	HistoryLeft          = "left"           // a waiter gave up its place
	HistoryDropped       = "dropped"        // a waiter's place lapsed
	HistoryFreezeAdded   = "freeze-added"   // a freeze schedule was added (By, Freeze)
	HistoryFreezeRemoved = "freeze-removed" // a freeze schedule was removed (By, Freeze)
)

// LockHistoryEntry is one change of an env's lock.
type LockHistoryEntry struct {
	// Version is the version of the event in the lock stream.
	Version int64 `json:"version"`
	// At is when the event happened.
	At time.Time `json:"at"`
	// Event is one of the History* values.
	Event string `json:"event"`
	// User is the holder of the grant, or the waiter; empty for freeze changes.
	User string `json:"user,omitempty"`
	// Token is the fencing token of the grant the entry is about.
	Token int64 `json:"token,omitempty"`
	// By is who forced the lock away, or who added or removed the freeze.
	By string `json:"by,omitempty"`
	// Reason is the force, break-glass or freeze reason.
	Reason string `json:"reason,omitempty"`
	// Meta is the holder's or waiter's free text (a CI URL, "Slack").
	Meta string `json:"meta,omitempty"`
	// ExpiresAt is when the lease runs out after a grant or refresh, or ran out (expired).
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// HeldMs is, on released, forced and expired, how long the grant was held: from its
	// grant (for a grant passed from the queue, from when it was passed, claimed or not) to
	// its release, or to its lease's end.
	HeldMs int64 `json:"heldMs,omitempty"`
	// BreakGlass marks a grant taken during a freeze window (Detail names it).
	BreakGlass bool `json:"breakGlass,omitempty"`
	// Uberlock marks an uberlock, or a waiter asking for one.
	Uberlock bool `json:"uberlock,omitempty"`
	// Claim marks a grant passed from the queue (granted), or one never claimed (expired).
	Claim bool `json:"claim,omitempty"`
	// Position is a waiter's place when it joined the queue, 1 for the next.
	Position int `json:"position,omitempty"`
	// Attempts is the number of attempts of a waiter folded into its queued entry, and
	// LastAt the time of the last one.
	Attempts int        `json:"attempts,omitempty"`
	LastAt   *time.Time `json:"lastAt,omitempty"`
	// Freeze is the id of the freeze schedule added or removed.
	Freeze int `json:"freeze,omitempty"`
	// Detail describes the freeze schedule added, or the freeze window a grant broke.
	Detail string `json:"detail,omitempty"`
}

// History lists every grant, refresh, renewal, claim, release, force, expiry, queue change
// and freeze change of env since `since` (zero: all), oldest first.
//
// A waiter renews its place with an attempt every 5 s, so that an hour's wait would be 720
// entries: the attempts of a waiter that keep its place are folded into the entry of its
// joining (Attempts, LastAt). An attempt after the place lapsed (domain.WaiterTimeout
// without one) starts a new entry. An entry is listed when it or its last folded attempt
// happened at or after since.
func (l *LockLog) History(ctx context.Context, env string, since time.Time) ([]LockHistoryEntry, error) {
	events, err := l.load(ctx, env)
	if err != nil {
		return nil, err
	}
	h := historyFold{waiting: map[string]int{}}
	for _, le := range events {
		h.add(le)
	}
	out := []LockHistoryEntry{}
	for _, e := range h.entries {
		if !e.At.Before(since) || e.LastAt != nil && !e.LastAt.Before(since) {
			out = append(out, e)
		}
	}
	return out, nil
}

// historyFold turns lock events into history entries, remembering the grant held (for
// tokens of older events and for how long it was held) and each waiter's open entry.
type historyFold struct {
	entries    []LockHistoryEntry
	grantToken int64
	grantAt    time.Time
	// waiting maps a waiter to the index of its open queued entry.
	waiting map[string]int
}

func (h *historyFold) add(le lockEvent) {
	switch e := le.event.(type) {
	case domain.Locked:
		h.grantToken, h.grantAt = cmp.Or(e.Token, le.version), e.At
		delete(h.waiting, e.User)
		h.append(le, LockHistoryEntry{Event: HistoryGranted, User: e.User, Token: h.grantToken, Meta: e.Meta,
			ExpiresAt: e.ExpiresAt, BreakGlass: e.BreakGlass, Reason: e.Reason, Uberlock: e.Uberlock,
			Claim: e.Claim, Detail: e.Freeze})
	case domain.LockRefreshed:
		event := HistoryRefreshed
		switch {
		case e.Claimed:
			event = HistoryClaimed
		case e.Renewed:
			event = HistoryRenewed
		}
		h.append(le, LockHistoryEntry{Event: event, User: e.User, Token: cmp.Or(e.Token, h.grantToken), Meta: e.Meta,
			ExpiresAt: e.ExpiresAt, Uberlock: e.Uberlock})
	case domain.Released:
		entry := LockHistoryEntry{Event: HistoryReleased, User: e.User, Token: cmp.Or(e.Token, h.grantToken),
			HeldMs: h.heldUntil(e.At), Uberlock: e.Uberlock}
		if e.ForcedBy != "" {
			entry.Event, entry.By, entry.Reason = HistoryForced, e.ForcedBy, e.Reason
		}
		h.endGrant()
		h.append(le, entry)
	case domain.LockExpired:
		end := e.ExpiresAt
		h.append(le, LockHistoryEntry{Event: HistoryExpired, User: e.User, Token: cmp.Or(e.Token, h.grantToken),
			ExpiresAt: &end, HeldMs: h.heldUntil(end), Uberlock: e.Uberlock, Claim: e.Claim})
		h.endGrant()
	case domain.LockQueued:
		h.queued(le, e)
	case domain.LockQueueLeft:
		event := HistoryLeft
		if e.Dropped {
			event = HistoryDropped
		}
		delete(h.waiting, e.User)
		h.append(le, LockHistoryEntry{Event: event, User: e.User})
	case domain.FreezeAdded:
		f := domain.FreezeOf(e)
		h.append(le, LockHistoryEntry{Event: HistoryFreezeAdded, By: e.User, Reason: e.Reason, Freeze: e.ID,
			Detail: fmt.Sprintf("%q for %s, %s", f.Cron, f.Duration, f.TZ)})
	case domain.FreezeRemoved:
		h.append(le, LockHistoryEntry{Event: HistoryFreezeRemoved, By: e.User, Freeze: e.ID})
	}
}

// queued starts a waiter's entry, or folds an attempt that kept its place into it.
func (h *historyFold) queued(le lockEvent, e domain.LockQueued) {
	if i, ok := h.waiting[e.User]; ok {
		entry := &h.entries[i]
		if e.At.Sub(*entry.LastAt) < domain.WaiterTimeout {
			entry.Attempts++
			entry.LastAt = &e.At
			return
		}
	}
	h.waiting[e.User] = len(h.entries)
	h.append(le, LockHistoryEntry{Event: HistoryQueued, User: e.User, Meta: e.Meta, Uberlock: e.Uberlock,
		Position: e.Position, Attempts: 1, LastAt: &e.At})
}

func (h *historyFold) append(le lockEvent, entry LockHistoryEntry) {
	entry.Version, entry.At = le.version, eventTime(le.event)
	h.entries = append(h.entries, entry)
}

// heldUntil returns how long the grant held was held at end, in milliseconds.
func (h *historyFold) heldUntil(end time.Time) int64 {
	if h.grantAt.IsZero() {
		return 0
	}
	return end.Sub(h.grantAt).Milliseconds()
}

func (h *historyFold) endGrant() { h.grantToken, h.grantAt = 0, time.Time{} }
