package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"buildledger/domain"
	"buildledger/projections"
)

func newBuildsCommand(s *settings) *cobra.Command {
	builds := &cobra.Command{
		Use:   "builds",
		Short: "Builds of a repository across a browser matrix (create, update, get)",
		Long: `Builds of a repository: each build runs on a list of browsers; each browser has a status and
a pending flag until it finishes. When the last browser finishes, the build becomes the
repository's latest build.`,
	}
	builds.AddCommand(newBuildsCreateCommand(s), newBuildsUpdateCommand(s), newBuildsGetCommand(s), newBuildsWatchCommand(s))
	return builds
}

func newBuildsCreateCommand(s *settings) *cobra.Command {
	var (
		c domain.CreateBuild
		w waitFlags
	)
	cmd := &cobra.Command{
		Use:   "create --user USER --repo REPO --tag TAG --browsers A,B",
		Short: "Create the next build of a repository and print its build id",
		Args:  cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			o, ok, err := b.mutate(cmd.Context(), c, w, cmd.OutOrStdout())
			if err != nil || !ok {
				return err
			}
			recs, err := b.app.Events.LoadRange(cmd.Context(), o.Stream, o.FirstVersion, o.LastVersion)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.Type == "BuildCreated" {
					var e domain.BuildCreated
					if err := json.Unmarshal(r.Body, &e); err != nil {
						return err
					}
					fmt.Fprintln(cmd.OutOrStdout(), e.BuildID)
					return nil
				}
			}
			return fmt.Errorf("command %s was accepted but recorded no BuildCreated event", o.CommandID)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&c.User, "user", "", "repository owner (required)")
	f.StringVar(&c.Repo, "repo", "", "repository name (required)")
	f.StringVar(&c.Tag, "tag", "", "tag or branch built (required)")
	f.StringSliceVar(&c.Browsers, "browsers", nil, "comma-separated browser matrix (required)")
	w.bind(f, "wait")
	for _, name := range []string{"user", "repo", "tag", "browsers"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newBuildsUpdateCommand(s *settings) *cobra.Command {
	var (
		c domain.UpdateBuild
		w waitFlags
	)
	cmd := &cobra.Command{
		Use:   "update --user USER --repo REPO --build N --browser A --status S [--finished]",
		Short: "Set the status of one browser of a build; --finished marks that browser done",
		Args:  cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			_, ok, err := b.mutate(cmd.Context(), c, w, cmd.OutOrStdout())
			if err != nil || !ok {
				return err
			}
			build, err := b.app.Queries.Build(cmd.Context(), c.User, c.Repo, c.BuildID)
			if err != nil {
				return err
			}
			return s.print(cmd, build)
		}),
	}
	f := cmd.Flags()
	buildKey(f, cmd, &c.User, &c.Repo, &c.BuildID)
	f.StringVar(&c.Browser, "browser", "", "browser of the build's matrix (required)")
	f.StringVar(&c.Status, "status", "", "new status, e.g. started or finished (required)")
	f.BoolVar(&c.Finished, "finished", false, "this browser is done: it no longer counts as pending")
	w.bind(f, "wait")
	for _, name := range []string{"browser", "status"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// buildKey binds --user, --repo and --build, all required.
func buildKey(fs *pflag.FlagSet, cmd *cobra.Command, user, repo *string, id *int) {
	fs.StringVar(user, "user", "", "repository owner (required)")
	fs.StringVar(repo, "repo", "", "repository name (required)")
	fs.IntVar(id, "build", 0, "build id (required)")
	for _, name := range []string{"user", "repo", "build"} {
		_ = cmd.MarkFlagRequired(name)
	}
}

// readBuild reads build id of user/repo; a build that is not there is an exit-1 error.
func readBuild(ctx context.Context, b *backend, user, repo string, id int) (projections.Build, error) {
	build, err := b.app.Queries.Build(ctx, user, repo, id)
	if err != nil {
		return build, notFound(err, fmt.Sprintf("build %d of %s/%s", id, user, repo))
	}
	return build, nil
}

func newBuildsGetCommand(s *settings) *cobra.Command {
	var (
		user, repo string
		id         int
	)
	cmd := &cobra.Command{
		Use:   "get --user USER --repo REPO --build N",
		Short: "Show a build",
		Args:  cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			build, err := readBuild(cmd.Context(), b, user, repo, id)
			if err != nil {
				return err
			}
			return s.print(cmd, build)
		}),
	}
	buildKey(cmd.Flags(), cmd, &user, &repo, &id)
	return cmd
}

func newReposCommand(s *settings) *cobra.Command {
	repos := &cobra.Command{Use: "repos", Short: "Repositories (get)"}
	var user, repo string
	get := &cobra.Command{
		Use:   "get --user USER --repo REPO",
		Short: "Show a repository (its build in progress and latest build)",
		Args:  cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			r, err := b.app.Queries.Repo(cmd.Context(), user, repo)
			if err != nil {
				return notFound(err, fmt.Sprintf("repository %s/%s", user, repo))
			}
			return s.print(cmd, r)
		}),
	}
	get.Flags().StringVar(&user, "user", "", "repository owner (required)")
	get.Flags().StringVar(&repo, "repo", "", "repository name (required)")
	_ = get.MarkFlagRequired("user")
	_ = get.MarkFlagRequired("repo")
	repos.AddCommand(get)
	return repos
}
