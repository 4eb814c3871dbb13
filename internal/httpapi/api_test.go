package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"buildledger/domain"
	"buildledger/eventstore"
	esmemory "buildledger/eventstore/memory"
	"buildledger/internal/httpapi"
	"buildledger/internal/logbuf"
	"buildledger/projections"
	projmemory "buildledger/projections/memory"
	"buildledger/projections/projectionstest"
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
	f.srv = httptest.NewServer(httpapi.New(httpapi.Config{
		Reads:  projections.NewQueries(f.reads),
		Events: f.events,
		Now:    func() time.Time { return now },
		Feed:   streamingFeed(t, f.events, 200*time.Millisecond),
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// do decides and applies one command a minute before now, failing the test unless it is
// accepted.
func (f *fixture) do(cmd domain.Command) string {
	f.t.Helper()
	return f.doAt(now.Add(-time.Minute), cmd)
}

// doAt decides and applies one command at time at, failing the test unless it is accepted.
func (f *fixture) doAt(at time.Time, cmd domain.Command) string {
	f.t.Helper()
	ctx := context.Background()
	version, stored, err := projectionstest.Decide(ctx, f.events, at, cmd)
	if err != nil {
		f.t.Fatalf("%s: %v", cmd.CommandType(), err)
	}
	f.ids++
	id := fmt.Sprintf("cmd-%d", f.ids)
	appended, err := f.events.Append(ctx, cmd.StreamID(), version, stored, eventstore.CommandRef{ID: id, Type: cmd.CommandType()})
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
	key, err := f.events.Put(context.Background(), json.RawMessage(`{"note":"stored by Put"}`))
	if err != nil {
		t.Fatal(err)
	}
	ids["put"] = key
	page, err := f.events.ReadAll(context.Background(), "", 1)
	if err != nil {
		t.Fatal(err)
	}
	ids["firstKey"] = page.Records[0].Key
	return f, ids
}

// okCase is a GET that must answer 200, and what its decoded body must hold.
type okCase struct {
	name  string
	path  string
	check func(t *testing.T, obj map[string]any, arr []any)
}

// expectOK asks for each case's path in a subtest of its name, and checks that the answer
// is 200 and passes the case's check.
func (f *fixture) expectOK(t *testing.T, tests []okCase) {
	t.Helper()
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

// badParamCase is a GET with a bad parameter, which the answer must name.
type badParamCase struct{ name, path, param string }

// expectBadParam asks for each case's path in a subtest of its name (its path when it has
// none), and checks that the answer is 400 with the parameter in its parameter field and in
// its error.
func (f *fixture) expectBadParam(t *testing.T, tests []badParamCase) {
	t.Helper()
	for _, tt := range tests {
		name := tt.name
		if name == "" {
			name = tt.path
		}
		t.Run(name, func(t *testing.T) {
			status, obj, _ := f.get(tt.path)
			if status != http.StatusBadRequest || obj["parameter"] != tt.param || !strings.Contains(fmt.Sprint(obj["error"]), tt.param) {
				t.Fatalf("GET %s = %d %s, want 400 naming %q", brief(tt.path), status, brief(fmt.Sprint(obj)), tt.param)
			}
		})
	}
}

func TestRoutes_GivenSeededModels_WhenQueried_ThenAnswer200WithTheRows(t *testing.T) {
	f, ids := seeded(t)
	f.expectOK(t, []okCase{
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
		{"events after a key", "/v1/events?after=" + ids["firstKey"] + "&limit=1", func(t *testing.T, o map[string]any, _ []any) {
			evs, _ := o["events"].([]any)
			if len(evs) != 1 || evs[0].(map[string]any)["key"] == ids["firstKey"] {
				t.Errorf("events after %s = %v", ids["firstKey"], o)
			}
		}},
		{"events of a stream stored by Put", "/v1/events?stream=" + eventstore.PutStreamPrefix + ids["put"], func(t *testing.T, o map[string]any, _ []any) {
			evs, _ := o["events"].([]any)
			if len(evs) != 1 || evs[0].(map[string]any)["key"] != ids["put"] {
				t.Errorf("put stream events = %v", o)
			}
		}},
	})
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
	f.expectBadParam(t, []badParamCase{
		{"", "/v1/repo?user=api", "repo"},
		{"", "/v1/build?user=api&repo=foo", "build"},
		{"", "/v1/build?user=api&repo=foo&build=one", "build"},
		{"", "/v1/build?user=api&repo=foo&build=0", "build"},
		{"", "/v1/status?pkg=p&env=e", "version"},
		{"", "/v1/status/head?env=e", "pkg"},
		{"", "/v1/status/events?pkg=p&env=e&version=1&limit=0", "limit"},
		{"", "/v1/status/events?pkg=p&env=e&version=1&after=-1", "after"},
		{"", "/v1/locks", "env"},
		{"", "/v1/jobs?jobname=j", "version"},
		{"", "/v1/jobs/active?jobname=j&ttl=soon", "ttl"},
		{"", "/v1/jobs/skipped?ttl=1h", "jobname"},
		{"", "/v1/events?limit=5000", "limit"},
		{"", "/v1/events?from=3", "from"},
		{"", "/v1/events?stream=repo:api/foo&after=x", "after"},
	})
}

func TestRoutes_GivenWrongMethod_ThenNotAllowedInJSON(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/v1/repo?user=a&repo=b", "/v1/locks?env=prod", "/v1/nothing-here"} {
		resp, err := http.Post(f.srv.URL+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || err != nil || !strings.Contains(body.Error, "GET only") ||
			resp.Header.Get("Allow") != "GET, HEAD" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("POST %s = %d %q (%v), Allow %q, Content-Type %q; want a JSON 405 allowing GET", path, resp.StatusCode, body.Error, err,
				resp.Header.Get("Allow"), resp.Header.Get("Content-Type"))
		}
	}
}

func TestRoutes_GivenNamesNoCommandCouldHaveWritten_WhenQueried_ThenAnswer400NamingTheParameter(t *testing.T) {
	f, _ := seeded(t)
	long := strings.Repeat("u", 3000)
	f.expectBadParam(t, []badParamCase{
		{"given a 3000-byte user", "/v1/repo?user=" + long + "&repo=x", "user"},
		{"given a 3000-byte repo of a build", "/v1/build?user=api&repo=" + long + "&build=1", "repo"},
		{"given a user with a trailing space", "/v1/repo?user=api%20&repo=foo", "user"},
		{"given a repo with a slash", "/v1/repo?user=api&repo=foo%2Fbar", "repo"},
		{"given a pkg with a slash but no scope", "/v1/status?pkg=a%2Fb&env=prod&version=1", "pkg"},
		{"given an env with a newline", "/v1/status/head?pkg=p&env=prod%0A", "env"},
		{"given a version with a control character", "/v1/status/events?pkg=p&env=prod&version=1%00", "version"},
		{"given a 3000-byte env", "/v1/locks?env=" + long, "env"},
		{"given a jobname with a leading space", "/v1/jobs?jobname=%20deploy&version=abc123", "jobname"},
		{"given a 3000-byte jobname of active jobs", "/v1/jobs/active?jobname=" + long, "jobname"},
		{"given invalid UTF-8 in a skipped jobname", "/v1/jobs/skipped?jobname=%FF", "jobname"},
		{"given a 200-byte command id", "/v1/commands/" + strings.Repeat("c", 200), "id"},
		{"given a command id with a space", "/v1/commands/cmd%201", "id"},
		{"given a 3000-byte stream", "/v1/events?stream=repo:" + long + "/x", "stream"},
		{"given a stream without its repo", "/v1/events?stream=repo:api", "stream"},
		{"given a stream the store keeps for itself", "/v1/events?stream=%24buckets", "stream"},
		{"given a stream with a look-alike user", "/v1/events?stream=repo:api%20/foo", "stream"},
		{"given a put stream without a key", "/v1/events?stream=put:nokey", "stream"},
		{"given a 3000-byte after key", "/v1/events?after=20261121" + long, "after"},
		{"given an after that is no key", "/v1/events?after=yesterday", "after"},
	})
}

// brief cuts s to a length that keeps a failure message readable.
func brief(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// failingReads answers every repository read with a store failure.
type failingReads struct{ httpapi.Reads }

func (failingReads) Repo(context.Context, string, string) (projections.Repo, error) {
	return projections.Repo{}, errors.New("projections/dynamo: get repository: connection reset")
}

func TestRoutes_GivenAStoreFailure_WhenQueried_ThenAnswer500AndLogTheRequestID(t *testing.T) {
	tests := []struct {
		name string
		// sent is the caller's X-Request-Id; "" sends none.
		sent string
		// kept says whether the server answers with the caller's id rather than a new one.
		kept bool
	}{
		{"given a caller's request id then it is kept", "ci-4711/step-3", true},
		{"given no request id then a new one", "", false},
		{"given an over-long request id then a new one", strings.Repeat("r", 300), false},
		{"given a request id with a space then a new one", "ci 4711", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logbuf.Buffer
			log := zerolog.New(&logs)
			srv := httptest.NewServer(httpapi.New(httpapi.Config{
				Reads:  failingReads{projections.NewQueries(projmemory.New())},
				Events: esmemory.New(),
				Logger: &log,
			}))
			t.Cleanup(srv.Close)

			req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/repo?user=api&repo=foo", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.sent != "" {
				req.Header.Set("X-Request-Id", tt.sent)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}

			id := resp.Header.Get("X-Request-Id")
			if resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("status %d %v, want 500", resp.StatusCode, body)
			}
			if id == "" || (tt.kept && id != tt.sent) || (!tt.kept && uuid.Validate(id) != nil) {
				t.Fatalf("X-Request-Id %q, want %s", id, map[bool]string{true: tt.sent, false: "a new uuid"}[tt.kept])
			}
			if body["requestId"] != id {
				t.Errorf("body %v does not carry the request id %q", body, id)
			}
			line := logLine(t, logs.String(), id)
			if line["level"] != "error" || line["method"] != "GET" || line["path"] != "/v1/repo" || !strings.Contains(fmt.Sprint(line["error"]), "connection reset") {
				t.Errorf("log line %v, want level error, method GET, path /v1/repo and the store's error", line)
			}
		})
	}
}

// logLine returns the JSON log line whose request_id is id, failing the test when none is.
func logLine(t *testing.T, logs, id string) map[string]any {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err == nil && line["request_id"] == id {
			return line
		}
	}
	t.Fatalf("no log line with request_id %q in:\n%s", id, logs)
	return nil
}
