package e2e

import (
	"strings"
	"testing"
	"time"

	"buildledger/projections"
)

// lockArgs are the arguments of `locks lock` that make a waiting lock retry quickly.
func lockArgs(env, user string, extra ...string) []string {
	return append([]string{"locks", "lock", "--env", env, "--user", user, "--retry-every", "500ms"}, extra...)
}

// locksOf returns the lock rows of env, newest first, as `locks list` prints them.
func (in *installation) locksOf(t *testing.T, env string) []projections.Lock {
	t.Helper()
	var rows []projections.Lock
	in.okJSON(t, &rows, "locks", "list", "--env", env)
	return rows
}

// wantLocks checks the users and active flags of the lock rows of env, newest first.
func (in *installation) wantLocks(t *testing.T, env string, want ...projections.Lock) {
	t.Helper()
	rows := in.locksOf(t, env)
	if len(rows) != len(want) {
		t.Fatalf("locks list --env %s: %d rows, want %d: %+v", env, len(rows), len(want), rows)
	}
	for i, w := range want {
		r := rows[i]
		if r.User != w.User || r.Env != env || r.Active != w.Active || r.Uberlock != w.Uberlock || r.ID == "" {
			t.Errorf("locks list --env %s row %d: %+v, want user %s, active %t, uberlock %t", env, i, r, w.User, w.Active, w.Uberlock)
		}
	}
}

// wantLock checks the lock row `locks lock` printed.
func wantLock(t *testing.T, out, env, user string, uberlock bool) {
	t.Helper()
	var l projections.Lock
	if err := jsonUnmarshal(out, &l); err != nil {
		t.Fatalf("locks lock printed no lock (%v): %s", err, out)
	}
	if l.Env != env || l.User != user || !l.Active || l.Uberlock != uberlock {
		t.Fatalf("locks lock printed %+v, want env %s held by %s (uberlock %t)", l, env, user, uberlock)
	}
}

// isQueueLine reports the line a waiting lock prints under Da-Playa's Still locked line.
func isQueueLine(line, env string) bool {
	return strings.HasPrefix(line, "Waiting in line for env "+env+": position ")
}

// isGrantLine reports the line lock prints when it is granted, with the fencing token.
func isGrantLine(line, env, user string) bool {
	return strings.HasPrefix(line, "Locked env "+env+" for "+user+" (fencing token ")
}

func TestLocks(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-locks")
	in.startWorker(t)

	t.Run("given alice holds production, when bob locks it with --wait 30s, then he is told who holds it until she releases and then he holds it", func(t *testing.T) {
		t.Parallel()
		wantLock(t, in.ok(t, "locks", "lock", "--env", "production", "--user", "alice", "--meta", "https://ci.example/42"), "production", "alice", false)

		bob := in.start(t, lockArgs("production", "bob", "--wait", "30s")...)
		still := "Still locked at env production by alice"
		bob.waitStderr(t, still, 20*time.Second)
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(bob.stderr.String(), still) < 2 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := strings.Count(bob.stderr.String(), still); n < 2 || !bob.running() {
			t.Fatalf("bob should keep trying while alice holds production (%d attempts, running %t):\n%s", n, bob.running(), bob.stderr.String())
		}

		in.ok(t, "locks", "release", "--env", "production", "--user", "alice")
		r := bob.wait()
		if r.code != 0 {
			t.Fatalf("bob's lock should be granted once alice released:\n%s", r)
		}
		wantLock(t, r.stdout, "production", "bob", false)
		for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			if line != still && !isQueueLine(line, "production") && !isGrantLine(line, "production", "bob") {
				t.Errorf("bob's stderr has %q; want only %q lines, each followed by his place in line, then the grant", line, still)
			}
		}
		in.wantLocks(t, "production", projections.Lock{User: "bob", Active: true}, projections.Lock{User: "alice", Active: false})
		if rows := in.locksOf(t, "production"); rows[1].Meta != "https://ci.example/42" {
			t.Errorf("alice's lock lost its meta: %+v", rows[1])
		}
	})

	t.Run("given alice holds staging, when bob locks it with --wait 2s, then he gives up with exit 1 after the Still locked lines", func(t *testing.T) {
		t.Parallel()
		in.ok(t, "locks", "lock", "--env", "staging", "--user", "alice")
		began := time.Now()
		stderr := in.fails(t, 1, lockArgs("staging", "bob", "--wait", "2s")...)
		if took := time.Since(began); took < 2*time.Second {
			t.Errorf("bob gave up after %s, before --wait 2s ran out", took)
		}
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if len(lines) < 2 {
			t.Fatalf("want Still locked lines and then the reason, got:\n%s", stderr)
		}
		for i, l := range lines[:len(lines)-1] {
			if i%2 == 0 && l != "Still locked at env staging by alice" || i%2 == 1 && !isQueueLine(l, "staging") {
				t.Errorf("stderr line %q, want Still locked at env staging by alice, then his place in line, for every attempt", l)
			}
		}
		if last := lines[len(lines)-1]; !strings.Contains(last, "env staging is still locked after 2s") {
			t.Errorf("last stderr line %q, want it to say staging is still locked after 2s", last)
		}
		in.wantLocks(t, "staging", projections.Lock{User: "alice", Active: true})
	})

	t.Run("given alice holds qa, when bob releases it, then he is refused with exit 1 and told who holds it", func(t *testing.T) {
		t.Parallel()
		in.ok(t, "locks", "lock", "--env", "qa", "--user", "alice")
		if stderr := in.fails(t, 1, "locks", "release", "--env", "qa", "--user", "bob"); !strings.Contains(stderr, "bob cannot release env qa: it is held by alice") {
			t.Errorf("stderr %q does not give the reason", stderr)
		}
		in.wantLocks(t, "qa", projections.Lock{User: "alice", Active: true})
	})

	t.Run("given nobody holds dev, when alice releases it, then she is refused with exit 1", func(t *testing.T) {
		t.Parallel()
		if stderr := in.fails(t, 1, "locks", "release", "--env", "dev", "--user", "alice"); !strings.Contains(stderr, "alice cannot release env dev: it is held by nobody") {
			t.Errorf("stderr %q does not give the reason", stderr)
		}
		in.wantLocks(t, "dev")
	})

	t.Run("given alice holds demo, when she locks it again, then she still holds the one lock", func(t *testing.T) {
		t.Parallel()
		in.ok(t, "locks", "lock", "--env", "demo", "--user", "alice")
		wantLock(t, in.ok(t, "locks", "lock", "--env", "demo", "--user", "alice"), "demo", "alice", false)
		in.wantLocks(t, "demo", projections.Lock{User: "alice", Active: true})
	})
}

