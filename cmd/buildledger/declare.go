package main

import (
	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/eventstore"
)

// Most subcommands have one of two shapes: a query reads one answer from the backend and
// prints it; a change sends one command, waits for its outcome and prints what it changed.
// query and change complete a cobra.Command of that shape, so that a subcommand declares
// only its help, its flags and what it reads or answers.

// group is a command that only groups subcommands (typeUsageErrors gives it its help as
// its run).
func group(cmd *cobra.Command, subcommands ...*cobra.Command) *cobra.Command {
	cmd.AddCommand(subcommands...)
	return cmd
}

// query completes cmd as a subcommand without arguments that prints what read returns.
func query[T any](s *settings, cmd *cobra.Command, read func(cmd *cobra.Command, b *backend) (T, error)) *cobra.Command {
	cmd.Args = cobra.NoArgs
	cmd.RunE = withBackend(s, func(cmd *cobra.Command, b *backend) error {
		v, err := read(cmd, b)
		if err != nil {
			return err
		}
		return s.print(cmd, v)
	})
	return cmd
}

// change completes cmd as a subcommand without arguments that sends *c, as its flags left
// it, binding --wait and --no-wait (see backend.mutate). When the command is accepted,
// answer reads what it changed, which is printed; a nil answer prints nothing. Under
// --no-wait only the command's id is printed.
func change[C domain.Command, T any](s *settings, cmd *cobra.Command, c *C,
	answer func(cmd *cobra.Command, b *backend, o eventstore.Outcome) (T, error)) *cobra.Command {
	var w waitFlags
	cmd.Args = cobra.NoArgs
	cmd.RunE = withBackend(s, func(cmd *cobra.Command, b *backend) error {
		o, ok, err := b.mutate(cmd.Context(), *c, w, cmd.OutOrStdout())
		if err != nil || !ok {
			return err
		}
		v, err := answer(cmd, b, o)
		if err != nil || any(v) == nil {
			return err
		}
		return s.print(cmd, v)
	})
	w.bind(cmd.Flags(), "wait")
	return cmd
}

// requiredString binds the string flag name of cmd to p and marks it required; its usage
// says so.
func requiredString(cmd *cobra.Command, p *string, name, usage string) {
	cmd.Flags().StringVar(p, name, "", usage+" (required)")
	_ = cmd.MarkFlagRequired(name)
}

// required marks the flags names of cmd required: without one, the command is a usage
// error (see usageArgs).
func required(cmd *cobra.Command, names ...string) {
	for _, name := range names {
		_ = cmd.MarkFlagRequired(name)
	}
}

// readPages reads up to limit items, in pages of at most size, from the page after the
// cursor after on: read returns a page's items and the cursor after it, the zero cursor
// after the last page. It returns an empty slice, not nil, when there is nothing.
func readPages[T any, K comparable](limit, size int, after K, read func(after K, n int) ([]T, K, error)) ([]T, error) {
	all := []T{}
	var none K
	for len(all) < limit {
		items, next, err := read(after, min(limit-len(all), size))
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == none {
			break
		}
		after = next
	}
	return all, nil
}

// oneOrAll is the first of rows that match accepts, or else all of them: what a change
// prints of the rows it reads back (the run it started, the lock it was granted).
func oneOrAll[T any](rows []T, match func(T) bool) any {
	for _, r := range rows {
		if match(r) {
			return r
		}
	}
	return rows
}
