package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/projections"
)

// buildWatch is the state `builds watch` shows: one build's browser matrix, read once from
// the build's row and then folded from the repository stream's events about the build.
type buildWatch struct {
	build projections.Build
}

// MarshalJSON writes the build as `builds get` does (dynostore's flat view).
func (v *buildWatch) MarshalJSON() ([]byte, error) { return v.build.MarshalJSON() }

// apply folds one event of the repository stream into the view; events about other builds
// change nothing.
func (v *buildWatch) apply(e domain.Event) {
	u, ok := e.(domain.BuildBrowserUpdated)
	if !ok || int64(u.BuildID) != v.build.BuildID {
		return
	}
	v.build.ApplyBrowserUpdate(u)
}

// applyRecords folds records of the repository stream into the view.
func (v *buildWatch) applyRecords(recs []eventstore.Record) error {
	return foldRecords(recs, v.apply, &v.build.StreamVersion)
}

// frame draws the view for a terminal: the browser × status matrix.
func (v *buildWatch) frame(color bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s build %d (%s): %d of %d browsers pending\n", v.build.RepoID, v.build.BuildID, v.build.Tag, v.build.Pending, len(v.build.Browsers))
	width := len("BROWSER")
	for _, br := range v.build.Browsers {
		width = max(width, len(br.Name))
	}
	fmt.Fprintf(&b, "%-*s  %-9s %s\n", width, "BROWSER", "PENDING", "STATUS")
	for _, br := range v.build.Browsers {
		pending, code := "no", colorGreen
		if br.Pending {
			pending, code = "yes", ""
		}
		fmt.Fprintf(&b, "%-*s  %-9s %s\n", width, br.Name, pending, paint(color, code, br.Status))
	}
	return b.String()
}

func newBuildsWatchCommand(s *settings) *cobra.Command {
	var (
		user, repo string
		id         int
	)
	cmd := &cobra.Command{
		Use:   "watch --user USER --repo REPO --build N",
		Short: "Follow a build's browser matrix as it changes, until no browser is pending",
		Long: `Follow one build's browser matrix as CI updates it. On a terminal the matrix is redrawn in
place; piped, or with -o json, every change is one JSON object (as 'builds get' prints it)
on a line of its own. It exits 0 once no browser is pending and 130 when interrupted.

` + watchLatencyHelp,
		Args: cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			build, err := readBuild(cmd.Context(), b, user, repo, id)
			if err != nil {
				return err
			}
			out := s.watchOutput(cmd)
			view := &buildWatch{build: build}
			if err := out.show(view, view.frame); err != nil || build.Pending == 0 {
				return err
			}
			return b.followStream(cmd.Context(), domain.RepoStreamID(user, repo), build.StreamVersion, func(recs []eventstore.Record) (bool, error) {
				if err := view.applyRecords(recs); err != nil {
					return false, err
				}
				return view.build.Pending == 0, out.show(view, view.frame)
			})
		}),
	}
	buildKey(cmd, &user, &repo, &id)
	return cmd
}
