package apiauth

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"buildledger/eventstore"
)

// IDTokenVerifier verifies an OIDC ID token and returns its claims; *oidcauth.Verifier is
// one. A refused token is an *oidcauth.CheckError, an issuer out of reach an
// *oidcauth.UnavailableError.
type IDTokenVerifier interface {
	Verify(ctx context.Context, raw string) (eventstore.Identity, error)
}

// Config configures a Guard.
type Config struct {
	// Tokens are the static API tokens accepted; nil for none.
	Tokens *Tokens
	// IDTokens verifies OIDC ID tokens; nil to accept none.
	IDTokens IDTokenVerifier
	// Policy says who reads which kinds; nil lets every authenticated caller read
	// everything.
	Policy *Policy
	// Metrics protects /metrics too (as KindMetrics); without it /metrics stays open.
	Metrics bool
	// Logger receives a line for every refusal, naming the caller when known and never
	// the token; nil is silent.
	Logger *zerolog.Logger
}

// ErrNobodyAuthenticates refuses a configuration with neither a static token nor an ID
// token verifier: no request could ever be authenticated.
var ErrNobodyAuthenticates = errors.New("apiauth: config: neither static tokens nor a trusted OIDC issuer: nobody could authenticate")

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	if c.Tokens.Len() == 0 && c.IDTokens == nil {
		return ErrNobodyAuthenticates
	}
	return nil
}
