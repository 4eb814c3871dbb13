package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"buildledger/projections"
)

// LockLog is what the API reads from the lock streams' events (projections.LockLog).
type LockLog interface {
	At(ctx context.Context, env string, t time.Time) (projections.LockHolding, error)
	History(ctx context.Context, env string, since time.Time) ([]projections.LockHistoryEntry, error)
	Queue(ctx context.Context, env string, now time.Time) (projections.LockQueue, error)
	Freezes(ctx context.Context, env string, now time.Time) ([]projections.FreezeView, error)
}

// instant reads an optional RFC 3339 time and whether it was given.
func (p *params) instant(name string) (time.Time, bool) {
	q := p.r.URL.Query()
	if !q.Has(name) {
		return time.Time{}, false
	}
	raw := q.Get(name)
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		p.fail(name, fmt.Sprintf("%q is not an RFC 3339 time such as 2026-12-01T09:15:00Z", raw))
		return time.Time{}, false
	}
	return t, true
}

func (a *server) lockHistory(r *http.Request, p *params) (any, error) {
	env := p.name("env")
	since, _ := p.instant("since")
	if p.err != nil {
		return nil, p.err
	}
	return a.cfg.LockLog.History(r.Context(), env, since)
}

func (a *server) lockQueue(r *http.Request, p *params) (any, error) {
	env := p.name("env")
	if p.err != nil {
		return nil, p.err
	}
	return a.cfg.LockLog.Queue(r.Context(), env, a.cfg.Now())
}

func (a *server) freezes(r *http.Request, p *params) (any, error) {
	env := p.name("env")
	if p.err != nil {
		return nil, p.err
	}
	return a.cfg.LockLog.Freezes(r.Context(), env, a.cfg.Now())
}
