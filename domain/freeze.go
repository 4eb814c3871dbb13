package domain

import (
	"fmt"
	"time"
	// Freeze windows name IANA zones; the embedded database makes them work on machines
	// without one.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// MaxFreezeDuration bounds a freeze window.
const MaxFreezeDuration = 366 * 24 * time.Hour

// cronParser reads the standard five fields (minute hour day-of-month month day-of-week)
// and the descriptors (@daily, @weekly, …).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// AddFreeze schedules freeze windows on an env: one starts at every time the cron
// expression names in time zone TZ and lasts Duration. While a window is open nobody
// takes the lock without breaking the glass; a holder keeps and refreshes it.
type AddFreeze struct {
	Env      string `json:"env"`
	User     string `json:"user"`
	Cron     string `json:"cron"`
	Duration string `json:"duration"`
	TZ       string `json:"tz,omitempty"`
	Reason   string `json:"reason"`
}

// CommandType returns "AddFreeze".
func (AddFreeze) CommandType() string { return "AddFreeze" }

// StreamID returns the environment's lock stream, "lock:{env}".
func (c AddFreeze) StreamID() string { return LockStreamID(c.Env) }

// Validate checks the names, the cron expression, the zone, the duration and the reason.
func (c AddFreeze) Validate() error {
	p := lockProblems(c.CommandType(), c.Env, c.User)
	if _, err := cronParser.Parse(c.Cron); err != nil {
		p.check("cron", "not a cron expression of five fields: "+err.Error())
	}
	if _, err := loadZone(c.TZ); err != nil {
		p.check("tz", err.Error())
	}
	if d, err := time.ParseDuration(c.Duration); err != nil {
		p.check("duration", "not a duration such as 64h")
	} else if d < time.Minute || d > MaxFreezeDuration {
		p.check("duration", fmt.Sprintf("must be from 1m to %s", MaxFreezeDuration))
	}
	p.check("reason", reasonProblem(c.Reason, true, "a freeze"))
	return p.err()
}

// RemoveFreeze removes the freeze schedule ID of an env. Its JSON name is freezeId, since
// the command envelope keeps "id" for the command's own id.
type RemoveFreeze struct {
	Env  string `json:"env"`
	User string `json:"user"`
	ID   int    `json:"freezeId"`
}

// CommandType returns "RemoveFreeze".
func (RemoveFreeze) CommandType() string { return "RemoveFreeze" }

// StreamID returns the environment's lock stream, "lock:{env}".
func (c RemoveFreeze) StreamID() string { return LockStreamID(c.Env) }

// Validate checks the names and the id.
func (c RemoveFreeze) Validate() error {
	p := lockProblems(c.CommandType(), c.Env, c.User)
	if c.ID < 1 {
		p.check("freezeId", "must be 1 or more")
	}
	return p.err()
}

// FreezeAdded records a freeze schedule; ID numbers the env's schedules from 1.
type FreezeAdded struct {
	Env        string    `json:"env"`
	ID         int       `json:"id"`
	User       string    `json:"user"`
	Cron       string    `json:"cron"`
	DurationMs int64     `json:"durationMs"`
	TZ         string    `json:"tz"`
	Reason     string    `json:"reason"`
	At         time.Time `json:"at"`
}

// EventType returns "FreezeAdded".
func (FreezeAdded) EventType() string { return "FreezeAdded" }

// FreezeRemoved records that a freeze schedule was removed.
type FreezeRemoved struct {
	Env  string    `json:"env"`
	ID   int       `json:"id"`
	User string    `json:"user"`
	At   time.Time `json:"at"`
}

// EventType returns "FreezeRemoved".
func (FreezeRemoved) EventType() string { return "FreezeRemoved" }

// Freeze is a freeze schedule of an env.
type Freeze struct {
	ID       int           `json:"id"`
	Cron     string        `json:"cron"`
	Duration time.Duration `json:"-"`
	TZ       string        `json:"tz"`
	Reason   string        `json:"reason"`
	User     string        `json:"user"`
	AddedAt  time.Time     `json:"addedAt"`
}

// FreezeOf returns the schedule a FreezeAdded event records.
func FreezeOf(e FreezeAdded) Freeze {
	return Freeze{ID: e.ID, Cron: e.Cron, Duration: time.Duration(e.DurationMs) * time.Millisecond,
		TZ: e.TZ, Reason: e.Reason, User: e.User, AddedAt: e.At}
}

// Window is one freeze window: open from Start (inclusive) to End (exclusive).
type Window struct {
	Start, End time.Time
}

// maxWindowSteps bounds the walk over cron starts that may still be open: a schedule that
// fires every minute with the longest duration has that many starts to look at.
const maxWindowSteps = 600_000

// OpenAt returns the window open at t, if any; overlapping windows join, so End is the
// last end among the windows open at t. Start and End are in the schedule's zone.
func (f Freeze) OpenAt(t time.Time) (Window, bool) {
	sched, loc, err := f.schedule()
	if err != nil {
		return Window{}, false
	}
	t = t.In(loc)
	var w Window
	// A window open at t started in (t-Duration, t]. Next returns times after its
	// argument, whole seconds, so start one second before the earliest possible start.
	s := sched.Next(t.Add(-f.Duration))
	for i := 0; !s.IsZero() && !s.After(t) && i < maxWindowSteps; i++ {
		if w.Start.IsZero() {
			w.Start = s
		}
		w.End = s.Add(f.Duration)
		s = sched.Next(s)
	}
	if w.Start.IsZero() || !w.End.After(t) {
		return Window{}, false
	}
	return w, true
}

// Next returns the next window that starts after t.
func (f Freeze) Next(t time.Time) (Window, bool) {
	sched, loc, err := f.schedule()
	if err != nil {
		return Window{}, false
	}
	s := sched.Next(t.In(loc))
	if s.IsZero() {
		return Window{}, false
	}
	return Window{Start: s, End: s.Add(f.Duration)}, true
}

// String describes the schedule, e.g. `freeze 1 ("0 18 * * FRI" for 64h0m0s, Europe/Berlin: release freeze)`.
func (f Freeze) String() string {
	return fmt.Sprintf("freeze %d (%q for %s, %s: %s)", f.ID, f.Cron, f.Duration, f.TZ, f.Reason)
}

func (f Freeze) schedule() (cron.Schedule, *time.Location, error) {
	loc, err := loadZone(f.TZ)
	if err != nil {
		return nil, nil, err
	}
	sched, err := cronParser.Parse(f.Cron)
	return sched, loc, err
}

func loadZone(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("not a time zone such as Europe/Berlin")
	}
	return loc, nil
}

// FrozenError refuses a lock while a freeze window is open.
type FrozenError struct {
	rejection
	Env    string
	Freeze Freeze
	Window Window
}

// Error names the window and when it ends.
func (e *FrozenError) Error() string {
	return fmt.Sprintf("domain: env %s is frozen by %s until %s; a lock with breakGlass and a reason takes it anyway",
		e.Env, e.Freeze, e.Window.End.Format(time.RFC3339))
}

// Code returns CodeFrozen.
func (*FrozenError) Code() string { return CodeFrozen }

// UnknownFreezeError rejects removing a freeze schedule that does not exist.
type UnknownFreezeError struct {
	rejection
	Env string
	ID  int
}

// Error names the env and the id.
func (e *UnknownFreezeError) Error() string {
	return fmt.Sprintf("domain: env %s has no freeze %d", e.Env, e.ID)
}

// Code returns CodeUnknownFreeze.
func (*UnknownFreezeError) Code() string { return CodeUnknownFreeze }
