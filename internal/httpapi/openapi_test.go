package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/internal/apiauth"
	"buildledger/internal/authget"
	"buildledger/internal/httpapi"
	"buildledger/internal/oidcauth"
	"buildledger/internal/oidctest"
	"buildledger/projections"
)

// uncheckable are the answers the document declares that the contract test cannot provoke:
// a 503 is written only to a caller that has gone away, or with authentication on (see
// TestOpenAPI_GivenAuthenticationOn_WhenRefused_ThenEvery401_403And503ValidatesAgainstTheDocument).
var uncheckable = map[int]string{http.StatusServiceUnavailable: "written only after the caller went away, or when an ID token's issuer is down"}

// checkedWithAuthentication are the answers only a server with authentication on gives;
// the authentication test checks them on every operation.
var checkedWithAuthentication = map[int]bool{http.StatusUnauthorized: true, http.StatusForbidden: true}

// contract is the API's OpenAPI document, loaded and validated by kin-openapi, and the
// answers (operation and status) that the test has checked against it.
type contract struct {
	doc     *openapi3.T
	router  routers.Router
	checked map[string]map[int]bool
}

func loadContract(t *testing.T) *contract {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the OpenAPI document is not valid OpenAPI 3: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("route on the OpenAPI document: %v", err)
	}
	return &contract{doc: doc, router: router, checked: map[string]map[int]bool{}}
}

// exchange is one request to the API and its answer, checked against the document.
type exchange struct {
	operation string
	status    int
	body      []byte
	// requestErr is why the document refuses the request; nil when it accepts it.
	requestErr error
}

// send asks srv for path and checks the answer against the document, failing the test
// when the document has no route for path or the answer does not validate.
func (c *contract) send(t *testing.T, srv *httptest.Server, path string) exchange {
	t.Helper()
	return c.sendWith(t, srv, path, "")
}

// sendWith is send with an Authorization header, unless authorization is empty.
func (c *contract) sendWith(t *testing.T, srv *httptest.Server, path, authorization string) exchange {
	t.Helper()
	got := authget.Get(t, srv, path, authorization)
	req, body := got.Request, got.Body
	route, pathParams, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("GET %s: the document has no route for it: %v", brief(path), err)
	}
	unescape(t, pathParams)
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, AuthenticationFunc: bearerPresent}}
	ex := exchange{operation: route.Operation.OperationID, status: got.Status, body: body,
		requestErr: openapi3filter.ValidateRequest(ctx, in)}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: got.Status,
		Header: got.Header, Body: io.NopCloser(bytes.NewReader(body)), Options: in.Options}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Fatalf("GET %s: the %d answer breaks the document: %v\nbody: %s", brief(path), got.Status, err, brief(string(body)))
	}
	if c.checked[ex.operation] == nil {
		c.checked[ex.operation] = map[int]bool{}
	}
	c.checked[ex.operation][got.Status] = true
	return ex
}

// bearerPresent is the document's bearer scheme as a request can show it: an
// Authorization: Bearer header (whether the token is good is the server's to say).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearer" {
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return errors.New("no Authorization: Bearer header")
	}
	return nil
}

// unescape decodes path parameters in place: kin-openapi's gorillamux router matches the
// escaped path and hands them over escaped (getkin/kin-openapi#1089), while the API and the
// document's rules see them decoded.
func unescape(t *testing.T, pathParams map[string]string) {
	t.Helper()
	for k, v := range pathParams {
		decoded, err := url.PathUnescape(v)
		if err != nil {
			t.Fatalf("path parameter %s %q: %v", k, v, err)
		}
		pathParams[k] = decoded
	}
}

// contractCase is one request of the contract test and the status it must have.
type contractCase struct {
	name, path string
	status     int
	// beyond, on a 400, says why the document cannot refuse the request itself; empty
	// when it does (a pattern, a bound, a format, a required parameter).
	beyond string
}

