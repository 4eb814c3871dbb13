package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// grantedTo returns the users that held env's lock, in order, from the history as
// `events list` prints it (see holdings: a grant passed from the queue counts once claimed).
func (in *installation) grantedTo(t *testing.T, env string) []string {
	t.Helper()
	return users(holdings(in.lockHistory(t, env)))
}

// signal sends sig to the worker process.
func (w *workerProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := w.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to the worker: %v", sig, err)
	}
}

// stalledRelease sets the scene of the deploy-lock defect on env: alice holds it; bob runs
// bobArgs (a waiting `locks lock`); once bob has been told alice holds it, the worker is
// stopped with SIGSTOP and alice's release is enqueued behind bob's next attempt's place.
// It returns bob's process and a function that resumes the worker (also run when the test
// ends, before the worker is stopped).
func (in *installation) stalledRelease(t *testing.T, env string, bobArgs ...string) (bob *process, resume func()) {
	t.Helper()
	w := in.launchWorker(t)
	paused := false
	resume = func() {
		if paused {
			w.signal(t, syscall.SIGCONT)
			paused = false
		}
	}
	t.Cleanup(func() {
		resume()
		w.terminate(t)
	})
	in.ok(t, "locks", "lock", "--env", env, "--user", "alice")
	started := time.Now()
	bob = in.start(t, bobArgs...)
	bob.waitStderr(t, "Still locked at env "+env+" by alice", 8*time.Second)
	// Three seconds in, as in the defect's report: between bob's attempts.
	time.Sleep(time.Until(started.Add(3 * time.Second)))
	w.signal(t, syscall.SIGSTOP)
	paused = true
	in.ok(t, "locks", "release", "--env", env, "--user", "alice", "--no-wait")
	return bob, resume
}

// The repro of the deploy-lock defect: bob waits for a lock, the worker stalls while alice
// releases it, bob's wait runs out and he is told the env is still locked. When the worker
// resumes, bob must not be granted the lock he was told he did not get.
func TestLockWait_GivenWorkerPausedWhileBobWaits_WhenBobGivesUp_ThenBobIsNeverGrantedTheLock(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-pause")
	bob, resume := in.stalledRelease(t, "staging", "locks", "lock", "--env", "staging", "--user", "bob", "--wait", "8s")
	r := bob.wait()
	if r.code != 1 || !strings.Contains(r.stderr, "env staging is still locked after 8s") {
		t.Fatalf("bob: want exit 1, still locked after 8s; got:\n%s", r)
	}
	resume()

	// carol's lock is queued behind bob's last attempt on the same stream, so it is decided
	// after it: she gets the env only if bob did not.
	wantLock(t, in.ok(t, "locks", "lock", "--env", "staging", "--user", "carol", "--wait", "30s"), "staging", "carol", false)
	if got := in.grantedTo(t, "staging"); strings.Join(got, ",") != "alice,carol" {
		t.Errorf("the history granted the lock to %v, want alice then carol (never bob, who was told no)", got)
	}
}

// lockClaim is what one contending client's CLI said.
type lockClaim struct {
	user string
	res  result
}

// Ten clients contend for one env while the worker is SIGKILLed and restarted. A killed
// worker's message stays invisible for the queue's visibility timeout (30 s), longer than
// the clients wait, so clients give up on attempts that are redelivered later. Whatever
// each CLI reported must be what the history says.
func TestLockWait_GivenTenClientsContending_WhenWorkerIsKilled_ThenEveryClientsReportIsTheTruth(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-contend")
	w := in.launchWorker(t)
	const env = "production"

	claims := make([]lockClaim, 10)
	var wg sync.WaitGroup
	for i := range claims {
		user := fmt.Sprintf("u%d@example.com", i)
		wg.Go(func() {
			r := in.run(t, lockArgs(env, user, "--wait", "20s")...)
			if r.code == 0 {
				// Hold it briefly, as a deploy would, then give it back.
				time.Sleep(300 * time.Millisecond)
				if rel := in.run(t, "locks", "release", "--env", env, "--user", user, "--wait", "80s"); rel.code != 0 {
					t.Errorf("%s was granted the lock but could not release it:\n%s", user, rel)
				}
			}
			claims[i] = lockClaim{user: user, res: r}
		})
	}
	time.Sleep(3 * time.Second)
	_ = w.cmd.Process.Kill()
	<-w.exited
	w.done = true
	w.logFile.Close()
	time.Sleep(time.Second)
	restarted := in.launchWorker(t)
	t.Cleanup(func() { restarted.terminate(t) })
	wg.Wait()

	// The probe is queued behind every attempt: it gets the env once all of them are
	// decided, and only if no client holds it.
	probe := in.run(t, lockArgs(env, "probe", "--wait", "80s")...)
	granted := map[string]int{}
	for _, u := range in.grantedTo(t, env) {
		granted[u]++
	}
	outcomes := map[int]int{}
	for _, c := range claims {
		outcomes[c.res.code]++
		switch c.res.code {
		case 0:
			if granted[c.user] != 1 {
				t.Errorf("%s was told it holds the lock, but the history granted it %d times:\n%s", c.user, granted[c.user], c.res)
			}
		case 1, 3:
			if granted[c.user] != 0 {
				t.Errorf("%s was told it did not get the lock, but the history granted it %d times:\n%s", c.user, granted[c.user], c.res)
			}
		default:
			t.Errorf("%s: unexpected exit:\n%s", c.user, c.res)
		}
	}
	t.Logf("exit codes of the ten clients: %v", outcomes)
	if probe.code != 0 {
		t.Fatalf("the probe queued behind every attempt did not get the env:\n%s", probe)
	}
	wantLock(t, probe.stdout, env, "probe", false)
}

