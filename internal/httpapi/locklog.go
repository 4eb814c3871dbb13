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

// lockAt answers /v1/locks?env=E&at=T: who held the lock at T.
func (a *server) lockAt(w http.ResponseWriter, r *http.Request, env string, at time.Time) {
	v, err := a.cfg.LockLog.At(r.Context(), env, at)
	a.answer(w, r, v, err)
}

func (a *server) lockHistory(w http.ResponseWriter, r *http.Request) {
	p := &params{r: r}
	env := p.name("env")
	since, _ := p.instant("since")
	if p.err != nil {
		a.answer(w, r, nil, p.err)
		return
	}
	v, err := a.cfg.LockLog.History(r.Context(), env, since)
	a.answer(w, r, v, err)
}

func (a *server) lockQueue(w http.ResponseWriter, r *http.Request) {
	p := &params{r: r}
	env := p.name("env")
	if p.err != nil {
		a.answer(w, r, nil, p.err)
		return
	}
	v, err := a.cfg.LockLog.Queue(r.Context(), env, a.cfg.Now())
	a.answer(w, r, v, err)
}

func (a *server) freezes(w http.ResponseWriter, r *http.Request) {
	p := &params{r: r}
	env := p.name("env")
	if p.err != nil {
		a.answer(w, r, nil, p.err)
		return
	}
	v, err := a.cfg.LockLog.Freezes(r.Context(), env, a.cfg.Now())
	a.answer(w, r, v, err)
}
