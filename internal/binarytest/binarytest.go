// Package binarytest builds the buildledger binary for tests that run it as a process.
package binarytest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildWithin bounds a build: one that takes longer is stuck, and the tests fail instead
// of hanging.
const buildWithin = 5 * time.Minute

// Build compiles cmd/buildledger to dir/buildledger, with the race detector when race is
// set (as it should be when the tests themselves run with it, so that a data race in the
// binary fails the test that provoked it), and returns its path. A failed build's error
// carries the compiler's output.
func Build(dir string, race bool) (string, error) {
	path := filepath.Join(dir, "buildledger")
	args := []string{"build", "-o", path}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "buildledger/cmd/buildledger")
	ctx, cancel := context.WithTimeout(context.Background(), buildWithin)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return path, nil
}

// Main is a TestMain's body for tests that run the binary: it builds it (see Build) into a
// temporary folder named after pkg, hands the path or the build's error to use, runs the
// tests when use says so, removes the folder and returns the exit code. A folder that cannot
// be made is reported on stderr and exits 1.
func Main(m *testing.M, pkg string, race bool, use func(path string, err error) (run bool)) int {
	dir, err := os.MkdirTemp("", "buildledger-"+pkg+"-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", pkg, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if !use(Build(dir, race)) {
		return 1
	}
	return m.Run()
}
