// Package httpapi is buildledger's HTTP read API: JSON answers under /v1/ from the read models,
// the command outcomes and the event store. Unknown things are 404 and bad parameters 400,
// both with a JSON body {"error": "...", "parameter": "..."}; a failure on the server's side is
// 500 with {"error": "...", "requestId": "..."}, logged with the same request id.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"buildledger/eventstore"
	"buildledger/projections"
)

// RoutesHelp lists the routes, for --help.
const RoutesHelp = `  GET /v1/repo?user=U&repo=R                       repository (dynostore getRepo)
  GET /v1/build?user=U&repo=R&build=N              build (dynostore getBuild)
  GET /v1/status?pkg=P&env=E&version=V             package status
  GET /v1/status/head?pkg=P&env=E                  status of the newest version started
  GET /v1/status/events?pkg=P&env=E&version=V[&after=SEQ][&limit=N]   status events, time ordered
  GET /v1/locks?env=E                              locks of an env, newest first
  GET /v1/locks?env=E&at=T                         who held the env's lock at T (RFC 3339), from the events
  GET /v1/locks/history?env=E[&since=T]            grants, renewals, releases, expiries, queue and freeze changes
  GET /v1/locks/queue?env=E                        the holder and the waiters in order
  GET /v1/freezes?env=E                            freeze schedules with their open or next window
  GET /v1/jobs?jobname=J&version=V                 runs of a job at a git version
  GET /v1/jobs/active?jobname=J[&ttl=24h]          runs started within ttl, not ended
  GET /v1/jobs/skipped?jobname=J[&ttl=24h]         runs started within ttl, ended skipped
  GET /v1/commands/{id}                            outcome of a command
  GET /v1/events[?after=KEY][&limit=N]             events of every stream in time order
  GET /v1/events?stream=S[&from=VERSION][&limit=N] events of one stream in version order
  GET /v1/feed[?kinds=K,K][&stream=S][&after=ID]   server-sent events of every stream, resumable with Last-Event-ID
  GET /v1/openapi.json                             this API's OpenAPI 3 document`

// Reads is what the API reads from the read models.
type Reads interface {
	Repo(ctx context.Context, user, repo string) (projections.Repo, error)
	Build(ctx context.Context, user, repo string, buildID int) (projections.Build, error)
	Status(ctx context.Context, pkg, env, version string) (projections.Status, error)
	StatusHead(ctx context.Context, pkg, env string) (projections.StatusHead, error)
	StatusEvents(ctx context.Context, pkg, env, version string, after int64, limit int) (projections.StatusEventPage, error)
	Locks(ctx context.Context, env string) ([]projections.Lock, error)
	Jobs(ctx context.Context, jobname, version string) ([]projections.Job, error)
	ActiveJobs(ctx context.Context, jobname string, ttl time.Duration, now time.Time) ([]projections.Job, error)
	SkippedJobs(ctx context.Context, jobname string, ttl time.Duration, now time.Time) ([]projections.Job, error)
}

// Events is what the API reads from the event store.
type Events interface {
	Outcome(ctx context.Context, commandID string) (eventstore.Outcome, error)
	ReadAll(ctx context.Context, after string, limit int) (eventstore.Page, error)
	LoadRange(ctx context.Context, stream string, fromVersion, toVersion int64) ([]eventstore.Record, error)
	// Load reads a whole stream from fromVersion: the default LockLog reads lock streams.
	Load(ctx context.Context, stream string, fromVersion int64) ([]eventstore.Record, error)
}

// Config configures the API.
type Config struct {
	// Reads answers read-model queries; required.
	Reads Reads
	// Events answers outcome and event queries; required.
	Events Events
	// LockLog answers the lock routes that read the events (at, history, queue, freezes);
	// default a projections.LockLog on Events.
	LockLog LockLog
	// Now is the clock of the ttl windows; default time.Now.
	Now func() time.Time
	// Logger receives every 500 with its request id; nil is silent.
	Logger *zerolog.Logger
	// Feed configures the server-sent events of GET /v1/feed.
	Feed FeedConfig
}

