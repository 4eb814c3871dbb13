package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"buildledger/internal/awstest"
	"buildledger/internal/binarytest"
	"buildledger/internal/logbuf"
)

// binary is the buildledger executable TestMain builds for every test.
var binary string

// Time limits of the subprocesses: generous, so that a slow machine does not fail a test,
// but bounded, so that a hung process fails it instead of hanging the run.
const (
	commandTimeout = 90 * time.Second
	startTimeout   = 60 * time.Second
	stopTimeout    = 45 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(binarytest.Main(m, "e2e", raceEnabled, func(path string, err error) bool {
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return false
		}
		binary = path
		// awstest would set these with t.Setenv, which parallel tests may not call; the
		// subprocesses need the same values.
		for name, def := range map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"} {
			if os.Getenv(name) == "" {
				os.Setenv(name, def)
			}
		}
		return true
	}))
}

// installation is one test's own buildledger: every table, queue and topic under a prefix
// no other test uses.
type installation struct {
	prefix string
}

// newInstallation creates a new installation with `buildledger init`.
func newInstallation(t *testing.T, what string) *installation {
	t.Helper()
	awstest.Config(t) // ends the test with a clear message when the emulators are not configured
	in := &installation{prefix: awstest.Prefix(t, what)}
	in.ok(t, "init")
	return in
}

// environ is the environment of every subprocess: the test's own, without the BUILDLEDGER_*
// settings of whoever runs the tests, with the installation's prefix.
func (in *installation) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BUILDLEDGER_") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	// A race-enabled binary otherwise sleeps a second on exit, for every command line.
	return append(env, "BUILDLEDGER_PREFIX="+in.prefix, "GORACE=atexit_sleep_ms=0 halt_on_error=0")
}

// result is what a finished command line did.
type result struct {
	args   []string
	code   int
	stdout string
	stderr string
}

func (r result) String() string {
	return fmt.Sprintf("buildledger %s\nexit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// run runs one command line to its end.
func (in *installation) run(t *testing.T, args ...string) result {
	t.Helper()
	p := in.start(t, args...)
	return p.wait()
}

// ok runs a command line that must succeed and returns its standard output.
func (in *installation) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := in.run(t, args...)
	if r.code != 0 {
		t.Fatalf("want exit 0, got:\n%s", r)
	}
	return r.stdout
}

// fails runs a command line that must exit with code and returns its standard error.
func (in *installation) fails(t *testing.T, code int, args ...string) string {
	t.Helper()
	r := in.run(t, args...)
	if r.code != code {
		t.Fatalf("want exit %d, got:\n%s", code, r)
	}
	return r.stderr
}

// okJSON runs a command line that must succeed and decodes its output into v.
func (in *installation) okJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := in.ok(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("buildledger %s: output is not the JSON expected (%v):\n%s", strings.Join(args, " "), err, out)
	}
}

// process is a command line running in the background.
type process struct {
	args   []string
	cmd    *exec.Cmd
	stdout *logbuf.Buffer
	stderr *logbuf.Buffer
	done   chan struct{}
	res    result
}

