package domain

import (
	"testing"
	"time"
)

func berlinWeekend() AddFreeze {
	return AddFreeze{Env: "production", User: "ops", Cron: "0 18 * * FRI", Duration: "64h", TZ: "Europe/Berlin", Reason: "weekend"}
}

// freezeRun is a lockRun with the Berlin weekend freeze, and a way to name times as offsets.
func freezeRun(t *testing.T) (*lockRun, func(time.Time) time.Duration) {
	r := newLockRun(t)
	r.ok(0, berlinWeekend())
	return r, func(at time.Time) time.Duration { return at.Sub(t0) }
}

func TestFreezeWindowsFollowTheZoneAcrossDaylightSaving(t *testing.T) {
	f := FreezeOf(FreezeAdded{ID: 1, Cron: "0 18 * * FRI", DurationMs: (64 * time.Hour).Milliseconds(), TZ: "Europe/Berlin", Reason: "weekend"})
	utc := func(month time.Month, day, hour, minute int) time.Time {
		return time.Date(2026, month, day, hour, minute, 0, 0, time.UTC)
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		open bool
		end  time.Time
	}{
		// Friday 27 March 2026 is winter time in Berlin (UTC+1): 18:00 there is 17:00 UTC.
		{"given the Friday before the change when it is 17:59 in Berlin then it is not frozen", utc(3, 27, 16, 59), false, time.Time{}},
		{"given the Friday before the change when it is 18:00 in Berlin then it is frozen for 64 hours", utc(3, 27, 17, 0), true, utc(3, 30, 9, 0)},
		{"given Sunday after the clocks went forward then it is still frozen", utc(3, 29, 12, 0), true, utc(3, 30, 9, 0)},
		{"given Monday when 64 hours have passed then it is open again", utc(3, 30, 9, 0), false, time.Time{}},
		// Friday 3 April is summer time (UTC+2): the window starts an hour earlier in UTC.
		{"given the next Friday when it is 17:59 in Berlin then it is not frozen", utc(4, 3, 15, 59), false, time.Time{}},
		{"given the next Friday when it is 18:00 in Berlin (16:00 UTC) then it is frozen", utc(4, 3, 16, 0), true, utc(4, 6, 8, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, open := f.OpenAt(tc.at)
			if open != tc.open || open && !w.End.Equal(tc.end) {
				t.Fatalf("OpenAt(%s) = %v, %v; want open %v until %s", tc.at, w, open, tc.open, tc.end)
			}
			if open && w.Start.Location().String() != "Europe/Berlin" {
				t.Errorf("window in %s, want the schedule's zone", w.Start.Location())
			}
		})
	}
	if next, ok := f.Next(utc(3, 30, 9, 0)); !ok || !next.Start.Equal(utc(4, 3, 16, 0)) {
		t.Errorf("Next = %v, %v", next, ok)
	}
}

