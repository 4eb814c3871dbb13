// Package oidcauth verifies the OIDC ID tokens CI jobs attach to commands (GitHub Actions,
// GitLab CI, Buildkite, CircleCI issue them) and returns the claims worth recording as an
// eventstore.Identity. Verification is github.com/coreos/go-oidc's: discovery, signature,
// issuer, audience and the algorithm allow-list; this package adds what the worker needs
// around it: several trusted issuers, a JWKS cache that is fetched again when a token
// names a key id it does not hold (so that key rotation needs no restart), a clock-skew
// allowance for exp, nbf and iat, and errors that name the check that failed, telling a
// refused token (*CheckError) from an issuer that cannot be reached (*UnavailableError).
//
// Tokens are credentials: nothing here logs, stores or quotes one.
package oidcauth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"buildledger/internal/settings"
)

// Defaults of Config.
const (
	// DefaultClockSkew is how far the issuer's clock and ours may disagree.
	DefaultClockSkew = time.Minute
	// DefaultMinRefreshInterval is the shortest time between two fetches of one issuer's
	// JWKS: a token naming an unknown key id waits for the next allowed fetch, so that a
	// stream of such tokens cannot hammer the issuer.
	DefaultMinRefreshInterval = time.Second
	// DefaultHTTPTimeout bounds one request to an issuer.
	DefaultHTTPTimeout = 10 * time.Second
)

// DefaultAlgorithms are the signing algorithms accepted unless configured otherwise.
var DefaultAlgorithms = []string{"RS256", "ES256"}

// supportedAlgorithms are the algorithms go-jose verifies; "none" is never one of them.
var supportedAlgorithms = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}

// Config configures a Verifier.
type Config struct {
	// Issuers are the issuer URLs whose tokens are trusted, e.g.
	// "https://token.actions.githubusercontent.com". With none, every token is refused
	// ("no issuer is trusted"). Each must be https, or http on a loopback address (tests).
	Issuers []string
	// Audience is the "aud" every token must include; required when Issuers is not empty.
	Audience string
	// Algorithms are the accepted "alg" values; default DefaultAlgorithms. "none" is
	// refused.
	Algorithms []string
	// ClockSkew is allowed on exp, nbf and iat; default DefaultClockSkew, negative for none.
	ClockSkew time.Duration
	// MinRefreshInterval is the shortest time between two JWKS fetches of an issuer;
	// default DefaultMinRefreshInterval, negative for no limit.
	MinRefreshInterval time.Duration
	// HTTPClient fetches discovery documents and key sets; default a client with
	// DefaultHTTPTimeout.
	HTTPClient *http.Client
	// Clock is the time tokens are checked at; default time.Now.
	Clock func() time.Time
}

func (c *Config) setDefaults() {
	if len(c.Algorithms) == 0 {
		c.Algorithms = slices.Clone(DefaultAlgorithms)
	}
	settings.Default(&c.ClockSkew, DefaultClockSkew)
	c.ClockSkew = max(c.ClockSkew, 0)
	settings.Default(&c.MinRefreshInterval, DefaultMinRefreshInterval)
	c.MinRefreshInterval = max(c.MinRefreshInterval, 0)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	settings.DefaultFunc(&c.Clock, time.Now)
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	p := settings.Wrapped("oidcauth: config")
	for _, iss := range c.Issuers {
		p.Add(checkIssuerURL(iss))
	}
	p.If(len(c.Issuers) > 0 && c.Audience == "", "Audience is required when issuers are trusted")
	for _, alg := range c.Algorithms {
		switch {
		case strings.EqualFold(alg, "none"):
			p.Add(errors.New(`algorithm "none" is never accepted: a token must be signed`))
		case !slices.Contains(supportedAlgorithms, alg):
			p.Add(fmt.Errorf("algorithm %q is not one of %s", alg, strings.Join(supportedAlgorithms, ", ")))
		}
	}
	return p.Err()
}

// checkIssuerURL refuses an issuer URL that is not https, or http on a loopback address.
func checkIssuerURL(iss string) error {
	u, err := url.Parse(iss)
	if err != nil || u.Host == "" {
		return fmt.Errorf("issuer %q is not an absolute URL", iss)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("issuer %q must be an https URL (http only on a loopback address)", iss)
}
