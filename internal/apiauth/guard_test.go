package apiauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	esmemory "buildledger/eventstore/memory"
	"buildledger/internal/apiauth"
	"buildledger/internal/authget"
	"buildledger/internal/httpapi"
	"buildledger/internal/logbuf"
	"buildledger/internal/oidcauth"
	"buildledger/internal/oidctest"
	"buildledger/projections"
	projmemory "buildledger/projections/memory"
)

// guarded is the read API on empty in-memory stores behind a Guard, on a real HTTP server,
// with a test issuer and the guard's log.
type guarded struct {
	srv    *httptest.Server
	issuer *oidctest.Issuer
	log    *logbuf.Buffer
}

// readPolicy lets every caller read repos and builds, the ci token and org/api's
// workflows read locks and jobs, and the auditor read everything.
const readPolicy = `
rules:
  - kinds: [repo, build, openapi]
    allow: ["*"]
  - kinds: [locks, jobs]
    allow: ["token:ci", "repository:org/api"]
  - kinds: ["*"]
    allow: ["token:auditor"]
`

func newGuarded(t *testing.T, policy string, metrics bool) *guarded {
	t.Helper()
	g := &guarded{issuer: oidctest.New(t), log: &logbuf.Buffer{}}
	toks, err := apiauth.ParseTokens(strings.NewReader("ci:" + ciToken + "\nauditor:" + auditorToken + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	ver, err := oidcauth.New(oidcauth.Config{Issuers: []string{g.issuer.URL()}, Audience: "buildledger"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := apiauth.Config{Tokens: toks, IDTokens: ver, Metrics: metrics}
	if policy != "" {
		if cfg.Policy, err = apiauth.ParsePolicy(strings.NewReader(policy)); err != nil {
			t.Fatal(err)
		}
	}
	logger := zerolog.New(g.log)
	cfg.Logger = &logger
	guard, err := apiauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reads := projmemory.New()
	if _, err := projections.Init(context.Background(), reads); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", guard.API(httpapi.New(httpapi.Config{Reads: projections.NewQueries(reads), Events: esmemory.New()})))
	mux.Handle("/metrics", guard.Metrics(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "metrics\n") })))
	mux.Handle("/", guard.Board(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "<html>board</html>") })))
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

// answer is a response with its decoded JSON body.
type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (g *guarded) get(t *testing.T, path, authorization string) answer {
	t.Helper()
	got := authget.Get(t, g.srv, path, authorization)
	a := answer{status: got.Status, header: got.Header}
	if strings.HasPrefix(got.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(got.Body, &a.body)
	}
	return a
}

func TestGuard_GivenAuthenticationOn_WhenReading_Then401WithoutAGoodToken403OutsideThePolicyAnd200WithinIt(t *testing.T) {
	g := newGuarded(t, readPolicy, false)
	gh := func(claims map[string]any) string {
		return "Bearer " + g.issuer.Mint(t, oidctest.Token{Claims: claims})
	}
	orgAPI := gh(oidctest.GitHubClaims())
	other := gh(map[string]any{"repository": "other/web", "actor": "mallory"})
	expired := "Bearer " + g.issuer.Mint(t, oidctest.Token{IssuedAt: time.Now().Add(-time.Hour), Expiry: time.Now().Add(-30 * time.Minute)})
	foreignAud := "Bearer " + g.issuer.Mint(t, oidctest.Token{Audience: "someone-else"})
	tests := []struct {
		name, path, auth string
		want             int
		wantCaller       string
	}{
		{"given no token then 401", "/v1/repo?user=api&repo=foo", "", 401, ""},
		{"given a wrong static token then 401", "/v1/locks?env=production", "Bearer wrong-0123456789abcdef", 401, ""},
		{"given a Basic header then 401", "/v1/locks?env=production", "Basic Y2k6cGFzcw==", 401, ""},
		{"given an expired ID token then 401", "/v1/locks?env=production", expired, 401, ""},
		{"given an ID token for another audience then 401", "/v1/locks?env=production", foreignAud, 401, ""},
		{"given an unsigned ID token then 401", "/v1/locks?env=production", "Bearer " + g.issuer.Unsigned(t, oidctest.Token{}), 401, ""},
		{"given no token on an unknown path then 401", "/v1/nothing", "", 401, ""},
		{"given the ci token then 200 on locks", "/v1/locks?env=production", "Bearer " + ciToken, 200, ""},
		{"given the ci token in a lower-case scheme then 200", "/v1/jobs/active?jobname=deploy", "bearer " + ciToken, 200, ""},
		{"given an ID token of org/api then 200 on locks", "/v1/locks?env=production", orgAPI, 200, ""},
		{"given an ID token of org/api then 200 on the document", httpapi.OpenAPIPath, orgAPI, 200, ""},
		{"given the auditor token then 200 on events", "/v1/events", "Bearer " + auditorToken, 200, ""},
		{"given the ci token then 403 on events", "/v1/events", "Bearer " + ciToken, 403, "token:ci"},
		{"given the ci token then 403 on a command", "/v1/commands/cmd-1", "Bearer " + ciToken, 403, "token:ci"},
		{"given an ID token of other/web then 403 on locks", "/v1/locks?env=production", other, 403, "subject:repo:org/api:ref:refs/heads/main (issuer " + g.issuer.URL() + ")"},
		{"given the ci token on an unknown path then the API's 404", "/v1/nothing", "Bearer " + ciToken, 404, ""},
		{"given the ci token and a repo the store lacks then the API's 404", "/v1/repo?user=api&repo=foo", "Bearer " + ciToken, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := g.get(t, tt.path, tt.auth)
			if a.status != tt.want {
				t.Fatalf("GET %s = %d %v, want %d", tt.path, a.status, a.body, tt.want)
			}
			if a.header.Get(httpapi.RequestIDHeader) == "" || a.header.Get("Content-Type") != "application/json" {
				t.Errorf("answer without X-Request-Id or not JSON: %v", a.header)
			}
			switch tt.want {
			case 401:
				if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 with WWW-Authenticate %q, want a Bearer challenge", a.header.Get("WWW-Authenticate"))
				}
				if msg, _ := a.body["error"].(string); msg == "" || a.body["requestId"] != a.header.Get(httpapi.RequestIDHeader) {
					t.Errorf("401 body %v, want an error and the request id", a.body)
				}
			case 403:
				if a.body["caller"] != tt.wantCaller || a.body["kind"] != string(apiauth.KindOf(strings.Split(tt.path, "?")[0])) {
					t.Errorf("403 body %v, want caller %q and the route's kind", a.body, tt.wantCaller)
				}
			}
		})
	}
	t.Run("then the log names refusals but holds no token", func(t *testing.T) {
		logged := g.log.String()
		if !strings.Contains(logged, `"caller":"token:ci"`) || !strings.Contains(logged, `"status":401`) {
			t.Errorf("the log does not record the refusals:\n%s", logged)
		}
		for _, secret := range []string{ciToken, auditorToken, "wrong-0123456789abcdef", strings.TrimPrefix(orgAPI, "Bearer "), strings.TrimPrefix(other, "Bearer "), strings.TrimPrefix(expired, "Bearer ")} {
			if strings.Contains(logged, secret) {
				t.Errorf("the log holds a token:\n%s", logged)
			}
		}
	})
}

