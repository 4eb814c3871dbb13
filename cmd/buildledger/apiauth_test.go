package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"buildledger/internal/authget"
	"buildledger/internal/httpapi"
	"buildledger/internal/logbuf"
	"buildledger/internal/oidctest"
)

const (
	readerToken = "reader-0123456789abcdef"
	boardToken  = "board-0123456789abcdef"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServe_GivenAPIAuthFlagsThatCannotWork_ThenExit2BeforeServing(t *testing.T) {
	tokens := writeFile(t, "tokens", "reader:"+readerToken+"\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"given --api-auth with neither tokens nor issuers then refused", []string{"serve", "--api-auth"}, "nobody could read the API"},
		{"given an empty tokens file and no issuer then refused", []string{"serve", "--api-auth", "--api-tokens", writeFile(t, "empty", "# none yet\n")}, "nobody could read the API"},
		{"given a tokens file that does not exist then refused", []string{"serve", "--api-auth", "--api-tokens", filepath.Join(t.TempDir(), "nope")}, "--api-tokens"},
		{"given a bad tokens file then refused without its token", []string{"run", "--api-auth", "--api-tokens", writeFile(t, "bad", "reader "+readerToken+"\n")}, "line 1: want name:token"},
		{"given a policy with an unknown matcher then refused", []string{"serve", "--api-auth", "--api-tokens", tokens, "--api-read-policy", writeFile(t, "policy.yaml", "rules:\n  - kinds: [repo]\n    allow: [team:ops]\n")}, `matcher "team:ops"`},
		{"given --api-tokens without --api-auth then refused", []string{"serve", "--api-tokens", tokens}, "only with --api-auth"},
		{"given --metrics-auth without --api-auth then refused", []string{"worker", "--metrics-auth"}, "only with --api-auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
			code, out := runCaptured(t, tt.args...)
			if code != exitUsage || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, output %q; want exit %d mentioning %q", code, out, exitUsage, tt.want)
			}
			if strings.Contains(out, readerToken) {
				t.Errorf("the output quotes a token: %q", out)
			}
		})
	}
}

// servedMux is the service's own mux (serve's routes, no worker) with the given API
// authentication flags, on a real HTTP server. Its backend points at an address where
// nothing listens: the routes asked here never reach a store.
func servedMux(t *testing.T, auth apiAuthSettings, id identitySettings) (*httptest.Server, *logbuf.Buffer) {
	t.Helper()
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	s := &settings{Prefix: "apiauth-test", HTTPAddr: "127.0.0.1:0", APIAuth: auth, Identity: id}
	var logs logbuf.Buffer
	log := zerolog.New(&logs)
	guard, err := s.APIAuth.guard(s.Identity, &log)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openBackend(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	srv := httptest.NewServer(newServiceMux(b, nil, reg, true, guard, &log))
	t.Cleanup(srv.Close)
	return srv, &logs
}

func getWith(t *testing.T, srv *httptest.Server, path, token string) (int, string) {
	t.Helper()
	authorization := ""
	if token != "" {
		authorization = "Bearer " + token
	}
	got := authget.Get(t, srv, path, authorization)
	return got.Status, string(got.Body)
}

func TestServiceMux_GivenAPIAuth_WhenRead_ThenHealthzIsOpenTheAPIAsksForATokenAndThePolicyDecides(t *testing.T) {
	issuer := oidctest.New(t)
	auth := apiAuthSettings{
		Enabled:    true,
		TokensFile: writeFile(t, "tokens", "reader:"+readerToken+"\nboard:"+boardToken+"\n"),
		ReadPolicyFile: writeFile(t, "policy.json", `{"rules": [
			{"kinds": ["openapi"], "allow": ["token:reader", "repository:org/*"]},
			{"kinds": ["metrics"], "allow": ["token:reader"]}]}`),
	}
	id := identitySettings{Issuers: []string{issuer.URL()}, Audience: defaultOIDCAudience}
	idToken := issuer.Mint(t, oidctest.Token{Claims: oidctest.GitHubClaims()})
	for _, metricsAuth := range []bool{false, true} {
		auth.Metrics = metricsAuth
		srv, logs := servedMux(t, auth, id)
		metricsOpen := http.StatusOK
		if metricsAuth {
			metricsOpen = http.StatusUnauthorized
		}
		tests := []struct {
			name, path, token string
			want              int
			wantBody          string
		}{
			{"given no token then /healthz is 200", "/healthz", "", 200, "ok"},
			{"given no token then /metrics follows --metrics-auth", "/metrics", "", metricsOpen, ""},
			{"given the reader token then /metrics is 200", "/metrics", readerToken, 200, "go_goroutines"},
			{"given no token then the API is 401", httpapi.OpenAPIPath, "", 401, "authentication required"},
			{"given a wrong token then the API is 401", httpapi.OpenAPIPath, "wrong-0123456789abcdef", 401, "not valid"},
			{"given the reader token then the document is 200", httpapi.OpenAPIPath, readerToken, 200, `"openapi"`},
			{"given an ID token of org/api then the document is 200", httpapi.OpenAPIPath, idToken, 200, `"openapi"`},
			{"given the board token then the document is 403", httpapi.OpenAPIPath, boardToken, 403, `"caller":"token:board"`},
			{"given the reader token then events, outside the policy, are 403", "/v1/events", readerToken, 403, `"kind":"events"`},
			{"given a token then the board is off with a reason", "/", readerToken, 404, "the status board is off"},
		}
		for _, tt := range tests {
			t.Run(tt.name+map[bool]string{false: " (metrics open)", true: " (metrics protected)"}[metricsAuth], func(t *testing.T) {
				status, body := getWith(t, srv, tt.path, tt.token)
				if status != tt.want || !strings.Contains(body, tt.wantBody) {
					t.Fatalf("GET %s = %d %q, want %d with %q", tt.path, status, brief(body), tt.want, tt.wantBody)
				}
			})
		}
		for _, secret := range []string{readerToken, boardToken, "wrong-0123456789abcdef", idToken} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log holds a token:\n%s", logs.String())
			}
		}
		if !bytes.Contains([]byte(logs.String()), []byte(`"caller":"token:board"`)) {
			t.Errorf("the log does not name the refused caller:\n%s", logs.String())
		}
	}
}

func TestServiceMux_GivenNoAPIAuth_ThenTheBoardAndTheAPIAreOpen(t *testing.T) {
	srv, _ := servedMux(t, apiAuthSettings{}, identitySettings{Audience: defaultOIDCAudience})
	for _, path := range []string{httpapi.OpenAPIPath, "/metrics", "/healthz", "/board/assets/nope"} {
		status, body := getWith(t, srv, path, "")
		if status == http.StatusUnauthorized || strings.Contains(body, "the status board is off") {
			t.Errorf("GET %s = %d %q without --api-auth, want it open", path, status, brief(body))
		}
	}
}

func brief(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
