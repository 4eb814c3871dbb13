package apiauth_test

import (
	"strings"
	"testing"

	"buildledger/eventstore"
	"buildledger/internal/apiauth"
	"buildledger/internal/httpapi"
)

func TestParsePolicy_GivenAFile_ThenAGoodOneLoadsAndEveryProblemIsNamed(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		wantErr []string
	}{
		{"given YAML then it loads", "rules:\n  - kinds: [repo, build]\n    allow: ['*']\n  - kinds: ['*']\n    allow: [token:auditor, 'repository:org/*', actor:octocat, ref:refs/heads/*, issuer:https://*, subject:repo:org/*]\n", nil},
		{"given JSON then it loads", `{"rules": [{"kinds": ["events"], "allow": ["token:ci"]}]}`, nil},
		{"given an unknown kind then refused", "rules:\n  - kinds: [secrets]\n    allow: ['*']\n", []string{`rule 1: unknown kind "secrets"`}},
		{"given an unknown matcher then refused", "rules:\n  - kinds: [repo]\n    allow: [email:a@b.c]\n", []string{`rule 1: matcher "email:a@b.c"`}},
		{"given a matcher without a colon then refused", "rules:\n  - kinds: [repo]\n    allow: [octocat]\n", []string{`matcher "octocat"`}},
		{"given a matcher with an empty glob then refused", "rules:\n  - kinds: [repo]\n    allow: ['actor:']\n", []string{`matcher "actor:": the glob is empty`}},
		{"given an unknown field then refused", "rules:\n  - kinds: [repo]\n    allow: ['*']\n    deny: ['*']\n", []string{"deny"}},
		{"given no rules then refused", "rules: []\n", []string{"no rules"}},
		{"given an empty file then refused", "", []string{"no rules"}},
		{"given a rule without kinds or allow then both are named", "rules:\n  - {}\n", []string{"rule 1: no kinds", "rule 1: allow is empty"}},
		{"given two bad rules then both are named", "rules:\n  - kinds: [x]\n    allow: ['*']\n  - kinds: [repo]\n    allow: [y:z]\n", []string{"rule 1", "rule 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := apiauth.ParsePolicy(strings.NewReader(tt.file))
			checkParsed(t, "ParsePolicy", tt.file, err, tt.wantErr)
		})
	}
}

// checkParsed fails t unless parse accepted file when wantErr is empty, or else refused it
// with an error that says each of wantErr; it reports whether file was to be accepted.
func checkParsed(t *testing.T, parse, file string, err error, wantErr []string) bool {
	t.Helper()
	if len(wantErr) == 0 {
		if err != nil {
			t.Fatalf("%s: %v", parse, err)
		}
		return true
	}
	if err == nil {
		t.Fatalf("%s accepted %q", parse, file)
	}
	for _, w := range wantErr {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	return false
}

func TestPolicy_GivenRules_WhenACallerAsksForAKind_ThenOnlyAMatchingRuleAllowsIt(t *testing.T) {
	p, err := apiauth.ParsePolicy(strings.NewReader(`
rules:
  - kinds: [repo, build, openapi]
    allow: ["*"]
  - kinds: [locks]
    allow: ["token:deploy-*", "repository:org/*", "subject:repo:org/api:ref:refs/heads/*"]
  - kinds: [events]
    allow: ["actor:octocat", "issuer:https://token.actions.githubusercontent.com"]
  - kinds: [jobs]
    allow: ["ref:refs/tags/v*"]
  - kinds: ["*"]
    allow: ["token:auditor"]
`))
	if err != nil {
		t.Fatal(err)
	}
	gh := func(id eventstore.Identity) apiauth.Caller { return apiauth.Caller{Identity: id} }
	tests := []struct {
		name   string
		kind   apiauth.Kind
		caller apiauth.Caller
		want   bool
	}{
		{"given * then any token reads repo", apiauth.KindRepo, apiauth.Caller{Token: "ci"}, true},
		{"given * then any ID token reads build", apiauth.KindBuild, gh(eventstore.Identity{Subject: "x"}), true},
		{"given a token glob then deploy-prod reads locks", apiauth.KindLocks, apiauth.Caller{Token: "deploy-prod"}, true},
		{"given a token glob then ci does not read locks", apiauth.KindLocks, apiauth.Caller{Token: "ci"}, false},
		{"given a repository glob then org/api reads locks", apiauth.KindLocks, gh(eventstore.Identity{Repository: "org/api"}), true},
		{"given a repository glob then other/api does not read locks", apiauth.KindLocks, gh(eventstore.Identity{Repository: "other/api"}), false},
		{"given a repository glob then a name that only starts alike does not match", apiauth.KindLocks, gh(eventstore.Identity{Repository: "organisation/api"}), false},
		{"given a subject glob over slashes then it matches", apiauth.KindLocks, gh(eventstore.Identity{Subject: "repo:org/api:ref:refs/heads/feature/x"}), true},
		{"given an actor then octocat reads events", apiauth.KindEvents, gh(eventstore.Identity{Actor: "octocat"}), true},
		{"given an actor then a token named octocat does not", apiauth.KindEvents, apiauth.Caller{Token: "octocat"}, false},
		{"given an issuer then any of its tokens reads events", apiauth.KindEvents, gh(eventstore.Identity{Issuer: "https://token.actions.githubusercontent.com", Subject: "s"}), true},
		{"given a ref glob then a tag reads jobs", apiauth.KindJobs, gh(eventstore.Identity{Ref: "refs/tags/v1.2.0"}), true},
		{"given a ref glob then a branch does not", apiauth.KindJobs, gh(eventstore.Identity{Ref: "refs/heads/main"}), false},
		{"given a claim the token lacks then no match", apiauth.KindJobs, gh(eventstore.Identity{Subject: "s"}), false},
		{"given every kind then the auditor reads commands", apiauth.KindCommands, apiauth.Caller{Token: "auditor"}, true},
		{"given no rule for a kind then ci does not read commands", apiauth.KindCommands, apiauth.Caller{Token: "ci"}, false},
		{"given no rule for metrics then ci does not read them", apiauth.KindMetrics, apiauth.Caller{Token: "ci"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Allows(tt.kind, tt.caller); got != tt.want {
				t.Fatalf("Allows(%s, %s) = %v, want %v", tt.kind, tt.caller, got, tt.want)
			}
		})
	}
}

func TestKindOf_GivenEveryRouteOfTheAPI_ThenEachHasAKind(t *testing.T) {
	for _, r := range httpapi.Routes() {
		_, path, _ := strings.Cut(r, " ")
		path = strings.ReplaceAll(path, "{id}", "cmd-1")
		if k := apiauth.KindOf(path); k == "" {
			t.Errorf("route %s has no kind: a read policy could not name it", r)
		}
	}
	tests := []struct {
		path string
		want apiauth.Kind
	}{
		{"/v1/freezes", apiauth.KindLocks},
		{"/v1/locks/queue", apiauth.KindLocks},
		{"/v1/status/events", apiauth.KindStatus},
		{"/v1/jobs/active", apiauth.KindJobs},
		{"/v1/repos", ""},
		{"/v1/statusx", ""},
	}
	for _, tt := range tests {
		if got := apiauth.KindOf(tt.path); got != tt.want {
			t.Errorf("KindOf(%s) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
