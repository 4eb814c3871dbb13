package projections

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"buildledger/domain"
	"buildledger/eventstore"
)

// fold applies events through the pure projections to an in-memory table of rows, the way
// the stores do: needs, then project, then guarded puts.
type fold struct {
	t        *testing.T
	rows     map[ref]Item
	versions map[string]int64
	keys     int
}

func newFold(t *testing.T) *fold {
	return &fold{t: t, rows: map[ref]Item{}, versions: map[string]int64{}}
}

// nextKey returns increasing timestamp keys.
func (f *fold) nextKey() string {
	f.keys++
	return fmt.Sprintf("20240101T000000000%09d", f.keys)
}

func (f *fold) record(stream string, e domain.Event, key string) eventstore.Record {
	f.t.Helper()
	typ, body, err := domain.EncodeEvent(e)
	if err != nil {
		f.t.Fatal(err)
	}
	f.versions[stream]++
	return eventstore.Record{Stream: stream, Version: f.versions[stream], Key: key, Type: typ, Body: body}
}

func (f *fold) apply(stream string, events ...domain.Event) {
	f.t.Helper()
	for _, e := range events {
		f.applyRecord(f.record(stream, e, f.nextKey()))
	}
}

func (f *fold) applyRecord(rec eventstore.Record) {
	f.t.Helper()
	p := projectionOf(rec.Stream)
	e, ok, err := decodeEvent(rec)
	if err != nil {
		f.t.Fatal(err)
	}
	if !ok {
		return
	}
	v := view{}
	for _, r := range p.needs(e) {
		v[r] = f.rows[r]
	}
	ch, err := p.project(rec, e, v)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, rp := range ch.puts {
		if rp.guard.Holds(f.rows[rp.ref]) {
			n, err := NormalizeItem(rp.item)
			if err != nil {
				f.t.Fatal(err)
			}
			f.rows[rp.ref] = n
		}
	}
}

// asJSON returns the JSON view of v decoded into generic values, so that types count:
// a string "1" is not the number 1.
func asJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func testEnv(step int) domain.Env {
	return domain.Env{
		Now:       t0.Add(time.Duration(step) * time.Second),
		NewID:     uuid.New,
		NewTimeID: func() uuid.UUID { return uuid.Must(uuid.NewV7()) },
	}
}

// TestDynostoreSample replays the sample of the dynostore seed through the domain and the
// builds projection and compares both views, values and JSON types, at every step.
func TestDynostoreSample(t *testing.T) {
	f := newFold(t)
	agg, err := domain.NewAggregate(domain.RepoStreamID("api", "foo"))
	if err != nil {
		t.Fatal(err)
	}
	step := 0
	do := func(c domain.Command) {
		t.Helper()
		step++
		events, err := agg.Handle(c, testEnv(step))
		if err != nil {
			t.Fatalf("%s: %v", c.CommandType(), err)
		}
		for _, e := range events {
			agg.Apply(e)
		}
		f.apply(agg.StreamID(), events...)
	}
	repoView := func(current, latest any) map[string]any {
		return map[string]any{"user": "api", "repo": "foo", "currentBuildInProgress": current, "latestBuild": latest}
	}
	buildView := func(pending float64, a string, aPending bool, b string, bPending bool) map[string]any {
		return map[string]any{
			"tag": "master", "repoID": "api/foo", "buildID": float64(1), "pending": pending,
			"BrowserA": a, "BrowserA-pending": aPending, "BrowserB": b, "BrowserB-pending": bPending,
		}
	}
	check := func(name string, wantRepo, wantBuild map[string]any) {
		t.Helper()
		repo, err := repoRows.row(f.rows[repoRef("api", "foo")])
		if err != nil {
			t.Fatal(err)
		}
		build, err := buildRows.row(f.rows[buildRef("api", "foo", 1)])
		if err != nil {
			t.Fatal(err)
		}
		if got := asJSON(t, repo); !reflect.DeepEqual(got, wantRepo) {
			t.Errorf("given %s then repo view\n got %v\nwant %v", name, got, wantRepo)
		}
		if got := asJSON(t, build); !reflect.DeepEqual(got, wantBuild) {
			t.Errorf("given %s then build view\n got %v\nwant %v", name, got, wantBuild)
		}
	}

	do(domain.CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: []string{"BrowserA", "BrowserB"}})
	check("createBuild", repoView("1", nil), buildView(2, "queued", true, "queued", true))
	do(domain.UpdateBuild{User: "api", Repo: "foo", BuildID: 1, Browser: "BrowserA", Status: "started"})
	check("BrowserA started", repoView("1", nil), buildView(2, "started", true, "queued", true))
	do(domain.UpdateBuild{User: "api", Repo: "foo", BuildID: 1, Browser: "BrowserB", Status: "started"})
	check("BrowserB started", repoView("1", nil), buildView(2, "started", true, "started", true))
	do(domain.UpdateBuild{User: "api", Repo: "foo", BuildID: 1, Browser: "BrowserA", Status: "finished", Finished: true})
	check("BrowserA finished", repoView("1", nil), buildView(1, "finished", false, "started", true))
	do(domain.UpdateBuild{User: "api", Repo: "foo", BuildID: 1, Browser: "BrowserB", Status: "finished", Finished: true})
	check("BrowserB finished", repoView(nil, "1"), buildView(0, "finished", false, "finished", false))

	// The view round-trips through its own JSON.
	build, _ := buildRows.row(f.rows[buildRef("api", "foo", 1)])
	b, _ := json.Marshal(build)
	var back Build
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.StreamVersion = build.StreamVersion
	if !reflect.DeepEqual(back, build) {
		t.Errorf("build view round trip\n got %+v\nwant %+v", back, build)
	}
}