func TestFreezeRules(t *testing.T) {
	friday := time.Date(2026, 3, 27, 17, 0, 0, 0, time.UTC) // 18:00 in Berlin
	t.Run("given a freeze schedule when it is added then it gets the next id, and UTC when no zone is given", func(t *testing.T) {
		r := newLockRun(t)
		a := r.ok(0, berlinWeekend())[0].(FreezeAdded)
		b := r.ok(1*s, AddFreeze{Env: "production", User: "ops", Cron: "@daily", Duration: "1h", Reason: "nightly"})[0].(FreezeAdded)
		if a.ID != 1 || b.ID != 2 || b.TZ != "UTC" || a.DurationMs != (64*time.Hour).Milliseconds() {
			t.Fatalf("added %+v %+v", a, b)
		}
		r.ok(2*s, RemoveFreeze{Env: "production", User: "ops", ID: 2})
		if c := r.ok(3*s, berlinWeekend())[0].(FreezeAdded); c.ID != 3 {
			t.Fatalf("an id was reused: %+v", c)
		}
	})
	t.Run("given an open window when alice locks then she is refused, naming the window and its end", func(t *testing.T) {
		r, at := freezeRun(t)
		err := r.code(at(friday.Add(time.Hour)), Lock{Env: "production", User: "alice"}, CodeFrozen)
		want := `domain: env production is frozen by freeze 1 ("0 18 * * FRI" for 64h0m0s, Europe/Berlin: weekend) until 2026-03-30T11:00:00+02:00; a lock with breakGlass and a reason takes it anyway`
		if err.Error() != want {
			t.Errorf("message\n got: %s\nwant: %s", err, want)
		}
		if Reason(err) != want[len("domain: "):] {
			t.Errorf("reason %q", Reason(err))
		}
	})
	t.Run("given an open window when alice breaks the glass with a reason then she gets it, and the grant records the override", func(t *testing.T) {
		r, at := freezeRun(t)
		l := r.ok(at(friday.Add(time.Hour)), Lock{Env: "production", User: "alice", BreakGlass: true, Reason: "hotfix"})[0].(Locked)
		if !l.BreakGlass || l.Reason != "hotfix" || l.Freeze == "" {
			t.Fatalf("grant %+v", l)
		}
	})
	t.Run("when break-glass has no reason then it is invalid", func(t *testing.T) {
		matchTyped(t, Lock{Env: "production", User: "alice", BreakGlass: true}.Validate(), invalid("Lock", "reason", "is required with breakGlass"))
	})
	t.Run("given alice holds it when a window opens then she may refresh and release, and a waiter waits it out", func(t *testing.T) {
		r, at := freezeRun(t)
		r.ok(at(friday.Add(-time.Minute)), Lock{Env: "production", User: "alice"})
		r.ok(at(friday.Add(time.Minute)), Lock{Env: "production", User: "alice", Meta: "still deploying"})
		r.ok(at(friday.Add(2*time.Minute)), waitFor("bob"))
		wantTypes(t, r.ok(at(friday.Add(3*time.Minute)), Release{Env: "production", User: "alice"}), "Released")
		r.holder("", 0)
		r.code(at(friday.Add(4*time.Minute)), waitFor("bob"), CodeFrozen)
		end := time.Date(2026, 3, 30, 9, 0, 0, 0, time.UTC)
		wantTypes(t, r.ok(at(end), waitFor("bob")), "LockQueueLeft", "Locked") // his place lapsed in the freeze
		r.holder("bob", 7)
	})
	t.Run("given a freeze when it is removed then locks are granted in its window", func(t *testing.T) {
		r, at := freezeRun(t)
		r.ok(at(friday), RemoveFreeze{Env: "production", User: "ops", ID: 1})
		r.ok(at(friday.Add(time.Hour)), Lock{Env: "production", User: "alice"})
		r.code(at(friday.Add(time.Hour)), RemoveFreeze{Env: "production", User: "ops", ID: 1}, CodeUnknownFreeze)
	})
	t.Run("when a schedule is malformed then it is invalid, naming the field", func(t *testing.T) {
		for _, tc := range []struct {
			c     AddFreeze
			field string
		}{
			{AddFreeze{Env: "production", User: "ops", Cron: "every friday", Duration: "64h", Reason: "r"}, "cron"},
			{AddFreeze{Env: "production", User: "ops", Cron: "0 18 * * FRI", Duration: "64h", TZ: "Mars/Olympus", Reason: "r"}, "tz"},
			{AddFreeze{Env: "production", User: "ops", Cron: "0 18 * * FRI", Duration: "forever", Reason: "r"}, "duration"},
			{AddFreeze{Env: "production", User: "ops", Cron: "0 18 * * FRI", Duration: "64h"}, "reason"},
		} {
			var ic *InvalidCommandError
			err := tc.c.Validate()
			if !asInvalid(err, &ic) || ic.Field != tc.field {
				t.Errorf("%+v: %v, want a problem with %s", tc.c, err, tc.field)
			}
		}
	})
}

func asInvalid(err error, target **InvalidCommandError) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if asInvalid(e, target) {
				return true
			}
		}
		return false
	}
	ic, ok := err.(*InvalidCommandError)
	if ok {
		*target = ic
	}
	return ok
}
