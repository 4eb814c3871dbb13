package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"buildledger/internal/apiauth"
)

// apiAuthSettings say who may read the HTTP read API (and /metrics) of serve and run.
type apiAuthSettings struct {
	// Enabled requires a bearer token on /v1/ and turns the status board off.
	Enabled bool
	// TokensFile holds static API tokens, one "name:token" a line.
	TokensFile string
	// ReadPolicyFile says which callers read which kinds of route; empty lets every
	// authenticated caller read everything.
	ReadPolicyFile string
	// Metrics requires a token on /metrics too.
	Metrics bool
}

// bindFlags registers the read API's authentication flags with defaults taken from the
// environment.
func (s *apiAuthSettings) bindFlags(fs *pflag.FlagSet, env *envDefaults) {
	fs.BoolVar(&s.Enabled, "api-auth", env.enabled("BUILDLEDGER_API_AUTH"), "serve, run: require Authorization: Bearer (a static token of --api-tokens, or an ID token of an --oidc-issuer for --oidc-audience) on /v1/; turns the status board off (env BUILDLEDGER_API_AUTH)")
	fs.StringVar(&s.TokensFile, "api-tokens", envString("BUILDLEDGER_API_TOKENS", ""), "with --api-auth: file of static read API tokens, one name:token a line (env BUILDLEDGER_API_TOKENS)")
	fs.StringVar(&s.ReadPolicyFile, "api-read-policy", envString("BUILDLEDGER_API_READ_POLICY", ""), "with --api-auth: YAML or JSON read policy (rules of kinds and allow matchers); without it every authenticated caller reads everything (env BUILDLEDGER_API_READ_POLICY)")
	fs.BoolVar(&s.Metrics, "metrics-auth", env.enabled("BUILDLEDGER_METRICS_AUTH"), "with --api-auth: require a token on /metrics too, read policy kind metrics (env BUILDLEDGER_METRICS_AUTH)")
}

// parseEnabled reads a switch as the environment spells it: 1, true, yes or on (any case)
// is true; 0, false, no or off is false; anything else is an error, so that a mistyped
// BUILDLEDGER_API_AUTH never quietly serves the API open.
func parseEnabled(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, errors.New("not a switch")
}

// guard returns the read API's guard: nil with authentication off. It refuses the files
// and flags that would have no effect, and --api-auth with nobody able to authenticate.
func (s apiAuthSettings) guard(id identitySettings, log *zerolog.Logger) (*apiauth.Guard, error) {
	if !s.Enabled {
		if s.TokensFile != "" || s.ReadPolicyFile != "" || s.Metrics {
			return nil, usageError("--api-tokens, --api-read-policy and --metrics-auth take effect only with --api-auth (env BUILDLEDGER_API_AUTH=1): refusing to serve the API open")
		}
		return nil, nil
	}
	cfg := apiauth.Config{Metrics: s.Metrics, Logger: log}
	var err error
	if s.TokensFile != "" {
		if cfg.Tokens, err = apiauth.LoadTokens(s.TokensFile); err != nil {
			return nil, usageError("--api-tokens: %v", err)
		}
	}
	if s.ReadPolicyFile != "" {
		if cfg.Policy, err = apiauth.LoadPolicy(s.ReadPolicyFile); err != nil {
			return nil, usageError("--api-read-policy: %v", err)
		}
	}
	if len(id.Issuers) > 0 {
		v, err := id.verifier()
		if err != nil {
			return nil, err
		}
		cfg.IDTokens = v
	}
	g, err := apiauth.New(cfg)
	switch {
	case errors.Is(err, apiauth.ErrNobodyAuthenticates):
		return nil, usageError("--api-auth: nobody could read the API: give --api-tokens FILE (with at least one token) or --oidc-issuer URL")
	case err != nil:
		return nil, fmt.Errorf("--api-auth: %w", err)
	}
	return g, nil
}