// --wait bounds the whole wait: an attempt that the worker takes longer than --timeout to
// answer is still waited for, up to the end of --wait.
func TestLockWait_GivenAnAttemptSlowerThanTimeout_WhenWaitHasTimeLeft_ThenLockWaitsForItAndIsGranted(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-slow")
	bob, resume := in.stalledRelease(t, "qa", lockArgs("qa", "bob", "--wait", "40s", "--timeout", "2s")...)
	// bob's next attempt waits behind the release, unanswered for longer than --timeout.
	time.Sleep(4 * time.Second)
	resume()
	r := bob.wait()
	if r.code != 0 {
		t.Fatalf("bob: want the lock once the worker answers; got:\n%s", r)
	}
	wantLock(t, r.stdout, "qa", "bob", false)
}

// Ctrl-C while an attempt is unanswered withdraws it: the CLI says the lock was not taken,
// and it never is.
func TestLockWait_GivenAttemptUnanswered_WhenInterrupted_ThenWithdrawnAndNeverGranted(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-sigint")
	bob, resume := in.stalledRelease(t, "uat", lockArgs("uat", "bob", "--wait", "60s")...)
	time.Sleep(2 * time.Second) // bob's next attempt is in the queue, unanswered
	bob.signal(t, syscall.SIGINT)
	r := bob.wait()
	if r.code != 130 || !strings.Contains(r.stderr, "interrupted") || !strings.Contains(r.stderr, "will not take effect") {
		t.Fatalf("bob: want exit 130 saying the attempt was withdrawn; got:\n%s", r)
	}
	resume()
	wantLock(t, in.ok(t, "locks", "lock", "--env", "uat", "--user", "carol", "--wait", "30s"), "uat", "carol", false)
	if got := in.grantedTo(t, "uat"); strings.Join(got, ",") != "alice,carol" {
		t.Errorf("the history granted the lock to %v, want alice then carol (never bob, who was told no)", got)
	}
}

// Any valid text travels: SQS refuses U+FFFF and the emulator emoji, unless escaped.
func TestLockMeta_GivenTextSQSRefuses_ThenTheLockCarriesItToTheReadModel(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-meta")
	in.startWorker(t)
	meta := "deploy \uffff 🚀 café"
	wantLock(t, in.ok(t, "locks", "lock", "--env", "prod", "--user", "alice", "--meta", meta), "prod", "alice", false)
	rows := in.locksOf(t, "prod")
	if len(rows) != 1 || rows[0].Meta != meta {
		t.Errorf("locks list: %+v, want alice's lock with meta %q", rows, meta)
	}
}

// A lock is granted when its command is accepted, whether or not the read models show it
// yet: lock must say it is taken (exit 0), never that nothing answered.
func TestLock_GivenReadModelsThatNeverCatchUp_WhenGranted_ThenLockSaysItIsTaken(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-lag")
	// Cut the projector off the events topic: the read models never see the grant.
	ctx := context.Background()
	a, ep := in.messaging(t)
	snsc := a.SNS
	subs, err := snsc.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(ep.EventsTopicARN)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs.Subscriptions {
		if _, err := snsc.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: s.SubscriptionArn}); err != nil {
			t.Fatal(err)
		}
	}
	in.startWorker(t)
	r := in.run(t, "locks", "lock", "--env", "prod", "--user", "alice", "--wait", "3s")
	if r.code != 0 || !strings.Contains(r.stderr, "do not show it yet") {
		t.Fatalf("want exit 0 saying the read models lag; got:\n%s", r)
	}
	var l struct {
		Env, User, CommandID string
		Active               bool
	}
	if err := jsonUnmarshal(r.stdout, &l); err != nil || l.Env != "prod" || l.User != "alice" || !l.Active || l.CommandID == "" {
		t.Errorf("locks lock printed %q (%v), want alice's active lock on prod with its command id", r.stdout, err)
	}
	if got := in.grantedTo(t, "prod"); strings.Join(got, ",") != "alice" {
		t.Errorf("the history granted the lock to %v, want alice", got)
	}
}
