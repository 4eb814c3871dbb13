package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIdentitySettings_GivenWhereATokenMayComeFrom_ThenTheFlagThenTheEnvironmentThenGitHubActions(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gh-request" || r.URL.Query().Get("audience") != "aud-1" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		fmt.Fprint(w, `{"value":"from-github"}`)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", srv.URL+"/?api-version=2.0")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request")
	t.Setenv("BUILDLEDGER_ID_TOKEN", "")
	tests := []struct {
		name, flag, env, want string
	}{
		{"given --id-token then it", "from-flag", "from-env", "from-flag"},
		{"given BUILDLEDGER_ID_TOKEN then it", "", "from-env", "from-env"},
		{"given neither inside GitHub Actions then a token fetched with the audience", "", "", "from-github"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("BUILDLEDGER_ID_TOKEN", tt.env)
			src, err := identitySettings{IDToken: tt.flag, Audience: "aud-1"}.tokenSource()
			if err != nil || src == nil {
				t.Fatalf("tokenSource = %v, %v", src, err)
			}
			if got, err := src(t.Context()); err != nil || got != tt.want {
				t.Errorf("token %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	t.Run("given none and no GitHub Actions then no source", func(t *testing.T) {
		t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "")
		if src, err := (identitySettings{Audience: "a"}).tokenSource(); src != nil || err != nil {
			t.Errorf("tokenSource = %v, %v; want none", src != nil, err)
		}
	})
}

func TestIdentitySettings_GivenAlgNone_ThenTheWorkerRefusesToStart(t *testing.T) {
	_, err := identitySettings{Issuers: []string{"https://token.actions.githubusercontent.com"}, Audience: "a", Algorithms: []string{"RS256", "none"}}.verifier()
	if err == nil || !strings.Contains(err.Error(), `"none" is never accepted`) {
		t.Fatalf("verifier = %v", err)
	}
	if _, err := (identitySettings{Audience: "a"}).verifier(); err != nil {
		t.Fatalf("no issuers: %v", err)
	}
}
