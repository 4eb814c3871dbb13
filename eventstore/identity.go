package eventstore

// RejectionUnauthenticated is the code of a command rejected because the OIDC ID token
// it carried failed verification (expired, wrong audience, bad signature, …): the
// sender's identity could not be established, so the command never takes effect.
const RejectionUnauthenticated = "unauthenticated"

// RejectionForbidden is the code of a command rejected because the worker's access
// policy, enforced, allows no such command from its sender: the reason names the action,
// the name, the sender and the missing rule.
const RejectionForbidden = "forbidden"

// Identity is who sent a command, as far as the worker could establish it: the verified
// claims of the OIDC ID token the command carried. It is recorded with the command's
// outcome and in the metadata of every event the command appended; the token itself is
// never stored. The zero Identity means the command carried no token. The claim names
// follow GitHub Actions'; other CI platforms' equivalents are mapped onto them by the
// verifier.
type Identity struct {
	// Issuer is the token's issuer ("iss"), one the worker trusts.
	Issuer string `json:"issuer,omitempty"`
	// Subject is the token's subject ("sub"), e.g. "repo:org/api:ref:refs/heads/main".
	Subject string `json:"subject,omitempty"`
	// Repository is the repository the CI job ran for, e.g. "org/api".
	Repository string `json:"repository,omitempty"`
	// Ref is the git ref the job ran on, e.g. "refs/heads/main".
	Ref string `json:"ref,omitempty"`
	// Workflow is the CI workflow (or pipeline) name.
	Workflow string `json:"workflow,omitempty"`
	// RunID identifies the CI run (or pipeline, or build).
	RunID string `json:"runId,omitempty"`
	// Actor is the user who triggered the run.
	Actor string `json:"actor,omitempty"`
}

// IsZero reports whether i holds no claim: the command carried no token.
func (i Identity) IsZero() bool { return i == Identity{} }
