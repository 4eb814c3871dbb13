package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"buildledger/cmd/buildledger/bench"
)

func init() { extraCommands = append(extraCommands, newBenchCommand) }

func newBenchCommand(_ *settings) *cobra.Command {
	cfg := bench.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure buildledger against raw AWS calls on the local emulators",
		Long: `bench measures, in one process and against the same emulators, buildledger and a raw
baseline doing the same work, and prints one markdown table of the ratios (ours / raw): event
append, aggregate load by stream length with and without snapshots, event put, end to end
from SQS send to projection, replay, and peak memory. The same figures go to a JSON file.

It creates its resources under a bench- prefix and deletes them at the end. It refuses to
run unless AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL) points at an emulator.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := bench.Run(cmd.Context(), cfg, os.Stderr)
			fmt.Fprint(cmd.OutOrStdout(), rep.Markdown())
			if werr := rep.WriteJSON(cfg.Output); werr != nil {
				err = errors.Join(err, werr)
			} else {
				fmt.Fprintln(cmd.ErrOrStderr(), "bench: figures written to", cfg.Output)
			}
			return err
		},
	}
	bench.BindFlags(cmd.Flags(), &cfg)
	return cmd
}
