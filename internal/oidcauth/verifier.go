package oidcauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"buildledger/eventstore"
)

// MaxTokenBytes bounds a token the verifier parses at all.
const MaxTokenBytes = 16 << 10

// Verifier verifies ID tokens against the trusted issuers. It is safe for concurrent use;
// each issuer's discovery document is read once (again after a failure) and its key set
// cached.
type Verifier struct {
	cfg     Config
	mu      sync.Mutex
	issuers map[string]*issuer
}

// issuer is one trusted issuer, discovered on its first token.
type issuer struct {
	url      string
	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// New returns a Verifier for a validated configuration.
func New(cfg Config) (*Verifier, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, issuers: map[string]*issuer{}}
	for _, iss := range cfg.Issuers {
		v.issuers[iss] = &issuer{url: iss}
	}
	return v, nil
}

// Verify checks raw and returns the identity its verified claims name. A token that fails
// a check is a *CheckError naming it; an issuer that cannot be reached is an
// *UnavailableError (try again later). Checks, in order: well-formed, alg allowed,
// issuer trusted, key id known (the key set fetched again when it is not), signature,
// audience, exp, nbf and iat (with the clock-skew allowance).
func (v *Verifier) Verify(ctx context.Context, raw string) (eventstore.Identity, error) {
	iss, err := v.peek(raw)
	if err != nil {
		return eventstore.Identity{}, err
	}
	if len(v.issuers) == 0 {
		return eventstore.Identity{}, refuse(CheckIssuer, "no issuer is trusted (the worker has no --oidc-issuer)")
	}
	is, ok := v.issuers[iss]
	if !ok {
		return eventstore.Identity{}, refuse(CheckIssuer, "issuer %q is not trusted", truncate(iss, 200))
	}
	verifier, err := v.discover(ctx, is)
	if err != nil {
		return eventstore.Identity{}, err
	}
	out := &sigOutcome{}
	tok, err := verifier.Verify(context.WithValue(ctx, outcomeKey{}, out), raw)
	if err != nil {
		return eventstore.Identity{}, v.classify(raw, out, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return eventstore.Identity{}, refuse(CheckMalformed, "the claims are not a JSON object")
	}
	if err := v.checkTimes(claims); err != nil {
		return eventstore.Identity{}, err
	}
	return identity(tok.Issuer, tok.Subject, claims), nil
}

// header is the part of a JWS header read before verifying.
type header struct {
	Alg string `json:"alg"`
}

// peek checks, without trusting them, the algorithm of raw and returns its issuer: the issuer
// picks the key set to verify with. Malformed tokens and refused algorithms stop here.
func (v *Verifier) peek(raw string) (string, error) {
	if len(raw) > MaxTokenBytes {
		return "", refuse(CheckMalformed, "the token is %d bytes, at most %d are accepted", len(raw), MaxTokenBytes)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", refuse(CheckMalformed, "the token is not a compact JWS (three dot-separated parts)")
	}
	var h header
	if err := decodePart(parts[0], &h); err != nil {
		return "", refuse(CheckMalformed, "the token's header is not base64url JSON")
	}
	if strings.EqualFold(h.Alg, "none") || !slices.Contains(v.cfg.Algorithms, h.Alg) {
		return "", refuse(CheckAlgorithm, "alg %q is not accepted (accepted: %s)", truncate(h.Alg, 32), strings.Join(v.cfg.Algorithms, ", "))
	}
	var c struct {
		Iss any `json:"iss"`
	}
	if err := decodePart(parts[1], &c); err != nil {
		return "", refuse(CheckMalformed, "the token's claims are not base64url JSON")
	}
	iss, ok := c.Iss.(string)
	if !ok || iss == "" {
		return "", refuse(CheckMalformed, "the token has no issuer (iss)")
	}
	return iss, nil
}

func decodePart(part string, into any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// discover returns the library's verifier of is, reading its discovery document on first
// use; a failure is an *UnavailableError and is tried again on the next token.
func (v *Verifier) discover(ctx context.Context, is *issuer) (*oidc.IDTokenVerifier, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.verifier != nil {
		return is.verifier, nil
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, v.cfg.HTTPClient), is.url)
	if err != nil {
		return nil, &UnavailableError{Issuer: is.url, Err: err}
	}
	var doc struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := provider.Claims(&doc); err != nil || doc.JWKSURL == "" {
		return nil, &UnavailableError{Issuer: is.url, Err: errors.New("the discovery document has no jwks_uri")}
	}
	algs := make([]jose.SignatureAlgorithm, len(v.cfg.Algorithms))
	for i, a := range v.cfg.Algorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	keys := &keySet{url: doc.JWKSURL, client: v.cfg.HTTPClient, algs: algs, minRefresh: v.cfg.MinRefreshInterval}
	is.verifier = oidc.NewVerifier(is.url, keys, &oidc.Config{
		ClientID:             v.cfg.Audience,
		SupportedSigningAlgs: v.cfg.Algorithms,
		// exp, nbf and iat are checked by checkTimes, with the clock-skew allowance the
		// library does not offer for exp.
		SkipExpiryCheck: true,
	})
	return is.verifier, nil
}

// classify turns the library's refusal into the check that failed. The key set records
// its own finding (the library flattens it to text); a failure after a good signature is
// a claim check.
func (v *Verifier) classify(raw string, out *sigOutcome, err error) error {
	switch {
	case out.err != nil:
		return out.err
	case !out.verified:
		return refuse(CheckMalformed, "%s", strings.TrimPrefix(err.Error(), "oidc: "))
	}
	var c struct {
		Aud any `json:"aud"`
	}
	parts := strings.Split(raw, ".")
	if decodePart(parts[1], &c) == nil && !audienceIncludes(c.Aud, v.cfg.Audience) {
		return refuse(CheckAudience, "the token is for %s, not %q", audienceText(c.Aud), v.cfg.Audience)
	}
	return refuse(CheckClaims, "%s", strings.TrimPrefix(err.Error(), "oidc: "))
}

func audienceIncludes(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

func audienceText(aud any) string {
	b, err := json.Marshal(aud)
	if err != nil || aud == nil {
		return "no audience"
	}
	return truncate(string(b), 200)
}

// checkTimes checks exp, nbf and iat against the clock, allowing ClockSkew either way.
func (v *Verifier) checkTimes(claims map[string]any) error {
	now, skew := v.cfg.Clock(), v.cfg.ClockSkew
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return refuse(CheckExpired, "the token has no expiry (exp)")
	}
	if now.After(exp.Add(skew)) {
		return refuse(CheckExpired, "the token expired at %s (now %s, allowing %s of clock skew)", stamp(exp), stamp(now), skew)
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && nbf.After(now.Add(skew)) {
		return refuse(CheckNotYetValid, "the token is not valid before %s (now %s, allowing %s of clock skew)", stamp(nbf), stamp(now), skew)
	}
	if iat, ok := numericDate(claims["iat"]); ok && iat.After(now.Add(skew)) {
		return refuse(CheckNotYetValid, "the token was issued in the future, at %s (now %s, allowing %s of clock skew)", stamp(iat), stamp(now), skew)
	}
	return nil
}

func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