// start starts a command line in the background; it is killed if still running when the
// test ends.
func (in *installation) start(t *testing.T, args ...string) *process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	p := &process{args: args, stdout: &logbuf.Buffer{}, stderr: &logbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, binary, args...)
	p.cmd.Env = in.environ()
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start buildledger %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		defer cancel()
		err := p.cmd.Wait()
		p.res = result{args: args, stdout: p.stdout.String(), stderr: p.stderr.String()}
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			p.res.code = exit.ExitCode()
		case err != nil:
			p.res.code = -1
			p.res.stderr += "\n(e2e: " + err.Error() + ")"
		}
		if ctx.Err() != nil {
			p.res.stderr += fmt.Sprintf("\n(e2e: killed after %s)", commandTimeout)
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// wait waits for the process to end.
func (p *process) wait() result {
	<-p.done
	return p.res
}

// waitStderr waits until the process has written want to its standard error.
func (p *process) waitStderr(t *testing.T, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.stderr.String(), want) {
		select {
		case <-p.done:
			t.Fatalf("process ended before writing %q:\n%s", want, p.res)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("buildledger %s: no %q on stderr within %s; stderr so far:\n%s", strings.Join(p.args, " "), want, within, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig to the process.
func (p *process) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to buildledger %s: %v", sig, strings.Join(p.args, " "), err)
	}
}

// running reports whether the process has not ended yet.
func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// startWorker runs `buildledger worker` for the installation until the test ends, when it
// stops it with SIGTERM (as a service manager would). Its log is shown when the test fails.
func (in *installation) startWorker(t *testing.T) {
	t.Helper()
	w := in.launchWorker(t)
	t.Cleanup(func() { w.terminate(t) })
}

// workerProcess is a running `buildledger worker`.
type workerProcess struct {
	prefix  string
	cmd     *exec.Cmd
	exited  chan error
	logPath string
	logFile *os.File
	done    bool
	// addr is where it serves /healthz and /metrics.
	addr string
}

// launchWorker starts a worker, with extra flags if any, and waits until it is ready; the
// caller stops it with terminate (it is killed if the test ends first).
func (in *installation) launchWorker(t *testing.T, extra ...string) *workerProcess {
	t.Helper()
	w := &workerProcess{prefix: in.prefix, exited: make(chan error, 1), logPath: filepath.Join(t.TempDir(), "worker.log")}
	var err error
	if w.logFile, err = os.Create(w.logPath); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"worker", "--prefix", in.prefix, "--http-addr", "127.0.0.1:0", "--log-level", "info"}, extra...)
	w.cmd = exec.Command(binary, args...)
	w.cmd.Env = in.environ()
	w.cmd.Stdout, w.cmd.Stderr = w.logFile, w.logFile
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	go func() { w.exited <- w.cmd.Wait() }()
	t.Cleanup(func() {
		if !w.done {
			_ = w.cmd.Process.Kill()
			<-w.exited
			w.logFile.Close()
		}
	})
	w.addr = waitListening(t, w.logPath, w.exited)
	waitHealthy(t, w.addr, w.exited)
	return w
}

// terminate stops the worker with SIGTERM and checks that it exits cleanly and in time,
// without a data race.
func (w *workerProcess) terminate(t *testing.T) {
	t.Helper()
	if w.done {
		return
	}
	w.done = true
	defer w.logFile.Close()
	stopped := time.Now()
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	var waitErr error
	select {
	case waitErr = <-w.exited:
	case <-time.After(stopTimeout):
		_ = w.cmd.Process.Kill()
		waitErr = <-w.exited
		t.Errorf("worker did not stop within %s of SIGTERM", stopTimeout)
	}
	log, _ := os.ReadFile(w.logPath)
	if waitErr != nil {
		t.Errorf("worker exited after SIGTERM with %v (after %s)", waitErr, time.Since(stopped).Round(time.Millisecond))
	}
	if bytes.Contains(log, []byte("WARNING: DATA RACE")) {
		t.Errorf("the worker reported a data race")
	}
	if t.Failed() {
		t.Logf("worker log (prefix %s):\n%s", w.prefix, log)
	}
}

// waitListening reads the worker's log until it says where it listens.
func waitListening(t *testing.T, logPath string, exited <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if addr := listenAddr(logPath); addr != "" {
			return addr
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("worker exited at start (%v):\n%s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("worker did not start within %s", startTimeout)
	return ""
}

func listenAddr(logPath string) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			Message string `json:"message"`
			Addr    string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "buildledger started" {
			return line.Addr
		}
	}
	return ""
}

// waitHealthy polls /healthz until the worker says it is ready.
func waitHealthy(t *testing.T, addr string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		resp, err := hc.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("worker exited before it was ready: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("worker not ready on http://%s/healthz within %s", addr, startTimeout)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
