package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/projections"
)

func newBuildsCommand(s *settings) *cobra.Command {
	return group(&cobra.Command{
		Use:   "builds",
		Short: "Builds of a repository across a browser matrix (create, update, get)",
		Long: `Builds of a repository: each build runs on a list of browsers; each browser has a status and
a pending flag until it finishes. When the last browser finishes, the build becomes the
repository's latest build.`,
	}, newBuildsCreateCommand(s), newBuildsUpdateCommand(s), newBuildsGetCommand(s), newBuildsWatchCommand(s))
}

func newBuildsCreateCommand(s *settings) *cobra.Command {
	var c domain.CreateBuild
	cmd := change(s, &cobra.Command{
		Use:   "create --user USER --repo REPO --tag TAG --browsers A,B",
		Short: "Create the next build of a repository and print its build id",
	}, &c, func(cmd *cobra.Command, b *backend, o eventstore.Outcome) (any, error) {
		recs, err := b.app.Events.LoadRange(cmd.Context(), o.Stream, o.FirstVersion, o.LastVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.Type == "BuildCreated" {
				var e domain.BuildCreated
				if err := json.Unmarshal(r.Body, &e); err != nil {
					return nil, err
				}
				fmt.Fprintln(cmd.OutOrStdout(), e.BuildID)
				return nil, nil
			}
		}
		return nil, fmt.Errorf("command %s was accepted but recorded no BuildCreated event", o.CommandID)
	})
	repoKey(cmd, &c.User, &c.Repo)
	requiredString(cmd, &c.Tag, "tag", "tag or branch built")
	cmd.Flags().StringSliceVar(&c.Browsers, "browsers", nil, "comma-separated browser matrix (required)")
	required(cmd, "browsers")
	return cmd
}

func newBuildsUpdateCommand(s *settings) *cobra.Command {
	var c domain.UpdateBuild
	cmd := change(s, &cobra.Command{
		Use:   "update --user USER --repo REPO --build N --browser A --status S [--finished]",
		Short: "Set the status of one browser of a build; --finished marks that browser done",
	}, &c, func(cmd *cobra.Command, b *backend, _ eventstore.Outcome) (projections.Build, error) {
		return b.app.Queries.Build(cmd.Context(), c.User, c.Repo, c.BuildID)
	})
	buildKey(cmd, &c.User, &c.Repo, &c.BuildID)
	requiredString(cmd, &c.Browser, "browser", "browser of the build's matrix")
	requiredString(cmd, &c.Status, "status", "new status, e.g. started or finished")
	cmd.Flags().BoolVar(&c.Finished, "finished", false, "this browser is done: it no longer counts as pending")
	return cmd
}

// repoKey binds --user and --repo, both required.
func repoKey(cmd *cobra.Command, user, repo *string) {
	requiredString(cmd, user, "user", "repository owner")
	requiredString(cmd, repo, "repo", "repository name")
}

// buildKey binds --user, --repo and --build, all required.
func buildKey(cmd *cobra.Command, user, repo *string, id *int) {
	repoKey(cmd, user, repo)
	cmd.Flags().IntVar(id, "build", 0, "build id (required)")
	required(cmd, "build")
}

// readBuild reads build id of user/repo; a build that is not there is an exit-1 error.
func readBuild(ctx context.Context, b *backend, user, repo string, id int) (projections.Build, error) {
	build, err := b.app.Queries.Build(ctx, user, repo, id)
	return build, notFound(err, "build %d of %s/%s", id, user, repo)
}

func newBuildsGetCommand(s *settings) *cobra.Command {
	var (
		user, repo string
		id         int
	)
	cmd := query(s, &cobra.Command{
		Use:   "get --user USER --repo REPO --build N",
		Short: "Show a build",
	}, func(cmd *cobra.Command, b *backend) (projections.Build, error) {
		return readBuild(cmd.Context(), b, user, repo, id)
	})
	buildKey(cmd, &user, &repo, &id)
	return cmd
}

func newReposCommand(s *settings) *cobra.Command {
	var user, repo string
	get := query(s, &cobra.Command{
		Use:   "get --user USER --repo REPO",
		Short: "Show a repository (its build in progress and latest build)",
	}, func(cmd *cobra.Command, b *backend) (projections.Repo, error) {
		r, err := b.app.Queries.Repo(cmd.Context(), user, repo)
		return r, notFound(err, "repository %s/%s", user, repo)
	})
	repoKey(get, &user, &repo)
	return group(&cobra.Command{Use: "repos", Short: "Repositories (get)"}, get)
}
