package oidcauth

import (
	"strconv"

	"buildledger/eventstore"
)

// maxClaimBytes bounds each recorded claim, so that an outcome item stays small whatever
// an issuer puts in a token.
const maxClaimBytes = 256

// claimNames are, for each recorded claim, the names CI platforms give it, in order of
// preference: GitHub Actions first, then GitLab CI and Buildkite.
var claimNames = struct {
	repository, ref, workflow, runID, actor []string
}{
	repository: []string{"repository", "project_path", "pipeline_slug"},
	ref:        []string{"ref", "build_branch"},
	workflow:   []string{"workflow", "pipeline_name"},
	runID:      []string{"run_id", "pipeline_id", "build_id"},
	actor:      []string{"actor", "user_login"},
}

// identity returns the Identity of a verified token's claims.
func identity(iss, sub string, claims map[string]any) eventstore.Identity {
	return eventstore.Identity{
		Issuer:     truncate(iss, maxClaimBytes),
		Subject:    truncate(sub, maxClaimBytes),
		Repository: first(claims, claimNames.repository),
		Ref:        first(claims, claimNames.ref),
		Workflow:   first(claims, claimNames.workflow),
		RunID:      first(claims, claimNames.runID),
		Actor:      first(claims, claimNames.actor),
	}
}

// first returns the first of names that claims holds as a string or a number.
func first(claims map[string]any, names []string) string {
	for _, name := range names {
		switch v := claims[name].(type) {
		case string:
			if v != "" {
				return truncate(v, maxClaimBytes)
			}
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ""
}
