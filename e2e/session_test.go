package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// sessionFile is where TestREADMESession records its session.
const sessionFile = "testdata/session.txt"

// session records command lines and what they printed, as a terminal shows them. JSON is
// passed through the real `jq -c`, so that each document takes one line.
type session struct {
	in  *installation
	out strings.Builder
}

// newSession returns a session against a new installation whose worker runs.
func newSession(t *testing.T, what string) *session {
	t.Helper()
	needJQ(t)
	in := newInstallation(t, what)
	in.startWorker(t)
	return &session{in: in}
}

func (s *session) prompt(line string) { s.out.WriteString("$ " + line + "\n") }

// exitStatus records `echo $?` after a command that exited with code.
func (s *session) exitStatus(code int) {
	s.prompt("echo $?")
	fmt.Fprintln(&s.out, code)
}

// sessionJob is a command line of a session that runs in the background.
type sessionJob struct {
	p     *process
	shown string // its standard error as recorded when it was started
}

// background starts a command line in the background, recorded as `… | jq -c . &`, waits
// until it has printed line twice (a waiting lock's attempts) and records what it printed.
func (s *session) background(t *testing.T, line string, args ...string) *sessionJob {
	t.Helper()
	p := s.in.start(t, args...)
	s.prompt("buildledger " + shellJoin(p.args) + " | jq -c . &")
	waitAttempts(t, p, line, 2)
	j := &sessionJob{p: p, shown: p.stderr.String()}
	s.out.WriteString(j.shown)
	return j
}

// wait records `wait`, waits until the job ends and records the rest of what it printed.
func (s *session) wait(t *testing.T, j *sessionJob) result {
	t.Helper()
	s.prompt("wait")
	r := j.p.wait()
	s.out.WriteString(strings.TrimPrefix(r.stderr, j.shown))
	s.out.WriteString(jq(t, ".", r.stdout))
	return r
}

// run runs a command line and records it; filter, when not empty, is the jq filter its
// output goes through.
func (s *session) run(t *testing.T, filter string, args ...string) result {
	t.Helper()
	r := s.in.run(t, args...)
	s.record(t, filter, r)
	return r
}

func (s *session) record(t *testing.T, filter string, r result) {
	t.Helper()
	line := "buildledger " + shellJoin(r.args)
	if filter != "" {
		line += " | jq -c " + shellQuote(filter)
	}
	s.prompt(line)
	s.out.WriteString(r.stderr)
	s.out.WriteString(jq(t, filter, r.stdout))
}

func jq(t *testing.T, filter, in string) string {
	t.Helper()
	if filter == "" || in == "" {
		return in
	}
	cmd := exec.Command("jq", "-c", filter)
	cmd.Stdin = strings.NewReader(in)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("jq -c %s: %v\n%s", filter, err, out.String())
	}
	return out.String()
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,/:@=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// TestREADMESession runs the README's short session: the dynostore sample, a lock
// contention and a job run, against a worker; with BUILDLEDGER_WRITE_SESSION=1 it records
// it into testdata/session.txt.
func TestREADMESession(t *testing.T) {
	t.Parallel()
	s := newSession(t, "e2e-session")
	repo := []string{"--user", "api", "--repo", "foo"}
	update := func(browser, status string, finished bool) {
		args := append(append([]string{"builds", "update"}, repo...), "--build", "1", "--browser", browser, "--status", status)
		if finished {
			args = append(args, "--finished")
		}
		s.run(t, ".", args...)
	}

	s.run(t, "", append(append([]string{"builds", "create"}, repo...), "--tag", "master", "--browsers", "BrowserA,BrowserB")...)
	s.run(t, ".", append([]string{"repos", "get"}, repo...)...)
	s.run(t, ".", append(append([]string{"builds", "get"}, repo...), "--build", "1")...)
	update("BrowserA", "started", false)
	update("BrowserB", "started", false)
	update("BrowserA", "finished", true)
	update("BrowserB", "finished", true)
	s.run(t, ".", append([]string{"repos", "get"}, repo...)...)

	alice, bob := "alice@example.com", "bob@example.com"
	s.run(t, ".", "locks", "lock", "--env", "production", "--user", alice, "--meta", "https://ci.example/builds/42")
	waiting := s.background(t, "Still locked at env production by "+alice+"\n", "locks", "lock", "--env", "production", "--user", bob)
	s.run(t, ".", "locks", "release", "--env", "production", "--user", alice)
	if r := s.wait(t, waiting); r.code != 0 {
		t.Fatalf("bob's lock was not granted:\n%s", r)
	}
	s.run(t, ".[]", "locks", "list", "--env", "production")
	if r := s.run(t, "", "locks", "release", "--env", "production", "--user", alice); r.code != 1 {
		t.Fatalf("alice released a lock she does not hold:\n%s", r)
	}
	s.exitStatus(1)

	s.run(t, ".", "jobs", "start", "--jobname", "deploy-prod", "--user", bob, "--gitversion", "3f2c1ab")
	if r := s.run(t, "", "jobs", "start", "--jobname", "deploy-prod", "--user", alice, "--gitversion", "3f2c1ab"); r.code != 1 {
		t.Fatalf("a second run of deploy-prod at 3f2c1ab started:\n%s", r)
	}
	s.exitStatus(1)
	s.run(t, ".[]", "jobs", "active", "--jobname", "deploy-prod", "--ttl", "1h")
	s.run(t, ".[]", "jobs", "end", "--gitversion", "3f2c1ab", "--skipped")
	s.run(t, ".[]", "jobs", "skipped", "--jobname", "deploy-prod", "--ttl", "1h")

	s.save(t, sessionFile)
}

// save writes the session to file when BUILDLEDGER_WRITE_SESSION=1 (the README shows it);
// otherwise the run was a test of the session's steps alone.
func (s *session) save(t *testing.T, file string) {
	t.Helper()
	if os.Getenv("BUILDLEDGER_WRITE_SESSION") != "1" {
		return
	}
	if err := os.WriteFile(file, []byte(s.out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s:\n%s", file, s.out.String())
}

// needJQ fails the test when jq, through which sessions show JSON, is missing (.ci/run
// installs it).
func needJQ(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatal("the session is shown through jq, which is not installed (apt-get install jq)")
	}
}

// waitAttempts waits until p has printed line n times (a waiting lock's attempts).
func waitAttempts(t *testing.T, p *process, line string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(p.stderr.String(), line) < n {
		if time.Now().After(deadline) || !p.running() {
			t.Fatalf("buildledger %s: %q printed fewer than %d times:\n%s", shellJoin(p.args), line, n, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
