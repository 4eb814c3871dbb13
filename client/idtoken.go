package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// IDTokenSource returns the OIDC ID token to send with the next command (see
// envelope.KeyAuth); the worker verifies it and records who sent the command.
type IDTokenSource func(ctx context.Context) (string, error)

// WithIDToken sends the command with token as its ID token, whatever the client's source.
func WithIDToken(token string) SendOption { return func(o *sendOptions) { o.idToken = token } }

// WithIDTokens returns a client that sends every command with a token from src (nil for
// none). The receiver is not changed.
func (c *Client) WithIDTokens(src IDTokenSource) *Client {
	cp := *c
	cp.idTokens = src
	return &cp
}

// StaticIDToken is a source that always returns token.
func StaticIDToken(token string) IDTokenSource {
	return func(context.Context) (string, error) { return token, nil }
}

// refreshBefore is how long before its expiry a cached token is fetched again.
const refreshBefore = time.Minute

// maxTokenResponseBytes bounds the token endpoint's answer.
const maxTokenResponseBytes = 64 << 10

// GitHubActionsConfig configures GitHubActionsIDToken.
type GitHubActionsConfig struct {
	// RequestURL is the job's ACTIONS_ID_TOKEN_REQUEST_URL; required.
	RequestURL string
	// RequestToken is the job's ACTIONS_ID_TOKEN_REQUEST_TOKEN; required.
	RequestToken string
	// Audience is the "aud" to ask for: the worker's --oidc-audience; required.
	Audience string
	// HTTPClient asks for tokens; default a client with a 10 s timeout.
	HTTPClient *http.Client
	// Clock tells when a cached token is due for renewal; default time.Now.
	Clock func() time.Time
}

// GitHubActionsIDToken is a source of ID tokens inside a GitHub Actions job (which needs
// `permissions: id-token: write`): it asks the job's token endpoint for a token with the
// audience and keeps it until a minute before it expires.
func GitHubActionsIDToken(cfg GitHubActionsConfig) (IDTokenSource, error) {
	var errs []error
	if cfg.RequestURL == "" {
		errs = append(errs, errors.New("RequestURL (ACTIONS_ID_TOKEN_REQUEST_URL) is required"))
	}
	if cfg.RequestToken == "" {
		errs = append(errs, errors.New("RequestToken (ACTIONS_ID_TOKEN_REQUEST_TOKEN) is required"))
	}
	if cfg.Audience == "" {
		errs = append(errs, errors.New("Audience is required"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("client: GitHub Actions ID token: %w", errors.Join(errs...))
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	var (
		mu      sync.Mutex
		cached  string
		expires time.Time
	)
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if cached != "" && cfg.Clock().Before(expires.Add(-refreshBefore)) {
			return cached, nil
		}
		tok, err := fetchGitHubToken(ctx, cfg)
		if err != nil {
			return "", err
		}
		cached, expires = tok, tokenExpiry(tok)
		return tok, nil
	}, nil
}

// fetchGitHubToken asks the job's token endpoint for a token. Errors never quote the
// request token or the answer.
func fetchGitHubToken(ctx context.Context, cfg GitHubActionsConfig) (string, error) {
	u, err := url.Parse(cfg.RequestURL)
	if err != nil {
		return "", errors.New("client: ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
	}
	q := u.Query()
	q.Set("audience", cfg.Audience)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("client: GitHub Actions ID token request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+cfg.RequestToken)
	req.Header.Set("Accept", "application/json")
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("client: GitHub Actions ID token request to %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponseBytes))
	if err != nil {
		return "", fmt.Errorf("client: GitHub Actions ID token: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("client: GitHub Actions ID token: %s (does the job have `permissions: id-token: write`?)", resp.Status)
	}
	var answer struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Value == "" {
		return "", errors.New("client: GitHub Actions ID token: the answer has no token (value)")
	}
	return answer.Value, nil
}

// tokenExpiry reads, without verifying, a token's exp; zero when it has none.
func tokenExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var c struct {
		Exp float64 `json:"exp"`
	}
	if json.Unmarshal(b, &c) != nil || c.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(int64(c.Exp), 0)
}
