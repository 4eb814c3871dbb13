package faulttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"buildledger/internal/binarytest"
	"buildledger/internal/logbuf"
)

// binary is the buildledger binary TestMain built for the tests that run it as a process.
var binary string

// buildErr says why TestMain could not build the binary.
var buildErr error

func TestMain(m *testing.M) {
	if os.Getenv("BUILDLEDGER_SKIP_INTEGRATION") == "1" {
		os.Exit(m.Run())
	}
	os.Exit(binarytest.Main(m, "faulttest", raceEnabled, func(path string, err error) bool {
		binary, buildErr = path, err
		return true
	}))
}

// needBinary returns the built binary or ends the test with the reason there is none.
func needBinary(t *testing.T) string {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("build buildledger: %v", buildErr)
	}
	if binary == "" {
		t.Fatal("buildledger was not built")
	}
	return binary
}

// processEnv is the environment of buildledger processes: the emulators' endpoints and the
// stack's prefix, nothing inherited that could point elsewhere.
func (s *stack) processEnv() []string {
	e := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"AWS_REGION=" + envOr("AWS_REGION", "us-east-1"),
		"AWS_ACCESS_KEY_ID=" + envOr("AWS_ACCESS_KEY_ID", "local"),
		"AWS_SECRET_ACCESS_KEY=" + envOr("AWS_SECRET_ACCESS_KEY", "local"),
		"AWS_EC2_METADATA_DISABLED=true",
		"BUILDLEDGER_PREFIX=" + s.names.Prefix,
		"BUILDLEDGER_LOG_FORMAT=json",
		"BUILDLEDGER_LOG_LEVEL=info",
		"BUILDLEDGER_HTTP_ADDR=127.0.0.1:0",
	}
	for _, name := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_SNS"} {
		if v := os.Getenv(name); v != "" {
			e = append(e, name+"="+v)
		}
	}
	return e
}

// runBinary runs a buildledger command to its end and returns its output.
func (s *stack) runBinary(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, needBinary(t), args...)
	cmd.Env = s.processEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("buildledger %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// process is a running buildledger process.
type process struct {
	cmd  *exec.Cmd
	logs *logbuf.Buffer
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// startProcess starts a buildledger command in the background; its output goes to logs.
// The process is killed when the test ends.
func (s *stack) startProcess(t *testing.T, logs *logbuf.Buffer, args ...string) *process {
	t.Helper()
	cmd := exec.Command(needBinary(t), args...)
	cmd.Env = s.processEnv()
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start buildledger %s: %v", strings.Join(args, " "), err)
	}
	p := &process{cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(t) })
	return p
}

// waitLog waits until the process logged a line containing text.
func (p *process) waitLog(t *testing.T, text string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if strings.Contains(p.logs.String(), text) {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("buildledger exited (%v) before logging %q:\n%s", p.err, text, p.logs.Tail(40))
		case <-deadline:
			t.Fatalf("buildledger did not log %q within %v:\n%s", text, timeout, p.logs.Tail(40))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// kill ends the process with SIGKILL, which it cannot catch, and waits for it.
func (p *process) kill(t *testing.T) { killAndWait(t, "buildledger", p.cmd, p.done) }

// killAndWait ends cmd, the program name, with SIGKILL unless done says it has exited
// already, and waits up to 10 s for done to close.
func killAndWait(t *testing.T, name string, cmd *exec.Cmd, done <-chan struct{}) {
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s (pid %d) still runs 10s after SIGKILL", name, cmd.Process.Pid)
	}
}

// terminate asks the process to stop with SIGTERM and returns how it exited, or an error
// when it does not exit within timeout (it is then killed).
func (p *process) terminate(t *testing.T, timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.kill(t)
		return fmt.Errorf("still running %v after SIGTERM", timeout)
	}
}
