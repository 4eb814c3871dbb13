package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/projections"
)

func newJobsCommand(s *settings) *cobra.Command {
	return group(&cobra.Command{
		Use:   "jobs",
		Short: "Running jobs per job name and git version (start, get, end, active, skipped)",
		Long: `Running jobs: a run of a job name at a git version, started by a user, until it ends
(optionally as skipped). A job name and version run once at a time.`,
	}, newJobsStartCommand(s), newJobsGetCommand(s), newJobsEndCommand(s),
		newJobsWindowCommand(s, "active", "List the runs of a job started within --ttl that have not ended", (*projections.Queries).ActiveJobs),
		newJobsWindowCommand(s, "skipped", "List the runs of a job started within --ttl that ended as skipped", (*projections.Queries).SkippedJobs))
}

func newJobsStartCommand(s *settings) *cobra.Command {
	var c domain.StartJob
	cmd := change(s, &cobra.Command{
		Use:   "start --jobname JOB --user USER --gitversion VERSION",
		Short: "Start a run of a job; rejected while one runs for the same job and version",
	}, &c, func(cmd *cobra.Command, b *backend, _ eventstore.Outcome) (any, error) {
		rows, err := b.app.Queries.Jobs(cmd.Context(), c.Jobname, c.Version)
		if err != nil {
			return nil, err
		}
		return oneOrAll(rows, func(r projections.Job) bool { return r.Ended == nil }), nil
	})
	requiredString(cmd, &c.Jobname, "jobname", "job name, e.g. deploy-prod")
	requiredString(cmd, &c.User, "user", "who started it")
	requiredString(cmd, &c.Version, "gitversion", "git version (sha) the job runs")
	return cmd
}

func newJobsGetCommand(s *settings) *cobra.Command {
	var jobname, version string
	cmd := query(s, &cobra.Command{
		Use:   "get --jobname JOB --gitversion VERSION",
		Short: "Show the runs of a job at a git version",
	}, func(cmd *cobra.Command, b *backend) ([]projections.Job, error) {
		rows, err := b.app.Queries.Jobs(cmd.Context(), jobname, version)
		if err != nil {
			return nil, notFound(err, "job %s at %s", jobname, version)
		}
		if len(rows) == 0 {
			return nil, &exitError{code: exitRejected, err: fmt.Errorf("job %s at %s not found", jobname, version)}
		}
		return rows, nil
	})
	requiredString(cmd, &jobname, "jobname", "job name")
	requiredString(cmd, &version, "gitversion", "git version")
	return cmd
}

func newJobsEndCommand(s *settings) *cobra.Command {
	var (
		version string
		skipped bool
		user    string
		w       waitFlags
	)
	cmd := &cobra.Command{
		Use:   "end --gitversion VERSION [--skipped] [--user USER]",
		Short: "End the running runs of a git version, of every job name",
		Long: `End every running run at a git version, whatever its job name, optionally marking the runs
skipped. --user records who ended them (the runs' endedBy). Prints the ended runs as JSON;
exits 1 when no run of that version is running.`,
		Args: cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			ctx := cmd.Context()
			rows, err := b.app.Queries.JobsByVersion(ctx, version)
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			var jobnames []string
			for _, r := range rows {
				if r.Ended == nil && !seen[r.Jobname] {
					seen[r.Jobname] = true
					jobnames = append(jobnames, r.Jobname)
				}
			}
			if len(jobnames) == 0 {
				return &exitError{code: exitRejected, err: fmt.Errorf("no job is running at version %s", version)}
			}
			var errs []error
			var ended []any
			for _, j := range jobnames {
				_, ok, err := b.mutate(ctx, domain.EndJob{Jobname: j, Version: version, Skipped: skipped, User: user}, w, cmd.OutOrStdout())
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", j, err))
					continue
				}
				if !ok {
					continue
				}
				runs, err := b.app.Queries.Jobs(ctx, j, version)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, r := range runs {
					ended = append(ended, r)
				}
			}
			if w.noWait {
				return errors.Join(errs...)
			}
			if err := s.print(cmd, ended); err != nil {
				return err
			}
			return errors.Join(errs...)
		}),
	}
	requiredString(cmd, &version, "gitversion", "git version whose running runs end")
	cmd.Flags().BoolVar(&skipped, "skipped", false, "mark the runs as skipped")
	cmd.Flags().StringVar(&user, "user", "", "who ends the runs, e.g. a committer's email (recorded as endedBy)")
	w.bind(cmd.Flags(), "wait")
	return cmd
}

// jobsWindow is a query of the runs of a job started within ttl of now.
type jobsWindow func(q *projections.Queries, ctx context.Context, jobname string, ttl time.Duration, now time.Time) ([]projections.Job, error)

func newJobsWindowCommand(s *settings, which, short string, runs jobsWindow) *cobra.Command {
	var (
		jobname string
		ttl     time.Duration
	)
	cmd := query(s, &cobra.Command{
		Use:   which + " --jobname JOB [--ttl DURATION]",
		Short: short,
	}, func(cmd *cobra.Command, b *backend) ([]projections.Job, error) {
		if ttl <= 0 {
			return nil, usageError("--ttl must be positive, e.g. 30m or 24h")
		}
		return runs(b.app.Queries, cmd.Context(), jobname, ttl, time.Now())
	})
	requiredString(cmd, &jobname, "jobname", "job name")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "time frame: runs started within it count")
	return cmd
}
