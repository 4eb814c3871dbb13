package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"buildledger/eventstore"
)

const examplePolicy = `
groups:
  operators:
    - actor:carol
    - subject:repo:acme/ops:*
rules:
  - name: main deploys production
    actions: [lock, release]
    names: [production]
    allow: ["subject:repo:acme/app:ref:refs/heads/main"]
    user: claim(actor)
  - name: operators override
    actions: [force-release, break-glass, uberlock]
    names: ["*"]
    allow: [group:operators]
    user: actor
  - name: review apps
    actions: [lock, release]
    names: [review-*]
    allow: ["*"]
  - name: ci builds
    actions: [build.*, status.*]
    names: [acme/*]
    allow: ["repository:acme/*", "principal:1234567890*"]
  - name: jobs by workflow
    actions: [job.*]
    names: [nightly]
    allow: ["workflow:nightly", "issuer:https://token.actions.githubusercontent.com", "ref:refs/tags/*"]
`

var (
	mainID    = eventstore.Identity{Issuer: "https://issuer", Subject: "repo:acme/app:ref:refs/heads/main", Repository: "acme/app", Ref: "refs/heads/main", Actor: "alice"}
	featureID = eventstore.Identity{Issuer: "https://issuer", Subject: "repo:acme/app:ref:refs/heads/feature", Repository: "acme/app", Ref: "refs/heads/feature", Actor: "bob"}
	carolID   = eventstore.Identity{Issuer: "https://issuer", Subject: "repo:acme/tools:ref:refs/heads/main", Actor: "carol"}
	opsID     = eventstore.Identity{Issuer: "https://issuer", Subject: "repo:acme/ops:ref:refs/heads/x", Actor: "dave"}
)

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecide(t *testing.T) {
	p := mustParse(t, examplePolicy)
	for _, tc := range []struct {
		name      string
		req       Request
		allowed   bool
		reasonHas string
	}{
		{"given the main-branch subject, when it locks production as its actor, then it is allowed",
			Request{Actions: []string{"lock"}, Name: "production", User: "alice", Caller: Caller{Identity: mainID}}, true, ""},
		{"given a feature-branch subject, when it locks production, then no rule allows it",
			Request{Actions: []string{"lock"}, Name: "production", User: "bob", Caller: Caller{Identity: featureID}}, false, `no rule allows lock on "production" for subject repo:acme/app:ref:refs/heads/feature, actor bob`},
		{"given the main-branch subject, when it passes another user, then the rule's user condition refuses it",
			Request{Actions: []string{"release"}, Name: "production", User: "mallory", Caller: Caller{Identity: mainID}}, false, `rule "main deploys production" allows release on "production" only as the ID token's actor (alice), not as user "mallory"`},
		{"given no token, when a user-conditioned rule would match, then nothing allows it",
			Request{Actions: []string{"force-release"}, Name: "production", User: "carol", Caller: Caller{SenderID: "AIDA"}}, false, "sender AIDA"},
		{"given an operator by actor, when it force-releases production, then the group allows it",
			Request{Actions: []string{"force-release"}, Name: "production", User: "carol", Caller: Caller{Identity: carolID}}, true, ""},
		{"given an operator by subject glob, when it breaks glass, then the group allows it",
			Request{Actions: []string{"lock", "break-glass"}, Name: "review-7", User: "dave", Caller: Caller{Identity: opsID}}, true, ""},
		{"given a non-operator, when it locks with break-glass, then break-glass is the missing action",
			Request{Actions: []string{"lock", "break-glass"}, Name: "review-7", User: "bob", Caller: Caller{Identity: featureID}}, false, "no rule allows break-glass"},
		{"given anybody, when it locks a review env, then * allows it without a token",
			Request{Actions: []string{"lock"}, Name: "review-42", User: "x"}, true, ""},
		{"given anybody, when it locks an env that only looks like review, then it is refused",
			Request{Actions: []string{"lock"}, Name: "preview-42", User: "x"}, false, "an anonymous sender"},
		{"given a repository glob, when a build is created, then build.* allows it",
			Request{Actions: []string{"build.create"}, Name: "acme/app", Caller: Caller{Identity: featureID}}, true, ""},
		{"given a principal glob, when a status event is recorded, then status.* allows it",
			Request{Actions: []string{"status.event"}, Name: "acme/pkg/prod", Caller: Caller{SenderID: "123456789012"}}, true, ""},
		{"given another principal, when a status event is recorded, then it is refused",
			Request{Actions: []string{"status.event"}, Name: "acme/pkg/prod", Caller: Caller{SenderID: "999"}}, false, "no rule allows status.event"},
		{"given the workflow claim, when a job starts, then it is allowed",
			Request{Actions: []string{"job.start"}, Name: "nightly", Caller: Caller{Identity: eventstore.Identity{Workflow: "nightly"}}}, true, ""},
		{"given the issuer claim, when a job ends, then it is allowed",
			Request{Actions: []string{"job.end"}, Name: "nightly", Caller: Caller{Identity: eventstore.Identity{Issuer: "https://token.actions.githubusercontent.com"}}}, true, ""},
		{"given a tag ref claim, when a job starts, then it is allowed",
			Request{Actions: []string{"job.start"}, Name: "nightly", Caller: Caller{Identity: eventstore.Identity{Ref: "refs/tags/v1"}}}, true, ""},
		{"given no claims, when a job starts, then a claim glob of * does not match a missing claim",
			Request{Actions: []string{"job.start"}, Name: "nightly"}, false, "no rule allows job.start"},
		{"given no actions, when decided, then it is allowed",
			Request{Name: "anything"}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Decide(tc.req)
			if d.Allowed != tc.allowed {
				t.Fatalf("allowed = %v (%s), want %v", d.Allowed, d.Reason, tc.allowed)
			}
			if !strings.Contains(d.Reason, tc.reasonHas) {
				t.Errorf("reason %q, want it to contain %q", d.Reason, tc.reasonHas)
			}
			if d.Hash != p.Hash() {
				t.Errorf("hash %q, want %q", d.Hash, p.Hash())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"given an unknown matcher kind, when parsed, then the kind is named",
			"rules: [{actions: [lock], names: ['*'], allow: ['sub:repo:x']}]", []string{`unknown kind "sub"`}},
		{"given a matcher without a kind, when parsed, then it is refused",
			"rules: [{actions: [lock], names: ['*'], allow: ['alice']}]", []string{`matcher "alice" has no kind`}},
		{"given an unknown action, when parsed, then it is named",
			"rules: [{actions: [lok, deploy.*], names: ['*'], allow: ['*']}]", []string{`unknown action "lok"`, `unknown action "deploy.*"`}},
		{"given an undefined group, when parsed, then it is named",
			"rules: [{actions: [lock], names: ['*'], allow: ['group:ops']}]", []string{`no group "ops" is defined`}},
		{"given a nested group, when parsed, then it is refused",
			"groups: {a: ['actor:x'], b: ['group:a']}\nrules: [{actions: [lock], names: ['*'], allow: ['group:b']}]", []string{"groups do not nest"}},
		{"given an unknown key, when parsed, then it is refused",
			"rules: [{action: [lock], names: ['*'], allow: ['*']}]", []string{"field action not found"}},
		{"given a rule missing everything, when parsed, then each part is named",
			"rules: [{name: empty}]", []string{`rule "empty": actions: none`, `rule "empty": names: none`, `rule "empty": allow: none`}},
		{"given user: actor on a build action, when parsed, then it is refused",
			"rules: [{actions: [build.create], names: ['*'], allow: ['*'], user: actor}]", []string{"user: actor applies only to"}},
		{"given an unknown user condition, when parsed, then it is refused",
			"rules: [{actions: [lock], names: ['*'], allow: ['*'], user: subject}]", []string{`user: "subject"`}},
		{"given no rules, when parsed, then it is refused",
			"groups: {a: ['*']}", []string{"rules: none"}},
		{"given YAML that does not parse, when parsed, then the error says where",
			"rules: [", []string{"line"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src))
			if err == nil {
				t.Fatal("parsed, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseJSON(t *testing.T) {
	// given the same policy in JSON, when parsed, then it decides as the YAML does
	p := mustParse(t, `{"rules": [{"name": "prod", "actions": ["lock"], "names": ["production"], "allow": ["ref:refs/heads/main"], "user": "actor"}]}`)
	if d := p.Decide(Request{Actions: []string{"lock"}, Name: "production", User: "alice", Caller: Caller{Identity: mainID}}); !d.Allowed {
		t.Errorf("main refused: %s", d.Reason)
	}
	if d := p.Decide(Request{Actions: []string{"lock"}, Name: "production", User: "bob", Caller: Caller{Identity: featureID}}); d.Allowed {
		t.Error("feature allowed")
	}
}

func TestHash(t *testing.T) {
	a, b := mustParse(t, examplePolicy), mustParse(t, examplePolicy+"\n# a comment\n")
	// given the same bytes, when hashed twice, then the hashes are equal; given other bytes, then not
	if a.Hash() != mustParse(t, examplePolicy).Hash() || a.Hash() == b.Hash() {
		t.Errorf("hashes %s %s", a.Hash(), b.Hash())
	}
	if !strings.HasPrefix(a.Hash(), "sha256:") || len(a.Hash()) != len("sha256:")+16 {
		t.Errorf("hash %q, want sha256: and 16 hex digits", a.Hash())
	}
}

func TestGuardModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(examplePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(path)
	if err != nil {
		t.Fatal(err)
	}
	refused := Request{Actions: []string{"lock"}, Name: "production", User: "bob", Caller: Caller{Identity: featureID}}
	for _, tc := range []struct {
		name             string
		mode             Mode
		allowed, enforce bool
		hash             string
	}{
		{"given mode off, when a refused request is checked, then it is allowed and names no policy", ModeOff, true, false, ""},
		{"given mode audit, when a refused request is checked, then the refusal is reported, not enforced", ModeAudit, false, false, src.Policy().Hash()},
		{"given mode enforce, when a refused request is checked, then the refusal is enforced", ModeEnforce, false, true, src.Policy().Hash()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := NewGuard(tc.mode, src).Check(refused)
			if v.Allowed != tc.allowed || v.Enforced != tc.enforce || v.Hash != tc.hash {
				t.Errorf("verdict %+v, want allowed %v enforced %v hash %q", v, tc.allowed, tc.enforce, tc.hash)
			}
		})
	}
	for _, s := range []string{"", "off", "audit", "enforce"} {
		if _, err := ParseMode(s); err != nil {
			t.Errorf("ParseMode(%q): %v", s, err)
		}
	}
	if _, err := ParseMode("strict"); err == nil || !strings.Contains(err.Error(), "want off, audit or enforce") {
		t.Errorf("ParseMode(strict): %v", err)
	}
}

func TestSourceReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("rules: [{actions: [lock], names: [staging], allow: ['*']}]")
	src, err := NewSource(path)
	if err != nil {
		t.Fatal(err)
	}
	first := src.Policy().Hash()
	lockProd := Request{Actions: []string{"lock"}, Name: "production"}

	// given a changed file, when reloaded, then the new policy decides
	write("rules: [{actions: [lock], names: ['*'], allow: ['*']}]")
	p, err := src.Reload()
	if err != nil || p.Hash() == first || !src.Policy().Decide(lockProd).Allowed {
		t.Fatalf("reload: %v, hash %s (was %s)", err, src.Policy().Hash(), first)
	}
	second := p.Hash()

	// given a broken file, when reloaded, then the error names the problem and the old policy stays
	write("rules: [{actions: [lock], names: ['*'], allow: ['sub:x']}]")
	if _, err := src.Reload(); err == nil || !strings.Contains(err.Error(), `unknown kind "sub"`) || !strings.Contains(err.Error(), path) {
		t.Errorf("reload of a broken file: %v", err)
	}
	if src.Policy().Hash() != second {
		t.Errorf("policy after a failed reload %s, want the previous %s", src.Policy().Hash(), second)
	}
	// given a missing file, when a source is made, then it is an error
	if _, err := NewSource(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Error("NewSource of a missing file succeeded")
	}
}

func TestSummary(t *testing.T) {
	// given the example policy, when summarised, then each rule shows its expanded actions, names, matchers and user condition
	s := mustParse(t, examplePolicy).Summary()
	if len(s.Rules) != 5 || s.Rules[3].Name != "ci builds" || strings.Join(s.Rules[3].Actions, ",") != "build.create,build.update,status.start,status.event,status.complete" {
		t.Fatalf("summary %+v", s)
	}
	if s.Rules[0].User != "actor" || s.Rules[2].User != "" || len(s.Groups["operators"]) != 2 {
		t.Errorf("summary %+v", s)
	}
	text := s.String()
	for _, w := range []string{"main deploys production", "allows   force-release, break-glass, uberlock", "for      group:operators", "as user  the ID token's actor only", "operators: actor:carol, subject:repo:acme/ops:*"} {
		if !strings.Contains(text, w) {
			t.Errorf("summary text lacks %q:\n%s", w, text)
		}
	}
}

func TestLoad_GivenABrokenFile_ThenTheErrorNamesThePackageAndThePathOnce(t *testing.T) {
	for _, tc := range []struct {
		name, src, problem string
	}{
		{"given an unknown matcher kind", "rules: [{actions: [lock], names: ['*'], allow: ['sub:x']}]", `rule "rule 1": allow: matcher "sub:x": unknown kind "sub"`},
		{"given YAML that does not parse", "rules: [", "line "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "policy.yaml")
			if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if want := "policy: " + path + ": " + tc.problem; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Load: %v, want it to start with %q", err, want)
			}
			_, err = Parse([]byte(tc.src))
			if want := "policy: " + tc.problem; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Parse: %v, want it to start with %q", err, want)
			}
		})
	}
}