func TestGuard_GivenNoReadPolicy_WhenAnyAuthenticatedCallerReads_ThenEveryKindIs200(t *testing.T) {
	g := newGuarded(t, "", false)
	token := "Bearer " + g.issuer.Mint(t, oidctest.Token{Claims: map[string]any{"repository": "anyone/else"}})
	for _, path := range []string{"/v1/events", "/v1/locks?env=production", "/v1/jobs/skipped?jobname=j", httpapi.OpenAPIPath} {
		for _, auth := range []string{token, "Bearer " + ciToken} {
			if a := g.get(t, path, auth); a.status != 200 {
				t.Errorf("GET %s = %d %v, want 200", path, a.status, a.body)
			}
		}
		if a := g.get(t, path, ""); a.status != 401 {
			t.Errorf("GET %s without a token = %d, want 401", path, a.status)
		}
	}
}

func TestGuard_GivenTheIssuerIsDown_WhenAnIDTokenIsPresented_Then503NotA401(t *testing.T) {
	g := newGuarded(t, "", false)
	token := "Bearer " + g.issuer.Mint(t, oidctest.Token{})
	g.issuer.SetDown(true)
	a := g.get(t, "/v1/events", token)
	if a.status != http.StatusServiceUnavailable || a.header.Get("WWW-Authenticate") != "" {
		t.Fatalf("GET with the issuer down = %d %v (WWW-Authenticate %q), want 503 without a challenge", a.status, a.body, a.header.Get("WWW-Authenticate"))
	}
	g.issuer.SetDown(false)
	if a := g.get(t, "/v1/events", token); a.status != 200 {
		t.Fatalf("GET with the issuer back = %d %v, want 200", a.status, a.body)
	}
}

func TestGuard_GivenMetricsAndTheBoard_ThenMetricsFollowTheFlagAndTheBoardIsOffWithAReason(t *testing.T) {
	tests := []struct {
		name        string
		metricsAuth bool
		path, auth  string
		want        int
	}{
		{"given metrics open then 200 without a token", false, "/metrics", "", 200},
		{"given metrics protected then 401 without a token", true, "/metrics", "", 401},
		{"given metrics protected then 200 with the auditor token", true, "/metrics", "Bearer " + auditorToken, 200},
		{"given metrics protected then 403 to ci, whom the policy does not name", true, "/metrics", "Bearer " + ciToken, 403},
		{"given the board's page then 404 with a reason", false, "/", "Bearer " + auditorToken, 404},
		{"given the board's fragment then 404 with a reason", false, "/board/fragment", "", 404},
		{"given another path then a plain 404", false, "/elsewhere", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuarded(t, readPolicy, tt.metricsAuth)
			a := g.get(t, tt.path, tt.auth)
			if a.status != tt.want {
				t.Fatalf("GET %s = %d %v, want %d", tt.path, a.status, a.body, tt.want)
			}
			board := tt.path == "/" || strings.HasPrefix(tt.path, "/board/")
			if board && a.body["error"] != apiauth.BoardOffMessage {
				t.Errorf("board answer %v, want the reason it is off", a.body)
			}
		})
	}
}

func TestGuard_GivenANilGuard_ThenHandlersAreUnchanged(t *testing.T) {
	var g *apiauth.Guard
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for name, wrapped := range map[string]http.Handler{"API": g.API(h), "Metrics": g.Metrics(h), "Board": g.Board(h)} {
		rec := httptest.NewRecorder()
		wrapped.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/events", nil))
		if rec.Code != http.StatusTeapot {
			t.Errorf("nil Guard's %s answered %d, want the handler's own 418", name, rec.Code)
		}
	}
}

func TestNew_GivenNeitherTokensNorIssuers_ThenRefused(t *testing.T) {
	if _, err := apiauth.New(apiauth.Config{Tokens: &apiauth.Tokens{}}); err == nil || !strings.Contains(err.Error(), "nobody could authenticate") {
		t.Fatalf("New = %v, want an error saying nobody could authenticate", err)
	}
	if _, err := apiauth.New(apiauth.Config{}); !errors.Is(err, apiauth.ErrNobodyAuthenticates) {
		t.Fatalf("New = %v, want ErrNobodyAuthenticates", err)
	}
}
