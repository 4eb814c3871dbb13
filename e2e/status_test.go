package e2e

import (
	"strings"
	"testing"

	"buildledger/projections"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-status")
	in.startWorker(t)
	key := func(version string, extra ...string) []string {
		return append([]string{"--pkg", "@scope/app", "--env", "prod", "--version", version}, extra...)
	}
	status := func(t *testing.T, args ...string) projections.Status {
		t.Helper()
		var st projections.Status
		in.okJSON(t, &st, args...)
		return st
	}
	head := func(t *testing.T) projections.StatusHead {
		t.Helper()
		var h projections.StatusHead
		in.okJSON(t, &h, "status", "head", "--pkg", "@scope/app", "--env", "prod")
		return h
	}
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"when 1.0.0 starts with locales en and fr, then it is at 0% and is the head", func(t *testing.T) {
			st := status(t, append([]string{"status", "start"}, key("1.0.0", "--locales", "en,fr")...)...)
			if st.Pkg != "@scope/app" || st.Env != "prod" || st.Version != "1.0.0" || st.Total != 0 || st.Error || st.Complete {
				t.Errorf("status start printed %+v", st)
			}
			if h := head(t); h.Version != "1.0.0" || h.Total != 0 {
				t.Errorf("status head: %+v, want 1.0.0 at 0%%", h)
			}
		}},
		{"when en records two events and completes twice, then en counts once: 50%", func(t *testing.T) {
			in.ok(t, append([]string{"status", "event"}, key("1.0.0", "--locale", "en", "--message", "fetching")...)...)
			in.ok(t, append([]string{"status", "event"}, key("1.0.0", "--locale", "en", "--message", "building", "--details", "webpack")...)...)
			for i := range 2 {
				if st := status(t, append([]string{"status", "complete"}, key("1.0.0", "--locale", "en")...)...); st.Total != 50 || st.Complete {
					t.Errorf("status complete en (#%d) printed %+v, want total 50, not complete", i+1, st)
				}
			}
		}},
		{"when fr records an error event, then the status is in error", func(t *testing.T) {
			st := status(t, append([]string{"status", "event"}, key("1.0.0", "--locale", "fr", "--message", "build failed", "--details", "exit status 1", "--error")...)...)
			if !st.Error {
				t.Errorf("status event --error printed %+v, want error", st)
			}
		}},
		{"when status get asks, then it shows total 50 and error", func(t *testing.T) {
			if st := status(t, append([]string{"status", "get"}, key("1.0.0")...)...); st.Total != 50 || !st.Error || st.Complete || st.Version != "1.0.0" {
				t.Errorf("status get: %+v, want total 50, error, not complete", st)
			}
		}},
		{"when status events asks, then it lists the events in time order", func(t *testing.T) {
			var events []projections.StatusEvent
			in.okJSON(t, &events, append([]string{"status", "events"}, key("1.0.0")...)...)
			want := []struct {
				locale, message, details string
				error                    bool
			}{{"en", "fetching", "", false}, {"en", "building", "webpack", false}, {"fr", "build failed", "exit status 1", true}}
			if len(events) != len(want) {
				t.Fatalf("status events: %+v, want %d events", events, len(want))
			}
			ids := map[string]bool{}
			for i, w := range want {
				e := events[i]
				if e.Locale != w.locale || e.Message != w.message || e.Details != w.details || e.Error != w.error || e.Version != "1.0.0" {
					t.Errorf("event %d: %+v, want %+v", i, e, w)
				}
				if i > 0 && (e.Seq <= events[i-1].Seq || e.CreatedAt < events[i-1].CreatedAt) {
					t.Errorf("event %d (seq %d, at %d) is not after event %d (seq %d, at %d)", i, e.Seq, e.CreatedAt, i-1, events[i-1].Seq, events[i-1].CreatedAt)
				}
				if e.EventID == "" || ids[e.EventID] {
					t.Errorf("event %d has eventId %q, want a new one", i, e.EventID)
				}
				ids[e.EventID] = true
			}
			in.okJSON(t, &events, append([]string{"status", "events"}, key("1.0.0", "--limit", "2")...)...)
			if len(events) != 2 || events[0].Message != "fetching" || events[1].Message != "building" {
				t.Errorf("status events --limit 2: %+v, want the first two", events)
			}
		}},
		{"when 1.0.1 starts after 1.0.0, then the head follows 1.0.1", func(t *testing.T) {
			in.ok(t, append([]string{"status", "start"}, key("1.0.1", "--previous-version", "1.0.0", "--locale-count", "3")...)...)
			if h := head(t); h.Version != "1.0.1" || h.PreviousVersion != "1.0.0" || h.Total != 0 {
				t.Errorf("status head: %+v, want 1.0.1 after 1.0.0, at 0%%", h)
			}
		}},
		{"when fr of 1.0.0 completes, then 1.0.0 is complete at 100% and the head stays on 1.0.1", func(t *testing.T) {
			if st := status(t, append([]string{"status", "complete"}, key("1.0.0", "--locale", "fr")...)...); st.Total != 100 || !st.Complete || !st.Error {
				t.Errorf("status complete fr printed %+v, want total 100, complete, still error", st)
			}
			if h := head(t); h.Version != "1.0.1" {
				t.Errorf("status head: %+v, want it still on 1.0.1", h)
			}
		}},
		{"when a locale not started completes, then it is refused with exit 1", func(t *testing.T) {
			stderr := in.fails(t, 1, append([]string{"status", "complete"}, key("1.0.0", "--locale", "de")...)...)
			if !strings.Contains(stderr, `locale "de" is not one of the locales`) {
				t.Errorf("stderr %q does not give the reason", stderr)
			}
		}},
		{"when the head of an environment never built is asked for, then exit 1 not found", func(t *testing.T) {
			if stderr := in.fails(t, 1, "status", "head", "--pkg", "@scope/app", "--env", "dev"); !strings.Contains(stderr, "not found") {
				t.Errorf("stderr %q does not say not found", stderr)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}
