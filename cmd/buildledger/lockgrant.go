package main

import (
	"fmt"
	"strings"
	"time"

	"buildledger/domain"
)

// lockAnswer is what one accepted lock attempt did for its user, read from the events it
// appended (never from the read models, which may lag behind).
type lockAnswer struct {
	// Granted: the user holds the lock (a Locked or LockRefreshed for the user).
	Granted bool
	// Queued: the user waits in the env's queue (a LockQueued for the user).
	Queued bool
	// Token is the grant's fencing token.
	Token int64
	// Lease is the grant's lease; 0 without one.
	Lease time.Duration
	// ExpiresAt is when the lease runs out unless renewed; zero without a lease.
	ExpiresAt time.Time
	// Claimed: the grant had been passed to the user from the queue, and this attempt
	// claimed it.
	Claimed bool
	// BreakGlass: the grant overrode a scheduled freeze.
	BreakGlass bool
	// Place is the user's place in the queue, when Queued.
	Place domain.LockQueued
}

// answerOf reads what the events of one accepted lock attempt did for user. The last event
// about the user decides: a decision may pass the lock to the user (Locked with Claim) and
// the same attempt claim it (LockRefreshed with Claimed).
func answerOf(user string, events []domain.Event) lockAnswer {
	var a lockAnswer
	for _, e := range events {
		switch e := e.(type) {
		case domain.Locked:
			if e.User == user {
				a = lockAnswer{Granted: true, Token: e.Token, Lease: leaseOf(e.LeaseMs), ExpiresAt: timeOf(e.ExpiresAt), BreakGlass: e.BreakGlass}
			}
		case domain.LockRefreshed:
			if e.User == user {
				a = lockAnswer{Granted: true, Token: e.Token, Lease: leaseOf(e.LeaseMs), ExpiresAt: timeOf(e.ExpiresAt), Claimed: e.Claimed}
			}
		case domain.LockQueued:
			if e.User == user {
				a = lockAnswer{Queued: true, Place: e}
			}
		}
	}
	return a
}

func leaseOf(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// grantLine is the line that tells a person which grant they hold, e.g.
// "Locked env production for alice (fencing token 7, lease 10m0s, expires 12:03:04)".
func grantLine(env, user string, a lockAnswer) string {
	return fmt.Sprintf("Locked env %s for %s (%s)", env, user, grantDetails(a))
}

// grantDetails describes a grant: its token, lease and expiry, and how it came.
func grantDetails(a lockAnswer) string {
	details := []string{fmt.Sprintf("fencing token %d", a.Token)}
	if a.Lease > 0 {
		details = append(details, "lease "+a.Lease.String())
	} else {
		details = append(details, "no lease")
	}
	if !a.ExpiresAt.IsZero() {
		details = append(details, "expires "+clock(a.ExpiresAt))
	}
	if a.Claimed {
		details = append(details, "passed on from the queue")
	}
	if a.BreakGlass {
		details = append(details, "breaking the glass of a freeze")
	}
	return strings.Join(details, ", ")
}

// placeLines are what a queued attempt prints: Da-Playa's line, exactly, then the place.
func placeLines(env string, q domain.LockQueued) string {
	return (&domain.LockedError{Env: env, User: q.Holder}).Error() + "\n" +
		fmt.Sprintf("Waiting in line for env %s: position %d of %d", env, q.Position, q.Waiting)
}

// clock shows a time of day in the local zone, with the date when it is not today.
func clock(t time.Time) string {
	t = t.Local()
	y, m, d := t.Date()
	if ny, nm, nd := time.Now().Date(); y == ny && m == nm && d == nd {
		return t.Format(time.TimeOnly)
	}
	return t.Format("2006-01-02 15:04:05 MST")
}
