package board

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"buildledger/projections"
)

var now = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// fakeReads is a board's read models in memory.
type fakeReads struct {
	envs     []string
	locks    map[string][]projections.Lock
	builds   []projections.RepoBuilds
	statuses []projections.Status
	jobs     []projections.Job
	jobsErr  error
}

func (f *fakeReads) LockEnvs(context.Context) (projections.Listing[string], error) {
	return projections.Listing[string]{Rows: f.envs}, nil
}

func (f *fakeReads) Locks(_ context.Context, env string) ([]projections.Lock, error) {
	return f.locks[env], nil
}

func (f *fakeReads) LatestBuilds(context.Context, int) (projections.Listing[projections.RepoBuilds], error) {
	return projections.Listing[projections.RepoBuilds]{Rows: f.builds, Truncated: true}, nil
}

func (f *fakeReads) PackageStatuses(context.Context) (projections.Listing[projections.Status], error) {
	return projections.Listing[projections.Status]{Rows: f.statuses}, nil
}

func (f *fakeReads) RecentJobs(context.Context, time.Duration, time.Time) (projections.Listing[projections.Job], error) {
	return projections.Listing[projections.Job]{Rows: f.jobs}, f.jobsErr
}

// fakeLockLog is the lock streams' answers in memory.
type fakeLockLog struct {
	queues  map[string]projections.LockQueue
	freezes map[string][]projections.FreezeView
}

func (f *fakeLockLog) Queue(_ context.Context, env string, _ time.Time) (projections.LockQueue, error) {
	q, ok := f.queues[env]
	if !ok {
		return projections.LockQueue{}, errors.New("no such stream")
	}
	return q, nil
}

func (f *fakeLockLog) Freezes(_ context.Context, env string, _ time.Time) ([]projections.FreezeView, error) {
	return f.freezes[env], nil
}

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

const hostile = `<script>alert("x")</script>`

func newTestBoard() (*fakeReads, *fakeLockLog, http.Handler) {
	inProgress := "7"
	reads := &fakeReads{
		envs: []string{"prod", "staging", "qa"},
		locks: map[string][]projections.Lock{
			"prod": {{User: "alice", Env: "prod", Active: true, Meta: hostile}},
		},
		builds: []projections.RepoBuilds{{
			Repo: projections.Repo{User: "web", Repo: "shop", CurrentBuildInProgress: &inProgress},
			Builds: []projections.Build{
				{BuildID: 7, Tag: "v7", Pending: 1, Browsers: []projections.BrowserStatus{{Name: "chrome", Status: "passed"}, {Name: "firefox", Status: "running", Pending: true}}},
				{BuildID: 6, Tag: "v6", Browsers: []projections.BrowserStatus{{Name: "chrome", Status: "failed"}}},
			},
		}},
		statuses: []projections.Status{
			{Pkg: "@scope/ui", Env: "prod", Version: "1.2.0", PreviousVersion: "1.1.0", Total: 66.6, UpdatedAt: now.Add(-3 * time.Minute).UnixMilli()},
			{Pkg: "@scope/api", Env: "dev", Version: "2.0.0", Total: 100, Complete: true, UpdatedAt: now.Add(-time.Hour).UnixMilli()},
		},
		jobs: []projections.Job{
			{Jobname: "migrate", User: "carol", Version: "abc123", Started: now.Add(-90 * time.Second).UnixMilli()},
			{Jobname: "smoke", User: "dave", Version: "abc123", Started: now.Add(-time.Hour).UnixMilli(), Skipped: true, Ended: new(int64)},
		},
	}
	lockLog := &fakeLockLog{
		queues: map[string]projections.LockQueue{
			"prod": {Env: "prod", Holder: projections.LockHolding{Env: "prod", Held: true, User: "alice", Token: 5, Since: at(-3 * time.Minute), ExpiresAt: at(7 * time.Minute)},
				Waiting: []projections.QueuedUser{{Position: 1, User: "bob", Since: now.Add(-2 * time.Second)}, {Position: 2, User: "erin", Since: now.Add(-4 * time.Second)}}},
			"staging": {Env: "staging"},
		},
		freezes: map[string][]projections.FreezeView{
			"staging": {{ID: 1, Cron: "0 18 * * 5", Duration: "64h0m0s", TZ: "UTC", Reason: "weekend", Open: true, OpenUntil: at(2 * time.Hour)}},
		},
	}
	h := New(Config{Reads: reads, LockLog: lockLog, Now: func() time.Time { return now }, Location: time.UTC})
	return reads, lockLog, h
}

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestBoard_Page(t *testing.T) {
	_, _, h := newTestBoard()
	resp, body := get(t, h, "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d:\n%s", resp.StatusCode, body)
	}
	for _, tt := range []struct {
		name string
		want string
	}{
		{"given a held lock then its holder", `data-holder="alice"`},
		{"given a held lock then its fencing token", `#5`},
		{"given a lease then its expiry, in how long", `in 7m`},
		{"given a held lock then since when, how long ago", `11:57:00</time> <span class="rel">3m ago`},
		{"given waiters then in order", `<span class="pos">1</span> bob`},
		{"given a second waiter then after the first", `<span class="pos">2</span> erin`},
		{"given an open freeze then frozen until its end", `frozen until`},
		{"given an open freeze and no holder then the env shows frozen", `env-frozen" data-env="staging"`},
		{"given an env whose stream fails then its error, the others still shown", `cannot read the lock of qa right now`},
		{"given a running job then it, running", `badge-running">running`},
		{"given a skipped job then it, skipped", `badge-skipped">skipped`},
		{"given builds then a column per browser", `<th>firefox</th>`},
		{"given a passed browser then a green cell", `cell st-passed`},
		{"given a failed browser then a red cell", `cell st-failed`},
		{"given a browser a build lacks then an empty cell", `st-none`},
		{"given a build in progress then it is named", `build 7 in progress`},
		{"given a status at 66.6% then a progress bar at 67", `<progress class="bar-building" max="100" value="67">`},
		{"given a complete status then a full green bar", `<progress class="bar-complete" max="100" value="100">`},
		{"given a truncated list then it says so", `Only the first repositories are shown.`},
		{"given the page then the embedded assets, no other origin", `<link rel="stylesheet" href="/board/assets/board.css">`},
		{"given the page then a refresh link for browsers without JavaScript", `<a class="refresh" href="/">refresh</a>`},
		{"given the page then the script's polling interval", `data-poll-ms="3000"`},
		{"given the default jobs window then it is named in hours", `running and skipped, last 24h`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(body, tt.want) {
				t.Errorf("page lacks %q", tt.want)
			}
		})
	}
	t.Run("given a hostile meta then it is escaped", func(t *testing.T) {
		if strings.Contains(body, hostile) || !strings.Contains(body, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) {
			t.Errorf("the meta is not escaped:\n%s", body)
		}
	})
	t.Run("given the page then a content security policy of 'self' and no inline script", func(t *testing.T) {
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
			t.Errorf("inline script or style: CSP %q", csp)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
	})
}

