package domain

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Stream kinds, the part of a stream id before ":"; a stream id is
// "<kind>:<components joined by />".
const (
	// KindRepo is the kind of a repository's stream, "repo:{user}/{repo}".
	KindRepo = "repo"
	// KindStatus is the kind of a package status stream, "status:{pkg}/{env}/{version}".
	KindStatus = "status"
	// KindLock is the kind of an environment's lock stream, "lock:{env}".
	KindLock = "lock"
	// KindJob is the kind of a job's stream, "job:{jobname}/{version}".
	KindJob = "job"
)

// maxTextBytes bounds free text (meta, message, details) so that one event stays far
// below DynamoDB's 400 KB item limit.
const maxTextBytes = 64 << 10

// RepoStreamID returns the stream id of a repository's builds, "repo:{user}/{repo}".
func RepoStreamID(user, repo string) string { return KindRepo + ":" + user + "/" + repo }

// StatusStreamID returns the stream id of one package version's build status in one
// environment, "status:{pkg}/{env}/{version}". A scoped npm package "@scope/name" keeps
// its "/": the id stays unambiguous because only a leading "@" component may be followed
// by a name component.
func StatusStreamID(pkg, env, version string) string {
	return KindStatus + ":" + pkg + "/" + env + "/" + version
}

// LockStreamID returns the stream id of an environment's deploy lock, "lock:{env}".
func LockStreamID(env string) string { return KindLock + ":" + env }

// JobStreamID returns the stream id of the runs of a job at one git version,
// "job:{jobname}/{version}".
func JobStreamID(jobname, version string) string { return KindJob + ":" + jobname + "/" + version }

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

// StreamKind returns the kind of a stream id, the part before ":", without checking the
// rest; "" when id has no kind. It suits routing events, which checks nothing else.
func StreamKind(id string) string {
	kind, _, ok := strings.Cut(id, ":")
	if !ok {
		return ""
	}
	return kind
}

// ParseStreamID splits a stream id into its kind (KindRepo, KindStatus, KindLock or KindJob)
// and components: [user repo], [pkg env version] (a scoped "@scope/name" package keeps its
// "/"), [env] or [jobname version]. It checks each component under the stored-name rules
// only, which are more lenient than a command's: streams written before the identifier
// rules must keep loading. An id it refuses is ErrInvalidStreamID.
func ParseStreamID(id string) (kind string, parts []string, err error) {
	kind, rest, ok := strings.Cut(id, ":")
	if !ok {
		return "", nil, streamIDError(id, `want "<kind>:<name>"`)
	}
	parts = strings.Split(rest, "/")
	var want int
	var layout string
	switch kind {
	case KindRepo:
		want, layout = 2, "repo:{user}/{repo}"
	case KindStatus:
		want, layout = 3, "status:{pkg}/{env}/{version}"
		if len(parts) == 4 && strings.HasPrefix(parts[0], "@") {
			parts = []string{parts[0] + "/" + parts[1], parts[2], parts[3]}
		}
	case KindLock:
		want, layout = 1, "lock:{env}"
	case KindJob:
		want, layout = 2, "job:{jobname}/{version}"
	default:
		return "", nil, streamIDError(id, fmt.Sprintf("unknown kind %q (want repo, status, lock or job)", kind))
	}
	if len(parts) != want {
		return "", nil, streamIDError(id, "want "+layout)
	}
	for i, p := range parts {
		reason := storedNameProblem(p, false)
		if kind == KindStatus && i == 0 {
			reason = storedPkgProblem(p)
		}
		if reason != "" {
			return "", nil, streamIDError(id, fmt.Sprintf("component %q %s", p, reason))
		}
	}
	return kind, parts, nil
}

// ValidateStreamName reports why v cannot be the stream-id component named field ("env",
// "user", "repo", "pkg", "version", "jobname", …), under the rules commands are validated
// with (the identifier rules included); nil when it can. Readers (the HTTP API) use it to
// refuse a name no command can write before asking the store. Streams stored before the
// identifier rules may have components it refuses; they still load (see NewAggregate).
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