func TestUberlock(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-uberlock")
	in.startWorker(t)
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"given nobody holds production, when alice uberlocks it, then she holds an uberlock", func(t *testing.T) {
			wantLock(t, in.ok(t, "locks", "lock", "--env", "production", "--user", "alice", "--uberlock"), "production", "alice", true)
		}},
		{"when bob locks it, then he is refused with the Still locked message", func(t *testing.T) {
			stderr := in.fails(t, 1, lockArgs("production", "bob", "--wait", "1500ms")...)
			if !strings.Contains(stderr, "Still locked at env production by alice") {
				t.Errorf("stderr %q has no Still locked message", stderr)
			}
		}},
		{"when bob uberlocks it, then he is refused with the Still locked message", func(t *testing.T) {
			stderr := in.fails(t, 1, lockArgs("production", "bob", "--uberlock", "--wait", "1500ms")...)
			if !strings.Contains(stderr, "Still locked at env production by alice") {
				t.Errorf("stderr %q has no Still locked message", stderr)
			}
		}},
		{"when alice releases it without --uberlock, then she is refused and the uberlock stays", func(t *testing.T) {
			stderr := in.fails(t, 1, "locks", "release", "--env", "production", "--user", "alice")
			if !strings.Contains(stderr, "env production is uberlocked by alice; only a release with uberlock lifts it") {
				t.Errorf("stderr %q does not give the reason", stderr)
			}
			in.wantLocks(t, "production", projections.Lock{User: "alice", Active: true, Uberlock: true})
		}},
		{"when bob releases it with --uberlock, then he is refused", func(t *testing.T) {
			stderr := in.fails(t, 1, "locks", "release", "--env", "production", "--user", "bob", "--uberlock")
			if !strings.Contains(stderr, "bob cannot release env production: it is held by alice") {
				t.Errorf("stderr %q does not give the reason", stderr)
			}
		}},
		{"when alice releases it with --uberlock, then the uberlock is lifted", func(t *testing.T) {
			in.ok(t, "locks", "release", "--env", "production", "--user", "alice", "--uberlock")
			in.wantLocks(t, "production", projections.Lock{User: "alice", Active: false, Uberlock: true})
		}},
		{"when bob locks it, then he holds it", func(t *testing.T) {
			wantLock(t, in.ok(t, "locks", "lock", "--env", "production", "--user", "bob"), "production", "bob", false)
			in.wantLocks(t, "production", projections.Lock{User: "bob", Active: true}, projections.Lock{User: "alice", Active: false, Uberlock: true})
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}
