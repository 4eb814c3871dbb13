package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"buildledger/domain"
	"buildledger/eventstore"
)

// lockEvent is one event of a lock stream with the record around it.
type lockEvent struct {
	rec   eventstore.Record
	event domain.Event
}

// lockHistory returns the events of env's lock stream, as `events list` prints them.
func (in *installation) lockHistory(t *testing.T, env string) []lockEvent {
	t.Helper()
	var recs []eventstore.Record
	in.okJSON(t, &recs, "events", "list", "--stream", domain.LockStreamID(env), "--limit", "10000")
	out := make([]lockEvent, 0, len(recs))
	for _, r := range recs {
		e, err := domain.DecodeEvent(r.Type, r.Body)
		if err != nil {
			t.Fatalf("event %s@%d: %v", r.Stream, r.Version, err)
		}
		out = append(out, lockEvent{rec: r, event: e})
	}
	return out
}

// grant is one holding of a lock, from the history: who, from when, until when, and why it
// ended ("" while it lasts).
type grant struct {
	user       string
	token      int64
	from, to   time.Time
	ended      string
	expiredBy  string // the command id of an expiry
	grantedVia string // the command id of the grant
}

// holdings returns the grants of a lock history in order. A grant passed from the queue
// counts only once its waiter claimed it: a claim that ran out was never held.
func holdings(history []lockEvent) []grant {
	var (
		out     []grant
		current *grant
		claim   bool
	)
	end := func(at time.Time, how, by string) {
		if current != nil && !claim {
			current.to, current.ended, current.expiredBy = at, how, by
			out = append(out, *current)
		}
		current, claim = nil, false
	}
	for _, h := range history {
		switch e := h.event.(type) {
		case domain.Locked:
			current = &grant{user: e.User, token: h.rec.Version, from: e.At, grantedVia: h.rec.CommandID}
			claim = e.Claim
		case domain.LockRefreshed:
			if claim && e.Claimed {
				claim = false
				current.from = e.At
			}
		case domain.Released:
			how := "released"
			if e.ForcedBy != "" {
				how = "forced"
			}
			end(e.At, how, "")
		case domain.LockExpired:
			end(e.ExpiresAt, "expired", h.rec.CommandID)
		}
	}
	if current != nil && !claim {
		out = append(out, *current)
	}
	return out
}

func users(gs []grant) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.user)
	}
	return out
}

// A holder whose process dies keeps nobody out for longer than its lease: the worker
// expires it at the lease's end with nobody asking, and the waiter in line gets it.
func TestLease_GivenAHolderKilledWithSIGKILL_WhenItsLeaseRunsOut_ThenTheWaiterHoldsTheLock(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-lease-kill")
	in.startWorker(t)
	const env = "production"

	alice := in.start(t, "locks", "run", "--env", env, "--user", "alice", "--lease", "10s", "--", "sleep", "600")
	alice.waitStderr(t, "fencing token", 30*time.Second)
	bob := in.start(t, lockArgs(env, "bob", "--wait", "60s")...)
	bob.waitStderr(t, "Still locked at env "+env+" by alice", 20*time.Second)

	killed := time.Now()
	alice.signal(t, syscall.SIGKILL)
	r := bob.wait()
	took := time.Since(killed)
	if r.code != 0 {
		t.Fatalf("bob did not get the lock after alice's lease ran out:\n%s", r)
	}
	wantLock(t, r.stdout, env, "bob", false)
	if took > 20*time.Second {
		t.Errorf("bob held the lock %s after alice was killed; want within the 10s lease + 10s", took.Round(time.Millisecond))
	}
	gs := holdings(in.lockHistory(t, env))
	if got := strings.Join(users(gs), ","); got != "alice,bob" {
		t.Fatalf("holdings %q, want alice then bob", got)
	}
	if gs[0].ended != "expired" {
		t.Errorf("alice's lock ended %q, want expired", gs[0].ended)
	}
	t.Logf("alice SIGKILLed; bob held the lock %s later; alice's lease ran out %s after the kill, decided by command %s",
		took.Round(time.Millisecond), gs[0].to.Sub(killed).Round(time.Millisecond), gs[0].expiredBy)
}

