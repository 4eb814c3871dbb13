// Package board is buildledger's status board: a small read-only web page at / that shows
// the deploy locks per environment (holder, lease, fencing token, queue, freezes), the
// running and recently skipped jobs, the latest builds of each repository as a browser ×
// status matrix, and the package statuses with a progress bar per version.
//
// The page is rendered on the server with html/template, with its stylesheet and script
// embedded in the binary (no build step, no CDN) and a content security policy of 'self'.
// It works without JavaScript (a refresh link, and a slow meta refresh in <noscript>); with
// it, a small script fetches /board/fragment every few seconds and swaps the sections in,
// until an event feed exists to push changes instead.
package board

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"buildledger/internal/settings"
	"buildledger/projections"
)

// Routes of the board; every other path is 404.
const (
	// PagePath is the whole board.
	PagePath = "/"
	// FragmentPath is the board's sections alone, which the page's script polls.
	FragmentPath = "/board/fragment"
	// AssetsPath prefixes the embedded stylesheet and script.
	AssetsPath = "/board/assets/"
)

// Reads is what the board reads from the read models: bounded lists of every env, repo,
// package and job (projections.Queries has them).
type Reads interface {
	LockEnvs(ctx context.Context) (projections.Listing[string], error)
	Locks(ctx context.Context, env string) ([]projections.Lock, error)
	LatestBuilds(ctx context.Context, perRepo int) (projections.Listing[projections.RepoBuilds], error)
	PackageStatuses(ctx context.Context) (projections.Listing[projections.Status], error)
	RecentJobs(ctx context.Context, ttl time.Duration, now time.Time) (projections.Listing[projections.Job], error)
}

// LockLog is what the board reads from the lock streams: the holder and queue of an env,
// and its freeze schedules (projections.LockLog has them).
type LockLog interface {
	Queue(ctx context.Context, env string, now time.Time) (projections.LockQueue, error)
	Freezes(ctx context.Context, env string, now time.Time) ([]projections.FreezeView, error)
}

// Config configures the board.
type Config struct {
	// Reads answers the list queries; required.
	Reads Reads
	// LockLog answers the queue and freeze questions; required.
	LockLog LockLog
	// Now is the board's clock; default time.Now.
	Now func() time.Time
	// Location is the time zone the page shows times in; default time.Local.
	Location *time.Location
	// Poll is how often the page's script fetches the sections again; default 3 s.
	Poll time.Duration
	// JobsWindow is how far back the jobs section looks; default 24 h.
	JobsWindow time.Duration
	// BuildsPerRepo is how many of each repository's latest builds the matrix shows;
	// default 3.
	BuildsPerRepo int
	// Logger receives the errors of sections that could not be read; nil is silent.
	Logger *zerolog.Logger
}

// Defaults of Config.
const (
	DefaultPoll          = 3 * time.Second
	DefaultJobsWindow    = 24 * time.Hour
	DefaultBuildsPerRepo = 3
	// envReaders is how many environments' lock streams are read at a time.
	envReaders = 8
)

func (c *Config) setDefaults() {
	settings.DefaultFunc(&c.Now, time.Now)
	settings.Default(&c.Location, time.Local)
	settings.DefaultUnlessPositive(&c.Poll, DefaultPoll)
	settings.DefaultUnlessPositive(&c.JobsWindow, DefaultJobsWindow)
	settings.DefaultUnlessPositive(&c.BuildsPerRepo, DefaultBuildsPerRepo)
	if c.Logger == nil {
		nop := zerolog.Nop()
		c.Logger = &nop
	}
}

// contentSecurityPolicy allows the page its own stylesheet, script and fetches, nothing
// else: no inline script or style, no other origin, no framing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// New returns the board's handler: GET / (exactly), /board/fragment and the assets under
// /board/assets/; every other path is 404, so that it can be mounted at "/".
func New(cfg Config) http.Handler {
	cfg.setDefaults()
	b := &server{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", b.page)
	mux.HandleFunc("GET "+FragmentPath, b.fragment)
	mux.Handle("GET "+AssetsPath, assetHandler())
	return withSecurityHeaders(mux)
}

type server struct{ cfg Config }

func (b *server) page(w http.ResponseWriter, r *http.Request) {
	b.render(w, r, "page")
}

func (b *server) fragment(w http.ResponseWriter, r *http.Request) {
	b.render(w, r, "sections")
}

// render collects the board and writes template name; it renders into a buffer first, so
// that a template failure is a clean 500 rather than half a page.
func (b *server) render(w http.ResponseWriter, r *http.Request, name string) {
	p := collect(r.Context(), b.cfg)
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, p); err != nil {
		b.cfg.Logger.Error().Err(err).Str("template", name).Msg("board: render")
		http.Error(w, "board: cannot render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// withSecurityHeaders sets the content security policy and its companions on every answer.
func withSecurityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