// contractFixture is seeded's data and more, so that the answers show the optional
// fields: a lock that expired, one forced away, a queue, an open and a closed freeze, a
// break-glass grant, an uberlock, an error event, an ended run, a rejected command.
func contractFixture(t *testing.T) (*fixture, map[string]string) {
	f, ids := seeded(t)
	f.doAt(now.Add(-50*time.Minute), domain.Lock{Env: "qa", User: "dave", Lease: "10m"})
	f.doAt(now.Add(-30*time.Minute), domain.ExpireLock{Env: "qa"})
	f.doAt(now.Add(-20*time.Minute), domain.Lock{Env: "staging", User: "erin", Meta: "CI URL"})
	f.doAt(now.Add(-15*time.Minute), domain.Release{Env: "staging", User: "ops", Force: true, Reason: "stuck deploy"})
	f.doAt(now.Add(-10*time.Minute), domain.Lock{Env: "staging", User: "bob", Lease: "1h"})
	f.doAt(now.Add(-2*time.Minute), domain.AddFreeze{Env: "staging", User: "ops", Cron: "0 18 * * FRI", Duration: "64h", Reason: "weekend"})
	f.doAt(now.Add(-time.Minute), domain.AddFreeze{Env: "staging", User: "ops", Cron: "0 3 * * MON", Duration: "1h", TZ: "Europe/Berlin", Reason: "backups"})
	f.doAt(now.Add(-5*time.Second), domain.Lock{Env: "staging", User: "carol", Queue: true})
	f.doAt(now.Add(-time.Minute), domain.AddFreeze{Env: "canary", User: "ops", Cron: "0 18 * * FRI", Duration: "64h", Reason: "weekend"})
	f.doAt(now.Add(-time.Minute), domain.Lock{Env: "canary", User: "frank", BreakGlass: true, Reason: "hotfix"})
	f.doAt(now.Add(-time.Minute), domain.Lock{Env: "ops", User: "root", Uberlock: true})
	f.do(domain.StartStatus{Pkg: "@scope/pkg", Env: "prod", Version: "2.0.0", PreviousVersion: "1.0.0", Locales: []string{"en"}})
	f.do(domain.RecordStatusEvent{Pkg: "@scope/pkg", Env: "prod", Version: "2.0.0", Locale: "en", Message: "building"})
	f.do(domain.RecordStatusEvent{Pkg: "@scope/pkg", Env: "prod", Version: "2.0.0", Locale: "en", Message: "failed", Details: "exit 1", Error: true})
	f.do(domain.EndJob{Jobname: "deploy-prod", Version: "abc123"})
	f.do(domain.StartJob{Jobname: "deploy-prod", User: "alice", Version: "abc123"})
	ids["rejected"] = "cmd-rejected"
	err := f.events.RecordOutcome(context.Background(), eventstore.Outcome{CommandID: ids["rejected"], CommandType: "Lock",
		Status: eventstore.OutcomeRejected, Stream: "lock:staging", Version: 5, Reason: "Still locked at env staging by bob",
		Code: "locked", RecordedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	return f, ids
}

func contractCases(ids map[string]string) []contractCase {
	long := strings.Repeat("u", 3000)
	at := func(d time.Duration) string { return rfc3339(now.Add(d)) }
	return []contractCase{
		// 200
		{"repo", "/v1/repo?user=api&repo=foo", 200, ""},
		{"build", "/v1/build?user=api&repo=foo&build=1", 200, ""},
		{"status", "/v1/status?pkg=%40scope%2Fpkg&env=prod&version=1.0.0", 200, ""},
		{"status that errored", "/v1/status?pkg=%40scope%2Fpkg&env=prod&version=2.0.0", 200, ""},
		{"status head", "/v1/status/head?pkg=%40scope%2Fpkg&env=prod", 200, ""},
		{"status events", "/v1/status/events?pkg=%40scope%2Fpkg&env=prod&version=1.0.0", 200, ""},
		{"status events, a page with a next", "/v1/status/events?pkg=%40scope%2Fpkg&env=prod&version=2.0.0&limit=1", 200, ""},
		{"status events after a seq", "/v1/status/events?pkg=%40scope%2Fpkg&env=prod&version=2.0.0&after=1&limit=1000", 200, ""},
		{"status events of an unknown status", "/v1/status/events?pkg=nope&env=prod&version=1", 200, ""},
		{"locks", "/v1/locks?env=production", 200, ""},
		{"locks, expired and forced", "/v1/locks?env=staging", 200, ""},
		{"locks, lease expired", "/v1/locks?env=qa", 200, ""},
		{"locks of an unknown env", "/v1/locks?env=nowhere", 200, ""},
		{"locks at a time bob held staging", "/v1/locks?env=staging&at=" + at(-time.Minute), 200, ""},
		{"locks at a time nobody held qa", "/v1/locks?env=qa&at=" + at(-time.Minute), 200, ""},
		{"lock history", "/v1/locks/history?env=staging", 200, ""},
		{"lock history of qa", "/v1/locks/history?env=qa", 200, ""},
		{"lock history of a break-glass grant", "/v1/locks/history?env=canary", 200, ""},
		{"locks, break glass", "/v1/locks?env=canary", 200, ""},
		{"locks, uberlock", "/v1/locks?env=ops", 200, ""},
		{"locks at a time root held the uberlock", "/v1/locks?env=ops&at=" + at(0), 200, ""},
		{"lock history since", "/v1/locks/history?env=staging&since=" + at(-3*time.Minute), 200, ""},
		{"lock history of an unknown env", "/v1/locks/history?env=nowhere", 200, ""},
		{"lock queue", "/v1/locks/queue?env=staging", 200, ""},
		{"lock queue of an unknown env", "/v1/locks/queue?env=nowhere", 200, ""},
		{"freezes", "/v1/freezes?env=staging", 200, ""},
		{"freezes of an unknown env", "/v1/freezes?env=nowhere", 200, ""},
		{"jobs", "/v1/jobs?jobname=deploy-prod&version=abc123", 200, ""},
		{"active jobs", "/v1/jobs/active?jobname=deploy-prod", 200, ""},
		{"active jobs within 30s", "/v1/jobs/active?jobname=deploy-prod&ttl=30s", 200, ""},
		{"skipped jobs", "/v1/jobs/skipped?jobname=deploy-stage&ttl=1h30m", 200, ""},
		{"skipped jobs of an unknown job", "/v1/jobs/skipped?jobname=nope", 200, ""},
		{"accepted command", "/v1/commands/" + ids["build"], 200, ""},
		{"rejected command", "/v1/commands/" + ids["rejected"], 200, ""},
		{"events", "/v1/events", 200, ""},
		{"events, a page with a next", "/v1/events?limit=2", 200, ""},
		{"events after a key", "/v1/events?after=" + ids["firstKey"] + "&limit=1000", 200, ""},
		{"events of a stream", "/v1/events?stream=repo:api/foo&from=2&limit=1", 200, ""},
		{"events of a scoped status stream", "/v1/events?stream=status:%40scope%2Fpkg/prod/1.0.0", 200, ""},
		{"events of a lock stream", "/v1/events?stream=lock:staging", 200, ""},
		{"events of a job stream", "/v1/events?stream=job:deploy-prod/abc123", 200, ""},
		{"events of a put stream", "/v1/events?stream=" + eventstore.PutStreamPrefix + ids["put"], 200, ""},
		{"events of an unknown stream", "/v1/events?stream=repo:api/nope", 200, ""},
		{"feed", "/v1/feed", 200, ""},
		{"feed of lock and status streams", "/v1/feed?kinds=lock,status", 200, ""},
		{"feed of a stream after a key", "/v1/feed?stream=repo:api/foo&after=" + ids["firstKey"], 200, ""},
		{"the document", httpapi.OpenAPIPath, 200, ""},

		// 404
		{"unknown repo", "/v1/repo?user=api&repo=nope", 404, ""},
		{"unknown build", "/v1/build?user=api&repo=foo&build=9", 404, ""},
		{"unknown status", "/v1/status?pkg=nope&env=prod&version=1", 404, ""},
		{"unknown status head", "/v1/status/head?pkg=nope&env=prod", 404, ""},
		{"unknown job runs", "/v1/jobs?jobname=nope&version=abc123", 404, ""},
		{"unknown command", "/v1/commands/no-such-command", 404, ""},

		// 400: each kind of bad parameter of each route
		{"repo without repo", "/v1/repo?user=api", 400, ""},
		{"repo without user", "/v1/repo?repo=foo", 400, ""},
		{"repo of a 3000-byte user", "/v1/repo?user=" + long + "&repo=x", 400, ""},
		{"repo of a user with a trailing space", "/v1/repo?user=api%20&repo=foo", 400, ""},
		{"repo of a user with a no-break space", "/v1/repo?user=api%C2%A0&repo=foo", 400, ""},
		{"repo with a slash", "/v1/repo?user=api&repo=foo%2Fbar", 400, ""},
		{"repo of a user with a zero-width space", "/v1/repo?user=a%E2%80%8Bpi&repo=foo", 400, "PRECIS disallows the character; a pattern would have to list every such character"},
		{"repo of a user in two scripts", "/v1/repo?user=p%D0%B0ypal&repo=foo", 400, "one script per name is beyond a pattern"},
		{"repo of a user not in NFC", "/v1/repo?user=cafe%CC%81&repo=foo", 400, "normalization is beyond a pattern"},
		{"repo of a 200-character, 400-byte user", "/v1/repo?user=" + strings.Repeat("%C3%A9", 200) + "&repo=x", 400, "maxLength counts characters, the API bytes"},
		{"build without build", "/v1/build?user=api&repo=foo", 400, ""},
		{"build that is no number", "/v1/build?user=api&repo=foo&build=one", 400, ""},
		{"build 0", "/v1/build?user=api&repo=foo&build=0", 400, ""},
		{"build past int32", "/v1/build?user=api&repo=foo&build=2147483648", 400, ""},
		{"build of a 3000-byte repo", "/v1/build?user=api&repo=" + long + "&build=1", 400, ""},
		{"status without version", "/v1/status?pkg=p&env=e", 400, ""},
		{"status of a pkg with a slash but no scope", "/v1/status?pkg=a%2Fb&env=prod&version=1", 400, ""},
		{"status of a pkg with two slashes", "/v1/status?pkg=%40a%2Fb%2Fc&env=prod&version=1", 400, ""},
		{"status head without pkg", "/v1/status/head?env=e", 400, ""},
		{"status head of an env with a newline", "/v1/status/head?pkg=p&env=prod%0A", 400, ""},
		{"status events with limit 0", "/v1/status/events?pkg=p&env=e&version=1&limit=0", 400, ""},
		{"status events with limit 1001", "/v1/status/events?pkg=p&env=e&version=1&limit=1001", 400, ""},
		{"status events after -1", "/v1/status/events?pkg=p&env=e&version=1&after=-1", 400, ""},
		{"status events after no number", "/v1/status/events?pkg=p&env=e&version=1&after=x", 400, ""},
		{"status events of a version with a NUL", "/v1/status/events?pkg=p&env=prod&version=1%00", 400, ""},
		{"locks without env", "/v1/locks", 400, ""},
		{"locks of a 3000-byte env", "/v1/locks?env=" + long, 400, ""},
		{"locks at no time", "/v1/locks?env=production&at=yesterday", 400, ""},
		{"locks at an empty time", "/v1/locks?env=production&at=", 400, ""},
		{"locks at a time without a zone", "/v1/locks?env=production&at=2026-11-21T11:00:00", 400, ""},
		{"locks at a time without env", "/v1/locks?at=" + at(0), 400, ""},
		{"lock history without env", "/v1/locks/history", 400, ""},
		{"lock history of a look-alike env", "/v1/locks/history?env=production%20", 400, ""},
		{"lock history since no time", "/v1/locks/history?env=production&since=monday", 400, ""},
		{"lock queue without env", "/v1/locks/queue", 400, ""},
		{"lock queue of a 3000-byte env", "/v1/locks/queue?env=" + strings.Repeat("e", 3000), 400, ""},
		{"freezes without env", "/v1/freezes", 400, ""},
		{"freezes of an env with a slash", "/v1/freezes?env=a%2Fb", 400, ""},
		{"jobs without version", "/v1/jobs?jobname=j", 400, ""},
		{"jobs of a jobname with a leading space", "/v1/jobs?jobname=%20deploy&version=abc123", 400, ""},
		{"active jobs with ttl soon", "/v1/jobs/active?jobname=j&ttl=soon", 400, ""},
		{"active jobs with a negative ttl", "/v1/jobs/active?jobname=j&ttl=-1h", 400, ""},
		{"active jobs with ttl 0s", "/v1/jobs/active?jobname=j&ttl=0s", 400, "a pattern cannot tell a zero duration from a positive one"},
		{"active jobs of a 3000-byte jobname", "/v1/jobs/active?jobname=" + long, 400, ""},
		{"skipped jobs without jobname", "/v1/jobs/skipped?ttl=1h", 400, ""},
		{"skipped jobs of invalid UTF-8", "/v1/jobs/skipped?jobname=%FF", 400, "JSON Schema strings are text: invalid UTF-8 cannot be stated"},
		{"command id of 200 bytes", "/v1/commands/" + strings.Repeat("c", 200), 400, ""},
		{"command id with a space", "/v1/commands/cmd%201", 400, ""},
		{"command id with a tab", "/v1/commands/cmd%091", 400, ""},
		{"events with limit 5000", "/v1/events?limit=5000", 400, ""},
		{"events with limit 0", "/v1/events?limit=0", 400, ""},
		{"events from without stream", "/v1/events?from=3", 400, "from goes only with stream: OpenAPI 3.0 has no dependencies between parameters"},
		{"events after with stream", "/v1/events?stream=repo:api/foo&after=" + ids["firstKey"], 400, "after goes only without stream: OpenAPI 3.0 has no dependencies between parameters"},
		{"events of a stream from 0", "/v1/events?stream=repo:api/foo&from=0", 400, ""},
		{"events of a 3000-byte stream", "/v1/events?stream=repo:" + long + "/x", 400, ""},
		{"events of a stream without its repo", "/v1/events?stream=repo:api", 400, ""},
		{"events of a stream of an unknown kind", "/v1/events?stream=branch:api/foo", 400, ""},
		{"events of a stream the store keeps for itself", "/v1/events?stream=%24buckets", 400, ""},
		{"events of a stream with a look-alike user", "/v1/events?stream=repo:api%20/foo", 400, ""},
		{"events of a put stream without a key", "/v1/events?stream=put:nokey", 400, ""},
		{"events of a put stream on the 13th month", "/v1/events?stream=put:20261321T101500123000420042", 400, "the key's date is checked by the API, only its digits by the pattern"},
		{"events after a 3000-byte key", "/v1/events?after=20261121" + long, 400, ""},
		{"events after no key", "/v1/events?after=yesterday", 400, ""},
		{"feed of an unknown kind", "/v1/feed?kinds=lock,branch", 400, ""},
		{"feed after no cursor", "/v1/feed?after=yesterday", 400, ""},
		{"feed after a cursor whose keys do not increase", "/v1/feed?after=20261121T120000000000000000.20261121T110000000000000000", 400, "that a cursor's keys increase is beyond a pattern"},
		{"feed of a stream of an unknown kind", "/v1/feed?stream=branch:api/foo", 400, ""},
	}
}

func TestOpenAPI_GivenEveryRoute_WhenAnswering200_400And404_ThenEachAnswerValidatesAgainstTheDocument(t *testing.T) {
	c := loadContract(t)
	f, ids := contractFixture(t)
	for _, tt := range contractCases(ids) {
		t.Run(tt.name, func(t *testing.T) {
			ex := c.send(t, f.srv, tt.path)
			if ex.status != tt.status {
				t.Fatalf("GET %s = %d %s, want %d", brief(tt.path), ex.status, brief(string(ex.body)), tt.status)
			}
			switch {
			case tt.status != http.StatusBadRequest && ex.requestErr != nil:
				t.Errorf("GET %s answers %d, but the document refuses the request: %v", brief(tt.path), ex.status, ex.requestErr)
			case tt.status == http.StatusBadRequest && tt.beyond == "" && ex.requestErr == nil:
				t.Errorf("GET %s answers 400, but the document accepts the request: state the rule in it, or say why it cannot", brief(tt.path))
			case tt.status == http.StatusBadRequest && tt.beyond != "" && ex.requestErr != nil:
				t.Errorf("GET %s: the document refuses the request after all (%v): drop its reason %q", brief(tt.path), ex.requestErr, tt.beyond)
			}
		})
	}
	t.Run("then every answer the document declares was checked", func(t *testing.T) {
		for path, item := range c.doc.Paths.Map() {
			for method, op := range item.Operations() {
				for code := range op.Responses.Map() {
					status, err := strconv.Atoi(code)
					if err != nil {
						t.Errorf("%s %s declares response %q: want only numeric statuses", method, path, code)
						continue
					}
					if _, ok := uncheckable[status]; !ok && status != http.StatusInternalServerError && !checkedWithAuthentication[status] && !c.checked[op.OperationID][status] {
						t.Errorf("%s %s (%s) declares %d, but no case of this test answers it", method, path, op.OperationID, status)
					}
				}
			}
		}
	})
}

func TestOpenAPI_GivenTheDocumentServed_ThenItIsTheEmbeddedDocument(t *testing.T) {
	f := newFixture(t)
	got := authget.Get(t, f.srv, httpapi.OpenAPIPath, "")
	if got.Status != http.StatusOK || got.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s = %d %q, want 200 application/json", httpapi.OpenAPIPath, got.Status, got.Header.Get("Content-Type"))
	}
	if !bytes.Equal(got.Body, httpapi.OpenAPIDocument()) {
		t.Errorf("GET %s serves %d bytes that are not the embedded document", httpapi.OpenAPIPath, len(got.Body))
	}
}

// brokenStores fails every read, as a store that is down does.
type brokenStores struct{}

var errStoreDown = errors.New("store: connection reset")

func (brokenStores) Repo(context.Context, string, string) (projections.Repo, error) {
	return projections.Repo{}, errStoreDown
}
func (brokenStores) Build(context.Context, string, string, int) (projections.Build, error) {
	return projections.Build{}, errStoreDown
}
func (brokenStores) Status(context.Context, string, string, string) (projections.Status, error) {
	return projections.Status{}, errStoreDown
}
func (brokenStores) StatusHead(context.Context, string, string) (projections.StatusHead, error) {
	return projections.StatusHead{}, errStoreDown
}
func (brokenStores) StatusEvents(context.Context, string, string, string, int64, int) (projections.StatusEventPage, error) {
	return projections.StatusEventPage{}, errStoreDown
}
func (brokenStores) Locks(context.Context, string) ([]projections.Lock, error) {
	return nil, errStoreDown
}
func (brokenStores) Jobs(context.Context, string, string) ([]projections.Job, error) {
	return nil, errStoreDown
}
func (brokenStores) ActiveJobs(context.Context, string, time.Duration, time.Time) ([]projections.Job, error) {
	return nil, errStoreDown
}
func (brokenStores) SkippedJobs(context.Context, string, time.Duration, time.Time) ([]projections.Job, error) {
	return nil, errStoreDown
}
func (brokenStores) Outcome(context.Context, string) (eventstore.Outcome, error) {
	return eventstore.Outcome{}, errStoreDown
}
func (brokenStores) ReadAll(context.Context, string, int) (eventstore.Page, error) {
	return eventstore.Page{}, errStoreDown
}
func (brokenStores) LoadRange(context.Context, string, int64, int64) ([]eventstore.Record, error) {
	return nil, errStoreDown
}
func (brokenStores) Load(context.Context, string, int64) ([]eventstore.Record, error) {
	return nil, errStoreDown
}

// storeReadingPaths are a request to each operation that reads a store (every one but the
// document), each accepted by the document.
func storeReadingPaths() []string {
	return []string{
		"/v1/repo?user=api&repo=foo",
		"/v1/build?user=api&repo=foo&build=1",
		"/v1/status?pkg=p&env=prod&version=1",
		"/v1/status/head?pkg=p&env=prod",
		"/v1/status/events?pkg=p&env=prod&version=1",
		"/v1/locks?env=production",
		"/v1/locks?env=production&at=" + rfc3339(now),
		"/v1/locks/history?env=production",
		"/v1/locks/queue?env=production",
		"/v1/freezes?env=production",
		"/v1/jobs?jobname=j&version=v",
		"/v1/jobs/active?jobname=j",
		"/v1/jobs/skipped?jobname=j",
		"/v1/commands/cmd-1",
		"/v1/events",
		"/v1/events?stream=repo:api/foo",
		"/v1/feed",
	}
}

func TestOpenAPI_GivenStoresThatAreDown_WhenEveryRouteIsAsked_ThenThe500ValidatesAgainstTheDocument(t *testing.T) {
	c := loadContract(t)
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Reads: brokenStores{}, Events: brokenStores{}, Feed: streamingFeed(t, brokenStores{}, 200*time.Millisecond)}))
	t.Cleanup(srv.Close)
	paths := storeReadingPaths()
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			ex := c.send(t, srv, path)
			if ex.status != http.StatusInternalServerError || ex.requestErr != nil {
				t.Fatalf("GET %s = %d %s (request: %v), want 500 to a request the document accepts", path, ex.status, ex.body, ex.requestErr)
			}
		})
	}
	t.Run("then every operation that reads a store was checked for its 500", func(t *testing.T) {
		for path, item := range c.doc.Paths.Map() {
			for method, op := range item.Operations() {
				if op.Responses.Status(http.StatusInternalServerError) != nil && !c.checked[op.OperationID][http.StatusInternalServerError] {
					if path == httpapi.OpenAPIPath {
						continue // reads no store
					}
					t.Errorf("%s %s declares 500, but no case of this test answers it", method, path)
				}
			}
		}
	})
}