func TestBuilds(t *testing.T) {
	const stream = "repo:api/foo"
	created := func(id int) domain.BuildCreated {
		return domain.BuildCreated{User: "api", Repo: "foo", BuildID: id, Tag: "v1", Browsers: []string{"ie", "ff", "ie"}, At: t0}
	}
	t.Run("given a second build while the first runs when created then current is the new one and latest stays", func(t *testing.T) {
		f := newFold(t)
		f.apply(stream, created(1), created(2))
		repo, _ := repoRows.row(f.rows[repoRef("api", "foo")])
		if *repo.CurrentBuildInProgress != "2" || repo.LatestBuild != nil || repo.StreamVersion != 2 {
			t.Errorf("repo = %+v", repo)
		}
		b, _ := buildRows.row(f.rows[buildRef("api", "foo", 2)])
		if b.Pending != 2 || len(b.Browsers) != 2 || b.Browsers[0].Name != "ff" || b.StreamVersion != 2 {
			t.Errorf("a repeated browser counts once: build = %+v", b)
		}
	})
	t.Run("given build 1 completes while build 2 runs then current stays 2 and latest is 1", func(t *testing.T) {
		f := newFold(t)
		f.apply(stream, created(1), created(2),
			domain.BuildCompleted{User: "api", Repo: "foo", BuildID: 1, CurrentBuildInProgress: 2, At: t0})
		repo, _ := repoRows.row(f.rows[repoRef("api", "foo")])
		if *repo.CurrentBuildInProgress != "2" || *repo.LatestBuild != "1" || repo.StreamVersion != 3 {
			t.Errorf("repo = %+v", repo)
		}
	})
	t.Run("given an update of a browser the build row lacks then it is added", func(t *testing.T) {
		f := newFold(t)
		f.apply(stream, created(1), domain.BuildBrowserUpdated{User: "api", Repo: "foo", BuildID: 1, Browser: "chrome", Status: "started", BrowserPending: true, Pending: 2, At: t0})
		b, _ := buildRows.row(f.rows[buildRef("api", "foo", 1)])
		if br, ok := b.Browser("chrome"); !ok || br.Status != "started" || !br.Pending {
			t.Errorf("build = %+v", b)
		}
	})
}

