package apiauth

import (
	"strings"

	"buildledger/internal/httpapi"
)

// Kind is what a read policy grants: one family of read routes.
type Kind string

// The kinds of the read API and of /metrics.
const (
	// KindRepo is GET /v1/repo.
	KindRepo Kind = "repo"
	// KindBuild is GET /v1/build.
	KindBuild Kind = "build"
	// KindStatus is GET /v1/status, /v1/status/head and /v1/status/events.
	KindStatus Kind = "status"
	// KindLocks is GET /v1/locks, /v1/locks/history, /v1/locks/queue and /v1/freezes.
	KindLocks Kind = "locks"
	// KindJobs is GET /v1/jobs, /v1/jobs/active and /v1/jobs/skipped.
	KindJobs Kind = "jobs"
	// KindCommands is GET /v1/commands/{id}.
	KindCommands Kind = "commands"
	// KindEvents is GET /v1/events and /v1/feed: the events of every stream, whatever their kind.
	KindEvents Kind = "events"
	// KindOpenAPI is GET /v1/openapi.json.
	KindOpenAPI Kind = "openapi"
	// KindMetrics is GET /metrics, when it is protected at all (Config.Metrics).
	KindMetrics Kind = "metrics"
)

// Kinds lists every kind, in the order the documentation gives them.
var Kinds = []Kind{KindRepo, KindBuild, KindStatus, KindLocks, KindJobs, KindCommands, KindEvents, KindOpenAPI, KindMetrics}

// KindOf returns the kind of a read API path, or "" for a path that is no route (the API
// answers it 404 or 405, to an authenticated caller only).
func KindOf(path string) Kind {
	under := func(route string) bool { return path == route || strings.HasPrefix(path, route+"/") }
	switch {
	case path == httpapi.OpenAPIPath:
		return KindOpenAPI
	case path == "/v1/repo":
		return KindRepo
	case path == "/v1/build":
		return KindBuild
	case under("/v1/status"):
		return KindStatus
	case under("/v1/locks"), path == "/v1/freezes":
		return KindLocks
	case under("/v1/jobs"):
		return KindJobs
	case strings.HasPrefix(path, "/v1/commands/"):
		return KindCommands
	case path == "/v1/events", path == "/v1/feed":
		return KindEvents
	}
	return ""
}
