package main

import (
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"buildledger/internal/termout"
)

// buildVersion is what `buildledger version` prints: the binary's version and what it was
// built from, as the Go toolchain stamped it.
type buildVersion struct {
	// Version is the main module's version; "(devel)" when built from a checkout.
	Version string `json:"version"`
	// Commit is the VCS revision built, when the build stamped one.
	Commit string `json:"commit,omitempty"`
	// CommitTime is the revision's commit time.
	CommitTime *time.Time `json:"commitTime,omitempty"`
	// Modified says the checkout had changes that were not committed.
	Modified *bool `json:"modified,omitempty"`
	// Go is the Go version that built the binary.
	Go string `json:"go"`
	// Platform is the operating system and architecture built for.
	Platform string `json:"platform"`
}

// versionOf reads the version from build information; info may be nil (no information).
func versionOf(info *debug.BuildInfo) buildVersion {
	v := buildVersion{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info == nil {
		return v
	}
	if info.Main.Version != "" {
		v.Version = info.Main.Version
	}
	if info.GoVersion != "" {
		v.Go = info.GoVersion
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				v.CommitTime = &t
			}
		case "vcs.modified":
			modified := s.Value == "true"
			v.Modified = &modified
		}
	}
	return v
}

func newVersionCommand(s *settings) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit built and the Go version",
		Long: `Print the version of this binary (the module version, "(devel)" when built from a
checkout), the VCS revision, its time and whether the checkout was modified (when the build
stamped them), and the Go version and platform. It prints a key/value block even into a
pipe; -o json prints JSON.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, _ := debug.ReadBuildInfo()
			p := s.printer(cmd)
			if format, _ := termout.ParseFormat(s.Output); format == termout.FormatAuto {
				p.Format = termout.FormatTable // people read it, whatever stdout is
			}
			return p.Print(cmd.OutOrStdout(), versionOf(info))
		},
	}
}
