package domain

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const fooStream = "repo:api/foo"

func created(id int, browsers ...string) BuildCreated {
	return BuildCreated{User: "api", Repo: "foo", BuildID: id, Tag: "master", Browsers: browsers, At: t0}
}

func updated(id int, browser, status string, finished, browserPending bool, pending int) BuildBrowserUpdated {
	return BuildBrowserUpdated{User: "api", Repo: "foo", BuildID: id, Browser: browser, Status: status,
		Finished: finished, BrowserPending: browserPending, Pending: pending, At: t0}
}

func completed(id, current int) BuildCompleted {
	return BuildCompleted{User: "api", Repo: "foo", BuildID: id, CurrentBuildInProgress: current, At: t0}
}

func update(id int, browser, status string, finished bool) UpdateBuild {
	return UpdateBuild{User: "api", Repo: "foo", BuildID: id, Browser: browser, Status: status, Finished: finished}
}

func createAB() CreateBuild {
	return CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: []string{"BrowserA", "BrowserB"}}
}

// finishedBuild1 is the history of build 1 with both browsers finished.
var finishedBuild1 = []Event{
	created(1, "BrowserA", "BrowserB"),
	updated(1, "BrowserA", "finished", true, false, 1),
	updated(1, "BrowserB", "finished", true, false, 0),
	completed(1, 0),
}

