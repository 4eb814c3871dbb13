package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"buildledger/domain"
	"buildledger/projections"
)

func newStatusCommand(s *settings) *cobra.Command {
	status := &cobra.Command{
		Use:   "status",
		Short: "Package build status per locale (start, event, complete, get, head, events)",
		Long: `Package build status: a package version built for an environment across locales.
Completing every locale makes it complete; an error event marks it errored; the head of a
package and environment follows the newest version started.`,
	}
	status.AddCommand(newStatusStartCommand(s), newStatusEventCommand(s), newStatusCompleteCommand(s),
		newStatusGetCommand(s), newStatusHeadCommand(s), newStatusEventsCommand(s), newStatusWatchCommand(s))
	return status
}

// statusKey binds --pkg, --env and --version, all required.
func statusKey(fs *pflag.FlagSet, cmd *cobra.Command, pkg, env, version *string) {
	fs.StringVar(pkg, "pkg", "", "package name, e.g. @scope/name (required)")
	fs.StringVar(env, "env", "", "environment built for, e.g. dev or prod (required)")
	fs.StringVar(version, "version", "", "package version (required)")
	for _, name := range []string{"pkg", "env", "version"} {
		_ = cmd.MarkFlagRequired(name)
	}
}

// changeStatus sends the command that command returns (read once the flags are parsed)
// and prints the status row of the package version it changed.
func changeStatus(s *settings, w *waitFlags, command func() domain.Command, pkg, env, version *string) func(*cobra.Command, []string) error {
	return withBackend(s, func(cmd *cobra.Command, b *backend) error {
		_, ok, err := b.mutate(cmd.Context(), command(), *w, cmd.OutOrStdout())
		if err != nil || !ok {
			return err
		}
		st, err := b.app.Queries.Status(cmd.Context(), *pkg, *env, *version)
		if err != nil {
			return err
		}
		return s.print(cmd, st)
	})
}

func newStatusStartCommand(s *settings) *cobra.Command {
	var (
		c domain.StartStatus
		w waitFlags
	)
	cmd := &cobra.Command{
		Use:   "start --pkg P --env E --version V [--previous-version PV] --locales L1,L2 | --locale-count N",
		Short: "Start tracking the build of a package version across locales",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(c.Locales) == 0 && c.LocaleCount <= 0 {
				return usageError("give --locales or --locale-count")
			}
			return changeStatus(s, &w, func() domain.Command { return c }, &c.Pkg, &c.Env, &c.Version)(cmd, args)
		},
	}
	f := cmd.Flags()
	statusKey(f, cmd, &c.Pkg, &c.Env, &c.Version)
	f.StringVar(&c.PreviousVersion, "previous-version", "", "the version this one follows")
	f.StringSliceVar(&c.Locales, "locales", nil, "comma-separated locales built")
	f.IntVar(&c.LocaleCount, "locale-count", 0, "number of locales, when they are not listed")
	w.bind(f, "wait")
	return cmd
}

func newStatusEventCommand(s *settings) *cobra.Command {
	var (
		c domain.RecordStatusEvent
		w waitFlags
	)
	cmd := &cobra.Command{
		Use:   "event --pkg P --env E --version V --locale L --message M [--details D] [--error]",
		Short: "Record a status event of a build; --error marks the build errored",
		Args:  cobra.NoArgs,
		RunE:  changeStatus(s, &w, func() domain.Command { return c }, &c.Pkg, &c.Env, &c.Version),
	}
	f := cmd.Flags()
	statusKey(f, cmd, &c.Pkg, &c.Env, &c.Version)
	f.StringVar(&c.Locale, "locale", "", "locale the event is about")
	f.StringVar(&c.Message, "message", "", "status message (required)")
	f.StringVar(&c.Details, "details", "", "message details")
	f.BoolVar(&c.Error, "error", false, "the event is an error")
	w.bind(f, "wait")
	_ = cmd.MarkFlagRequired("message")
	return cmd
}

func newStatusCompleteCommand(s *settings) *cobra.Command {
	var (
		c domain.CompleteLocale
		w waitFlags
	)
	cmd := &cobra.Command{
		Use:   "complete --pkg P --env E --version V --locale L",
		Short: "Mark one locale of a build complete (counted once per locale)",
		Args:  cobra.NoArgs,
		RunE:  changeStatus(s, &w, func() domain.Command { return c }, &c.Pkg, &c.Env, &c.Version),
	}
	f := cmd.Flags()
	statusKey(f, cmd, &c.Pkg, &c.Env, &c.Version)
	f.StringVar(&c.Locale, "locale", "", "the locale completed (required)")
	w.bind(f, "wait")
	_ = cmd.MarkFlagRequired("locale")
	return cmd
}

func newStatusGetCommand(s *settings) *cobra.Command {
	var pkg, env, version string
	cmd := &cobra.Command{
		Use:   "get --pkg P --env E --version V",
		Short: "Show the status of a package version",
		Args:  cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			st, err := b.app.Queries.Status(cmd.Context(), pkg, env, version)
			if err != nil {
				return notFound(err, fmt.Sprintf("status of %s@%s in %s", pkg, version, env))
			}
			return s.print(cmd, st)
		}),
	}
	statusKey(cmd.Flags(), cmd, &pkg, &env, &version)
	return cmd
}

func newStatusHeadCommand(s *settings) *cobra.Command {
	var pkg, env string
	cmd := &cobra.Command{
		Use:   "head --pkg P --env E",
		Short: "Show the status of the newest version started for a package and environment",
		Args:  cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			h, err := b.app.Queries.StatusHead(cmd.Context(), pkg, env)
			if err != nil {
				return notFound(err, fmt.Sprintf("status head of %s in %s", pkg, env))
			}
			return s.print(cmd, h)
		}),
	}
	cmd.Flags().StringVar(&pkg, "pkg", "", "package name (required)")
	cmd.Flags().StringVar(&env, "env", "", "environment (required)")
	_ = cmd.MarkFlagRequired("pkg")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

func newStatusEventsCommand(s *settings) *cobra.Command {
	var (
		pkg, env, version string
		limit             int
	)
	cmd := &cobra.Command{
		Use:   "events --pkg P --env E --version V [--limit N]",
		Short: "List the status events of a package version in time order",
		Args:  cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			if limit < 1 {
				return usageError("--limit must be at least 1")
			}
			all := []projections.StatusEvent{}
			after := int64(0)
			for len(all) < limit {
				page, err := b.app.Queries.StatusEvents(cmd.Context(), pkg, env, version, after, min(limit-len(all), 500))
				if err != nil {
					return err
				}
				all = append(all, page.Events...)
				if page.Next == 0 {
					break
				}
				after = page.Next
			}
			return s.print(cmd, all)
		}),
	}
	statusKey(cmd.Flags(), cmd, &pkg, &env, &version)
	cmd.Flags().IntVar(&limit, "limit", 1000, "most events to print")
	return cmd
}
