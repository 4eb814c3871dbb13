package board

import (
	"fmt"
	"time"
)

// stamp is a moment as the page shows it: a clock time in the board's zone, how long ago
// (or how soon) it is, and the exact time for a tooltip and the <time> element.
type stamp struct {
	at  time.Time
	now time.Time
}

// newStamp returns at shown in loc, relative to now.
func newStamp(at, now time.Time, loc *time.Location) stamp {
	return stamp{at: at.In(loc), now: now.In(loc)}
}

// stampMs is newStamp of epoch milliseconds.
func stampMs(ms int64, now time.Time, loc *time.Location) stamp {
	return newStamp(time.UnixMilli(ms), now, loc)
}

// IsZero reports whether the stamp has no time.
func (s stamp) IsZero() bool { return s.at.IsZero() }

// Clock is the time of day when it is today, else the date and time.
func (s stamp) Clock() string {
	y1, m1, d1 := s.at.Date()
	y2, m2, d2 := s.now.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return s.at.Format("15:04:05")
	}
	if y1 == y2 {
		return s.at.Format("Mon Jan 2 15:04")
	}
	return s.at.Format("2006-01-02 15:04")
}

// Full is the exact time with its zone.
func (s stamp) Full() string { return s.at.Format("2006-01-02 15:04:05 MST") }

// ISO is the time for the datetime attribute.
func (s stamp) ISO() string { return s.at.Format(time.RFC3339) }

// Rel is how long ago the moment was ("3m ago") or how soon it comes ("in 7m").
func (s stamp) Rel() string {
	// Within a few seconds either way is "just now": clocks of the machines that wrote the
	// events and of the board differ by that much.
	d := s.now.Sub(s.at)
	switch {
	case d > -5*time.Second && d < 5*time.Second:
		return "just now"
	case d > 0:
		return span(d) + " ago"
	}
	return "in " + span(-d)
}

// span writes a duration the short way people read it: 42s, 3m, 2h 5m, 3d.
func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// windowText writes a window's length in whole hours when it has them ("24h"), else as
// span does.
func windowText(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return span(d)
}
