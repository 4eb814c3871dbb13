// Package policy decides which identities may do what to which environment, job, repo or
// package: a policy file (YAML or JSON) of rules, each naming actions (lock, release,
// force-release, job.start, build.*, …), name patterns, and the identities it allows —
// by the transport's sender principal or by the verified claims of an OIDC ID token, alone
// or through named groups. A rule may also require that the command's user field be the
// token's actor, so that a caller cannot act under another's name.
//
// Unknown keys, unknown actions and unknown matcher kinds are refused when the file
// loads, each named, so that a typo never silently allows or denies. The worker consults
// a Source (reloaded on SIGHUP) through a Guard, whose Mode says whether a refusal
// rejects the command (enforce), is only counted (audit), or is not asked for (off).
package policy