// The expiry is a message on SQS, not a goroutine: a worker killed while a lease is
// pending and started again still expires it.
func TestLease_GivenTheWorkerKilledWhileALeaseIsPending_WhenItIsRestarted_ThenTheLeaseStillExpires(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-lease-restart")
	w := in.launchWorker(t)
	const env = "staging"

	in.ok(t, "locks", "lock", "--env", env, "--user", "alice", "--lease", "8s")
	_ = w.cmd.Process.Kill()
	<-w.exited
	w.done = true
	w.logFile.Close()
	time.Sleep(2 * time.Second)
	restarted := in.launchWorker(t)
	t.Cleanup(func() { restarted.terminate(t) })

	deadline := time.Now().Add(60 * time.Second)
	for {
		gs := holdings(in.lockHistory(t, env))
		if len(gs) == 1 && gs[0].ended == "expired" {
			if !strings.HasPrefix(gs[0].expiredBy, "lease-expiry-") {
				t.Errorf("the expiry was decided by command %q, want a lease timer's", gs[0].expiredBy)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's 8s lease did not expire within 60s across a worker restart: %+v", gs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The read model shows it too, once the projector has caught up.
	deadline = time.Now().Add(60 * time.Second)
	for {
		rows := in.locksOf(t, env)
		if len(rows) == 1 && !rows[0].Active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the read model still shows %+v", rows)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Waiters get the lock in the order they came, and no two grants ever overlap.
func TestQueue_GivenEightWaitersInAKnownOrder_ThenTheyHoldTheLockInThatOrderWithoutOverlap(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-queue-order")
	in.startWorker(t)
	const env = "production"

	in.ok(t, "locks", "lock", "--env", env, "--user", "alice")
	var waiters []*process
	var want []string
	for i := 1; i <= 8; i++ {
		user := fmt.Sprintf("u%d", i)
		want = append(want, user)
		p := in.start(t, "locks", "run", "--env", env, "--user", user, "--lease", "30s", "--wait", "80s", "--", "sleep", "0.3")
		p.waitStderr(t, fmt.Sprintf("position %d", i), 20*time.Second)
		waiters = append(waiters, p)
	}
	in.ok(t, "locks", "release", "--env", env, "--user", "alice")
	for _, p := range waiters {
		if r := p.wait(); r.code != 0 {
			t.Errorf("waiter did not get its turn:\n%s", r)
		}
	}
	gs := holdings(in.lockHistory(t, env))
	if got := strings.Join(users(gs), ","); got != "alice,"+strings.Join(want, ",") {
		t.Fatalf("holdings %q, want alice then %q", got, want)
	}
	for i := 1; i < len(gs); i++ {
		if gs[i-1].to.IsZero() || gs[i].from.Before(gs[i-1].to) {
			t.Errorf("grant %d (%s from %s) overlaps grant %d (%s until %s)", i, gs[i].user, gs[i].from, i-1, gs[i-1].user, gs[i-1].to)
		}
		if gs[i].token <= gs[i-1].token {
			t.Errorf("token %d of %s is not above %d of %s", gs[i].token, gs[i].user, gs[i-1].token, gs[i-1].user)
		}
	}
}

// A waiter whose CLI dies loses its place; the one behind it gets the lock.
func TestQueue_GivenAWaiterKilledWithSIGKILL_WhenTheLockIsReleased_ThenItIsSkipped(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-queue-skip")
	in.startWorker(t)
	const env = "qa"

	in.ok(t, "locks", "lock", "--env", env, "--user", "alice")
	bob := in.start(t, lockArgs(env, "bob", "--wait", "80s")...)
	bob.waitStderr(t, "position 1", 20*time.Second)
	carol := in.start(t, lockArgs(env, "carol", "--wait", "80s")...)
	carol.waitStderr(t, "position 2", 20*time.Second)
	bob.signal(t, syscall.SIGKILL)
	bob.wait()
	time.Sleep(domain.WaiterTimeout + 2*time.Second)
	in.ok(t, "locks", "release", "--env", env, "--user", "alice")
	r := carol.wait()
	if r.code != 0 {
		t.Fatalf("carol did not get the lock:\n%s", r)
	}
	wantLock(t, r.stdout, env, "carol", false)
	if got := strings.Join(in.grantedTo(t, env), ","); got != "alice,carol" {
		t.Errorf("holdings %q, want alice then carol (bob was killed while waiting)", got)
	}
}

// locks run keeps its lease alive for as long as the wrapped command runs, hands the
// command the fencing token, and `locks check` fails as soon as the lock is forced away.
func TestLocksRun_GivenACommandThatOutlivesItsLease_ThenTheLockIsKeptUntilForcedAway(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-locks-run")
	in.startWorker(t)
	const env = "production"

	dir := t.TempDir()
	script := filepath.Join(dir, "deploy.sh")
	checks := filepath.Join(dir, "checks.log")
	// Every 250 ms: is my lock still mine? Stop (exit 7) as soon as it is not.
	body := fmt.Sprintf(`#!/bin/sh
while true; do
  if %q locks check --env "$BUILDLEDGER_LOCK_ENV" --token "$BUILDLEDGER_LOCK_TOKEN" >/dev/null 2>&1; then
    echo ok >> %q
  else
    echo lost >> %q; exit 7
  fi
  sleep 0.25
done
`, binary, checks, checks)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	run := in.start(t, "locks", "run", "--env", env, "--user", "alice", "--lease", "3s", "--", script)
	run.waitStderr(t, "fencing token", 30*time.Second)
	time.Sleep(10 * time.Second)
	if !run.running() {
		t.Fatalf("locks run ended early:\n%s", run.wait())
	}
	if log, _ := os.ReadFile(checks); strings.Contains(string(log), "lost") || strings.Count(string(log), "ok") < 10 {
		t.Fatalf("checks while the lease is renewed: %q", log)
	}
	forced := in.run(t, "locks", "release", "--env", env, "--user", "ops", "--force", "--reason", "stuck deploy")
	if forced.code != 0 {
		t.Fatalf("force release:\n%s", forced)
	}
	r := run.wait()
	if r.code != 7 {
		t.Fatalf("locks run should exit with the script's code 7 once the lock was forced away:\n%s", r)
	}
	if log, _ := os.ReadFile(checks); !strings.HasSuffix(string(log), "lost\n") {
		t.Errorf("the script's last check did not see the lock lost: %q", log)
	}
	history := in.lockHistory(t, env)
	gs := holdings(history)
	if len(gs) != 1 || gs[0].ended != "forced" || gs[0].to.Sub(began) < 10*time.Second {
		t.Fatalf("holdings %+v: want alice's one grant, kept over 10 s and forced", gs)
	}
	in.fails(t, 1, "locks", "check", "--env", env, "--token", fmt.Sprint(gs[0].token))
	var renewals, expiries int
	var by string
	for _, h := range history {
		switch e := h.event.(type) {
		case domain.LockRefreshed:
			if e.Renewed {
				renewals++
			}
		case domain.LockExpired:
			expiries++
		case domain.Released:
			by = e.ForcedBy + ": " + e.Reason
		}
	}
	if renewals < 3 || expiries != 0 || by != "ops: stuck deploy" {
		t.Errorf("history: %d renewals, %d expiries, forced by %q; want at least 3 renewals of the 3s lease, none expired, forced by ops", renewals, expiries, by)
	}
}

// TestLease_GivenTenLeasesWithAWaiterEach measures the time from a lease's end to the
// waiter's grant, decided by the worker's timer alone (the waiter attempts only every 5 s).
func TestLease_GivenTenLeasesWithAWaiterEach_ThenTheNextGrantFollowsTheExpiry(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-lease-latency")
	in.startWorker(t)
	var waiters []*process
	for i := range 10 {
		env := fmt.Sprintf("env%d", i)
		in.ok(t, "locks", "lock", "--env", env, "--user", "alice", "--lease", "6s")
		p := in.start(t, lockArgs(env, "bob", "--wait", "60s")...)
		waiters = append(waiters, p)
	}
	var gaps []time.Duration
	for i, p := range waiters {
		env := fmt.Sprintf("env%d", i)
		if r := p.wait(); r.code != 0 {
			t.Fatalf("bob did not get %s:\n%s", env, r)
		}
		history := in.lockHistory(t, env)
		var expired, handed time.Time
		for _, h := range history {
			switch e := h.event.(type) {
			case domain.LockExpired:
				expired = e.ExpiresAt
			case domain.Locked:
				if e.User == "bob" {
					handed = e.At
				}
			}
		}
		if expired.IsZero() || handed.IsZero() {
			t.Fatalf("%s: no expiry or no grant to bob in the history", env)
		}
		gaps = append(gaps, handed.Sub(expired))
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	t.Logf("from a lease's end to the next grant, over %d leases: median %s, worst %s (all: %v)",
		len(gaps), gaps[len(gaps)/2].Round(time.Millisecond), gaps[len(gaps)-1].Round(time.Millisecond), gaps)
	if worst := gaps[len(gaps)-1]; worst > 10*time.Second {
		t.Errorf("a lease ended %s before the next grant; want within 10 s", worst)
	}
}

// A scheduled freeze refuses new locks while its window is open, naming it; break-glass
// takes the lock anyway and records why.
func TestFreezes_GivenAnOpenWindow_ThenLocksAreRefusedUnlessTheGlassIsBroken(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-freezes")
	in.startWorker(t)
	const env = "production"

	in.ok(t, "freezes", "add", "--env", env, "--user", "ops", "--cron", "* * * * *", "--duration", "2h", "--tz", "Europe/Berlin", "--reason", "release week")
	stderr := in.fails(t, 1, "locks", "lock", "--env", env, "--user", "alice", "--wait", "1s")
	if !strings.Contains(stderr, "frozen by freeze 1") || !strings.Contains(stderr, "release week") {
		t.Errorf("refusal does not name the window:\n%s", stderr)
	}
	in.ok(t, "locks", "lock", "--env", env, "--user", "alice", "--break-glass", "--reason", "hotfix 123")
	var broke bool
	for _, h := range in.lockHistory(t, env) {
		if l, ok := h.event.(domain.Locked); ok && l.BreakGlass && l.Reason == "hotfix 123" {
			broke = true
		}
	}
	if !broke {
		t.Error("the grant does not record the break-glass and its reason")
	}
	in.ok(t, "locks", "release", "--env", env, "--user", "alice")
	in.ok(t, "freezes", "remove", "--env", env, "--user", "ops", "--id", "1")
	wantLock(t, in.ok(t, "locks", "lock", "--env", env, "--user", "bob"), env, "bob", false)
	if i := slices.IndexFunc(in.lockHistory(t, env), func(h lockEvent) bool { return h.rec.Type == "FreezeRemoved" }); i < 0 {
		t.Error("no FreezeRemoved in the history")
	}
}
