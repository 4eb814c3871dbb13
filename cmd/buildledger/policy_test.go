package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"buildledger/eventstore"
	"buildledger/handlers"
	"buildledger/internal/logbuf"
	"buildledger/internal/policy"
)

const testPolicy = `groups:
  operators: [actor:carol]
rules:
  - name: main deploys production
    actions: [lock, release]
    names: [production]
    allow: ["subject:repo:acme/app:ref:refs/heads/main"]
    user: actor
  - name: operators
    actions: [force-release, break-glass]
    names: ["*"]
    allow: [group:operators]
    user: actor
`

func writePolicy(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPolicyCheck_GivenAGoodFile_ThenEachRuleIsPrintedAsATableOrJSON(t *testing.T) {
	path := writePolicy(t, t.TempDir(), testPolicy)
	code, out := runCaptured(t, "policy", "check", path, "-o", "table")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"2 rules", "main deploys production\n  allows   lock, release\n  on       production", "for      group:operators", "operators: actor:carol"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out = runCaptured(t, "policy", "check", path, "-o", "json")
	var s policy.Summary
	if err := json.Unmarshal([]byte(out), &s); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	if len(s.Rules) != 2 || s.Rules[1].User != "actor" || !strings.HasPrefix(s.Hash, "sha256:") {
		t.Errorf("summary %+v", s)
	}
}

func TestPolicyCheck_GivenABadFile_ThenExit1WithEveryProblem(t *testing.T) {
	path := writePolicy(t, t.TempDir(), "rules: [{actions: [lok], names: [x], allow: ['sub:y']}]")
	code, out := runCaptured(t, "policy", "check", path)
	if code != exitRejected || !strings.Contains(out, `unknown action "lok"`) || !strings.Contains(out, `unknown kind "sub"`) {
		t.Errorf("exit %d, output %q; want 1 naming both problems", code, out)
	}
	if code, out := runCaptured(t, "policy", "check"); code != exitUsage {
		t.Errorf("without a file: exit %d, %q; want %d", code, out, exitUsage)
	}
}

func TestPolicyFlags_GivenAModeWithoutAFileOrAnUnknownMode_ThenUsageErrors(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--policy-mode", "enforce", "worker"}, "needs a --policy file"},
		{[]string{"--policy-mode", "strict", "worker"}, "want off, audit or enforce"},
	} {
		if code, out := runCaptured(t, tc.args...); code != exitUsage || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", tc.args, code, out, exitUsage, tc.want)
		}
	}
}

func TestPolicyGuard_GivenTheWorkersAdapter_ThenRefusalsCarryTheActionReasonHashAndMode(t *testing.T) {
	path := writePolicy(t, t.TempDir(), testPolicy)
	src, err := policy.NewSource(path)
	if err != nil {
		t.Fatal(err)
	}
	feature := eventstore.Identity{Subject: "repo:acme/app:ref:refs/heads/feature", Actor: "bob"}
	req := handlers.PolicyRequest{Actions: []string{handlers.ActionLock}, Name: "production", User: "bob", SenderID: "AIDA", Identity: feature}
	d := policyGuard{policy.NewGuard(policy.ModeEnforce, src)}.Check(req)
	if d.Refusal == "" || !d.Enforced || d.Action != "lock" || d.Hash != src.Policy().Hash() || !strings.Contains(d.Refusal, "no rule allows lock") {
		t.Errorf("enforce: %+v", d)
	}
	if d := (policyGuard{policy.NewGuard(policy.ModeAudit, src)}).Check(req); d.Refusal == "" || d.Enforced {
		t.Errorf("audit: %+v", d)
	}
}

func TestPolicyActions_GivenTheHandlersMapping_ThenEveryActionIsOneThePolicyFileKnows(t *testing.T) {
	a, b := slices.Clone(handlers.PolicyActions), slices.Clone(policy.Actions)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Errorf("handlers.PolicyActions %v, policy.Actions %v: they must be the same set", a, b)
	}
}

func TestReloadOn_GivenSIGHUPs_ThenAGoodFileIsLoadedAndABrokenOneKeepsTheOldPolicyAndIsLogged(t *testing.T) {
	dir := t.TempDir()
	path := writePolicy(t, dir, testPolicy)
	src, err := policy.NewSource(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs logbuf.Buffer
	log := zerolog.New(&logs)
	sig := make(chan os.Signal)
	done := make(chan struct{})
	go func() { reloadOn(sig, src, &log); close(done) }()
	first := src.Policy().Hash()

	writePolicy(t, dir, testPolicy+"  - {actions: [lock], names: [review-*], allow: ['*']}\n")
	sig <- os.Interrupt // any signal: the caller chooses which one it forwards
	second := waitForHash(t, src, first)

	writePolicy(t, dir, "rules: [{actions: [lock], names: ['*'], allow: ['sub:x']}]")
	sig <- os.Interrupt
	close(sig)
	<-done
	if got := src.Policy().Hash(); got != second {
		t.Errorf("policy after a broken file %s, want the previous %s", got, second)
	}
	out := logs.String()
	if !strings.Contains(out, "access policy reloaded") || !strings.Contains(out, `unknown kind \"sub\"`) || !strings.Contains(out, "previous one stays in force") {
		t.Errorf("logs lack the reload and the refusal:\n%s", out)
	}
}

// waitForHash waits until src's policy is no longer the one hashed old, and returns the new hash.
func waitForHash(t *testing.T, src *policy.Source, old string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if h := src.Policy().Hash(); h != old {
			return h
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("policy still %s", old)
	return ""
}
