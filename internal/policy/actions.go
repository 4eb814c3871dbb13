package policy

import (
	"fmt"
	"slices"
	"strings"

	"buildledger/internal/glob"
)

// Actions are the actions a rule may name. Commands map onto them in the worker: a Lock
// is "lock" ("uberlock" with Uberlock, and "break-glass" too with BreakGlass), a Release
// "release" ("force-release" with Force), Renew and LeaveQueue "lock", freezes "freeze",
// jobs "job.start" and "job.end", builds "build.create" and "build.update", package
// statuses "status.start", "status.event" and "status.complete".
var Actions = []string{
	"lock", "uberlock", "release", "force-release", "break-glass", "freeze",
	"job.start", "job.end",
	"build.create", "build.update",
	"status.start", "status.event", "status.complete",
}

// userActions are the actions whose commands carry the acting user in their user field;
// only they may be constrained by a rule's user condition (a build's user is the repo
// owner, and status commands have none).
var userActions = []string{"lock", "uberlock", "release", "force-release", "break-glass", "freeze", "job.start", "job.end"}

// expandActions returns the known actions that pattern names: itself, or those a glob
// such as "build.*" or "*" matches. A pattern that names none is an error.
func expandActions(pattern string) ([]string, error) {
	var out []string
	for _, a := range Actions {
		if glob.Match(pattern, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("unknown action %q (known: %s)", pattern, strings.Join(Actions, ", "))
	}
	return out, nil
}

// isUserAction reports whether a's commands carry the acting user.
func isUserAction(a string) bool { return slices.Contains(userActions, a) }
