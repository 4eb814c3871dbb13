package main

import (
	"cmp"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"buildledger/client"
	"buildledger/internal/oidcauth"
)

// defaultOIDCAudience is the audience the CLI asks for and the worker requires unless
// --oidc-audience says otherwise.
const defaultOIDCAudience = "buildledger"

// identitySettings say how commands prove who sends them (the CLI's side) and which
// tokens the worker trusts (the worker's side).
type identitySettings struct {
	// IDToken is the OIDC ID token sent with every command; empty to fetch one inside
	// GitHub Actions, or to send none.
	IDToken string
	// Issuers are the issuer URLs whose tokens the worker trusts.
	Issuers []string
	// Audience is the "aud" the CLI asks GitHub Actions for and the worker requires.
	Audience string
	// Algorithms are the signing algorithms the worker accepts.
	Algorithms []string
	// ClockSkew is the worker's allowance on a token's exp, nbf and iat.
	ClockSkew time.Duration
}

// bindFlags registers the identity flags with defaults taken from the environment.
func (s *identitySettings) bindFlags(fs *pflag.FlagSet, env *envDefaults) {
	// The environment is read when the token is needed, never as the flag's default,
	// which --help would print.
	fs.StringVar(&s.IDToken, "id-token", "", "OIDC ID token sent with every command; inside GitHub Actions one is fetched when none is given (env BUILDLEDGER_ID_TOKEN)")
	fs.StringArrayVar(&s.Issuers, "oidc-issuer", envList("BUILDLEDGER_OIDC_ISSUERS"), "worker: trust ID tokens of this issuer URL, e.g. https://token.actions.githubusercontent.com; repeatable (env BUILDLEDGER_OIDC_ISSUERS, comma-separated)")
	fs.StringVar(&s.Audience, "oidc-audience", envString("BUILDLEDGER_OIDC_AUDIENCE", defaultOIDCAudience), "audience of ID tokens: the worker requires it, the CLI asks GitHub Actions for it (env BUILDLEDGER_OIDC_AUDIENCE)")
	fs.StringSliceVar(&s.Algorithms, "oidc-alg", envList("BUILDLEDGER_OIDC_ALGS"), "worker: accepted ID token signing algorithms (default RS256,ES256; none is never accepted) (env BUILDLEDGER_OIDC_ALGS)")
	fs.DurationVar(&s.ClockSkew, "oidc-clock-skew", env.duration("BUILDLEDGER_OIDC_CLOCK_SKEW", oidcauth.DefaultClockSkew), "worker: allowed clock skew on an ID token's exp, nbf and iat (env BUILDLEDGER_OIDC_CLOCK_SKEW)")
}

// envList returns the comma-separated values of the environment variable name.
func envList(name string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// verifier returns the worker's ID token verifier. Without issuers it refuses every
// token ("no issuer is trusted"); commands without one are unaffected.
func (s identitySettings) verifier() (*oidcauth.Verifier, error) {
	skew := s.ClockSkew
	if skew == 0 {
		skew = -1 // the flag's 0 means none; the config's 0 means the default
	}
	v, err := oidcauth.New(oidcauth.Config{Issuers: s.Issuers, Audience: s.Audience, Algorithms: s.Algorithms, ClockSkew: skew})
	if err != nil {
		return nil, usageError("--oidc-issuer/--oidc-audience/--oidc-alg: %v", err)
	}
	return v, nil
}

// tokenSource returns where the CLI's ID tokens come from: --id-token (or
// BUILDLEDGER_ID_TOKEN), else GitHub
// Actions' token endpoint when the job may use it, else nowhere (nil).
func (s identitySettings) tokenSource() (client.IDTokenSource, error) {
	if tok := cmp.Or(s.IDToken, os.Getenv("BUILDLEDGER_ID_TOKEN")); tok != "" {
		return client.StaticIDToken(tok), nil
	}
	reqURL, reqToken := os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), os.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqToken == "" {
		return nil, nil
	}
	src, err := client.GitHubActionsIDToken(client.GitHubActionsConfig{RequestURL: reqURL, RequestToken: reqToken, Audience: s.Audience})
	if err != nil {
		return nil, fmt.Errorf("GitHub Actions ID token: %w", err)
	}
	return src, nil
}

// withIDTokens gives the command client c its ID token source.
func (b *backend) withIDTokens(c *client.Client, err error) (*client.Client, error) {
	if err != nil {
		return nil, err
	}
	src, err := b.s.Identity.tokenSource()
	if err != nil || src == nil {
		return c, err
	}
	return c.WithIDTokens(src), nil
}