func TestBoard_HostileNames(t *testing.T) {
	reads, lockLog, h := newTestBoard()
	reads.envs = []string{hostile}
	lockLog.queues[hostile] = projections.LockQueue{Env: hostile, Holder: projections.LockHolding{Held: true, User: hostile, Token: 1}}
	reads.jobs[0].Jobname = hostile
	reads.statuses[0].Pkg = hostile
	_, body := get(t, h, "/board/fragment")
	if strings.Contains(body, hostile) {
		t.Errorf("given hostile env, user, job and package names when rendered then every one is escaped:\n%s", body)
	}
	if n := strings.Count(body, "&lt;script&gt;"); n < 4 {
		t.Errorf("given four hostile names then four escaped ones at least, got %d", n)
	}
}

func TestBoard_Fragment(t *testing.T) {
	_, _, h := newTestBoard()
	resp, body := get(t, h, "/board/fragment")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-env="prod"`) {
		t.Fatalf("given the board when the fragment is asked then the sections: %d\n%s", resp.StatusCode, body)
	}
	if strings.Contains(body, "<!doctype") || strings.Contains(body, "<html") {
		t.Errorf("given the fragment then no document around the sections")
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("given the fragment then not cached: %q", resp.Header.Get("Cache-Control"))
	}
}

func TestBoard_SectionError(t *testing.T) {
	reads, _, h := newTestBoard()
	reads.jobsErr = errors.New("dynamodb: throttled")
	resp, body := get(t, h, "/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "cannot read the jobs right now") || !strings.Contains(body, `data-holder="alice"`) {
		t.Errorf("given the jobs cannot be read when the page is asked then it says so and shows the rest: %d", resp.StatusCode)
	}
	if strings.Contains(body, "throttled") {
		t.Errorf("given a read error then its detail stays in the log, not on the page")
	}
}

func TestBoard_Routes(t *testing.T) {
	_, _, h := newTestBoard()
	for _, tt := range []struct {
		name, path string
		code       int
		ctype      string
	}{
		{"given / then the page", "/", 200, "text/html; charset=utf-8"},
		{"given the stylesheet then CSS", "/board/assets/board.css", 200, "text/css; charset=utf-8"},
		{"given the script then JavaScript", "/board/assets/board.js", 200, "text/javascript; charset=utf-8"},
		{"given the template then 404", "/board/assets/board.html", 404, ""},
		{"given the assets folder then 404", "/board/assets/", 404, ""},
		{"given another path then 404", "/nope", 404, ""},
		{"given another board path then 404", "/board/other", 404, ""},
		{"given a path under / then 404", "/index.html", 404, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := get(t, h, tt.path)
			if resp.StatusCode != tt.code {
				t.Errorf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.code)
			}
			if tt.ctype != "" && resp.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("GET %s Content-Type = %q, want %q", tt.path, resp.Header.Get("Content-Type"), tt.ctype)
			}
		})
	}
	t.Run("given a POST to / then 405", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST / = %d", rec.Code)
		}
	})
}

func TestStamp_Rel(t *testing.T) {
	for _, tt := range []struct {
		name string
		d    time.Duration
		want string
	}{
		{"given 2 s ago then just now", -2 * time.Second, "just now"},
		{"given 42 s ago then 42s ago", -42 * time.Second, "42s ago"},
		{"given 3 min ago then 3m ago", -3*time.Minute - 10*time.Second, "3m ago"},
		{"given 2 h 5 min ago then 2h 5m ago", -2*time.Hour - 5*time.Minute, "2h 5m ago"},
		{"given 3 days ago then 3d ago", -72 * time.Hour, "3d ago"},
		{"given in 7 min then in 7m", 7 * time.Minute, "in 7m"},
		{"given 2 s ahead (clock skew) then just now", 2 * time.Second, "just now"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := newStamp(now.Add(tt.d), now, time.UTC).Rel(); got != tt.want {
				t.Errorf("Rel = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("given another day then the date with the clock", func(t *testing.T) {
		if got := newStamp(now.Add(-48*time.Hour), now, time.UTC).Clock(); got != "Mon Mar 2 12:00" {
			t.Errorf("Clock = %q", got)
		}
	})
}
