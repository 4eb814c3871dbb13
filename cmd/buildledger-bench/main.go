package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runCommand(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runCommand executes one command line and returns its exit code: 0 when every figure was
// measured, 1 when one failed, 2 on bad flags.
func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newCommand()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "buildledger-bench:", err)
	var usage *usageError
	if errors.As(err, &usage) {
		return 2
	}
	return 1
}

// usageError is a bad flag or argument.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func newCommand() *cobra.Command {
	cfg := DefaultConfig()
	var cpuProfile string // the --cpu-profile file; "" for none
	cmd := &cobra.Command{
		Use:   "buildledger-bench",
		Short: "Measure buildledger against raw AWS calls on the local emulators",
		Long: `buildledger-bench measures, in one process and against the same emulators, buildledger
and a raw baseline doing the same work, and prints one markdown table of the ratios
(ours / raw): event append, aggregate load by stream length with and without snapshots,
event put, end to end from SQS send to projection, replay, and peak memory. The same
figures go to a JSON file.

It creates its resources under a bench- prefix and deletes them at the end. It refuses to
run unless AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL) points at an emulator.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("unexpected argument %q; see --help", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cpuProfile != "" {
				stopProfile, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stopProfile()
			}
			rep, err := Run(cmd.Context(), cfg, cmd.ErrOrStderr())
			fmt.Fprint(cmd.OutOrStdout(), rep.Markdown())
			if werr := rep.WriteJSON(cfg.Output); werr != nil {
				err = errors.Join(err, werr)
			} else {
				fmt.Fprintln(cmd.ErrOrStderr(), "bench: figures written to", cfg.Output)
			}
			return err
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	BindFlags(cmd.Flags(), &cfg)
	cmd.Flags().StringVar(&cpuProfile, "cpu-profile", "", "write a CPU profile of the whole run (worker, clients and baselines) to this file, for go tool pprof")
	return cmd
}

// startCPUProfile profiles this process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
