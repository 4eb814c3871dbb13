package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"buildledger/domain"
	"buildledger/envelope"
	"buildledger/eventstore"
)

// IdentityVerifier verifies the OIDC ID token a command carries and returns the identity
// its verified claims name (internal/oidcauth is the worker's). A token that fails a
// check is an error with a Code() method returning eventstore.RejectionUnauthenticated:
// the command is rejected. Any other error is transient (an issuer that cannot be
// reached): the message is retried. Errors must never quote the token.
type IdentityVerifier interface {
	Verify(ctx context.Context, rawIDToken string) (eventstore.Identity, error)
}

// UnauthenticatedError rejects a command whose ID token failed verification, with code
// eventstore.RejectionUnauthenticated and a reason naming the check.
type UnauthenticatedError struct {
	// Err is the verifier's refusal.
	Err error
}

// Error says which check the token failed.
func (e *UnauthenticatedError) Error() string {
	reason := e.Err.Error()
	if i := strings.Index(reason, ": "); i >= 0 && !strings.Contains(reason[:i], " ") {
		reason = reason[i+2:] // the verifier's package prefix
	}
	return "unauthenticated: the ID token failed verification (" + reason + "); the command was not carried out"
}

// Code returns eventstore.RejectionUnauthenticated.
func (e *UnauthenticatedError) Code() string { return eventstore.RejectionUnauthenticated }

// Is reports whether target is domain.ErrRejected.
func (e *UnauthenticatedError) Is(target error) bool { return target == domain.ErrRejected }

// Unwrap returns the verifier's refusal.
func (e *UnauthenticatedError) Unwrap() error { return e.Err }

// noIssuer is the refusal of a token sent to a worker that trusts no issuer.
type noIssuer struct{}

func (noIssuer) Error() string {
	return "handlers: issuer: no issuer is trusted (the worker has no --oidc-issuer)"
}

func (noIssuer) Code() string { return eventstore.RejectionUnauthenticated }

// authenticate verifies d's ID token, if any, and keeps only its claims: d.IDToken is
// cleared whatever happens, so that the token goes no further. It returns the
// *UnauthenticatedError of a refused token, or the error of a verification that could
// not be done (transient).
func (h *CommandHandler) authenticate(ctx context.Context, d *envelope.Decoded) (refused, err error) {
	token := d.IDToken
	d.IDToken = ""
	if token == "" {
		return nil, nil
	}
	var who eventstore.Identity
	if h.cfg.Identities == nil {
		err = noIssuer{}
	} else {
		who, err = h.cfg.Identities.Verify(ctx, token)
	}
	var coded interface{ Code() string }
	switch {
	case err == nil:
		d.Identity = who
		return nil, nil
	case errors.As(err, &coded) && coded.Code() == eventstore.RejectionUnauthenticated:
		return &UnauthenticatedError{Err: err}, nil
	}
	return nil, fmt.Errorf("handlers: verify the ID token of %s %s: %w", d.Type, d.ID, err)
}

// rejectUndecided records the rejection of a command refused before it came to be decided
// (its token failed verification, or the policy forbids it); nothing is appended. The
// outcome's version is the stream's, read without deciding.
func (h *CommandHandler) rejectUndecided(ctx context.Context, d envelope.Decoded, refused error) (Result, error) {
	log := h.commandLogger(d)
	version, err := h.cfg.Events.Version(ctx, d.Command.StreamID())
	if err != nil {
		return Result{}, fmt.Errorf("handlers: read the version of %s: %w", d.Command.StreamID(), err)
	}
	return h.reject(ctx, d, version, refused, &log)
}

// commandLogger is the logger of d's handling. It names who sent d, never the token.
func (h *CommandHandler) commandLogger(d envelope.Decoded) zerolog.Logger {
	c := h.log.With().Str("command_id", d.ID).Str("command_type", d.Type).
		Str("stream", d.Command.StreamID()).Str("correlation_id", d.CorrelationID)
	if d.SenderID != "" {
		c = c.Str("sender_id", d.SenderID)
	}
	if d.Identity.Subject != "" {
		c = c.Str("issuer", d.Identity.Issuer).Str("subject", d.Identity.Subject)
	}
	return c.Logger()
}
