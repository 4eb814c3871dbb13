package handlers

import (
	"fmt"

	"buildledger/domain"
	"buildledger/envelope"
	"buildledger/eventstore"
)

// The actions commands need, as access policies name them. A policy file (internal/policy)
// must know each of them.
const (
	ActionLock           = "lock"
	ActionUberlock       = "uberlock"
	ActionRelease        = "release"
	ActionForceRelease   = "force-release"
	ActionBreakGlass     = "break-glass"
	ActionFreeze         = "freeze"
	ActionJobStart       = "job.start"
	ActionJobEnd         = "job.end"
	ActionBuildCreate    = "build.create"
	ActionBuildUpdate    = "build.update"
	ActionStatusStart    = "status.start"
	ActionStatusEvent    = "status.event"
	ActionStatusComplete = "status.complete"
)

// PolicyActions lists every action a command may need.
var PolicyActions = []string{
	ActionLock, ActionUberlock, ActionRelease, ActionForceRelease, ActionBreakGlass, ActionFreeze,
	ActionJobStart, ActionJobEnd, ActionBuildCreate, ActionBuildUpdate,
	ActionStatusStart, ActionStatusEvent, ActionStatusComplete,
}

// PolicyRequest is what an access policy decides on: a sender asking to carry out a
// command that needs Actions on Name, as User.
type PolicyRequest struct {
	// Actions are the actions the command needs; each must be allowed.
	Actions []string
	// Name is what the command acts on: the environment of lock commands, the job name of
	// job commands, "user/repo" of build commands, "pkg/env" of status commands.
	Name string
	// User is the command's acting user ("" for commands without one: a build's user is
	// the repo owner, not who acts).
	User string
	// SenderID is the transport's sender principal.
	SenderID string
	// Identity is the sender's verified identity; zero without a token.
	Identity eventstore.Identity
}

// PolicyDecision is an access policy's answer.
type PolicyDecision struct {
	// Hash identifies the policy that decided; empty when none was consulted (mode off).
	Hash string
	// Action is the first action the policy does not allow; empty when it allows all.
	Action string
	// Refusal says which rule is missing, or which rule's condition failed; empty when the
	// command is allowed.
	Refusal string
	// Enforced is true when a refusal rejects the command; false when it is only counted
	// and logged (audit).
	Enforced bool
}

// AccessPolicy decides which senders may carry out which commands. It must be safe for
// concurrent use; it may change between calls (a policy reloaded on SIGHUP).
type AccessPolicy interface {
	Check(r PolicyRequest) PolicyDecision
}

// ForbiddenError rejects a command the enforced access policy does not allow, with code
// eventstore.RejectionForbidden.
type ForbiddenError struct {
	// Refusal is the policy's reason: the action, the name, the sender, the missing rule.
	Refusal string
	// Policy is the hash of the policy that refused.
	Policy string
}

// Error says what the policy does not allow.
func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("forbidden: %s (policy %s); the command was not carried out", e.Refusal, e.Policy)
}

// Code returns eventstore.RejectionForbidden.
func (e *ForbiddenError) Code() string { return eventstore.RejectionForbidden }

// Is reports whether target is domain.ErrRejected.
func (e *ForbiddenError) Is(target error) bool { return target == domain.ErrRejected }

// authorize asks the access policy, if any, about d and records its hash in d. It returns
// the *ForbiddenError of an enforced refusal; a refusal in audit is counted and logged,
// and d goes on to be decided.
func (h *CommandHandler) authorize(d *envelope.Decoded) error {
	if h.cfg.Policy == nil {
		return nil
	}
	req, ok := policyRequest(d.Command)
	if !ok {
		return nil
	}
	req.SenderID, req.Identity = d.SenderID, d.Identity
	dec := h.cfg.Policy.Check(req)
	d.Policy = dec.Hash
	if dec.Refusal == "" {
		return nil
	}
	log := h.commandLogger(*d)
	if !dec.Enforced {
		h.metrics.PolicyWouldReject.WithLabelValues(dec.Action).Inc()
		log.Warn().Str("policy", dec.Hash).Str("action", dec.Action).Str("refusal", dec.Refusal).
			Msg("policy audit: enforce would reject this command")
		return nil
	}
	h.metrics.PolicyRejected.WithLabelValues(dec.Action).Inc()
	return &ForbiddenError{Refusal: dec.Refusal, Policy: dec.Hash}
}

// policyRequest returns what cmd asks of an access policy. ok is false for the worker's
// own commands (ExpireLock settles a lease that is due, whoever asks), which every policy
// allows. A command type without a mapping needs an action no policy knows, so that an
// enforced policy refuses it rather than let it through.
func policyRequest(cmd domain.Command) (req PolicyRequest, ok bool) {
	switch c := cmd.(type) {
	case domain.Lock:
		req = PolicyRequest{Actions: []string{ActionLock}, Name: c.Env, User: c.User}
		if c.Uberlock {
			req.Actions[0] = ActionUberlock
		}
		if c.BreakGlass {
			req.Actions = append(req.Actions, ActionBreakGlass)
		}
	case domain.Release:
		req = PolicyRequest{Actions: []string{ActionRelease}, Name: c.Env, User: c.User}
		if c.Force {
			req.Actions[0] = ActionForceRelease
		}
	case domain.Renew:
		req = PolicyRequest{Actions: []string{ActionLock}, Name: c.Env, User: c.User}
	case domain.LeaveQueue:
		req = PolicyRequest{Actions: []string{ActionLock}, Name: c.Env, User: c.User}
	case domain.ExpireLock:
		return PolicyRequest{}, false
	case domain.AddFreeze:
		req = PolicyRequest{Actions: []string{ActionFreeze}, Name: c.Env, User: c.User}
	case domain.RemoveFreeze:
		req = PolicyRequest{Actions: []string{ActionFreeze}, Name: c.Env, User: c.User}
	case domain.StartJob:
		req = PolicyRequest{Actions: []string{ActionJobStart}, Name: c.Jobname, User: c.User}
	case domain.EndJob:
		req = PolicyRequest{Actions: []string{ActionJobEnd}, Name: c.Jobname, User: c.User}
	case domain.CreateBuild:
		req = PolicyRequest{Actions: []string{ActionBuildCreate}, Name: c.User + "/" + c.Repo}
	case domain.UpdateBuild:
		req = PolicyRequest{Actions: []string{ActionBuildUpdate}, Name: c.User + "/" + c.Repo}
	case domain.StartStatus:
		req = PolicyRequest{Actions: []string{ActionStatusStart}, Name: c.Pkg + "/" + c.Env}
	case domain.RecordStatusEvent:
		req = PolicyRequest{Actions: []string{ActionStatusEvent}, Name: c.Pkg + "/" + c.Env}
	case domain.CompleteLocale:
		req = PolicyRequest{Actions: []string{ActionStatusComplete}, Name: c.Pkg + "/" + c.Env}
	default:
		req = PolicyRequest{Actions: []string{"command:" + cmd.CommandType()}, Name: cmd.StreamID()}
	}
	return req, true
}
