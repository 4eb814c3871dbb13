package projections_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"buildledger/domain"
	"buildledger/projections"
)

func TestQueries_Builds(t *testing.T) {
	f := newFixture(t)
	if _, err := f.q.Repo(f.ctx, "api", "foo"); !errors.Is(err, projections.ErrNotFound) {
		t.Errorf("given no repo when queried then ErrNotFound: %v", err)
	}
	f.apply(t, f.do(t, buildCmds()[0])...)
	repo, err := f.q.Repo(f.ctx, "api", "foo")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(repo)
	if want := `{"user":"api","repo":"foo","currentBuildInProgress":"1","latestBuild":null}`; string(b) != want {
		t.Errorf("repo JSON = %s, want %s", b, want)
	}
	build, err := f.q.Build(f.ctx, "api", "foo", 1)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	b, _ = json.Marshal(build)
	_ = json.Unmarshal(b, &got)
	want := map[string]any{"tag": "master", "repoID": "api/foo", "BrowserA-pending": true, "buildID": float64(1), "pending": float64(2), "BrowserA": "queued", "BrowserB-pending": true, "BrowserB": "queued"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("build JSON = %s", b)
	}
	if _, err := f.q.Build(f.ctx, "api", "foo", 2); !errors.Is(err, projections.ErrNotFound) {
		t.Errorf("given an unknown build then ErrNotFound: %v", err)
	}
	for name, err := range map[string]error{
		"user":    second(f.q.Repo(f.ctx, "", "foo")),
		"repo":    second(f.q.Build(f.ctx, "api", "", 1)),
		"buildID": second(f.q.Build(f.ctx, "api", "foo", 0)),
	} {
		if !errors.Is(err, projections.ErrInvalidQuery) || !strings.Contains(err.Error(), name) {
			t.Errorf("given a bad %s then ErrInvalidQuery naming it: %v", name, err)
		}
	}
	if pos, err := f.q.Position(f.ctx, "repo:api/foo"); err != nil || pos != 1 {
		t.Errorf("Position = %d, %v; want 1", pos, err)
	}
	if _, err := f.q.Position(f.ctx, "nope"); !errors.Is(err, projections.ErrInvalidQuery) {
		t.Errorf("Position of a bad stream: %v, want ErrInvalidQuery", err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestQueries_Statuses(t *testing.T) {
	f := newFixture(t)
	const pkg, env = "@scope/ui", "prod"
	f.apply(t, f.do(t,
		domain.StartStatus{Pkg: pkg, Env: env, Version: "1.0.0", Locales: []string{"en", "fr"}},
		domain.RecordStatusEvent{Pkg: pkg, Env: env, Version: "1.0.0", Locale: "en", Message: "m1"},
		domain.RecordStatusEvent{Pkg: pkg, Env: env, Version: "1.0.0", Locale: "en", Message: "m2"},
		domain.CompleteLocale{Pkg: pkg, Env: env, Version: "1.0.0", Locale: "en"},
		domain.RecordStatusEvent{Pkg: pkg, Env: env, Version: "1.0.0", Locale: "fr", Message: "m3", Error: true},
		domain.StartStatus{Pkg: pkg, Env: env, Version: "1.1.0", PreviousVersion: "1.0.0", LocaleCount: 1},
	)...)
	s, err := f.q.Status(f.ctx, pkg, env, "1.0.0")
	if err != nil || s.Total != 50 || !s.Error || s.Complete {
		t.Errorf("status = %+v, %v", s, err)
	}
	h, err := f.q.StatusHead(f.ctx, pkg, env)
	if err != nil || h.Version != "1.1.0" || h.PreviousVersion != "1.0.0" {
		t.Errorf("head = %+v, %v", h, err)
	}
	c, err := f.q.StatusCounter(f.ctx, pkg, env, "1.0.0")
	if err != nil || c.Count != 1 {
		t.Errorf("counter = %+v, %v", c, err)
	}
	page, err := f.q.StatusEvents(f.ctx, pkg, env, "1.0.0", 0, 2)
	if err != nil || len(page.Events) != 2 || page.Events[0].Message != "m1" || page.Events[1].Message != "m2" || page.Next == 0 {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	page, err = f.q.StatusEvents(f.ctx, pkg, env, "1.0.0", page.Next, 2)
	if err != nil || len(page.Events) != 1 || page.Events[0].Message != "m3" || !page.Events[0].Error || page.Next != 0 {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	if _, err := f.q.StatusHead(f.ctx, pkg, "dev"); !errors.Is(err, projections.ErrNotFound) {
		t.Errorf("given no status in dev then ErrNotFound: %v", err)
	}
	if _, err := f.q.StatusEvents(f.ctx, pkg, env, "1.0.0", 0, 5000); !errors.Is(err, projections.ErrInvalidQuery) {
		t.Errorf("given limit 5000 then ErrInvalidQuery: %v", err)
	}
	if _, err := f.q.StatusEvents(f.ctx, pkg, env, "1.0.0", -1, 0); !errors.Is(err, projections.ErrInvalidQuery) {
		t.Errorf("given after -1 then ErrInvalidQuery: %v", err)
	}
}

func TestQueries_LocksAndJobs(t *testing.T) {
	f := newFixture(t)
	f.apply(t, f.do(t,
		domain.Lock{Env: "PROD", User: "ann", Meta: "CI URL"},
		domain.Release{Env: "PROD", User: "ann"},
		domain.Lock{Env: "PROD", User: "bob", Meta: "Slack", Uberlock: true},
		domain.StartJob{Jobname: "deploy-prod", User: "ann", Version: "sha1"}, // at start+4s
		domain.EndJob{Jobname: "deploy-prod", Version: "sha1", Skipped: true},
		domain.StartJob{Jobname: "deploy-prod", User: "bob", Version: "sha1"}, // at start+6s
		domain.StartJob{Jobname: "deploy-stage", User: "bob", Version: "sha1"},
		domain.StartJob{Jobname: "deploy-prod", User: "bob", Version: "sha2"}, // at start+8s
	)...)
	locks, err := f.q.Locks(f.ctx, "PROD")
	if err != nil || len(locks) != 2 || locks[0].User != "bob" || !locks[0].Active || !locks[0].Uberlock || locks[1].Active {
		t.Errorf("locks, newest first = %+v, %v", locks, err)
	}
	jobs, err := f.q.Jobs(f.ctx, "deploy-prod", "sha1")
	if err != nil || len(jobs) != 2 || jobs[0].User != "bob" || jobs[0].Ended != nil || !jobs[1].Skipped || jobs[1].Ended == nil {
		t.Errorf("jobs = %+v, %v", jobs, err)
	}
	byVersion, err := f.q.JobsByVersion(f.ctx, "sha1")
	if err != nil || len(byVersion) != 3 {
		t.Errorf("jobs by version = %+v, %v", byVersion, err)
	}
	now := start.Add(10 * time.Second)
	active, err := f.q.ActiveJobs(f.ctx, "deploy-prod", 5*time.Second, now)
	if err != nil || len(active) != 2 || active[0].Version != "sha2" || active[1].Version != "sha1" {
		t.Errorf("active within 5s = %+v, %v", active, err)
	}
	active, _ = f.q.ActiveJobs(f.ctx, "deploy-prod", 3*time.Second, now)
	if len(active) != 1 || active[0].Version != "sha2" {
		t.Errorf("active within 3s = %+v", active)
	}
	skipped, err := f.q.SkippedJobs(f.ctx, "deploy-prod", time.Hour, now)
	if err != nil || len(skipped) != 1 || skipped[0].User != "ann" {
		t.Errorf("skipped = %+v, %v", skipped, err)
	}
	if none, _ := f.q.SkippedJobs(f.ctx, "deploy-prod", 5*time.Second, now); len(none) != 0 {
		t.Errorf("skipped within 5s = %+v, want none (started at +4s)", none)
	}
	if _, err := f.q.ActiveJobs(f.ctx, "deploy-prod", 0, now); !errors.Is(err, projections.ErrInvalidQuery) {
		t.Errorf("given ttl 0 then ErrInvalidQuery: %v", err)
	}
	if jobs, err := f.q.Jobs(f.ctx, "nope", "sha1"); err != nil || len(jobs) != 0 {
		t.Errorf("given no runs then an empty list: %v, %v", jobs, err)
	}
	var row map[string]any
	b, _ := json.Marshal(jobs[0])
	_ = json.Unmarshal(b, &row)
	for _, k := range []string{"id", "user", "jobname", "version", "started", "ended", "skipped"} {
		if _, ok := row[k]; !ok {
			t.Errorf("job JSON lacks %s: %s", k, b)
		}
	}
}

func TestReplayer_Scope(t *testing.T) {
	f := newFixture(t)
	r, err := projections.NewReplayer(projections.ReplayerConfig{Store: f.st, Events: f.es})
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []projections.ReplayScope{
		{Projection: "nope"},
		{Projection: "builds", Stream: "repo:a/b"},
		{Stream: "put:123"},
		{Stream: "repo:a"},
	} {
		if _, err := r.Replay(f.ctx, scope); !errors.Is(err, projections.ErrInvalidQuery) {
			t.Errorf("given scope %+v then ErrInvalidQuery: %v", scope, err)
		}
	}
	lease := projections.Put{Table: projections.Table{Name: projections.TableReadModel}, Item: projections.Item{
		"id": "replay", "owner": "someone else", "expiresAt": time.Now().Add(time.Minute).UnixMilli(),
	}}
	if err := f.st.Write(f.ctx, []projections.Put{lease}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Replay(f.ctx, projections.ReplayScope{}); !errors.Is(err, projections.ErrReplayRunning) {
		t.Errorf("given another replay's lease then ErrReplayRunning: %v", err)
	}
	if _, err := projections.NewReplayer(projections.ReplayerConfig{Segments: -1}); err == nil ||
		!strings.Contains(err.Error(), "Store is nil") || !strings.Contains(err.Error(), "Segments -1") {
		t.Errorf("given a bad config then every problem: %v", err)
	}
}
