// Package clockcheck bounds the offset of this process's clock from AWS's, from the Date
// header of every AWS response, so that a worker whose clock is off refuses to decide: the
// timestamp keys of the events it appends come from its clock, and the feed (internal/feed)
// is gap-free and in order only while every worker's keys stay within a known skew.
//
// A Date header has whole seconds and the response was made at some moment between sending
// the request and receiving the answer, so one response bounds the offset (local clock minus
// AWS's) to an interval: [sent − date − 1 s, received − date]. A Check intersects the
// intervals of the last Window, and calls the clock off only when the whole interval lies
// beyond Tolerance: it never refuses a clock that may be right, and a clock it admits is off
// by at most Tolerance plus the interval's width (a second and a round trip).
package clockcheck

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"buildledger/internal/settings"
)

// Defaults of Config.
const (
	// DefaultTolerance is the largest offset a worker decides with.
	DefaultTolerance = time.Second
	// DefaultWindow is how long an observation counts.
	DefaultWindow = time.Minute
)

// dateResolution is the resolution of an HTTP Date header.
const dateResolution = time.Second

// ErrClockOff means the local clock is off by more than the tolerance.
var ErrClockOff = errors.New("clockcheck: clock is off")

// OffError carries the offset interval that put the clock beyond the tolerance.
type OffError struct {
	// Offset bounds the local clock minus AWS's.
	Offset Interval
	// Tolerance is the largest offset allowed.
	Tolerance time.Duration
}

func (e *OffError) Error() string {
	return fmt.Sprintf("clockcheck: clock is off by %v to %v from AWS's, beyond the tolerance of %v", e.Offset.Low, e.Offset.High, e.Tolerance)
}

// Is reports ErrClockOff as the sentinel this error stands for.
func (e *OffError) Is(target error) bool { return target == ErrClockOff }

// Interval bounds an offset: Low ≤ offset ≤ High.
type Interval struct {
	// Low is the smallest offset possible.
	Low time.Duration
	// High is the largest offset possible.
	High time.Duration
}

// beyond tells whether every offset of the interval is beyond tolerance either way.
func (i Interval) beyond(tolerance time.Duration) bool {
	return i.Low > tolerance || i.High < -tolerance
}

// Config configures a Check.
type Config struct {
	// Now is the local clock, the one checked; default time.Now.
	Now func() time.Time
	// Tolerance is the largest offset the clock may have; default DefaultTolerance.
	Tolerance time.Duration
	// Window is how long an observation counts; default DefaultWindow.
	Window time.Duration
}

func (c *Config) setDefaults() {
	settings.DefaultFunc(&c.Now, time.Now)
	settings.Default(&c.Tolerance, DefaultTolerance)
	settings.Default(&c.Window, DefaultWindow)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	p := settings.Prefixed("clockcheck: config")
	settings.Positive(p, "Tolerance", c.Tolerance)
	settings.Positive(p, "Window", c.Window)
	return p.Err()
}

// observation is the offset interval one response gave, and when it arrived.
type observation struct {
	at     time.Time
	offset Interval
}

// Check bounds the local clock's offset from the AWS responses it observes (see Register)
// and admits decisions only while the clock is within the tolerance. It is safe for
// concurrent use.
type Check struct {
	cfg      Config
	refusals prometheus.Counter
	refused  atomic.Int64

	mu   sync.Mutex
	seen []observation // oldest first
}

// New returns a Check for a validated configuration.
func New(cfg Config) (*Check, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Check{cfg: cfg, refusals: prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "buildledger", Name: "clock_skew_refusals_total",
		Help: "Decisions refused because the worker's clock was off from AWS's by more than the tolerance.",
	})}, nil
}

// Tolerance is the largest offset the check admits.
func (c *Check) Tolerance() time.Duration { return c.cfg.Tolerance }

// Observe records a response whose Date header said date, to a request sent at sent and
// answered at received, both read from the local clock.
func (c *Check) Observe(sent, received, date time.Time) {
	o := observation{at: received, offset: Interval{Low: sent.Sub(date) - dateResolution, High: received.Sub(date)}}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, o)
	c.prune(received)
}

// prune forgets the observations older than the window.
func (c *Check) prune(now time.Time) {
	i := 0
	for i < len(c.seen)-1 && now.Sub(c.seen[i].at) > c.cfg.Window {
		i++
	}
	c.seen = c.seen[i:]
}

// Offset returns the tightest bounds of the offset that the observations of the window
// agree on, newest first (a clock that stepped makes older ones disagree, and they are
// left out); false when nothing was observed within the window.
func (c *Check) Offset() (Interval, bool) { return c.offsetAt(c.cfg.Now()) }

// offsetAt is Offset with the local clock read at now.
func (c *Check) offsetAt(now time.Time) (Interval, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prune(now)
	if len(c.seen) == 0 || now.Sub(c.seen[len(c.seen)-1].at) > c.cfg.Window {
		return Interval{}, false
	}
	in := c.seen[len(c.seen)-1].offset
	for i := len(c.seen) - 2; i >= 0; i-- {
		o := c.seen[i].offset
		next := Interval{Low: max(in.Low, o.Low), High: min(in.High, o.High)}
		if next.Low > next.High {
			break
		}
		in = next
	}
	return in, true
}

// Admit returns nil when the clock may be trusted to decide now: it is within the
// tolerance, or nothing observed says otherwise. Otherwise it returns an *OffError and
// counts the refusal.
func (c *Check) Admit() error {
	in, ok := c.Offset()
	if !ok || !in.beyond(c.cfg.Tolerance) {
		return nil
	}
	c.refusals.Inc()
	c.refused.Add(1)
	return &OffError{Offset: in, Tolerance: c.cfg.Tolerance}
}

// Refusals returns how many decisions Admit refused.
func (c *Check) Refusals() int64 { return c.refused.Load() }

// Collector returns the check's metric, buildledger_clock_skew_refusals_total, for the
// caller to register.
func (c *Check) Collector() prometheus.Collector { return c.refusals }

// Skew is the largest offset a clock the check admits may have: the tolerance plus the
// Date header's second (round trips aside). Readers of the feed size their windows on it.
func (c *Check) Skew() time.Duration { return c.cfg.Tolerance + dateResolution }

// Earliest returns the earliest AWS's clock can read now: the local time minus the largest
// offset the observations allow (the local time itself when nothing was observed). A
// reader that must not run ahead of the writers' present, such as the feed's high-water
// mark, reads it instead of its own clock.
func (c *Check) Earliest() time.Time {
	now := c.cfg.Now()
	if in, ok := c.offsetAt(now); ok && in.High > 0 {
		return now.Add(-in.High)
	}
	return now
}