func TestRepoRules(t *testing.T) {
	runScenarios(t, fooStream, []scenario{
		{
			name: "given a new repo when CreateBuild then build 1 is created",
			when: createAB(),
			then: []Event{created(1, "BrowserA", "BrowserB")},
			check: func(t *testing.T, a Aggregate) {
				r := stateOf[*Repo](t, a)
				if id, ok := r.CurrentBuildInProgress(); !ok || id != 1 {
					t.Errorf("current = %d, %v; want 1", id, ok)
				}
				if _, ok := r.LatestBuild(); ok {
					t.Error("latest build set on a new build")
				}
			},
		},
		{
			name:  "given build 1 in progress when CreateBuild then build 2 is created and current",
			given: []Event{created(1, "BrowserA")},
			when:  createAB(),
			then:  []Event{created(2, "BrowserA", "BrowserB")},
			check: func(t *testing.T, a Aggregate) {
				if id, _ := stateOf[*Repo](t, a).CurrentBuildInProgress(); id != 2 {
					t.Errorf("current = %d, want 2", id)
				}
			},
		},
		{
			name:  "given build 1 finished when CreateBuild then build 2 is created",
			given: finishedBuild1,
			when:  createAB(),
			then:  []Event{created(2, "BrowserA", "BrowserB")},
		},
		{
			name:  "given a build when a browser starts then its status changes and it stays pending",
			given: []Event{created(1, "BrowserA", "BrowserB")},
			when:  update(1, "BrowserA", "started", false),
			then:  []Event{updated(1, "BrowserA", "started", false, true, 2)},
		},
		{
			name:  "given a build when one of two browsers finishes then pending drops to 1",
			given: []Event{created(1, "BrowserA", "BrowserB")},
			when:  update(1, "BrowserA", "finished", true),
			then:  []Event{updated(1, "BrowserA", "finished", true, false, 1)},
		},
		{
			name:  "given one browser left when it finishes then the build completes",
			given: finishedBuild1[:2],
			when:  update(1, "BrowserB", "finished", true),
			then:  []Event{updated(1, "BrowserB", "finished", true, false, 0), completed(1, 0)},
			check: func(t *testing.T, a Aggregate) {
				r := stateOf[*Repo](t, a)
				if _, ok := r.CurrentBuildInProgress(); ok {
					t.Error("current still set")
				}
				if id, ok := r.LatestBuild(); !ok || id != 1 {
					t.Errorf("latest = %d, %v; want 1", id, ok)
				}
				if _, ok := r.Build(1); ok {
					t.Error("finished build kept in state")
				}
			},
		},
		{
			name:  "given a browser finished when it reports finished again then pending is not decremented twice",
			given: finishedBuild1[:2],
			when:  update(1, "BrowserA", "finished-again", true),
			then:  []Event{updated(1, "BrowserA", "finished-again", true, false, 1)},
		},
		{
			name:  "given a browser finished when it reports an unfinished status then it stays done",
			given: finishedBuild1[:2],
			when:  update(1, "BrowserA", "started", false),
			then:  []Event{updated(1, "BrowserA", "started", false, false, 1)},
		},
		{
			name:  "given builds 1 and 2 running when build 2 completes then build 1 becomes current",
			given: []Event{created(1, "BrowserA"), created(2, "BrowserA")},
			when:  update(2, "BrowserA", "finished", true),
			then:  []Event{updated(2, "BrowserA", "finished", true, false, 0), completed(2, 1)},
		},
		{
			name:  "given builds 1 and 2 running when build 1 completes then build 2 stays current",
			given: []Event{created(1, "BrowserA"), created(2, "BrowserA")},
			when:  update(1, "BrowserA", "finished", true),
			then:  []Event{updated(1, "BrowserA", "finished", true, false, 0), completed(1, 2)},
			check: func(t *testing.T, a Aggregate) {
				r := stateOf[*Repo](t, a)
				if id, _ := r.LatestBuild(); id != 1 {
					t.Errorf("latest = %d, want 1", id)
				}
				if id, _ := r.CurrentBuildInProgress(); id != 2 {
					t.Errorf("current = %d, want 2", id)
				}
			},
		},
		{
			name:    "given a new repo when UpdateBuild then it is rejected as an unknown build",
			when:    update(1, "BrowserA", "started", false),
			thenErr: &UnknownBuildError{Repo: "api/foo", BuildID: 1},
			thenMsg: "domain: build 1 of api/foo does not exist",
		},
		{
			name:    "given build 1 when build 7 is updated then it is rejected as unknown",
			given:   []Event{created(1, "BrowserA")},
			when:    update(7, "BrowserA", "started", false),
			thenErr: &UnknownBuildError{Repo: "api/foo", BuildID: 7},
		},
		{
			name:    "given build 1 finished when it is updated then it is rejected as finished",
			given:   finishedBuild1,
			when:    update(1, "BrowserA", "started", false),
			thenErr: &BuildFinishedError{Repo: "api/foo", BuildID: 1},
			thenMsg: "domain: build 1 of api/foo has finished on every browser and takes no more updates",
		},
		{
			name:    "given a build when an unknown browser is updated then it is rejected",
			given:   []Event{created(1, "BrowserA")},
			when:    update(1, "BrowserZ", "started", false),
			thenErr: &UnknownBrowserError{Repo: "api/foo", BuildID: 1, Browser: "BrowserZ"},
			thenMsg: `domain: browser "BrowserZ" is not part of build 1 of api/foo`,
		},
		{
			name:    "when CreateBuild has no browsers then it is invalid",
			when:    CreateBuild{User: "api", Repo: "foo", Tag: "master"},
			thenErr: invalid("CreateBuild", "browsers", "must not be empty"),
			thenMsg: "domain: invalid command: CreateBuild: browsers: must not be empty",
		},
		{
			name:    "when CreateBuild lists a browser twice then it is invalid",
			when:    CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: []string{"A", "B", "A"}},
			thenErr: invalid("CreateBuild", "browsers[2]", `"A" is listed twice`),
		},
		{
			name:    "when CreateBuild lists an empty browser then it is invalid",
			when:    CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: []string{"A", ""}},
			thenErr: invalid("CreateBuild", "browsers[1]", "must not be empty"),
		},
		{
			name:    "when a browser is named like a build column then it is invalid",
			when:    CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: []string{"pending"}},
			thenErr: invalid("CreateBuild", "browsers[0]", `"pending" is reserved by the build view`),
		},
		{
			name:    "when a browser is named like the read row's version column then it is invalid",
			when:    CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: []string{"streamVersion"}},
			thenErr: invalid("CreateBuild", "browsers[0]", `"streamVersion" is reserved by the build view`),
		},
		{
			name:    "when a browser is named like a pending flag then it is invalid",
			when:    CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: []string{"A-pending"}},
			thenErr: invalid("CreateBuild", "browsers[0]", `"A-pending" is reserved by the build view`),
		},
		{
			name:    "when too many browsers are listed then it is invalid",
			when:    CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: manyBrowsers(maxBrowsers + 1)},
			thenErr: invalid("CreateBuild", "browsers", "must list at most 256 browsers"),
		},
		{
			name:    "when the user contains a slash then it is invalid",
			stream:  "repo:a/b",
			when:    CreateBuild{User: "a/b", Repo: "c", Tag: "master", Browsers: []string{"A"}},
			thenErr: invalid("CreateBuild", "user", `must not contain "/"`),
			thenMsg: `domain: invalid command: CreateBuild: user: must not contain "/"`,
		},
		{
			name:    "when the repo is empty then it is invalid",
			when:    CreateBuild{User: "api", Tag: "master", Browsers: []string{"A"}},
			thenErr: invalid("CreateBuild", "repo", "must not be empty"),
		},
		{
			name:    "when the tag is empty then it is invalid",
			when:    CreateBuild{User: "api", Repo: "foo", Browsers: []string{"A"}},
			thenErr: invalid("CreateBuild", "tag", "must not be empty"),
		},
		{
			name:    "when the tag has a control character then it is invalid",
			when:    CreateBuild{User: "api", Repo: "foo", Tag: "mas\nter", Browsers: []string{"A"}},
			thenErr: invalid("CreateBuild", "tag", "must not contain control characters"),
		},
		{
			name:    "when the repo has trailing space then it is invalid",
			when:    CreateBuild{User: "api", Repo: "foo ", Tag: "master", Browsers: []string{"A"}},
			thenErr: invalid("CreateBuild", "repo", "must not start or end with white space"),
		},
		{
			name:    "when the tag is too long then it is invalid",
			when:    CreateBuild{User: "api", Repo: "foo", Tag: strings.Repeat("t", 257), Browsers: []string{"A"}},
			thenErr: invalid("CreateBuild", "tag", "must be at most 256 bytes"),
		},
		{
			name:    "when the tag is not UTF-8 then it is invalid",
			when:    CreateBuild{User: "api", Repo: "foo", Tag: "\xff", Browsers: []string{"A"}},
			thenErr: invalid("CreateBuild", "tag", "must be valid UTF-8"),
		},
		{
			name:    "when UpdateBuild has build id 0 then it is invalid",
			when:    update(0, "A", "started", false),
			thenErr: invalid("UpdateBuild", "buildId", "must be positive"),
		},
		{
			name:    "when UpdateBuild has no status then it is invalid",
			when:    update(1, "A", "", false),
			thenErr: invalid("UpdateBuild", "status", "must not be empty"),
		},
		{
			name:    "when UpdateBuild has no browser then it is invalid",
			when:    update(1, "", "started", false),
			thenErr: invalid("UpdateBuild", "browser", "must not be empty"),
		},
		{
			name:   "when a command has several problems then every one is reported",
			when:   UpdateBuild{User: "api", Repo: "foo"},
			thenIs: ErrInvalidCommand,
			thenMsg: "domain: invalid command: UpdateBuild: buildId: must be positive\n" +
				"domain: invalid command: UpdateBuild: browser: must not be empty\n" +
				"domain: invalid command: UpdateBuild: status: must not be empty",
		},
		{
			name:    "when a command for another repo is handled then it is a wrong stream",
			when:    CreateBuild{User: "api", Repo: "bar", Tag: "master", Browsers: []string{"A"}},
			thenErr: &WrongStreamError{Command: "CreateBuild", Target: "repo:api/bar", Stream: fooStream},
			thenMsg: "domain: CreateBuild targets repo:api/bar, not repo:api/foo",
			thenIs:  ErrWrongStream,
		},
		{
			name:   "when the command is nil then it is invalid",
			when:   nil,
			thenIs: ErrInvalidCommand,
		},
		{
			name:   "when the command is a nil pointer then it is invalid",
			when:   (*CreateBuild)(nil),
			thenIs: ErrInvalidCommand,
		},
		{
			name: "when the command is a pointer then it is handled like the value",
			when: func() Command { c := createAB(); return &c }(),
			then: []Event{created(1, "BrowserA", "BrowserB")},
		},
		{
			name:    "when a command of another kind aims at the stream then it is not handled",
			when:    foreignCommand{stream: fooStream},
			thenErr: &InvalidCommandError{Command: "Foreign", Reason: "not handled by repo streams"},
		},
		{
			name:   "when the env has no time then the decision fails",
			when:   createAB(),
			env:    envWith(func(e *Env) { e.Now = time.Time{} }),
			thenIs: ErrInvalidEnv,
		},
		{
			name:   "when the env time cannot be written as RFC 3339 then the decision fails",
			when:   createAB(),
			env:    envWith(func(e *Env) { e.Now = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }),
			thenIs: ErrInvalidEnv,
		},
		{
			name: "when the env time is not UTC then the event records it in UTC",
			when: createAB(),
			env:  envWith(func(e *Env) { e.Now = t0.In(time.FixedZone("CEST", 2*3600)) }),
			then: []Event{created(1, "BrowserA", "BrowserB")},
		},
	})
}

