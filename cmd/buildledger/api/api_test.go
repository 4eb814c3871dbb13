package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"buildledger/cmd/buildledger/api"
	"buildledger/domain"
	"buildledger/eventstore"
	esmemory "buildledger/eventstore/memory"
	"buildledger/projections"
	projmemory "buildledger/projections/memory"
)

// now is the fixed clock of the fixture: every event happened one minute before it.
var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// fixture decides commands with the domain, appends them to an in-memory event store and
// applies them to in-memory read models, as the worker does.
type fixture struct {
	t      *testing.T
	events *esmemory.Store
	reads  *projmemory.Store
	proj   *projections.Projector
	srv    *httptest.Server
	ids    int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, events: esmemory.New(), reads: projmemory.New()}
	if _, err := projections.Init(ctx, f.reads); err != nil {
		t.Fatal(err)
	}
	var err error
	f.proj, err = projections.NewProjector(projections.ProjectorConfig{Store: f.reads, Events: f.events})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(api.New(api.Config{
		Reads:  projections.NewQueries(f.reads),
		Events: f.events,
		Now:    func() time.Time { return now },
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// do decides and applies one command, failing the test unless it is accepted.
func (f *fixture) do(cmd domain.Command) string {
	f.t.Helper()
	ctx := context.Background()
	recs, err := f.events.Load(ctx, cmd.StreamID(), 1)
	if err != nil {
		f.t.Fatal(err)
	}
	history := make([]domain.Event, 0, len(recs))
	for _, r := range recs {
		e, err := domain.DecodeEvent(r.Type, r.Body)
		if err != nil {
			f.t.Fatal(err)
		}
		history = append(history, e)
	}
	agg, err := domain.Rehydrate(cmd.StreamID(), history)
	if err != nil {
		f.t.Fatal(err)
	}
	evs, err := agg.Handle(cmd, domain.Env{Now: now.Add(-time.Minute), NewID: uuid.New, NewTimeID: func() uuid.UUID { return uuid.Must(uuid.NewV7()) }})
	if err != nil {
		f.t.Fatalf("%s: %v", cmd.CommandType(), err)
	}
	stored := make([]eventstore.Event, len(evs))
	for i, e := range evs {
		typ, body, err := domain.EncodeEvent(e)
		if err != nil {
			f.t.Fatal(err)
		}
		stored[i] = eventstore.Event{Type: typ, Body: body}
	}
	f.ids++
	id := fmt.Sprintf("cmd-%d", f.ids)
	appended, err := f.events.Append(ctx, cmd.StreamID(), agg.Version(), stored, eventstore.Command{ID: id, Type: cmd.CommandType()})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, r := range appended {
		if err := f.proj.Apply(ctx, r); err != nil {
			f.t.Fatal(err)
		}
	}
	return id
}

// get fetches path and returns the status and the decoded JSON body.
func (f *fixture) get(path string) (int, map[string]any, []any) {
	f.t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Fatalf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	var obj map[string]any
	var arr []any
	if strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
		if err := json.Unmarshal(raw, &arr); err != nil {
			f.t.Fatalf("GET %s: %v in %s", path, err, raw)
		}
	} else if err := json.Unmarshal(raw, &obj); err != nil {
		f.t.Fatalf("GET %s: %v in %s", path, err, raw)
	}
	return resp.StatusCode, obj, arr
}

func seeded(t *testing.T) (*fixture, map[string]string) {
	f := newFixture(t)
	ids := map[string]string{}
	ids["build"] = f.do(domain.CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: []string{"BrowserA", "BrowserB"}})
	f.do(domain.UpdateBuild{User: "api", Repo: "foo", BuildID: 1, Browser: "BrowserA", Status: "finished", Finished: true})
	f.do(domain.StartStatus{Pkg: "@scope/pkg", Env: "prod", Version: "1.0.0", Locales: []string{"en", "fr"}})
	f.do(domain.RecordStatusEvent{Pkg: "@scope/pkg", Env: "prod", Version: "1.0.0", Locale: "en", Message: "built"})
	f.do(domain.CompleteLocale{Pkg: "@scope/pkg", Env: "prod", Version: "1.0.0", Locale: "en"})
	f.do(domain.Lock{Env: "production", User: "alice", Meta: "CI URL"})
	f.do(domain.StartJob{Jobname: "deploy-prod", User: "alice", Version: "abc123"})
	f.do(domain.StartJob{Jobname: "deploy-stage", User: "bob", Version: "abc123"})
	f.do(domain.EndJob{Jobname: "deploy-stage", Version: "abc123", Skipped: true})
	return f, ids
}

func TestRoutes_GivenSeededModels_WhenQueried_ThenAnswer200WithTheRows(t *testing.T) {
	f, ids := seeded(t)
	tests := []struct {
		name  string
		path  string
		check func(t *testing.T, obj map[string]any, arr []any)
	}{
		{"repo", "/v1/repo?user=api&repo=foo", func(t *testing.T, o map[string]any, _ []any) {
			if o["currentBuildInProgress"] != "1" || o["latestBuild"] != nil {
				t.Errorf("repo = %v", o)
			}
		}},
		{"build", "/v1/build?user=api&repo=foo&build=1", func(t *testing.T, o map[string]any, _ []any) {
			if o["buildID"] != 1.0 || o["pending"] != 1.0 || o["BrowserA"] != "finished" || o["BrowserA-pending"] != false || o["BrowserB-pending"] != true {
				t.Errorf("build = %v", o)
			}
		}},
		{"status", "/v1/status?pkg=%40scope%2Fpkg&env=prod&version=1.0.0", func(t *testing.T, o map[string]any, _ []any) {
			if o["total"] != 50.0 || o["complete"] != false || o["error"] != false {
				t.Errorf("status = %v", o)
			}
		}},
		{"status head", "/v1/status/head?pkg=%40scope%2Fpkg&env=prod", func(t *testing.T, o map[string]any, _ []any) {
			if o["version"] != "1.0.0" {
				t.Errorf("head = %v", o)
			}
		}},
		{"status events", "/v1/status/events?pkg=%40scope%2Fpkg&env=prod&version=1.0.0&limit=10", func(t *testing.T, o map[string]any, _ []any) {
			evs, _ := o["events"].([]any)
			if len(evs) != 1 || evs[0].(map[string]any)["message"] != "built" {
				t.Errorf("status events = %v", o)
			}
		}},
		{"locks", "/v1/locks?env=production", func(t *testing.T, _ map[string]any, a []any) {
			if len(a) != 1 || a[0].(map[string]any)["user"] != "alice" || a[0].(map[string]any)["active"] != true {
				t.Errorf("locks = %v", a)
			}
		}},
		{"jobs", "/v1/jobs?jobname=deploy-prod&version=abc123", func(t *testing.T, _ map[string]any, a []any) {
			if len(a) != 1 || a[0].(map[string]any)["ended"] != nil {
				t.Errorf("jobs = %v", a)
			}
		}},
		{"active jobs", "/v1/jobs/active?jobname=deploy-prod&ttl=1h", func(t *testing.T, _ map[string]any, a []any) {
			if len(a) != 1 {
				t.Errorf("active = %v", a)
			}
		}},
		{"active jobs outside the ttl", "/v1/jobs/active?jobname=deploy-prod&ttl=30s", func(t *testing.T, _ map[string]any, a []any) {
			if len(a) != 0 {
				t.Errorf("active within 30s = %v, want none (started a minute ago)", a)
			}
		}},
		{"skipped jobs", "/v1/jobs/skipped?jobname=deploy-stage", func(t *testing.T, _ map[string]any, a []any) {
			if len(a) != 1 || a[0].(map[string]any)["skipped"] != true {
				t.Errorf("skipped = %v", a)
			}
		}},
		{"command outcome", "/v1/commands/" + ids["build"], func(t *testing.T, o map[string]any, _ []any) {
			if o["status"] != "accepted" || o["stream"] != "repo:api/foo" {
				t.Errorf("outcome = %v", o)
			}
		}},
		{"events in time order", "/v1/events?limit=3", func(t *testing.T, o map[string]any, _ []any) {
			evs, _ := o["events"].([]any)
			if len(evs) != 3 || o["next"] == nil || o["next"] == "" {
				t.Errorf("events = %v", o)
			}
		}},
		{"events of one stream", "/v1/events?stream=repo:api/foo&limit=1", func(t *testing.T, o map[string]any, _ []any) {
			evs, _ := o["events"].([]any)
			if len(evs) != 1 || evs[0].(map[string]any)["type"] != "BuildCreated" || o["next"] != "2" {
				t.Errorf("stream events = %v", o)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, obj, arr := f.get(tt.path)
			if status != http.StatusOK {
				t.Fatalf("GET %s = %d %v, want 200", tt.path, status, obj)
			}
			tt.check(t, obj, arr)
		})
	}
}

func TestRoutes_GivenUnknownThings_WhenQueried_ThenAnswer404WithJSONError(t *testing.T) {
	f, _ := seeded(t)
	for _, path := range []string{
		"/v1/repo?user=api&repo=nope",
		"/v1/build?user=api&repo=foo&build=9",
		"/v1/status?pkg=nope&env=prod&version=1",
		"/v1/status/head?pkg=nope&env=prod",
		"/v1/jobs?jobname=nope&version=abc123",
		"/v1/commands/no-such-command",
		"/v1/no-such-route",
	} {
		t.Run(path, func(t *testing.T) {
			status, obj, _ := f.get(path)
			if status != http.StatusNotFound || obj["error"] == "" || obj["error"] == nil {
				t.Fatalf("GET %s = %d %v, want 404 with an error", path, status, obj)
			}
		})
	}
}

func TestRoutes_GivenAMissingRepository_ThenThe404SaysWhich(t *testing.T) {
	f := newFixture(t)
	status, obj, _ := f.get("/v1/repo?user=api&repo=nope")
	if status != http.StatusNotFound || obj["error"] != "repository api/nope not found" {
		t.Fatalf("GET /v1/repo = %d %v, want 404 naming the repository", status, obj)
	}
}

func TestRoutes_GivenBadParameters_WhenQueried_ThenAnswer400NamingTheParameter(t *testing.T) {
	f, _ := seeded(t)
	tests := []struct{ path, param string }{
		{"/v1/repo?user=api", "repo"},
		{"/v1/build?user=api&repo=foo", "build"},
		{"/v1/build?user=api&repo=foo&build=one", "build"},
		{"/v1/build?user=api&repo=foo&build=0", "build"},
		{"/v1/status?pkg=p&env=e", "version"},
		{"/v1/status/head?env=e", "pkg"},
		{"/v1/status/events?pkg=p&env=e&version=1&limit=0", "limit"},
		{"/v1/status/events?pkg=p&env=e&version=1&after=-1", "after"},
		{"/v1/locks", "env"},
		{"/v1/jobs?jobname=j", "version"},
		{"/v1/jobs/active?jobname=j&ttl=soon", "ttl"},
		{"/v1/jobs/skipped?ttl=1h", "jobname"},
		{"/v1/events?limit=5000", "limit"},
		{"/v1/events?from=3", "from"},
		{"/v1/events?stream=repo:api/foo&after=x", "after"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, obj, _ := f.get(tt.path)
			if status != http.StatusBadRequest || obj["parameter"] != tt.param || !strings.Contains(fmt.Sprint(obj["error"]), tt.param) {
				t.Fatalf("GET %s = %d %v, want 400 naming %q", tt.path, status, obj, tt.param)
			}
		})
	}
}

func TestRoutes_GivenWrongMethod_ThenNotAllowed(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Post(f.srv.URL+"/v1/repo?user=a&repo=b", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /v1/repo = %d, want 405", resp.StatusCode)
	}
}