// Limits of the paginated routes.
const (
	// DefaultEventsLimit is the page size of /v1/events without limit.
	DefaultEventsLimit = 100
	// MaxEventsLimit is the largest page of /v1/events.
	MaxEventsLimit = 1000
	// DefaultTTL is the window of the job routes without ttl.
	DefaultTTL = 24 * time.Hour
)

// New returns the API's handler; it serves the routes in RoutesHelp.
func New(cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LockLog == nil {
		cfg.LockLog = projections.NewLockLog(cfg.Events)
	}
	cfg.Feed.setDefaults(cfg.Events, cfg.Now)
	a := &server{cfg: cfg, feedSlots: make(chan struct{}, cfg.Feed.MaxClients)}
	mux := http.NewServeMux()
	a.register(mux.HandleFunc)
	mux.HandleFunc("GET /v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("no route %s %s; see GET /v1/ routes in `buildledger serve --help`", r.Method, r.URL.Path))
	})
	// Every route is GET: any other method is 405, in JSON like every other error (the
	// mux alone would answer it in plain text).
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "", fmt.Sprintf("method %s is not allowed: the read API answers GET only", r.Method))
	})
	return withRequestID(mux)
}

type server struct {
	cfg Config
	// feedSlots holds a token for each feed stream served.
	feedSlots chan struct{}
}

// register hands every route of the API to handle: New's mux, or Routes' list.
func (a *server) register(handle func(pattern string, h func(http.ResponseWriter, *http.Request))) {
	handle("GET /v1/repo", a.serve(a.repo))
	handle("GET /v1/build", a.serve(a.build))
	handle("GET /v1/status", a.serve(a.status))
	handle("GET /v1/status/head", a.serve(a.statusHead))
	handle("GET /v1/status/events", a.serve(a.statusEvents))
	handle("GET /v1/locks", a.serve(a.locks))
	handle("GET /v1/locks/history", a.serve(a.lockHistory))
	handle("GET /v1/locks/queue", a.serve(a.lockQueue))
	handle("GET /v1/freezes", a.serve(a.freezes))
	handle("GET /v1/jobs", a.serve(a.jobs))
	handle("GET /v1/jobs/active", a.serve(a.jobsWindow(Reads.ActiveJobs)))
	handle("GET /v1/jobs/skipped", a.serve(a.jobsWindow(Reads.SkippedJobs)))
	handle("GET /v1/commands/{id}", a.serve(a.command))
	handle("GET /v1/events", a.serve(a.events))
	handle("GET /v1/feed", a.feed)
	handle("GET "+OpenAPIPath, a.openAPI)
}

// Routes returns the pattern of every route New serves, e.g. "GET /v1/commands/{id}", in
// registration order, so that the OpenAPI document can be checked against the mux.
func Routes() []string {
	var patterns []string
	(&server{}).register(func(pattern string, _ func(http.ResponseWriter, *http.Request)) {
		patterns = append(patterns, pattern)
	})
	return patterns
}

// apiError is the JSON body of every error answer.
type apiError struct {
	Error     string `json:"error"`
	Parameter string `json:"parameter,omitempty"`
	// RequestID is set on a 500: the id of its log line.
	RequestID string `json:"requestId,omitempty"`
}

// paramError is a bad or missing query parameter.
type paramError struct {
	name, reason string
}

func (e *paramError) Error() string { return fmt.Sprintf("parameter %s: %s", e.name, e.reason) }

// WriteJSON answers v with status as every JSON answer of the API is written: not to be
// cached, without HTML escaping. Middleware in front of the API answers the same way.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, param, msg string) {
	WriteJSON(w, status, apiError{Error: msg, Parameter: param})
}

// read is a route that reads its parameters with p, and then, when they are all good, a
// store: its answer, or the error that answer maps to a status.
type read func(r *http.Request, p *params) (any, error)

// serve answers a GET with what read returns.
func (a *server) serve(route read) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := route(r, &params{r: r})
		a.answer(w, r, v, err)
	}
}