// documentRoutes lists the document's operations as the mux names its patterns: the
// method, a space, the path template ("GET /v1/commands/{id}").
func documentRoutes(doc *openapi3.T) []string {
	var routes []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			routes = append(routes, method+" "+path)
		}
	}
	slices.Sort(routes)
	return routes
}

func TestOpenAPI_GivenTheMuxRoutes_ThenTheDocumentHasEachAndNoOther(t *testing.T) {
	c := loadContract(t)
	served := httpapi.Routes()
	slices.Sort(served)
	documented := documentRoutes(c.doc)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("the API serves %s, but the OpenAPI document has no such operation", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("the OpenAPI document has %s, but the API serves no such route", r)
		}
	}
	if len(served) == 0 {
		t.Fatal("httpapi.Routes() lists no route")
	}
}

func TestOpenAPI_GivenTheMuxRoutes_ThenRoutesHelpNamesEach(t *testing.T) {
	for _, r := range httpapi.Routes() {
		if !strings.Contains(httpapi.RoutesHelp, r+"?") && !strings.Contains(httpapi.RoutesHelp, r+" ") && !strings.Contains(httpapi.RoutesHelp, r+"[") {
			t.Errorf("RoutesHelp, the routes of --help, does not list %s", r)
		}
	}
}

func TestOpenAPI_GivenAnAnswerThatBreaksTheShape_ThenTheDocumentRefusesIt(t *testing.T) {
	c := loadContract(t)
	f, _ := seeded(t)
	ex := c.send(t, f.srv, "/v1/repo?user=api&repo=foo")
	var repo map[string]any
	if err := json.Unmarshal(ex.body, &repo); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(m map[string]any)
	}{
		{"given an extra field", func(m map[string]any) { m["owner"] = "api" }},
		{"given a missing required field", func(m map[string]any) { delete(m, "latestBuild") }},
		{"given a build id that is a number", func(m map[string]any) { m["currentBuildInProgress"] = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := map[string]any{}
			for k, v := range repo {
				broken[k] = v
			}
			tt.change(broken)
			body, err := json.Marshal(broken)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, f.srv.URL+"/v1/repo?user=api&repo=foo", nil)
			route, pathParams, err := c.router.FindRoute(req)
			if err != nil {
				t.Fatal(err)
			}
			header := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r-1"}, "Cache-Control": {"no-store"}}
			err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route},
				Status:                 http.StatusOK, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
			})
			if err == nil {
				t.Errorf("the document accepts %s", body)
			}
		})
	}
}

