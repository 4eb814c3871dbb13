package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"buildledger/projections"
)

func TestUsage(t *testing.T) {
	t.Parallel()
	in := &installation{prefix: "e2e-usage-never-created-"} // usage errors are found before AWS is used
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"when locks lock misses --user, then exit 2 naming the flag",
			[]string{"locks", "lock", "--env", "production"}, `required flag(s) "user" not set`},
		{"when builds update misses --build, then exit 2 naming the flag",
			[]string{"builds", "update", "--user", "api", "--repo", "foo", "--browser", "BrowserA", "--status", "started"}, `required flag(s) "build" not set`},
		{"when jobs start misses --gitversion, then exit 2 naming the flag",
			[]string{"jobs", "start", "--jobname", "deploy-prod", "--user", "alice"}, `required flag(s) "gitversion" not set`},
		{"when status start has neither --locales nor --locale-count, then exit 2 naming both",
			[]string{"status", "start", "--pkg", "app", "--env", "prod", "--version", "1.0.0"}, "give --locales or --locale-count"},
		{"when jobs active gets a zero --ttl, then exit 2 naming the flag",
			[]string{"jobs", "active", "--jobname", "deploy-prod", "--ttl", "0s"}, "--ttl must be positive"},
		{"when locks lock gets a --wait that is no duration, then exit 2 naming the flag",
			[]string{"locks", "lock", "--env", "production", "--user", "alice", "--wait", "soon"}, `invalid argument "soon" for "--wait" flag`},
		{"when a browser is named like a column of the build view, then exit 2 with the reason",
			[]string{"builds", "create", "--user", "api", "--repo", "foo", "--tag", "master", "--browsers", "pending"}, `"pending" is reserved by the build view`},
		{"when a repo name holds a slash, then exit 2 with the reason",
			[]string{"builds", "create", "--user", "api", "--repo", "foo/bar", "--tag", "master", "--browsers", "BrowserA"}, `repo: must not contain "/"`},
		{"when a command is unknown, then exit 2 naming it",
			[]string{"deploy"}, `unknown command "deploy"`},
		{"when a subcommand is unknown, then exit 2 naming it",
			[]string{"locks", "relase"}, `unknown command "relase"`},
		{"when a subcommand is unknown and has flags, then exit 2",
			[]string{"locks", "relase", "--env", "production", "--user", "alice"}, "unknown flag: --env"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if stderr := in.fails(t, 2, c.args...); !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not say %q", stderr, c.want)
			}
		})
	}
}

var commandID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$`)

func TestGivenNoWorker_WhenCommandsAreSent_ThenTheyTimeOutWithExit3AndAreWithdrawnOrAreOnlyEnqueuedAndAWorkerStartedLaterAppliesOnlyThose(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-no-worker")
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"when builds create waits 2s, then exit 3 saying nothing answered and the command was withdrawn", func(t *testing.T) {
			began := time.Now()
			stderr := in.fails(t, 3, "builds", "create", "--user", "api", "--repo", "foo", "--tag", "master", "--browsers", "BrowserA", "--wait", "2s")
			if !strings.Contains(stderr, "no answer within 2s") || !strings.Contains(stderr, "is the worker running?") {
				t.Errorf("stderr %q does not say that no answer came within 2s", stderr)
			}
			if !strings.Contains(stderr, "withdrawn") || !strings.Contains(stderr, "will not take effect") {
				t.Errorf("stderr %q does not say that the command was withdrawn", stderr)
			}
			if took := time.Since(began); took < 2*time.Second || took > 20*time.Second {
				t.Errorf("exit 3 after %s, want it when --wait 2s runs out", took)
			}
		}},
		{"when locks lock waits 2s for a free env, then exit 3 saying nothing answered", func(t *testing.T) {
			stderr := in.fails(t, 3, "locks", "lock", "--env", "staging", "--user", "alice", "--wait", "2s")
			if !strings.Contains(stderr, "no answer within") || strings.Contains(strings.ToLower(stderr), "still locked") {
				t.Errorf("stderr %q should say that no answer came, and not that staging is locked", stderr)
			}
		}},
		{"when locks lock is sent with --no-wait, then it prints the command id at once", func(t *testing.T) {
			began := time.Now()
			if out := in.ok(t, "locks", "lock", "--env", "production", "--user", "alice", "--no-wait"); !commandID.MatchString(out) {
				t.Errorf("locks lock --no-wait printed %q, want a command id", out)
			}
			if took := time.Since(began); took > 10*time.Second {
				t.Errorf("--no-wait took %s", took)
			}
			in.wantLocks(t, "production")
		}},
		{"when a worker starts, then it applies the enqueued lock but not the build that was withdrawn", func(t *testing.T) {
			in.startWorker(t)
			deadline := time.Now().Add(30 * time.Second)
			for len(in.locksOf(t, "production")) == 0 && time.Now().Before(deadline) {
				time.Sleep(200 * time.Millisecond)
			}
			in.wantLocks(t, "production", projections.Lock{User: "alice", Active: true})
			// Queued behind the withdrawn build on the same stream, so decided after it: it
			// is build 1 only if the withdrawn one never took effect.
			if out := in.ok(t, "builds", "create", "--user", "api", "--repo", "foo", "--tag", "master", "--browsers", "BrowserA"); out != "1\n" {
				t.Errorf("the next build is %q, want 1: the build that was withdrawn must not have been created", out)
			}
		}},
	}
	// The steps do not stop at a failure: each tells something of its own, and the last
	// one only needs the first and the third.
	for _, s := range steps {
		t.Run(s.name, s.run)
	}
}
