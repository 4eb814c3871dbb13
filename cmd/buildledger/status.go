package main

import (
	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/projections"
)

func newStatusCommand(s *settings) *cobra.Command {
	return group(&cobra.Command{
		Use:   "status",
		Short: "Package build status per locale (start, event, complete, get, head, events)",
		Long: `Package build status: a package version built for an environment across locales.
Completing every locale makes it complete; an error event marks it errored; the head of a
package and environment follows the newest version started.`,
	}, newStatusStartCommand(s), newStatusEventCommand(s), newStatusCompleteCommand(s),
		newStatusGetCommand(s), newStatusHeadCommand(s), newStatusEventsCommand(s), newStatusWatchCommand(s))
}

// statusKey binds --pkg, --env and --version, all required.
func statusKey(cmd *cobra.Command, pkg, env, version *string) {
	requiredString(cmd, pkg, "pkg", "package name, e.g. @scope/name")
	requiredString(cmd, env, "env", "environment built for, e.g. dev or prod")
	requiredString(cmd, version, "version", "package version")
}

// statusChange completes cmd as a change that sends *c, a command about the package version
// that its --pkg, --env and --version (bound here to pkg, env and version) name, and prints
// the status row of that version.
func statusChange[C domain.Command](s *settings, cmd *cobra.Command, c *C, pkg, env, version *string) *cobra.Command {
	statusKey(cmd, pkg, env, version)
	return change(s, cmd, c, func(cmd *cobra.Command, b *backend, _ eventstore.Outcome) (projections.Status, error) {
		return b.app.Queries.Status(cmd.Context(), *pkg, *env, *version)
	})
}

func newStatusStartCommand(s *settings) *cobra.Command {
	var c domain.StartStatus
	cmd := statusChange(s, &cobra.Command{
		Use:   "start --pkg P --env E --version V [--previous-version PV] --locales L1,L2 | --locale-count N",
		Short: "Start tracking the build of a package version across locales",
		PreRunE: func(*cobra.Command, []string) error {
			if len(c.Locales) == 0 && c.LocaleCount <= 0 {
				return usageError("give --locales or --locale-count")
			}
			return nil
		},
	}, &c, &c.Pkg, &c.Env, &c.Version)
	f := cmd.Flags()
	f.StringVar(&c.PreviousVersion, "previous-version", "", "the version this one follows")
	f.StringSliceVar(&c.Locales, "locales", nil, "comma-separated locales built")
	f.IntVar(&c.LocaleCount, "locale-count", 0, "number of locales, when they are not listed")
	return cmd
}

func newStatusEventCommand(s *settings) *cobra.Command {
	var c domain.RecordStatusEvent
	cmd := statusChange(s, &cobra.Command{
		Use:   "event --pkg P --env E --version V --locale L --message M [--details D] [--error]",
		Short: "Record a status event of a build; --error marks the build errored",
	}, &c, &c.Pkg, &c.Env, &c.Version)
	f := cmd.Flags()
	f.StringVar(&c.Locale, "locale", "", "locale the event is about")
	requiredString(cmd, &c.Message, "message", "status message")
	f.StringVar(&c.Details, "details", "", "message details")
	f.BoolVar(&c.Error, "error", false, "the event is an error")
	return cmd
}

func newStatusCompleteCommand(s *settings) *cobra.Command {
	var c domain.CompleteLocale
	cmd := statusChange(s, &cobra.Command{
		Use:   "complete --pkg P --env E --version V --locale L",
		Short: "Mark one locale of a build complete (counted once per locale)",
	}, &c, &c.Pkg, &c.Env, &c.Version)
	requiredString(cmd, &c.Locale, "locale", "the locale completed")
	return cmd
}

func newStatusGetCommand(s *settings) *cobra.Command {
	var pkg, env, version string
	cmd := query(s, &cobra.Command{
		Use:   "get --pkg P --env E --version V",
		Short: "Show the status of a package version",
	}, func(cmd *cobra.Command, b *backend) (projections.Status, error) {
		st, err := b.app.Queries.Status(cmd.Context(), pkg, env, version)
		return st, notFound(err, "status of %s@%s in %s", pkg, version, env)
	})
	statusKey(cmd, &pkg, &env, &version)
	return cmd
}

func newStatusHeadCommand(s *settings) *cobra.Command {
	var pkg, env string
	cmd := query(s, &cobra.Command{
		Use:   "head --pkg P --env E",
		Short: "Show the status of the newest version started for a package and environment",
	}, func(cmd *cobra.Command, b *backend) (projections.StatusHead, error) {
		h, err := b.app.Queries.StatusHead(cmd.Context(), pkg, env)
		return h, notFound(err, "status head of %s in %s", pkg, env)
	})
	requiredString(cmd, &pkg, "pkg", "package name")
	requiredString(cmd, &env, "env", "environment")
	return cmd
}

func newStatusEventsCommand(s *settings) *cobra.Command {
	var (
		pkg, env, version string
		limit             int
	)
	cmd := query(s, &cobra.Command{
		Use:   "events --pkg P --env E --version V [--limit N]",
		Short: "List the status events of a package version in time order",
	}, func(cmd *cobra.Command, b *backend) ([]projections.StatusEvent, error) {
		if limit < 1 {
			return nil, usageError("--limit must be at least 1")
		}
		return readPages(limit, 500, int64(0), func(after int64, n int) ([]projections.StatusEvent, int64, error) {
			page, err := b.app.Queries.StatusEvents(cmd.Context(), pkg, env, version, after, n)
			return page.Events, page.Next, err
		})
	})
	statusKey(cmd, &pkg, &env, &version)
	cmd.Flags().IntVar(&limit, "limit", 1000, "most events to print")
	return cmd
}
