package projections_test

import (
	"strconv"
	"testing"
	"time"

	"buildledger/domain"
	"buildledger/projections"
)

func TestQueries_Board(t *testing.T) {
	f := newFixture(t)
	f.apply(t, f.do(t,
		domain.CreateBuild{User: "web", Repo: "shop", Tag: "v1", Browsers: []string{"chrome", "firefox"}},
		domain.UpdateBuild{User: "web", Repo: "shop", BuildID: 1, Browser: "chrome", Status: "passed", Finished: true},
		domain.CreateBuild{User: "web", Repo: "shop", Tag: "v2", Browsers: []string{"chrome"}},
		domain.CreateBuild{User: "web", Repo: "shop", Tag: "v3", Browsers: []string{"chrome"}},
		domain.CreateBuild{User: "api", Repo: "core", Tag: "main", Browsers: []string{"edge"}},
		domain.Lock{Env: "prod", User: "alice", Meta: "deploy 42"},
		domain.Lock{Env: "dev", User: "bob"},
		domain.Release{Env: "dev", User: "bob"},
		domain.StartStatus{Pkg: "@scope/ui", Env: "prod", Version: "1.0.0", Locales: []string{"en", "fr"}},
		domain.CompleteLocale{Pkg: "@scope/ui", Env: "prod", Version: "1.0.0", Locale: "en"},
		domain.StartStatus{Pkg: "@scope/ui", Env: "prod", Version: "1.1.0", LocaleCount: 1},
		domain.StartJob{Jobname: "migrate", User: "carol", Version: "abc"},
		domain.StartJob{Jobname: "smoke", User: "dave", Version: "abc"},
		domain.EndJob{Jobname: "smoke", Version: "abc", Skipped: true},
		domain.StartJob{Jobname: "seed", User: "erin", Version: "abc"},
		domain.EndJob{Jobname: "seed", Version: "abc"},
	)...)
	now := start.Add(time.Hour)

	t.Run("given locks of two envs, one released, when LockEnvs then both, sorted", func(t *testing.T) {
		envs, err := f.q.LockEnvs(f.ctx)
		if err != nil || len(envs.Rows) != 2 || envs.Rows[0] != "dev" || envs.Rows[1] != "prod" || envs.Truncated {
			t.Errorf("LockEnvs = %+v, %v; want [dev prod]", envs, err)
		}
	})
	t.Run("given two repos when LatestBuilds(2) then each with its 2 newest builds, newest first", func(t *testing.T) {
		l, err := f.q.LatestBuilds(f.ctx, 2)
		if err != nil || len(l.Rows) != 2 {
			t.Fatalf("LatestBuilds = %+v, %v", l, err)
		}
		if r := l.Rows[0]; r.Repo.User != "api" || len(r.Builds) != 1 || r.Builds[0].Tag != "main" {
			t.Errorf("first repo = %+v, want api/core with build main", r)
		}
		r := l.Rows[1]
		if r.Repo.Repo != "shop" || len(r.Builds) != 2 || r.Builds[0].BuildID != 3 || r.Builds[1].BuildID != 2 {
			t.Errorf("second repo = %+v, want web/shop with builds 3 and 2", r)
		}
	})
	t.Run("given two versions started when PackageStatuses then both, newest first, with progress", func(t *testing.T) {
		l, err := f.q.PackageStatuses(f.ctx)
		if err != nil || len(l.Rows) != 2 {
			t.Fatalf("PackageStatuses = %+v, %v", l, err)
		}
		if l.Rows[0].Version != "1.1.0" || l.Rows[1].Version != "1.0.0" || l.Rows[1].Total != 50 {
			t.Errorf("statuses = %+v, want 1.1.0 then 1.0.0 at 50%%", l.Rows)
		}
	})
	t.Run("given a running, a skipped and a finished run when RecentJobs then the first two, newest first", func(t *testing.T) {
		l, err := f.q.RecentJobs(f.ctx, 24*time.Hour, now)
		if err != nil || len(l.Rows) != 2 {
			t.Fatalf("RecentJobs = %+v, %v", l, err)
		}
		if l.Rows[0].Jobname != "smoke" || !l.Rows[0].Skipped || l.Rows[1].Jobname != "migrate" || l.Rows[1].Ended != nil {
			t.Errorf("jobs = %+v, want smoke (skipped) then migrate (running)", l.Rows)
		}
	})
	t.Run("given runs older than the ttl when RecentJobs then none", func(t *testing.T) {
		l, err := f.q.RecentJobs(f.ctx, time.Minute, now)
		if err != nil || len(l.Rows) != 0 || l.Rows == nil {
			t.Errorf("RecentJobs = %+v, %v; want an empty list", l, err)
		}
	})
	t.Run("given no ttl when RecentJobs then ErrInvalidQuery", func(t *testing.T) {
		if _, err := f.q.RecentJobs(f.ctx, 0, now); err == nil {
			t.Error("want an error")
		}
	})
}

func TestQueries_BoardBounds(t *testing.T) {
	f := newFixture(t)
	var cmds []domain.Command
	for i := range projections.MaxBoardRows + 5 {
		cmds = append(cmds, domain.StartStatus{Pkg: "pkg", Env: "dev", Version: "1.0." + strconv.Itoa(i), LocaleCount: 1})
	}
	f.apply(t, f.do(t, cmds...)...)
	l, err := f.q.PackageStatuses(f.ctx)
	if err != nil || len(l.Rows) != projections.MaxBoardRows || !l.Truncated {
		t.Errorf("given more statuses than MaxBoardRows when listed then cut and marked truncated: %d rows, truncated %v, %v", len(l.Rows), l.Truncated, err)
	}
}
