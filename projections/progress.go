package projections

import (
	"sync"
	"sync/atomic"
	"time"
)

// progress reports the replay's progress to the configured callback.
type progress struct {
	fn       func(done, total int64, rate float64)
	interval time.Duration
	now      func() time.Time
	start    time.Time
	total    int64
	done     atomic.Int64

	mu   sync.Mutex
	last time.Time
}

func (p *progress) add(n int) {
	p.done.Add(int64(n))
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.interval > 0 && now.Sub(p.last) < p.interval {
		return
	}
	p.last = now
	// Read under the lock, so that concurrent workers never report a count going back.
	p.report(p.done.Load(), now)
}

func (p *progress) finish() {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.report(p.done.Load(), p.now())
}

func (p *progress) report(done int64, now time.Time) {
	rate := 0.0
	if secs := now.Sub(p.start).Seconds(); secs > 0 {
		rate = float64(done) / secs
	}
	p.fn(done, p.total, rate)
}
