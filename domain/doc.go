// Package domain holds the aggregates, commands, events and rules of buildledger:
// repositories and their builds, package build status, deploy locks and running jobs.
// It is pure: no I/O, no clock, no logging. Time and ids come in through Env, and events
// record time in UTC.
//
// Streams and their aggregates:
//
//	repo:{user}/{repo}            Repo     CreateBuild, UpdateBuild
//	status:{pkg}/{env}/{version}  Status   StartStatus, RecordStatusEvent, CompleteLocale
//	lock:{env}                    EnvLock  Lock, Release, Renew, ExpireLock, LeaveQueue,
//	                                       AddFreeze, RemoveFreeze
//	job:{jobname}/{version}       Job      StartJob, EndJob
//
// Names in a stream id must not contain "/", so that every id has one reading; the one
// exception is a scoped npm package "@scope/name", whose single "/" is recognised by the
// leading "@". Names are also non-empty, at most 256 bytes, valid UTF-8, without control
// characters or surrounding white space. A command's names are moreover PRECIS identifiers
// (RFC 8264, case kept) in their enforced form (NFC, narrow width), in one script (or a
// combination UTS #39 calls highly restrictive), so that two environments never look the
// same; Normalize brings typed names into that form. Stream ids of stored events are read
// with the older rules only, so history written before stays loadable.
//
// Rules that callers may find surprising, and why:
//
//   - A repository keeps only its unfinished builds. An update of a finished build is
//     rejected with BuildFinishedError, an id never assigned with UnknownBuildError.
//   - When the current build finishes, the newest build still unfinished becomes current
//     (none when none is left); dynostore cleared it, which is the same for one build at a
//     time and does not hide an older build that still runs.
//   - Browser names that collide with dynostore's build row ("tag", "pending",
//     "<name>-pending", …) are invalid, since each browser becomes a column of that row.
//   - Completing a locale twice is accepted and raises nothing, so CI retries are harmless.
//   - A status turns to error once (StatusErrored); later error events are still recorded.
//   - The holder of a lock who asks for an uberlock upgrades it; an uberlock is never
//     downgraded by locking again, and only a release with uberlock lifts it.
//   - Decoding ignores JSON fields it does not know: a command body may be a whole message,
//     and events written by newer code stay readable.
package domain
