// Package apiauth authenticates and authorizes the readers of buildledger's HTTP read API:
// a bearer token in Authorization, either a static API token (compared in constant time)
// or an OIDC ID token (verified by internal/oidcauth), then a read policy that says which
// callers read which kinds of route. A request without a usable token is 401, one outside
// the policy 403, both JSON; an issuer out of reach is 503.
//
// The status board cannot send a bearer token (it is a page in a browser), so while
// authentication is on it is off: its paths answer 404 with a JSON body saying why.
//
// Tokens are credentials: nothing here logs, stores or quotes one.
package apiauth

import (
	"errors"
	"net/http"
	"strings"

	"buildledger/internal/oidcauth"
)

// Guard is the read API's authentication and read policy. A nil *Guard is authentication
// off: each of its methods returns the handler it is given, unchanged.
type Guard struct {
	cfg Config
}

// New returns a Guard for a valid configuration.
func New(cfg Config) (*Guard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Guard{cfg: cfg}, nil
}

// API protects the read API: every request needs a token, and the read policy decides on
// the kind of its path (KindOf); a path that is no route is passed on to an authenticated
// caller, whose answer is then the API's 404.
func (g *Guard) API(next http.Handler) http.Handler {
	if g == nil {
		return next
	}
	return g.protect(KindOf, next)
}

// Metrics protects /metrics as KindMetrics when Config.Metrics says so.
func (g *Guard) Metrics(next http.Handler) http.Handler {
	if g == nil || !g.cfg.Metrics {
		return next
	}
	return g.protect(func(string) Kind { return KindMetrics }, next)
}

// Board turns the status board off: a browser cannot send the bearer token its reads would
// need, and the board must not show what the API refuses. Its paths (/ and /board/...)
// answer 404 with a JSON body saying why; every other path stays a plain 404.
func (g *Guard) Board(next http.Handler) http.Handler {
	if g == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/board/") {
			writeError(w, r, http.StatusNotFound, authError{Error: BoardOffMessage})
			return
		}
		http.NotFound(w, r)
	})
}

// BoardOffMessage is the error of every board path while authentication is on.
const BoardOffMessage = "the status board is off: the server runs with --api-auth, and a browser cannot send the bearer token it would need; read the same state from /v1/ with a token"

func (g *Guard) protect(kindOf func(path string) Kind, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := kindOf(r.URL.Path)
		caller, status, reason := g.authenticate(r)
		switch {
		case status != 0:
			g.refuse(w, r, status, kind, nil, reason)
			return
		case kind != "" && g.cfg.Policy != nil && !g.cfg.Policy.Allows(kind, caller):
			g.refuse(w, r, http.StatusForbidden, kind, &caller, "")
			return
		}
		next.ServeHTTP(w, r.WithContext(withCaller(r.Context(), caller)))
	})
}

// authenticate returns the caller of r, or the status (401, 503) and reason of a refusal.
func (g *Guard) authenticate(r *http.Request) (Caller, int, string) {
	token, reason := bearer(r.Header.Values("Authorization"))
	if reason != "" {
		return Caller{}, http.StatusUnauthorized, reason
	}
	if name, ok := g.cfg.Tokens.Match(token); ok {
		return Caller{Token: name}, 0, ""
	}
	if g.cfg.IDTokens == nil || strings.Count(token, ".") != 2 {
		return Caller{}, http.StatusUnauthorized, "the bearer token is not valid"
	}
	id, err := g.cfg.IDTokens.Verify(r.Context(), token)
	var (
		check *oidcauth.CheckError
		down  *oidcauth.UnavailableError
	)
	switch {
	case err == nil:
		return Caller{Identity: id}, 0, ""
	case errors.As(err, &check):
		return Caller{}, http.StatusUnauthorized, "the ID token is refused: " + check.Check + ": " + check.Reason
	case errors.As(err, &down):
		return Caller{}, http.StatusServiceUnavailable, "the ID token's issuer cannot be reached; try again later"
	default:
		return Caller{}, http.StatusUnauthorized, "the bearer token is not valid"
	}
}

// bearer returns the token of the Authorization header values, or why there is none.
func bearer(values []string) (string, string) {
	switch len(values) {
	case 0:
		return "", "authentication required: send Authorization: Bearer <token>"
	case 1:
	default:
		return "", "more than one Authorization header"
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", "the Authorization header is not Bearer <token>"
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", "the Authorization header is not Bearer <token>"
	}
	return token, ""
}

// refuse answers a refused request and logs it, naming the caller when known.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, status int, kind Kind, caller *Caller, reason string) {
	body := authError{Error: reason, Kind: string(kind)}
	if caller != nil {
		body.Caller = caller.String()
		body.Error = caller.String() + " may not read " + string(kind) + " (read policy)"
	}
	if status == http.StatusUnauthorized {
		challenge := `Bearer realm="buildledger"`
		if r.Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	id := writeError(w, r, status, body)
	if g.cfg.Logger != nil {
		ev := g.cfg.Logger.Info()
		if status == http.StatusServiceUnavailable {
			ev = g.cfg.Logger.Warn()
		}
		ev = ev.Int("status", status).Str("request_id", id).Str("method", r.Method).Str("path", r.URL.Path).Str("kind", string(kind))
		if caller != nil {
			ev = ev.Str("caller", caller.String())
		}
		ev.Msg("read refused: " + body.Error)
	}
}
