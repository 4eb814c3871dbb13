package e2e

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"buildledger/internal/oidctest"
	"buildledger/projections"
)

// e2ePolicy is the policy of the policy tests: the main branch of acme/app deploys
// production as its actor, operators force-release anywhere, everyone locks review-*.
const e2ePolicy = `groups:
  operators: [actor:carol]
rules:
  - name: main deploys production
    actions: [lock, release]
    names: [production]
    allow: ["subject:repo:acme/app:ref:refs/heads/main"]
    user: actor
  - name: operators override
    actions: [force-release, break-glass]
    names: ["*"]
    allow: [group:operators]
    user: actor
  - name: review apps
    actions: [lock, release]
    names: [review-*]
    allow: ["*"]
`

// policyTokens are the ID tokens of the policy tests' callers.
type policyTokens struct {
	alice, bob, bobFeature, carol string
}

func mintPolicyTokens(t *testing.T, iss *oidctest.Issuer) policyTokens {
	t.Helper()
	mint := func(repo, ref, actor string) string {
		return iss.Mint(t, oidctest.Token{Subject: "repo:" + repo + ":ref:" + ref,
			Claims: map[string]any{"repository": repo, "ref": ref, "actor": actor, "workflow": "deploy"}})
	}
	return policyTokens{
		alice:      mint("acme/app", "refs/heads/main", "alice"),
		bob:        mint("acme/app", "refs/heads/main", "bob"),
		bobFeature: mint("acme/app", "refs/heads/feature", "bob"),
		carol:      mint("acme/ops", "refs/heads/main", "carol"),
	}
}

// policySetup is an installation whose worker trusts an issuer of the test's own and
// applies e2ePolicy, kept in file, and the ID tokens that issuer minted for the callers.
type policySetup struct {
	in   *installation
	tok  policyTokens
	file string
	w    *workerProcess
}

