package handlers_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/handlers"
)

const testPolicyHash = "sha256:00112233aabbccdd"

// fakePolicy refuses the actions in refuse, enforced or not, and records what it was asked.
type fakePolicy struct {
	refuse   []string
	enforced bool
	mu       sync.Mutex
	asked    []handlers.PolicyRequest
}

func (p *fakePolicy) Check(r handlers.PolicyRequest) handlers.PolicyDecision {
	p.mu.Lock()
	p.asked = append(p.asked, r)
	p.mu.Unlock()
	for _, a := range r.Actions {
		if slices.Contains(p.refuse, a) || slices.Contains(p.refuse, "*") {
			return handlers.PolicyDecision{Hash: testPolicyHash, Action: a, Refusal: "no rule allows " + a + " on " + r.Name, Enforced: p.enforced}
		}
	}
	return handlers.PolicyDecision{Hash: testPolicyHash}
}

func withPolicy(p handlers.AccessPolicy) fixtureOption {
	return func(c *handlers.CommandHandlerConfig) { c.Policy = p }
}

func TestHandle_GivenEnforcedPolicyRefusing_ThenRejectedForbiddenWithTheRuleAndHashAndNothingAppended(t *testing.T) {
	f := newFixture(t, withPolicy(&fakePolicy{refuse: []string{handlers.ActionLock}, enforced: true}))
	res, err := f.handle(t, "c1", domain.Lock{Env: "production", User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	o := res.Outcome
	if o.Status != eventstore.OutcomeRejected || o.Code != eventstore.RejectionForbidden || o.Policy != testPolicyHash {
		t.Fatalf("outcome %+v, want rejected, code forbidden, policy %s", o, testPolicyHash)
	}
	if want := "forbidden: no rule allows lock on production (policy " + testPolicyHash + "); the command was not carried out"; o.Reason != want {
		t.Errorf("reason %q, want %q", o.Reason, want)
	}
	if v, err := f.events.Version(t.Context(), "lock:production"); err != nil || v != 0 {
		t.Errorf("lock:production at version %d (%v), want nothing appended", v, err)
	}
	if stored, err := f.events.Outcome(t.Context(), "c1"); err != nil || stored != o {
		t.Errorf("stored outcome %+v (%v), want %+v", stored, err, o)
	}
	if got := testutil.ToFloat64(f.metrics.PolicyRejected.WithLabelValues(handlers.ActionLock)); got != 1 {
		t.Errorf("policy_rejected_total{lock} = %v, want 1", got)
	}
}

func TestHandle_GivenPolicyAllowing_ThenAcceptedWithTheHashRecorded(t *testing.T) {
	f := newFixture(t, withPolicy(&fakePolicy{enforced: true}))
	res := f.mustAccept(t, "c1", domain.Lock{Env: "production", User: "alice"})
	if res.Outcome.Policy != testPolicyHash {
		t.Errorf("accepted outcome policy %q, want %q", res.Outcome.Policy, testPolicyHash)
	}
	if stored, _ := f.events.Outcome(t.Context(), "c1"); stored.Policy != testPolicyHash {
		t.Errorf("stored outcome policy %q, want %q", stored.Policy, testPolicyHash)
	}
}

func TestHandle_GivenAuditPolicyRefusing_ThenDecidedAsWithoutAPolicyAndCounted(t *testing.T) {
	f := newFixture(t, withPolicy(&fakePolicy{refuse: []string{"*"}}))
	res := f.mustAccept(t, "c1", domain.Lock{Env: "production", User: "bob"})
	if res.Outcome.Policy != testPolicyHash {
		t.Errorf("outcome policy %q, want %q", res.Outcome.Policy, testPolicyHash)
	}
	// A rule's rejection stays the domain's, with the policy's hash recorded beside it.
	res, err := f.handle(t, "c2", domain.Lock{Env: "production", User: "carol"})
	if err != nil || res.Outcome.Code != "locked" || res.Outcome.Policy != testPolicyHash {
		t.Errorf("second lock: %+v, %v; want rejected locked under the policy", res.Outcome, err)
	}
	if got := testutil.ToFloat64(f.metrics.PolicyWouldReject.WithLabelValues(handlers.ActionLock)); got != 2 {
		t.Errorf("policy_would_reject_total{lock} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(f.metrics.PolicyRejected.WithLabelValues(handlers.ActionLock)); got != 0 {
		t.Errorf("policy_rejected_total{lock} = %v, want 0", got)
	}
}

func TestHandle_GivenEachCommand_ThenThePolicyIsAskedForItsActionsNameAndUser(t *testing.T) {
	tests := []struct {
		name    string
		cmd     domain.Command
		actions []string
		on      string
		user    string
	}{
		{"given a lock", domain.Lock{Env: "prod", User: "u"}, []string{"lock"}, "prod", "u"},
		{"given an uberlock", domain.Lock{Env: "prod", User: "u", Uberlock: true}, []string{"uberlock"}, "prod", "u"},
		{"given a break-glass lock", domain.Lock{Env: "prod", User: "u", BreakGlass: true, Reason: "r"}, []string{"lock", "break-glass"}, "prod", "u"},
		{"given a release", domain.Release{Env: "prod", User: "u"}, []string{"release"}, "prod", "u"},
		{"given a forced release", domain.Release{Env: "prod", User: "u", Force: true, Reason: "r"}, []string{"force-release"}, "prod", "u"},
		{"given a renew", domain.Renew{Env: "prod", User: "u"}, []string{"lock"}, "prod", "u"},
		{"given leaving a queue", domain.LeaveQueue{Env: "prod", User: "u"}, []string{"lock"}, "prod", "u"},
		{"given a freeze", domain.AddFreeze{Env: "prod", User: "u", Cron: "0 9 * * 5", Duration: "1h", Reason: "r"}, []string{"freeze"}, "prod", "u"},
		{"given a freeze removal", domain.RemoveFreeze{Env: "prod", User: "u", ID: 1}, []string{"freeze"}, "prod", "u"},
		{"given a job start", domain.StartJob{Jobname: "nightly", User: "u", Version: "v1"}, []string{"job.start"}, "nightly", "u"},
		{"given a job end", domain.EndJob{Jobname: "nightly", Version: "v1", User: "u"}, []string{"job.end"}, "nightly", "u"},
		{"given a build", domain.CreateBuild{User: "acme", Repo: "app", Tag: "t", Browsers: []string{"chrome"}}, []string{"build.create"}, "acme/app", ""},
		{"given a build update", domain.UpdateBuild{User: "acme", Repo: "app", BuildID: 1, Browser: "chrome", Status: "ok"}, []string{"build.update"}, "acme/app", ""},
		{"given a status start", domain.StartStatus{Pkg: "pkg", Env: "prod", Version: "1.0.0", LocaleCount: 1}, []string{"status.start"}, "pkg/prod", ""},
		{"given a status event", domain.RecordStatusEvent{Pkg: "pkg", Env: "prod", Version: "1.0.0", Locale: "en", Message: "m"}, []string{"status.event"}, "pkg/prod", ""},
		{"given a completed locale", domain.CompleteLocale{Pkg: "pkg", Env: "prod", Version: "1.0.0", Locale: "en"}, []string{"status.complete"}, "pkg/prod", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name+", when handled, then the policy is asked for its actions", func(t *testing.T) {
			p := &fakePolicy{refuse: []string{"*"}, enforced: true}
			f := newFixture(t, withPolicy(p))
			res, err := f.handle(t, "c1", tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome.Code != eventstore.RejectionForbidden {
				t.Errorf("outcome %+v, want forbidden", res.Outcome)
			}
			if len(p.asked) != 1 {
				t.Fatalf("asked %d times, want once", len(p.asked))
			}
			got := p.asked[0]
			if !slices.Equal(got.Actions, tt.actions) || got.Name != tt.on || got.User != tt.user {
				t.Errorf("asked %+v, want actions %v on %q as %q", got, tt.actions, tt.on, tt.user)
			}
			for _, a := range got.Actions {
				if !slices.Contains(handlers.PolicyActions, a) {
					t.Errorf("action %q is not in PolicyActions", a)
				}
			}
		})
	}
}

func TestHandle_GivenAPolicyRefusingEverything_WhenTheWorkerExpiresALock_ThenThePolicyIsNotAsked(t *testing.T) {
	p := &fakePolicy{refuse: []string{"*"}, enforced: true}
	f := newFixture(t, withPolicy(p))
	res, err := f.handle(t, "c1", domain.ExpireLock{Env: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome.Status != eventstore.OutcomeAccepted || res.Outcome.Policy != "" || len(p.asked) != 0 {
		t.Errorf("outcome %+v, asked %v; want accepted without asking the policy", res.Outcome, p.asked)
	}
}

func TestForbiddenError_GivenARefusal_ThenItIsARejectionWithCodeForbidden(t *testing.T) {
	err := &handlers.ForbiddenError{Refusal: "no rule allows lock on prod", Policy: testPolicyHash}
	if domain.RejectionCode(err) != eventstore.RejectionForbidden || !strings.HasPrefix(domain.Reason(err), "forbidden: no rule allows lock on prod") {
		t.Errorf("code %q reason %q", domain.RejectionCode(err), domain.Reason(err))
	}
}
