package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRun_Full runs the whole default benchmark when BUILDLEDGER_BENCH_FULL=1; it writes the
// markdown table to stdout and the JSON report to BUILDLEDGER_BENCH_OUT (default
// bench-results/bench.json under the test's folder).
func TestRun_Full(t *testing.T) {
	if os.Getenv("BUILDLEDGER_BENCH_FULL") != "1" {
		t.Skip("set BUILDLEDGER_BENCH_FULL=1 to run the full benchmark")
	}
	cfg := DefaultConfig()
	if f := os.Getenv("BUILDLEDGER_BENCH_FIGURES"); f != "" {
		cfg.Figures = strings.Split(f, ",")
	}
	if out := os.Getenv("BUILDLEDGER_BENCH_OUT"); out != "" {
		cfg.Output = out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg, os.Stderr)
	os.Stdout.WriteString(rep.Markdown())
	if werr := rep.WriteJSON(cfg.Output); werr != nil {
		t.Error(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
}