func TestStatuses(t *testing.T) {
	const pkg, env = "@scope/pkg", "test"
	stream := func(v string) string { return domain.StatusStreamID(pkg, env, v) }
	started := func(v, prev string) domain.StatusStarted {
		return domain.StatusStarted{Pkg: pkg, Env: env, Version: v, PreviousVersion: prev, Locales: []string{"en", "fr"}, LocaleCount: 2, At: t0}
	}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	head := func(f *fold) StatusHead {
		it := f.rows[headRef(pkg, env)]
		if it == nil {
			t.Fatal("no head")
		}
		h, err := headRows.row(it)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	t.Run("given a status's whole life when projected then status, counter, events and head follow", func(t *testing.T) {
		f := newFold(t)
		f.apply(stream("1.0.0"), started("1.0.0", "0.9.0"),
			domain.StatusEventRecorded{Pkg: pkg, Env: env, Version: "1.0.0", Locale: "en", Message: "building", Details: "d", EventID: "e1", At: at(1)},
			domain.LocaleCompleted{Pkg: pkg, Env: env, Version: "1.0.0", Locale: "en", Count: 1, Total: 50, At: at(2)},
			domain.StatusEventRecorded{Pkg: pkg, Env: env, Version: "1.0.0", Locale: "fr", Message: "boom", Error: true, EventID: "e2", At: at(3)},
			domain.StatusErrored{Pkg: pkg, Env: env, Version: "1.0.0", EventID: "e2", At: at(3)},
			domain.LocaleCompleted{Pkg: pkg, Env: env, Version: "1.0.0", Locale: "fr", Count: 2, Total: 100, At: at(4)},
			domain.StatusCompleted{Pkg: pkg, Env: env, Version: "1.0.0", At: at(4)},
		)
		s, _ := statusRows.row(f.rows[statusRef(pkg, env, "1.0.0")])
		want := Status{Pkg: pkg, Env: env, Version: "1.0.0", PreviousVersion: "0.9.0", Total: 100, Error: true, Complete: true,
			CreatedAt: t0.UnixMilli(), UpdatedAt: at(4).UnixMilli(), StreamVersion: 7}
		if s != want {
			t.Errorf("status\n got %+v\nwant %+v", s, want)
		}
		c, _ := counterRows.row(f.rows[counterRef(pkg, env, "1.0.0")])
		if c.Count != 2 || c.StreamVersion != 6 {
			t.Errorf("counter = %+v", c)
		}
		h := head(f)
		if h.Version != "1.0.0" || h.Total != 100 || h.UpdatedAt != at(4).UnixMilli() || h.StreamVersion != 7 || h.PreviousVersion != "0.9.0" {
			t.Errorf("head = %+v", h)
		}
		var events []StatusEvent
		for r, it := range f.rows {
			if r.table == TableStatusEvents {
				e, _ := eventRows.row(it)
				events = append(events, e)
			}
		}
		if len(events) != 2 {
			t.Fatalf("%d status events, want 2", len(events))
		}
		e2, _ := eventRows.row(f.rows[ref{TableStatusEvents, pkgEnvVersionKey(pkg, env, "1.0.0"), int64(4)}])
		if e2.Message != "boom" || !e2.Error || e2.EventID != "e2" || e2.Locale != "fr" || e2.Seq != 4 || e2.CreatedAt != at(3).UnixMilli() {
			t.Errorf("status event 4 = %+v", e2)
		}
		if got := asJSON(t, s); got["total"] != float64(100) || got["error"] != true || got["createdAt"] != float64(t0.UnixMilli()) {
			t.Errorf("status JSON = %v", got)
		}
	})

	t.Run("given a newer version started then the head follows it and older progress leaves it alone", func(t *testing.T) {
		f := newFold(t)
		f.apply(stream("1.0.0"), started("1.0.0", ""))
		f.apply(stream("2.0.0"), started("2.0.0", "1.0.0"))
		f.apply(stream("1.0.0"), domain.LocaleCompleted{Pkg: pkg, Env: env, Version: "1.0.0", Locale: "en", Count: 1, Total: 50, At: at(5)})
		if h := head(f); h.Version != "2.0.0" || h.Total != 0 {
			t.Errorf("head = %+v, want 2.0.0 at 0%%", h)
		}
		f.apply(stream("2.0.0"), domain.LocaleCompleted{Pkg: pkg, Env: env, Version: "2.0.0", Locale: "en", Count: 1, Total: 50, At: at(6)})
		if h := head(f); h.Version != "2.0.0" || h.Total != 50 || h.StreamVersion != 2 {
			t.Errorf("head = %+v, want 2.0.0 at 50%%", h)
		}
	})

	t.Run("given an older start arriving late then the newer head stays", func(t *testing.T) {
		f := newFold(t)
		oldKey, newKey := f.nextKey(), f.nextKey()
		f.applyRecord(f.record(stream("2.0.0"), started("2.0.0", "1.0.0"), newKey))
		f.applyRecord(f.record(stream("1.0.0"), started("1.0.0", ""), oldKey))
		if h := head(f); h.Version != "2.0.0" || h.StartedKey != newKey {
			t.Errorf("head = %+v, want 2.0.0", h)
		}
		if f.rows[statusRef(pkg, env, "1.0.0")] == nil {
			t.Error("the late start's own status is missing")
		}
	})
}

func TestLocks(t *testing.T) {
	const env = "PRODUCTION"
	id1, id2 := uuid.New(), uuid.New()
	f := newFold(t)
	f.apply(domain.LockStreamID(env),
		domain.Locked{Env: env, User: "ann", Meta: "CI URL", LockID: id1, At: t0},
		domain.LockRefreshed{Env: env, User: "ann", Meta: "Slack", Uberlock: true, LockID: id1, At: t0.Add(time.Minute)},
		domain.Released{Env: env, User: "ann", LockID: id1, Uberlock: true, At: t0.Add(2 * time.Minute)},
		domain.Locked{Env: env, User: "bob", Meta: "CLI", LockID: id2, At: t0.Add(3 * time.Minute)},
	)
	l1, _ := lockRows.row(f.rows[lockRef(env, id1.String())])
	want1 := Lock{ID: id1.String(), User: "ann", Env: env, CreatedAt: t0.UnixMilli(), UpdatedAt: t0.Add(2 * time.Minute).UnixMilli(),
		Active: false, Uberlock: true, Meta: "Slack", StreamVersion: 3}
	if l1 != want1 {
		t.Errorf("given a lock refreshed then released then its row\n got %+v\nwant %+v", l1, want1)
	}
	l2, _ := lockRows.row(f.rows[lockRef(env, id2.String())])
	if !l2.Active || l2.User != "bob" || l2.Uberlock || l2.StreamVersion != 4 {
		t.Errorf("given a new lock then a new active row: %+v", l2)
	}
	got := asJSON(t, l2)
	for _, k := range []string{"id", "user", "env", "createdAt", "updatedAt", "active", "uberlock", "meta"} {
		if _, ok := got[k]; !ok {
			t.Errorf("lock JSON lacks %s: %v", k, got)
		}
	}
}

func TestJobs(t *testing.T) {
	run1, run2 := uuid.New(), uuid.New()
	f := newFold(t)
	stream := domain.JobStreamID("deploy-prod", "abc123")
	f.apply(stream,
		domain.JobStarted{Jobname: "deploy-prod", User: "ann", Version: "abc123", RunID: run1, At: t0},
		domain.JobEnded{Jobname: "deploy-prod", Version: "abc123", RunID: run1, Skipped: true, At: t0.Add(time.Minute)},
		domain.JobStarted{Jobname: "deploy-prod", User: "bob", Version: "abc123", RunID: run2, At: t0.Add(2 * time.Minute)},
	)
	j1, _ := jobRows.row(f.rows[jobRef("deploy-prod", run1.String())])
	if j1.Ended == nil || *j1.Ended != t0.Add(time.Minute).UnixMilli() || !j1.Skipped || j1.User != "ann" || j1.Started != t0.UnixMilli() || j1.EndedBy != "" {
		t.Errorf("given a run ended skipped then its row: %+v", j1)
	}
	if _, has := f.rows[jobRef("deploy-prod", run1.String())]["endedBy"]; has {
		t.Errorf("given a run ended without a user then its row has no endedBy, as rows always had")
	}
	j2, _ := jobRows.row(f.rows[jobRef("deploy-prod", run2.String())])
	if j2.Ended != nil || j2.Skipped || j2.StreamVersion != 3 {
		t.Errorf("given a running run then ended is nil: %+v", j2)
	}
	if got := asJSON(t, j2); got["ended"] != nil || got["started"] != float64(t0.Add(2*time.Minute).UnixMilli()) {
		t.Errorf("job JSON = %v", got)
	}
	f.apply(stream, domain.JobEnded{Jobname: "deploy-prod", Version: "abc123", RunID: run2, At: t0.Add(3 * time.Minute), EndedBy: "carol"})
	if j2, _ := jobRows.row(f.rows[jobRef("deploy-prod", run2.String())]); j2.EndedBy != "carol" || j2.Ended == nil {
		t.Errorf("given a run ended by carol then its row says so: %+v", j2)
	}
}

func TestDecodeEvent(t *testing.T) {
	if _, ok, err := decodeEvent(eventstore.Record{Stream: "repo:a/b", Version: 1, Type: "SomethingNew", Body: []byte(`{}`)}); ok || err != nil {
		t.Errorf("given an unknown type then skipped without error: ok %v, err %v", ok, err)
	}
	if _, _, err := decodeEvent(eventstore.Record{Stream: "repo:a/b", Version: 1, Type: "BuildCreated", Body: []byte(`{"buildId":"x"}`)}); err == nil {
		t.Error("given a known type with a bad body then an error")
	}
}

func TestSplitStream(t *testing.T) {
	for _, tc := range []struct {
		stream string
		want   []string
		ok     bool
	}{
		{"repo:api/foo", []string{"api", "foo"}, true},
		{"status:@scope/pkg/dev/1.0.0", []string{"@scope/pkg", "dev", "1.0.0"}, true},
		{"status:pkg/dev/1.0.0", []string{"pkg", "dev", "1.0.0"}, true},
		{"lock:PROD", []string{"PROD"}, true},
		{"job:deploy/abc", []string{"deploy", "abc"}, true},
		{"job:deploy", nil, false},
		{"put:20240101T000000000000000000", nil, false},
		{"$buckets", nil, false},
	} {
		_, parts, err := splitStream(tc.stream)
		if (err == nil) != tc.ok || !reflect.DeepEqual(parts, tc.want) {
			t.Errorf("given %q then parts %v, err %v", tc.stream, parts, err)
		}
	}
}

func TestPhysicalNames(t *testing.T) {
	for _, tc := range []struct {
		t    Table
		name string
	}{
		{Table{Name: TableRepos}, "bl-repos"},
		{Table{Name: TableStatusEvents, Generation: 12}, "bl-g12-status_events"},
		{Table{Name: TableReadModel}, "bl-readmodel"},
	} {
		if got := PhysicalName("bl-", tc.t); got != tc.name {
			t.Errorf("PhysicalName(%v) = %q, want %q", tc.t, got, tc.name)
		}
		if back, ok := ParsePhysicalName("bl-", tc.name); !ok || back != tc.t {
			t.Errorf("ParsePhysicalName(%q) = %v, %v", tc.name, back, ok)
		}
	}
	for _, name := range []string{"bl-events", "bl-g0-repos", "bl-g3-readmodel", "other-repos", "bl-g-repos", "bl-g03-repos"} {
		if tb, ok := ParsePhysicalName("bl-", name); ok {
			t.Errorf("ParsePhysicalName(%q) = %v, want not a read-model table", name, tb)
		}
	}
}

func TestKeyParts(t *testing.T) {
	if pkgEnvKey("a#b", "c") == pkgEnvKey("a", "b#c") {
		t.Error("given names containing # then composite keys still differ")
	}
	if pkgEnvKey("pkg", "dev") != "pkg#dev" || pkgEnvVersionKey("pkg", "dev", "1.0.0") != "pkg#dev#1.0.0" {
		t.Error("given plain names then keys are pkg#env[#version]")
	}
}