// answer writes v, or maps err to 400, 404 or 500.
func (a *server) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	var pe *paramError
	switch {
	case err == nil:
		WriteJSON(w, http.StatusOK, v)
	case errors.As(err, &pe):
		writeError(w, http.StatusBadRequest, pe.name, pe.Error())
	case errors.Is(err, projections.ErrInvalidQuery), errors.Is(err, eventstore.ErrInvalidInput):
		writeError(w, http.StatusBadRequest, "", err.Error())
	case errors.Is(err, projections.ErrNotFound), errors.Is(err, eventstore.ErrNotFound):
		writeError(w, http.StatusNotFound, "", err.Error())
	case errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "", "request cancelled")
	default:
		id := requestID(r.Context())
		if a.cfg.Logger != nil {
			a.cfg.Logger.Error().Err(err).Str("request_id", id).Str("method", r.Method).
				Str("path", r.URL.Path).Str("query", r.URL.RawQuery).Msg("read API request failed")
		}
		WriteJSON(w, http.StatusInternalServerError, apiError{Error: "internal error; see the server log for request " + id, RequestID: id})
	}
}

// params reads required and optional query parameters, remembering the first problem.
type params struct {
	r   *http.Request
	err error
}

func (p *params) fail(name, reason string) {
	if p.err == nil {
		p.err = &paramError{name: name, reason: reason}
	}
}

func (p *params) str(name string) string {
	v := p.r.URL.Query().Get(name)
	if v == "" {
		p.fail(name, "is required")
	}
	return v
}

func (p *params) integer(name string, required bool, def, lo, hi int64) int64 {
	raw := p.r.URL.Query().Get(name)
	if raw == "" {
		if required {
			p.fail(name, "is required")
		}
		return def
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		p.fail(name, fmt.Sprintf("%q is not a whole number", raw))
		return def
	}
	if n < lo || n > hi {
		p.fail(name, fmt.Sprintf("%d is outside %d..%d", n, lo, hi))
		return def
	}
	return n
}

func (p *params) duration(name string, def time.Duration) time.Duration {
	raw := p.r.URL.Query().Get(name)
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		p.fail(name, fmt.Sprintf("%q is not a positive duration such as 30m or 24h", raw))
		return def
	}
	return d
}

func (a *server) repo(r *http.Request, p *params) (any, error) {
	user, repo := p.name("user"), p.name("repo")
	if p.err != nil {
		return nil, p.err
	}
	v, err := a.cfg.Reads.Repo(r.Context(), user, repo)
	return v, missing(err, "repository %s/%s", user, repo)
}

func (a *server) build(r *http.Request, p *params) (any, error) {
	user, repo := p.name("user"), p.name("repo")
	id := p.integer("build", true, 0, 1, 1<<31-1)
	if p.err != nil {
		return nil, p.err
	}
	v, err := a.cfg.Reads.Build(r.Context(), user, repo, int(id))
	return v, missing(err, "build %d of %s/%s", id, user, repo)
}

func (a *server) status(r *http.Request, p *params) (any, error) {
	pkg, env, version := p.name("pkg"), p.name("env"), p.name("version")
	if p.err != nil {
		return nil, p.err
	}
	v, err := a.cfg.Reads.Status(r.Context(), pkg, env, version)
	return v, missing(err, "status of %s %s in %s", pkg, version, env)
}

func (a *server) statusHead(r *http.Request, p *params) (any, error) {
	pkg, env := p.name("pkg"), p.name("env")
	if p.err != nil {
		return nil, p.err
	}
	v, err := a.cfg.Reads.StatusHead(r.Context(), pkg, env)
	return v, missing(err, "status head of %s in %s", pkg, env)
}

func (a *server) statusEvents(r *http.Request, p *params) (any, error) {
	pkg, env, version := p.name("pkg"), p.name("env"), p.name("version")
	after := p.integer("after", false, 0, 0, 1<<62)
	limit := p.integer("limit", false, int64(projections.DefaultStatusEventsLimit), 1, int64(projections.MaxStatusEventsLimit))
	if p.err != nil {
		return nil, p.err
	}
	return a.cfg.Reads.StatusEvents(r.Context(), pkg, env, version, after, int(limit))
}

