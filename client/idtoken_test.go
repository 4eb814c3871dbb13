package client_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"buildledger/client"
	"buildledger/domain"
	"buildledger/envelope"
)

// fakeJWT returns an unsigned token-shaped string expiring at exp.
func fakeJWT(exp time.Time) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." +
		enc.EncodeToString(fmt.Appendf(nil, `{"exp":%d}`, exp.Unix())) + ".c2ln"
}

func TestGitHubActionsIDToken_GivenTheJobsTokenEndpoint_ThenAsksWithTheAudienceAndBearerAndCachesUntilNearExpiry(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer request-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("audience") != "buildledger" || r.URL.Query().Get("api-version") != "2.0" {
			http.Error(w, "bad query "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"count":1,"value":%q}`, fakeJWT(now.Add(5*time.Minute)))
	}))
	t.Cleanup(srv.Close)
	clock := now
	src, err := client.GitHubActionsIDToken(client.GitHubActionsConfig{
		RequestURL: srv.URL + "/token?api-version=2.0", RequestToken: "request-token", Audience: "buildledger",
		Clock: func() time.Time { return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src(t.Context())
	if err != nil || tok != fakeJWT(now.Add(5*time.Minute)) {
		t.Fatalf("token %q, %v", tok, err)
	}
	if _, err := src(t.Context()); err != nil || calls.Load() != 1 {
		t.Fatalf("second call: %v, %d requests; want the cached token", err, calls.Load())
	}
	clock = now.Add(4*time.Minute + 30*time.Second)
	if _, err := src(t.Context()); err != nil || calls.Load() != 2 {
		t.Fatalf("near expiry: %v, %d requests; want a fresh token", err, calls.Load())
	}
}

func TestGitHubActionsIDToken_GivenARefusalOrMissingSettings_ThenErrorsWithoutSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "secret-detail", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	src, err := client.GitHubActionsIDToken(client.GitHubActionsConfig{RequestURL: srv.URL, RequestToken: "request-token", Audience: "a"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src(t.Context())
	if err == nil || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "request-token") || strings.Contains(err.Error(), "secret-detail") {
		t.Errorf("error %v: want the status, no secret", err)
	}
	if _, err := client.GitHubActionsIDToken(client.GitHubActionsConfig{}); err == nil ||
		!strings.Contains(err.Error(), "ACTIONS_ID_TOKEN_REQUEST_URL") || !strings.Contains(err.Error(), "Audience") {
		t.Errorf("missing settings: %v", err)
	}
}

func TestMarshal_GivenWithIDToken_ThenTheWorkerDecodesTheTokenAndTheSameHash(t *testing.T) {
	cmd := domain.Lock{Env: "prod", User: "alice"}
	tok := fakeJWT(time.Now().Add(time.Minute))
	body, err := client.Marshal(cmd, "c1", client.WithIDToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	d, err := envelope.Decode(envelope.Message{Body: body}, 0)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := client.Marshal(cmd, "c1")
	p, _ := envelope.Decode(envelope.Message{Body: plain}, 0)
	if d.IDToken != tok || d.BodyHash != p.BodyHash {
		t.Errorf("decoded token %q hash %s; want the token and the hash without it, %s", d.IDToken, d.BodyHash, p.BodyHash)
	}
}
