package main

import (
	"os"

	"github.com/spf13/cobra"

	"buildledger/internal/termout"
)

// print writes v, the answer of cmd, to cmd's standard output in the format --output asks
// for: by default a table or key/value block on a terminal, and otherwise the indented JSON
// scripts have always read.
func (s *settings) print(cmd *cobra.Command, v any) error {
	return s.printer(cmd).Print(cmd.OutOrStdout(), v)
}

// printer is the printer of cmd's standard output.
func (s *settings) printer(cmd *cobra.Command) termout.Printer {
	format, _ := termout.ParseFormat(s.Output) // validated before any command runs
	terminal := termout.IsTerminal(cmd.OutOrStdout())
	format = termout.Resolve(format, terminal)
	return termout.Printer{Format: format, Color: termout.Colored(format, terminal, os.Getenv("NO_COLOR")),
		Width: termout.Width(cmd.OutOrStdout())}
}