func (a *server) locks(r *http.Request, p *params) (any, error) {
	env := p.name("env")
	at, asOf := p.instant("at")
	if p.err != nil {
		return nil, p.err
	}
	if asOf {
		// Who held the lock at that time, from the events.
		return a.cfg.LockLog.At(r.Context(), env, at)
	}
	return a.cfg.Reads.Locks(r.Context(), env)
}

func (a *server) jobs(r *http.Request, p *params) (any, error) {
	jobname, version := p.name("jobname"), p.name("version")
	if p.err != nil {
		return nil, p.err
	}
	v, err := a.cfg.Reads.Jobs(r.Context(), jobname, version)
	if err == nil && len(v) == 0 {
		err = fmt.Errorf("%w: no run of job %s at version %s", projections.ErrNotFound, jobname, version)
	}
	return v, err
}

type jobsQuery func(Reads, context.Context, string, time.Duration, time.Time) ([]projections.Job, error)

func (a *server) jobsWindow(q jobsQuery) read {
	return func(r *http.Request, p *params) (any, error) {
		jobname := p.name("jobname")
		ttl := p.duration("ttl", DefaultTTL)
		if p.err != nil {
			return nil, p.err
		}
		return q(a.cfg.Reads, r.Context(), jobname, ttl, a.cfg.Now())
	}
}

func (a *server) command(r *http.Request, p *params) (any, error) {
	id := p.commandID("id", r.PathValue("id"))
	if p.err != nil {
		return nil, p.err
	}
	o, err := a.cfg.Events.Outcome(r.Context(), id)
	return o, missing(err, "command %s", id)
}

// eventsPage is the answer of /v1/events.
type eventsPage struct {
	// Events are in timestamp-key order, or in version order for one stream.
	Events []eventstore.Record `json:"events"`
	// Next is the after (time order) or from (one stream) of the following page; empty at the end.
	Next string `json:"next,omitempty"`
}

func (a *server) events(r *http.Request, p *params) (any, error) {
	limit := p.integer("limit", false, DefaultEventsLimit, 1, MaxEventsLimit)
	stream := p.stream("stream")
	if stream == "" {
		if r.URL.Query().Has("from") {
			p.fail("from", "goes with stream; use after for the time-ordered feed")
		}
		after := p.eventKey("after")
		if p.err != nil {
			return nil, p.err
		}
		page, err := a.cfg.Events.ReadAll(r.Context(), after, int(limit))
		return eventsPage{Events: orEmpty(page.Records), Next: page.Next}, err
	}
	from := p.integer("from", false, 1, 1, 1<<62)
	if r.URL.Query().Has("after") {
		p.fail("after", "goes with the time-ordered feed; use from with stream")
	}
	if p.err != nil {
		return nil, p.err
	}
	// One more than asked tells whether a next page exists.
	recs, err := a.cfg.Events.LoadRange(r.Context(), stream, from, from+limit)
	page := eventsPage{Events: orEmpty(recs)}
	if int64(len(recs)) > limit {
		page.Events = recs[:limit]
		page.Next = strconv.FormatInt(from+limit, 10)
	}
	return page, err
}

// missing names what was not found, so that a 404 says "repository api/foo not found"
// rather than only "not found".
func missing(err error, format string, args ...any) error {
	if errors.Is(err, projections.ErrNotFound) || errors.Is(err, eventstore.ErrNotFound) {
		return &notFoundError{what: fmt.Sprintf(format, args...), err: err}
	}
	return err
}

type notFoundError struct {
	what string
	err  error
}

func (e *notFoundError) Error() string { return e.what + " not found" }
func (e *notFoundError) Unwrap() error { return e.err }

func orEmpty(recs []eventstore.Record) []eventstore.Record {
	if recs == nil {
		return []eventstore.Record{}
	}
	return recs
}