// Tokens of the authentication test; the read policy lets only the auditor read.
const (
	readerToken  = "reader-0123456789abcdef"
	auditorToken = "auditor-0123456789abcdef"
)

func TestOpenAPI_GivenAuthenticationOn_WhenRefused_ThenEvery401_403And503ValidatesAgainstTheDocument(t *testing.T) {
	c := loadContract(t)
	f, _ := seeded(t)
	issuer := oidctest.New(t)
	toks, err := apiauth.ParseTokens(strings.NewReader("reader:" + readerToken + "\nauditor:" + auditorToken + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	policy, err := apiauth.ParsePolicy(strings.NewReader(`{"rules": [{"kinds": ["*"], "allow": ["token:auditor", "actor:octocat"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := oidcauth.New(oidcauth.Config{Issuers: []string{issuer.URL()}, Audience: "buildledger"})
	if err != nil {
		t.Fatal(err)
	}
	guard, err := apiauth.New(apiauth.Config{Tokens: toks, IDTokens: ids, Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(guard.API(httpapi.New(httpapi.Config{Reads: projections.NewQueries(f.reads), Events: f.events,
		Now: func() time.Time { return now }, Feed: streamingFeed(t, f.events, 200*time.Millisecond)})))
	t.Cleanup(srv.Close)
	octocat := "Bearer " + issuer.Mint(t, oidctest.Token{Claims: oidctest.GitHubClaims()})
	mallory := "Bearer " + issuer.Mint(t, oidctest.Token{Claims: map[string]any{"actor": "mallory"}})
	expired := "Bearer " + issuer.Mint(t, oidctest.Token{IssuedAt: now.Add(-time.Hour), Expiry: time.Now().Add(-time.Hour)})
	tests := []struct {
		name, authorization string
		want                int
	}{
		{"given no token then 401", "", http.StatusUnauthorized},
		{"given an unknown static token then 401", "Bearer wrong-0123456789abcdef", http.StatusUnauthorized},
		{"given an expired ID token then 401", expired, http.StatusUnauthorized},
		{"given a token outside the policy then 403", "Bearer " + readerToken, http.StatusForbidden},
		{"given an ID token outside the policy then 403", mallory, http.StatusForbidden},
		{"given the auditor token then the route's own answer", "Bearer " + auditorToken, 0},
		{"given an ID token within the policy then the route's own answer", octocat, 0},
	}
	for _, path := range append(storeReadingPaths(), httpapi.OpenAPIPath) {
		for _, tt := range tests {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				ex := c.sendWith(t, srv, path, tt.authorization)
				if ex.requestErr != nil {
					t.Errorf("the document refuses the request: %v", ex.requestErr)
				}
				switch {
				case tt.want != 0 && ex.status != tt.want:
					t.Fatalf("GET %s = %d %s, want %d", path, ex.status, brief(string(ex.body)), tt.want)
				case tt.want == 0 && (ex.status == http.StatusUnauthorized || ex.status == http.StatusForbidden):
					t.Fatalf("GET %s = %d %s, want the route's own answer", path, ex.status, brief(string(ex.body)))
				}
			})
		}
	}
	t.Run("given the issuer down then 503", func(t *testing.T) {
		issuer.SetDown(true)
		defer issuer.SetDown(false)
		fresh, err := oidcauth.New(oidcauth.Config{Issuers: []string{issuer.URL()}, Audience: "buildledger"})
		if err != nil {
			t.Fatal(err)
		}
		down, err := apiauth.New(apiauth.Config{IDTokens: fresh})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(down.API(httpapi.New(httpapi.Config{Reads: projections.NewQueries(f.reads), Events: f.events})))
		defer srv.Close()
		if ex := c.sendWith(t, srv, "/v1/events", octocat); ex.status != http.StatusServiceUnavailable {
			t.Fatalf("GET /v1/events with the issuer down = %d %s, want 503", ex.status, brief(string(ex.body)))
		}
	})
	t.Run("then every operation declares 401 and 403 and answered both", func(t *testing.T) {
		for path, item := range c.doc.Paths.Map() {
			for method, op := range item.Operations() {
				for status := range checkedWithAuthentication {
					if op.Responses.Status(status) == nil {
						t.Errorf("%s %s (%s) does not declare %d", method, path, op.OperationID, status)
					} else if !c.checked[op.OperationID][status] {
						t.Errorf("%s %s (%s) declares %d, but no case of this test answers it", method, path, op.OperationID, status)
					}
				}
			}
		}
	})
}
