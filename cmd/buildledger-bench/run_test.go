package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestRun_Full runs the benchmark as `make bench` does when BUILDLEDGER_BENCH_FULL=1, with
// the flags in BUILDLEDGER_BENCH_ARGS (e.g. "--figures e2e --e2e-commands 500"). It prints
// the markdown table and writes the JSON report to --out.
func TestRun_Full(t *testing.T) {
	if os.Getenv("BUILDLEDGER_BENCH_FULL") != "1" {
		t.Skip("set BUILDLEDGER_BENCH_FULL=1 to run the full benchmark")
	}
	var cfg Config
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	BindFlags(fs, &cfg)
	if err := fs.Parse(strings.Fields(os.Getenv("BUILDLEDGER_BENCH_ARGS"))); err != nil {
		t.Fatal(err)
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
