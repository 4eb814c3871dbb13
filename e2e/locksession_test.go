package e2e

import (
	"strings"
	"testing"
	"time"
)

// lockSessionFile is where TestREADMELockSession records its session.
const lockSessionFile = "testdata/lock_session.txt"

// TestREADMELockSession runs the README's deploy-lock session against a worker: a lease,
// a waiter in line, renewal, the handoff, a stale token, locks run, a forced release, a
// freeze schedule, the history and an as-of question. With BUILDLEDGER_WRITE_SESSION=1 it
// records it into testdata/lock_session.txt.
func TestREADMELockSession(t *testing.T) {
	t.Parallel()
	s := newSession(t, "e2e-lock-session")
	alice, bob, ops := "alice@example.com", "bob@example.com", "ops@example.com"
	mustExit := func(r result, code int) {
		t.Helper()
		if r.code != code {
			t.Fatalf("want exit %d:\n%s", code, r)
		}
	}

	mustExit(s.run(t, ".", "locks", "lock", "--env", "production", "--user", alice, "--lease", "10m", "--meta", "https://ci.example/builds/42"), 0)
	during := time.Now()
	waiting := s.background(t, "Still locked at env production by "+alice, "locks", "lock", "--env", "production", "--user", bob, "--wait", "5m")
	r := s.run(t, ".", "locks", "queue", "--env", "production")
	mustExit(r, 0)
	if !strings.Contains(r.stdout, bob) {
		t.Fatalf("the queue does not show bob:\n%s", r)
	}
	mustExit(s.run(t, ".", "locks", "renew", "--env", "production", "--user", alice, "--token", "1"), 0)
	mustExit(s.run(t, ".", "locks", "release", "--env", "production", "--user", alice), 0)
	mustExit(s.wait(t, waiting), 0)

	r = s.run(t, "", "locks", "check", "--env", "production", "--token", "1")
	mustExit(r, 1)
	s.exitStatus(1)
	r = s.run(t, "", "locks", "run", "--env", "staging", "--user", "ci@example.com", "--lease", "30s", "--",
		"sh", "-c", `echo "deploying with fencing token $BUILDLEDGER_LOCK_TOKEN"`)
	mustExit(r, 0)
	if !strings.Contains(r.stdout, "deploying with fencing token 1") {
		t.Fatalf("locks run did not pass the token:\n%s", r)
	}
	mustExit(s.run(t, ".", "locks", "release", "--env", "production", "--user", ops, "--force", "--reason", "bob's job hung"), 0)
	mustExit(s.run(t, ".", "freezes", "add", "--env", "production", "--user", ops, "--cron", "0 18 * * FRI",
		"--duration", "64h", "--tz", "Europe/Berlin", "--reason", "no deploys on weekends"), 0)
	mustExit(s.run(t, ".[]", "freezes", "list", "--env", "production"), 0)
	r = s.run(t, ".[] | {event, user, token, by, reason, heldMs} | with_entries(select(.value != null))", "locks", "history", "--env", "production")
	mustExit(r, 0)
	for _, want := range []string{`"event":"granted"`, `"event":"renewed"`, `"event":"queued"`, `"event":"forced"`, `"event":"freeze-added"`} {
		if !strings.Contains(jq(t, ".[]", r.stdout), want) {
			t.Errorf("history has no %s:\n%s", want, r.stdout)
		}
	}
	r = s.run(t, ".", "locks", "list", "--env", "production", "--at", during.UTC().Format(time.RFC3339Nano))
	mustExit(r, 0)
	if !strings.Contains(r.stdout, alice) {
		t.Errorf("as of %s the lock should be alice's:\n%s", during, r)
	}
	s.save(t, lockSessionFile)
}