func manyBrowsers(n int) []string {
	b := make([]string, n)
	for i := range b {
		b[i] = "B" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	return b
}

// foreignCommand is a command this package does not define.
type foreignCommand struct{ stream string }

func (foreignCommand) CommandType() string { return "Foreign" }
func (c foreignCommand) StreamID() string  { return c.stream }
func (foreignCommand) Validate() error     { return nil }

// sampleViews folds repo events into dynostore's repo and build rows, the way the sample
// output prints them, to show that the events carry what those rows need.
type sampleViews struct {
	repo   map[string]any
	builds map[int]map[string]any
}

func (v *sampleViews) apply(e Event) {
	switch e := e.(type) {
	case BuildCreated:
		v.repo = map[string]any{"user": e.User, "repo": e.Repo, "currentBuildInProgress": itoa(e.BuildID), "latestBuild": nil}
		b := map[string]any{"tag": e.Tag, "repoID": e.User + "/" + e.Repo, "buildID": e.BuildID, "pending": len(e.Browsers)}
		for _, name := range e.Browsers {
			b[name] = StatusQueued
			b[name+"-pending"] = true
		}
		v.builds[e.BuildID] = b
	case BuildBrowserUpdated:
		b := v.builds[e.BuildID]
		b[e.Browser] = e.Status
		b[e.Browser+"-pending"] = e.BrowserPending
		b["pending"] = e.Pending
	case BuildCompleted:
		v.repo["latestBuild"] = itoa(e.BuildID)
		v.repo["currentBuildInProgress"] = nil
		if e.CurrentBuildInProgress != 0 {
			v.repo["currentBuildInProgress"] = itoa(e.CurrentBuildInProgress)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestDynostoreSampleUsage replays dynostore's sample usage and checks every printed state.
func TestDynostoreSampleUsage(t *testing.T) {
	repoView := func(current, latest any) map[string]any {
		return map[string]any{"user": "api", "repo": "foo", "currentBuildInProgress": current, "latestBuild": latest}
	}
	buildView := func(pending int, a string, aPending bool, b string, bPending bool) map[string]any {
		return map[string]any{"tag": "master", "repoID": "api/foo", "buildID": 1, "pending": pending,
			"BrowserA": a, "BrowserA-pending": aPending, "BrowserB": b, "BrowserB-pending": bPending}
	}
	steps := []struct {
		name      string
		when      Command
		repo      map[string]any
		build     map[string]any
		current   int // 0 for null
		latest    int // 0 for null
		browsers  []BrowserView
		statePend int // pending of the build in the aggregate, 0 when dropped
	}{
		{
			name: "createBuild(u, r, t, ['BrowserA', 'BrowserB'])", when: createAB(),
			repo: repoView("1", nil), build: buildView(2, "queued", true, "queued", true),
			current: 1, statePend: 2,
			browsers: []BrowserView{{"BrowserA", "queued", true}, {"BrowserB", "queued", true}},
		},
		{
			name: "updateBuild(u, r, buildID, 'BrowserA', 'started', false)", when: update(1, "BrowserA", "started", false),
			repo: repoView("1", nil), build: buildView(2, "started", true, "queued", true),
			current: 1, statePend: 2,
			browsers: []BrowserView{{"BrowserA", "started", true}, {"BrowserB", "queued", true}},
		},
		{
			name: "updateBuild(u, r, buildID, 'BrowserB', 'started', false)", when: update(1, "BrowserB", "started", false),
			repo: repoView("1", nil), build: buildView(2, "started", true, "started", true),
			current: 1, statePend: 2,
			browsers: []BrowserView{{"BrowserA", "started", true}, {"BrowserB", "started", true}},
		},
		{
			name: "updateBuild(u, r, buildID, 'BrowserA', 'finished', true)", when: update(1, "BrowserA", "finished", true),
			repo: repoView("1", nil), build: buildView(1, "finished", false, "started", true),
			current: 1, statePend: 1,
			browsers: []BrowserView{{"BrowserA", "finished", false}, {"BrowserB", "started", true}},
		},
		{
			name: "updateBuild(u, r, buildID, 'BrowserB', 'finished', true)", when: update(1, "BrowserB", "finished", true),
			repo: repoView(nil, "1"), build: buildView(0, "finished", false, "finished", false),
			latest: 1,
		},
	}
	a, err := NewAggregate(fooStream)
	if err != nil {
		t.Fatal(err)
	}
	r := stateOf[*Repo](t, a)
	views := &sampleViews{builds: map[int]map[string]any{}}
	for _, step := range steps {
		events, err := a.Handle(step.when, testEnv())
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		for _, e := range events {
			a.Apply(e)
			views.apply(e)
		}
		if !reflect.DeepEqual(views.repo, step.repo) {
			t.Errorf("%s: repo view\n got: %v\nwant: %v", step.name, views.repo, step.repo)
		}
		if !reflect.DeepEqual(views.builds[1], step.build) {
			t.Errorf("%s: build view\n got: %v\nwant: %v", step.name, views.builds[1], step.build)
		}
		if id, _ := r.CurrentBuildInProgress(); id != step.current {
			t.Errorf("%s: CurrentBuildInProgress = %d, want %d", step.name, id, step.current)
		}
		if id, _ := r.LatestBuild(); id != step.latest {
			t.Errorf("%s: LatestBuild = %d, want %d", step.name, id, step.latest)
		}
		b, ok := r.Build(1)
		if step.statePend == 0 {
			if ok {
				t.Errorf("%s: finished build still in state: %+v", step.name, b)
			}
			continue
		}
		want := BuildView{ID: 1, Tag: "master", Pending: step.statePend, Browsers: step.browsers}
		if !ok || !reflect.DeepEqual(b, want) {
			t.Errorf("%s: Build(1) = %+v, %v; want %+v", step.name, b, ok, want)
		}
	}
}

// TestRepoStateStaysSmall runs 10,000 builds to completion and checks that the state keeps
// none of them.
func TestRepoStateStaysSmall(t *testing.T) {
	a, err := NewAggregate(fooStream)
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv()
	const builds = 10000
	for id := 1; id <= builds; id++ {
		for _, c := range []Command{createAB(), update(id, "BrowserA", "finished", true), update(id, "BrowserB", "finished", true)} {
			events, err := a.Handle(c, env)
			if err != nil {
				t.Fatalf("build %d: %v", id, err)
			}
			for _, e := range events {
				a.Apply(e)
			}
		}
	}
	state, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if len(state) > 200 {
		t.Errorf("state after %d builds is %d bytes: %s", builds, len(state), state)
	}
	if a.Version() != 4*builds {
		t.Errorf("version = %d, want %d", a.Version(), 4*builds)
	}
	restored, err := RestoreAggregate(fooStream, a.Version(), a.SnapshotSchema(), state)
	if err != nil {
		t.Fatal(err)
	}
	r := stateOf[*Repo](t, restored)
	if id, _ := r.LatestBuild(); id != builds || r.NextBuildID() != builds+1 {
		t.Errorf("restored latest %d next %d", id, r.NextBuildID())
	}
	_, err = restored.Handle(update(5, "BrowserA", "x", false), env)
	if !errors.As(err, new(*BuildFinishedError)) {
		t.Errorf("update of an old build: %v, want BuildFinishedError", err)
	}
	t.Logf("state after %d builds: %d bytes", builds, len(state))
}