// newPolicySetup creates the installation and starts its worker with the policy in mode
// (enforce or audit), as launchWorker does; the worker is stopped when the test ends.
func newPolicySetup(t *testing.T, what, mode string) policySetup {
	t.Helper()
	ps := policySetup{in: newInstallation(t, what), file: filepath.Join(t.TempDir(), "policy.yaml")}
	iss := oidctest.New(t)
	ps.tok = mintPolicyTokens(t, iss)
	if err := os.WriteFile(ps.file, []byte(e2ePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	ps.w = ps.in.launchWorker(t, "--oidc-issuer", iss.URL(), "--policy", ps.file, "--policy-mode", mode)
	t.Cleanup(func() { ps.w.terminate(t) })
	return ps
}

func TestPolicyEnforce(t *testing.T) {
	t.Parallel()
	ps := newPolicySetup(t, "e2e-policy-enforce", "enforce")
	in, tok, file, w := ps.in, ps.tok, ps.file, ps.w

	// given the main-branch identity, when alice locks production as herself, then it is granted
	wantLock(t, in.ok(t, "locks", "lock", "--env", "production", "--user", "alice", "--id-token", tok.alice), "production", "alice", false)

	// given a feature-branch identity, when bob locks production, then he is refused with the missing rule named
	stderr := in.fails(t, 1, "locks", "lock", "--env", "production", "--user", "bob", "--id-token", tok.bobFeature)
	for _, want := range []string{"forbidden", `no rule allows lock on "production"`, "subject repo:acme/app:ref:refs/heads/feature", "actor bob", "policy sha256:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("feature-branch lock: stderr %q lacks %q", stderr, want)
		}
	}

	// given bob on main, when he releases alice's lock passing --user alice, then the rule's user condition refuses it
	stderr = in.fails(t, 1, "locks", "release", "--env", "production", "--user", "alice", "--id-token", tok.bob)
	if want := `only as the ID token's actor (bob), not as user "alice"`; !strings.Contains(stderr, want) {
		t.Errorf("impersonating release: stderr %q lacks %q", stderr, want)
	}
	// given no token at all, when someone releases alice's lock as alice, then no rule allows it
	if stderr := in.fails(t, 1, "locks", "release", "--env", "production", "--user", "alice"); !strings.Contains(stderr, "no rule allows release") {
		t.Errorf("anonymous release: stderr %q", stderr)
	}
	in.wantLocks(t, "production", projections.Lock{User: "alice", Active: true})

	// given an operator, when carol force-releases production with a reason, then it is released and the history says who and why
	in.ok(t, "locks", "release", "--env", "production", "--user", "carol", "--force", "--reason", "deploy stuck for 2h", "--id-token", tok.carol)
	in.wantLocks(t, "production", projections.Lock{User: "alice", Active: false})
	var history []struct {
		Event  string `json:"event"`
		User   string `json:"user"`
		By     string `json:"by"`
		Reason string `json:"reason"`
	}
	in.okJSON(t, &history, "locks", "history", "--env", "production", "-o", "json")
	if n := len(history); n != 2 || history[1].Event != "forced" || history[1].User != "alice" || history[1].By != "carol" || history[1].Reason != "deploy stuck for 2h" {
		t.Errorf("locks history %+v, want alice's grant and then her lock forced by carol because the deploy was stuck", history)
	}

	// given everyone may lock review-*, when bob's feature branch and an anonymous user lock review apps, then both are granted
	wantLock(t, in.ok(t, "locks", "lock", "--env", "review-12", "--user", "bob", "--id-token", tok.bobFeature), "review-12", "bob", false)
	wantLock(t, in.ok(t, "locks", "lock", "--env", "review-13", "--user", "dan"), "review-13", "dan", false)

	// given a policy that now lets feature branches lock production, when the worker gets SIGHUP, then the new policy decides
	reloaded := strings.Replace(e2ePolicy, `allow: ["subject:repo:acme/app:ref:refs/heads/main"]`, `allow: ["repository:acme/app"]`, 1)
	if err := os.WriteFile(file, []byte(reloaded), 0o600); err != nil {
		t.Fatal(err)
	}
	w.signal(t, syscall.SIGHUP)
	waitLog(t, w.logPath, "access policy reloaded")
	wantLock(t, in.ok(t, "locks", "lock", "--env", "production", "--user", "bob", "--id-token", tok.bobFeature), "production", "bob", false)
}

func TestPolicyAudit(t *testing.T) {
	t.Parallel()
	ps := newPolicySetup(t, "e2e-policy-audit", "audit")
	in, tok, w := ps.in, ps.tok, ps.w

	// given audit mode, when the commands enforce refuses are sent, then they succeed as without a policy
	wantLock(t, in.ok(t, "locks", "lock", "--env", "production", "--user", "bob", "--id-token", tok.bobFeature), "production", "bob", false)
	in.ok(t, "locks", "release", "--env", "production", "--user", "bob", "--id-token", tok.alice)
	wantLock(t, in.ok(t, "locks", "lock", "--env", "production", "--user", "alice", "--id-token", tok.alice), "production", "alice", false)
	in.wantLocks(t, "production", projections.Lock{User: "alice", Active: true}, projections.Lock{User: "bob", Active: false})

	// then buildledger_policy_would_reject_total counts them by action, and the log says what enforce would have done
	metrics := scrape(t, w.addr)
	for _, want := range []string{`buildledger_policy_would_reject_total{action="lock"} 1`, `buildledger_policy_would_reject_total{action="release"} 1`, `buildledger_policy_rejected_total{action="lock"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	waitLog(t, w.logPath, "policy audit: enforce would reject this command")
}

// scrape returns the worker's /metrics.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
	}
	return string(body)
}

// waitLog waits until the log at path has a line containing want.
func waitLog(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if strings.Contains(sc.Text(), want) {
					f.Close()
					return
				}
			}
			f.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(path)
	t.Fatalf("no %q in the worker's log within 10s:\n%s", want, log)
}
