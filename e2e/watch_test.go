package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// statusWatchFrameFile is where TestWatch_GivenARealTerminal… records its mid-build frame.
const statusWatchFrameFile = "testdata/status_watch_frame.txt"

// watchedStatus is what a line of `status watch`'s newline-delimited JSON holds.
type watchedStatus struct {
	Started   bool    `json:"started"`
	Completed int     `json:"completed"`
	Total     float64 `json:"total"`
	Complete  bool    `json:"complete"`
	Error     bool    `json:"error"`
	Locales   []struct {
		Locale    string `json:"locale"`
		Completed bool   `json:"completed"`
	} `json:"locales"`
}

// waitOutput waits until the process has written want to its standard output.
func (p *process) waitOutput(t *testing.T, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.stdout.String(), want) {
		if !p.running() || time.Now().After(deadline) {
			t.Fatalf("buildledger %s: no %q on stdout within %s; stdout so far:\n%s\nstderr:\n%s", strings.Join(p.args, " "), want, within, p.stdout.String(), p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWatch_GivenAStartedPackageBuild_WhenPiped(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-watch-piped")
	in.startWorker(t)
	key := func(version string) []string {
		return []string{"--pkg", "@scope/ui", "--env", "dev", "--version", version}
	}
	status := func(verb, version string, more ...string) []string {
		return append(append([]string{"status", verb}, key(version)...), more...)
	}

	t.Run("given three locales, when each completes through the CLI, then one JSON line per change with rising progress and exit 0", func(t *testing.T) {
		in.ok(t, status("start", "1.0.0", "--locales", "en-US,fr-FR,de-DE")...)
		watch := in.start(t, status("watch", "1.0.0")...)
		watch.waitOutput(t, `"started":true`, 30*time.Second)
		for _, l := range []string{"en-US", "fr-FR", "de-DE"} {
			in.ok(t, status("complete", "1.0.0", "--locale", l)...)
			// Apart by more than the feed's poll interval, so that each shows on its own.
			time.Sleep(time.Second)
		}
		r := watch.wait()
		if r.code != 0 {
			t.Fatalf("want exit 0 once complete, got:\n%s", r)
		}
		var totals []float64
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			var s watchedStatus
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				t.Fatalf("line %q is not one JSON object: %v\nstdout:\n%s", line, err, r.stdout)
			}
			if n := len(totals); n > 0 && s.Total < totals[n-1] {
				t.Errorf("progress went back from %v to %v:\n%s", totals[n-1], s.Total, r.stdout)
			}
			totals = append(totals, s.Total)
		}
		if len(totals) < 3 || totals[len(totals)-1] != 100 || totals[0] != 0 {
			t.Errorf("want progress from 0 through at least one step to 100, one line per change; got totals %v:\n%s", totals, r.stdout)
		}
		var last watchedStatus
		_ = json.Unmarshal([]byte(lastLine(r.stdout)), &last)
		if !last.Complete || last.Completed != 3 {
			t.Errorf("want the last line complete with 3 locales completed, got %+v", last)
		}
	})

	t.Run("given a build in progress, when an error event is recorded, then the error is printed and exit 1", func(t *testing.T) {
		in.ok(t, status("start", "1.0.1", "--locales", "en-US,fr-FR")...)
		watch := in.start(t, status("watch", "1.0.1")...)
		watch.waitOutput(t, `"started":true`, 30*time.Second)
		in.ok(t, status("event", "1.0.1", "--locale", "fr-FR", "--message", "missing translations", "--error")...)
		r := watch.wait()
		if r.code != 1 {
			t.Fatalf("want exit 1 on an error event, got:\n%s", r)
		}
		if !strings.Contains(r.stderr, "fr-FR: missing translations") {
			t.Errorf("want the error event on stderr, got:\n%s", r)
		}
		var last watchedStatus
		if err := json.Unmarshal([]byte(lastLine(r.stdout)), &last); err != nil || !last.Error {
			t.Errorf("want the last JSON line to show the error, got %v:\n%s", err, r.stdout)
		}
	})
}

func TestWatch_GivenABuildAndALock_WhenPiped(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-watch-views")
	in.startWorker(t)

	t.Run("given a build of two browsers, when both finish, then a JSON line per change with pending falling to 0 and exit 0", func(t *testing.T) {
		repo := []string{"--user", "api", "--repo", "web"}
		in.ok(t, append([]string{"builds", "create", "--tag", "master", "--browsers", "chrome,firefox"}, repo...)...)
		watch := in.start(t, append([]string{"builds", "watch", "--build", "1"}, repo...)...)
		watch.waitOutput(t, `"pending":2`, 30*time.Second)
		in.ok(t, append([]string{"builds", "update", "--build", "1", "--browser", "chrome", "--status", "passed", "--finished"}, repo...)...)
		watch.waitOutput(t, `"pending":1`, 30*time.Second)
		in.ok(t, append([]string{"builds", "update", "--build", "1", "--browser", "firefox", "--status", "failed", "--finished"}, repo...)...)
		r := watch.wait()
		if r.code != 0 {
			t.Fatalf("want exit 0 once no browser is pending, got:\n%s", r)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		var last map[string]any
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
			t.Fatalf("the last line is not one JSON object: %v\n%s", err, r.stdout)
		}
		if len(lines) != 3 || last["pending"] != float64(0) || last["chrome"] != "passed" || last["firefox"] != "failed" {
			t.Errorf("want three lines (pending 2, 1, 0), the last with both statuses, got:\n%s", r.stdout)
		}
	})

	t.Run("given an env, when it is locked, then a JSON line shows the holder and token, and an interrupt ends the watch with 130", func(t *testing.T) {
		watch := in.start(t, "locks", "watch", "--env", "staging")
		watch.waitOutput(t, `"held":false`, 30*time.Second)
		in.ok(t, "locks", "lock", "--env", "staging", "--user", "alice", "--lease", "30m")
		watch.waitOutput(t, `"user":"alice"`, 30*time.Second)
		watch.signal(t, syscall.SIGINT)
		r := watch.wait()
		if r.code != 130 {
			t.Fatalf("want exit 130 when interrupted, got:\n%s", r)
		}
		var held struct {
			Holder struct {
				User      string  `json:"user"`
				Token     int64   `json:"token"`
				ExpiresAt *string `json:"expiresAt"`
			} `json:"holder"`
			Waiting []any `json:"waiting"`
			Freezes []any `json:"freezes"`
		}
		if err := json.Unmarshal([]byte(lastLine(r.stdout)), &held); err != nil {
			t.Fatalf("the last line is not one JSON object: %v\n%s", err, r.stdout)
		}
		if held.Holder.User != "alice" || held.Holder.Token < 1 || held.Holder.ExpiresAt == nil || held.Waiting == nil || held.Freezes == nil {
			t.Errorf("want alice holding with a token and a lease, an empty queue and no freezes, got %+v from:\n%s", held, r.stdout)
		}
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// tmuxPane is a tmux session of its own server, 100×30, running one shell command.
type tmuxPane struct {
	socket string
}

// startTmux runs script with sh in a new detached tmux session; the session's server is
// killed when the test ends. It fails the test when tmux is missing.
func startTmux(t *testing.T, script string) *tmuxPane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("the terminal test of the watch views drives a real terminal with tmux, which is not installed (apt-get install -y tmux)")
	}
	file := filepath.Join(t.TempDir(), "run.sh")
	if err := os.WriteFile(file, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	p := &tmuxPane{socket: fmt.Sprintf("buildledger-e2e-%d-%d", os.Getpid(), time.Now().UnixNano())}
	p.tmux(t, "-f", "/dev/null", "new-session", "-d", "-s", "watch", "-x", "100", "-y", "30", "sh "+file)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", p.socket, "kill-server").Run() })
	return p
}

func (p *tmuxPane) tmux(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", p.socket}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// capture returns what the pane shows, without trailing blank lines.
func (p *tmuxPane) capture(t *testing.T) string {
	t.Helper()
	return strings.TrimRight(p.tmux(t, "capture-pane", "-p", "-t", "watch"), "\n ") + "\n"
}

// waitFor waits until the pane shows text matching re and returns that screen.
func (p *tmuxPane) waitFor(t *testing.T, re *regexp.Regexp, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		screen := p.capture(t)
		if re.MatchString(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal did not show %q within %s; it shows:\n%s", re, within, screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// envName is a name a shell can export.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func TestWatch_GivenARealTerminal_WhenAPackageBuildAdvances_ThenTheBarsRedrawInPlaceAndItExits0AtCompletion(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-watch-tty")
	in.startWorker(t)
	key := []string{"--pkg", "@scope/ui", "--env", "dev", "--version", "2.4.0"}
	status := func(verb string, more ...string) []string {
		return append(append([]string{"status", verb}, key...), more...)
	}
	in.ok(t, status("start", "--previous-version", "2.3.9", "--locales", "en-US,fr-FR,de-DE,ja-JP")...)

	var script strings.Builder
	for _, kv := range in.environ() {
		name, value, _ := strings.Cut(kv, "=")
		if envName.MatchString(name) && name != "TERM" {
			fmt.Fprintf(&script, "export %s=%s\n", name, shellQuote(value))
		}
	}
	fmt.Fprintf(&script, "%s %s; echo EXIT=$?\nsleep 600\n", shellQuote(binary), shellJoin(status("watch")))
	pane := startTmux(t, script.String())
	pane.waitFor(t, regexp.MustCompile(`total .* 0/4`), 30*time.Second)

	in.ok(t, status("event", "--locale", "de-DE", "--message", "compiling templates")...)
	in.ok(t, status("complete", "--locale", "en-US")...)
	in.ok(t, status("complete", "--locale", "fr-FR")...)
	frame := pane.waitFor(t, regexp.MustCompile(`total .* 50% 2/4`), 30*time.Second)
	for _, want := range []string{"@scope/ui@2.4.0 in dev", "en-US", "done", "de-DE", "compiling templates", "ja-JP"} {
		if !strings.Contains(frame, want) {
			t.Errorf("the mid-build frame lacks %q:\n%s", want, frame)
		}
	}
	if n := strings.Count(frame, "@scope/ui@2.4.0 in dev"); n != 1 {
		t.Errorf("want the frame redrawn in place (its header once), got it %d times:\n%s", n, frame)
	}

	in.ok(t, status("complete", "--locale", "de-DE")...)
	in.ok(t, status("complete", "--locale", "ja-JP")...)
	end := pane.waitFor(t, regexp.MustCompile(`EXIT=\d+`), 30*time.Second)
	if !strings.Contains(end, "EXIT=0") || !strings.Contains(end, "100% 4/4 complete") {
		t.Errorf("want the build complete and exit 0, the terminal shows:\n%s", end)
	}
	if n := strings.Count(end, "@scope/ui@2.4.0 in dev"); n != 1 {
		t.Errorf("want the frame redrawn in place (its header once), got it %d times:\n%s", n, end)
	}
	t.Logf("mid-build frame:\n%s\nend:\n%s", frame, end)

	if os.Getenv("BUILDLEDGER_WRITE_SESSION") == "1" {
		if err := os.WriteFile(statusWatchFrameFile, []byte(frame), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
