package domain

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Stream kinds; a stream id is "<kind>:<components joined by />".
const (
	kindRepo   = "repo"
	kindStatus = "status"
	kindLock   = "lock"
	kindJob    = "job"
)

// maxNameBytes bounds names (users, repos, envs, browsers, …): they become DynamoDB keys
// and attribute names, where a clear error beats a failed write.
const maxNameBytes = 256

// maxTextBytes bounds free text (meta, message, details) so that one event stays far
// below DynamoDB's 400 KB item limit.
const maxTextBytes = 64 << 10

// RepoStreamID returns the stream id of a repository's builds, "repo:{user}/{repo}".
func RepoStreamID(user, repo string) string { return kindRepo + ":" + user + "/" + repo }

// StatusStreamID returns the stream id of one package version's build status in one
// environment, "status:{pkg}/{env}/{version}". A scoped npm package "@scope/name" keeps
// its "/": the id stays unambiguous because only a leading "@" component may be followed
// by a name component.
func StatusStreamID(pkg, env, version string) string {
	return kindStatus + ":" + pkg + "/" + env + "/" + version
}

// LockStreamID returns the stream id of an environment's deploy lock, "lock:{env}".
func LockStreamID(env string) string { return kindLock + ":" + env }

// JobStreamID returns the stream id of the runs of a job at one git version,
// "job:{jobname}/{version}".
func JobStreamID(jobname, version string) string { return kindJob + ":" + jobname + "/" + version }

// nameProblem returns why v is not a usable name, or "" if it is. Names that are part of a
// stream id must not contain "/" (slashOK false), or the id would be ambiguous.
func nameProblem(v string, slashOK bool) string {
	switch {
	case v == "":
		return "must not be empty"
	case len(v) > maxNameBytes:
		return fmt.Sprintf("must be at most %d bytes", maxNameBytes)
	case !utf8.ValidString(v):
		return "must be valid UTF-8"
	case strings.TrimSpace(v) != v:
		// "api" and "api " would otherwise be two streams that look the same.
		return "must not start or end with white space"
	case strings.ContainsFunc(v, unicode.IsControl):
		return "must not contain control characters"
	case !slashOK && strings.Contains(v, "/"):
		return `must not contain "/"`
	}
	return ""
}

// optionalNameProblem is nameProblem for a name that may be left empty.
func optionalNameProblem(v string) string {
	if v == "" {
		return ""
	}
	return nameProblem(v, true)
}

// pkgProblem returns why v is not a usable package name: a name without "/", or a scoped
// npm name "@scope/name" with exactly one "/".
func pkgProblem(v string) string {
	if !strings.Contains(v, "/") {
		return nameProblem(v, false)
	}
	if p := nameProblem(v, true); p != "" {
		return p
	}
	scope, name, _ := strings.Cut(v, "/")
	if len(scope) < 2 || scope[0] != '@' || name == "" || strings.Contains(name, "/") {
		return `may contain "/" only as a scoped name "@scope/name"`
	}
	return ""
}

// textProblem returns why v is not usable free text, or "".
func textProblem(v string, required bool) string {
	switch {
	case required && v == "":
		return "must not be empty"
	case len(v) > maxTextBytes:
		return fmt.Sprintf("must be at most %d bytes", maxTextBytes)
	case !utf8.ValidString(v):
		// JSON would silently replace invalid bytes, so the stored event would differ.
		return "must be valid UTF-8"
	}
	return ""
}

// streamIDError explains why id is not a stream id.
func streamIDError(id, reason string) error {
	return fmt.Errorf("%w %q: %s", ErrInvalidStreamID, id, reason)
}

// splitStreamID splits id into its kind and components, checking each component.
func splitStreamID(id string) (kind string, parts []string, err error) {
	kind, rest, ok := strings.Cut(id, ":")
	if !ok {
		return "", nil, streamIDError(id, `want "<kind>:<name>"`)
	}
	parts = strings.Split(rest, "/")
	var want int
	var layout string
	switch kind {
	case kindRepo:
		want, layout = 2, "repo:{user}/{repo}"
	case kindStatus:
		want, layout = 3, "status:{pkg}/{env}/{version}"
		if len(parts) == 4 && strings.HasPrefix(parts[0], "@") {
			parts = []string{parts[0] + "/" + parts[1], parts[2], parts[3]}
		}
	case kindLock:
		want, layout = 1, "lock:{env}"
	case kindJob:
		want, layout = 2, "job:{jobname}/{version}"
	default:
		return "", nil, streamIDError(id, fmt.Sprintf("unknown kind %q (want repo, status, lock or job)", kind))
	}
	if len(parts) != want {
		return "", nil, streamIDError(id, "want "+layout)
	}
	for i, p := range parts {
		reason := nameProblem(p, false)
		if kind == kindStatus && i == 0 {
			reason = pkgProblem(p)
		}
		if reason != "" {
			return "", nil, streamIDError(id, fmt.Sprintf("component %q %s", p, reason))
		}
	}
	return kind, parts, nil
}

// ValidateStreamName reports why v cannot be the stream-id component named field ("env",
// "user", "repo", "pkg", "version", "jobname", …), under the rules commands are validated
// with; nil when it can. Readers (the HTTP API) use it to refuse a name no command could
// have written before asking the store.
func ValidateStreamName(field, v string) error {
	reason := nameProblem(v, false)
	if field == "pkg" {
		reason = pkgProblem(v)
	}
	if reason == "" {
		return nil
	}
	return &InvalidCommandError{Field: field, Reason: reason}
}
