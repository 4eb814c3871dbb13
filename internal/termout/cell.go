package termout

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// cells turns scalar JSON values into the text people read: times in local time and
// relative to now, durations as durations, statuses and booleans coloured.
type cells struct {
	now   time.Time
	loc   *time.Location
	color bool
	// width is the terminal's, that tables fit in; 0 for no limit.
	width int
}

// ANSI colours of values; reset ends each.
const (
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	red    = "\x1b[31m"
	faint  = "\x1b[2m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

// statusColors colours the status-like words of the read models (build browsers, locks,
// lock history, outcomes), whatever field holds them.
var statusColors = map[string]string{
	"active": green, "complete": green, "completed": green, "finished": green, "success": green,
	"succeeded": green, "passed": green, "accepted": green, "granted": green, "claimed": green,
	"released": green, "ok": green, "done": green,
	"queued": yellow, "pending": yellow, "started": yellow, "running": yellow, "waiting": yellow,
	"refreshed": yellow, "renewed": yellow, "skipped": yellow, "left": yellow, "dropped": yellow,
	"expired": yellow, "freeze-added": yellow, "freeze-removed": yellow,
	"error": red, "failed": red, "failure": red, "rejected": red, "invalid": red, "forced": red,
}

// alarmingWhenTrue are boolean fields whose true is bad news (red) or worth a look
// (yellow); any other true is green, and false is faint.
var alarmingWhenTrue = map[string]string{
	"error": red, "breakGlass": red,
	"uberlock": yellow, "skipped": yellow, "claim": yellow, "open": yellow, "modified": yellow,
}

func (c cells) paint(color, s string) string {
	if !c.color || color == "" || s == "" {
		return s
	}
	return color + s + reset
}

// scalar is the text of a scalar value of the field name; nested values are compact JSON.
func (c cells) scalar(name string, n node) string {
	switch n.kind {
	case kindNull:
		return c.paint(faint, "-")
	case kindBool:
		if !n.bool {
			return c.paint(faint, "false")
		}
		if color, ok := alarmingWhenTrue[name]; ok {
			return c.paint(color, "true")
		}
		if strings.HasSuffix(name, "pending") { // a build browser's "<browser>-pending"
			return c.paint(yellow, "true")
		}
		return c.paint(green, "true")
	case kindNumber:
		return c.number(name, n.text)
	case kindString:
		return c.str(n.text)
	}
	return n.compact()
}

// number shows epoch milliseconds in time fields as times, and milliseconds in fields named
// ...Ms as durations.
func (c cells) number(name, literal string) string {
	ms, err := strconv.ParseInt(literal, 10, 64)
	if err != nil {
		return literal
	}
	switch {
	case ms > 0 && isTimeField(name):
		return c.time(time.UnixMilli(ms))
	case isDurationField(name):
		return duration(time.Duration(ms) * time.Millisecond)
	}
	return literal
}

// duration is d as Go writes it, without the zero minutes and seconds of a round duration:
// 30m, 64h, 1h30m, 1.5s.
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// isTimeField reports whether the numbers of field name are epoch milliseconds, as the read
// models name them: createdAt, updatedAt, expiresAt, at, started, ended.
func isTimeField(name string) bool {
	return strings.HasSuffix(name, "At") || name == "at" || name == "started" || name == "ended" || name == "since"
}

// isDurationField reports whether the numbers of field name are milliseconds of a duration
// (leaseMs, heldMs).
func isDurationField(name string) bool {
	return len(name) > 2 && strings.HasSuffix(name, "Ms")
}

func (c cells) str(s string) string {
	if t, ok := parseTime(s); ok {
		return c.time(t)
	}
	if color, ok := statusColors[strings.ToLower(s)]; ok {
		return c.paint(color, s)
	}
	return s
}

// parseTime reads an RFC 3339 time, as encoding/json writes a time.Time.
func parseTime(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[10] != 'T' {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// time is t in local time — to the second when it is today, else the date and the minute —
// and how long ago or ahead it is.
func (c cells) time(t time.Time) string {
	local, today := t.In(c.loc), c.now.In(c.loc)
	layout := "2006-01-02 15:04"
	if y, m, d := local.Date(); y == today.Year() && m == today.Month() && d == today.Day() {
		layout = time.TimeOnly
	}
	return local.Format(layout) + " " + c.paint(faint, "("+relative(c.now.Sub(t))+")")
}

// relative is d, the time since an instant, in the largest whole unit: "3m ago", "in 5m".
func relative(d time.Duration) string {
	if d > -time.Second && d < time.Second {
		return "now"
	}
	abs := d
	if abs < 0 {
		abs = -abs
	}
	var s string
	switch {
	case abs < time.Minute:
		s = strconv.Itoa(int(abs/time.Second)) + "s"
	case abs < time.Hour:
		s = strconv.Itoa(int(abs/time.Minute)) + "m"
	case abs < 48*time.Hour:
		s = strconv.Itoa(int(abs/time.Hour)) + "h"
	case abs < 2*365*24*time.Hour:
		s = strconv.Itoa(int(abs/(24*time.Hour))) + "d"
	default:
		s = strconv.Itoa(int(math.Floor(abs.Hours()/(24*365)))) + "y"
	}
	if d < 0 {
		return "in " + s
	}
	return s + " ago"
}
