package projections_test

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"buildledger/eventstore"
	"buildledger/projections"
)

// legacyNamesFixture is the domain's fixture of events stored under names the command rules
// now refuse (look-alike environments, an NFD user, names with spaces).
const legacyNamesFixture = "../domain/testdata/legacy_names.json"

// appendLegacyNames appends the fixture's events to the fixture's event store, each stream in
// one append, and returns the stored records in fixture order.
func appendLegacyNames(t *testing.T, f *fixture) []eventstore.Record {
	t.Helper()
	b, err := os.ReadFile(legacyNamesFixture)
	if err != nil {
		t.Fatal(err)
	}
	var recs []eventstore.Record
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	var order []string
	events := map[string][]eventstore.Event{}
	for _, r := range recs {
		if len(events[r.Stream]) == 0 {
			order = append(order, r.Stream)
		}
		events[r.Stream] = append(events[r.Stream], eventstore.Event{Type: r.Type, Body: r.Body})
	}
	var stored []eventstore.Record
	for _, stream := range order {
		out, err := f.es.Append(f.ctx, stream, 0, events[stream], eventstore.CommandRef{ID: uuid.NewString(), Type: "Legacy"})
		if err != nil {
			t.Fatalf("append %q: %v", stream, err)
		}
		stored = append(stored, out...)
	}
	return stored
}

func TestLegacyNamesProject(t *testing.T) {
	f := newFixture(t)
	f.apply(t, appendLegacyNames(t, f)...)
	checkLegacyRows(t, f)

	live, err := projections.Dump(f.ctx, f.st)
	if err != nil {
		t.Fatal(err)
	}
	r, err := projections.NewReplayer(projections.ReplayerConfig{Store: f.st, Events: f.es})
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []projections.ReplayScope{
		{},
		{Stream: "lock:prod\u200b"},
		{Stream: "repo:cafe\u0301/x"},
		{Stream: "status:@scope/web/prod\u202e/1.0.0"},
		{Stream: "job:deploy prod/3f2a9c1"},
	} {
		if _, err := r.Replay(f.ctx, scope); err != nil {
			t.Fatalf("given legacy names, Replay(%+v): %v", scope, err)
		}
		replayed, err := projections.Dump(f.ctx, f.st)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(replayed, live) {
			t.Errorf("after Replay(%+v) the rows differ from the live projection\n got: %v\nwant: %v", scope, replayed, live)
		}
		checkLegacyRows(t, f)
	}
}

func checkLegacyRows(t *testing.T, f *fixture) {
	t.Helper()
	for env, want := range map[string]struct {
		user   string
		active bool
	}{"prod\u200b": {"alice", true}, "pr\u043ed": {"b\u043eb", false}, "\ufeffprod": {"carol", true}} {
		locks, err := f.q.Locks(f.ctx, env)
		if err != nil || len(locks) != 1 || locks[0].Env != env || locks[0].User != want.user || locks[0].Active != want.active {
			t.Errorf("locks of %q = %+v, %v; want one by %q active %v", env, locks, err, want.user, want.active)
		}
	}
	if locks, err := f.q.Locks(f.ctx, "prod"); err != nil || len(locks) != 0 {
		t.Errorf("locks of prod = %+v, %v; want none: the look-alikes are other environments", locks, err)
	}

	build, err := f.q.Build(f.ctx, "cafe\u0301", "x", 1)
	wantBuild := projections.Build{RepoID: "cafe\u0301/x", BuildID: 1, Tag: "master", Pending: 1, StreamVersion: 2,
		Browsers: []projections.BrowserStatus{{Name: "Chrome 120", Status: "passed"}, {Name: "firefox", Status: "queued", Pending: true}}}
	if err != nil || !reflect.DeepEqual(build, wantBuild) {
		t.Errorf("build = %+v, %v\nwant %+v", build, err, wantBuild)
	}
	if repo, err := f.q.Repo(f.ctx, "cafe\u0301", "x"); err != nil || repo.CurrentBuildInProgress == nil || *repo.CurrentBuildInProgress != "1" {
		t.Errorf("repo = %+v, %v", repo, err)
	}

	st, err := f.q.Status(f.ctx, "@scope/web", "prod\u202e", "1.0.0")
	if err != nil || st.PreviousVersion != "0.9.0" || st.Total != 50 || st.Complete || st.Error || st.StreamVersion != 2 {
		t.Errorf("status = %+v, %v", st, err)
	}

	jobs, err := f.q.Jobs(f.ctx, "deploy prod", "3f2a9c1")
	if err != nil || len(jobs) != 1 || jobs[0].User != "alice" || jobs[0].Ended != nil || jobs[0].StreamVersion != 1 {
		t.Errorf("jobs = %+v, %v", jobs, err)
	}
}
