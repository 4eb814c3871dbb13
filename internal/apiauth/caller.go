package apiauth

import (
	"context"

	"buildledger/eventstore"
)

// Caller is who an authenticated request comes from: a static token's name, or the
// verified claims of an OIDC ID token. It never holds the token itself.
type Caller struct {
	// Token is the name of the static API token presented; empty for an ID token.
	Token string
	// Identity holds the verified claims of the ID token presented; zero for a static token.
	Identity eventstore.Identity
}

// String names the caller for answers and logs: "token:ci", or the ID token's subject
// and issuer.
func (c Caller) String() string {
	if c.Token != "" {
		return "token:" + c.Token
	}
	return "subject:" + c.Identity.Subject + " (issuer " + c.Identity.Issuer + ")"
}

type callerKey struct{}

// CallerFrom returns the caller the guard authenticated for a request's context; false
// when authentication is off or the route is open.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

func withCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}
