package board

import (
	"context"
	"math"
	"slices"
	"time"

	"buildledger/internal/parallel"
)

// page is what the templates show: one snapshot of the board.
type page struct {
	// Now is when the snapshot was taken.
	Now stamp
	// PollMs is the script's polling interval in milliseconds.
	PollMs int64
	// JobsWindow is how far back the jobs section looks, e.g. "24h".
	JobsWindow string
	Locks      section[envView]
	Jobs       section[jobView]
	Builds     section[repoView]
	Packages   section[packageView]
}

// section is one part of the board: its rows, whether there were more, and the error that
// kept it from being read (the other sections still show).
type section[T any] struct {
	Rows      []T
	Truncated bool
	Err       string
}

// envView is one environment's deploy lock.
type envView struct {
	Env string
	// State is "free", "locked", "uberlocked" or "frozen" (a freeze window is open and
	// nobody holds the lock).
	State    string
	Held     bool
	Holder   string
	Meta     string
	Since    stamp
	Token    int64
	Uberlock bool
	Claim    bool
	// Expires is when the lease runs out; zero without a lease.
	Expires stamp
	Waiting []waiterView
	Freezes []freezeView
	// Err is why the env's lock stream could not be read.
	Err string
}

// waiterView is one place in an env's queue.
type waiterView struct {
	Position int
	User     string
	Since    stamp
}

// freezeView is one freeze schedule: its open window or its next one.
type freezeView struct {
	Reason   string
	Cron     string
	TZ       string
	Duration string
	User     string
	Open     bool
	// Until is the end of the open window; Next the start of the next one (zero if none).
	Until stamp
	Next  stamp
}

// jobView is one running or skipped run.
type jobView struct {
	Jobname string
	Version string
	User    string
	Started stamp
	Ended   stamp
	Skipped bool
}

// repoView is a repository's latest builds as a matrix: a row per build, a column per
// browser.
type repoView struct {
	Name       string
	InProgress string
	Browsers   []string
	Builds     []buildView
}

// buildView is one row of the matrix.
type buildView struct {
	ID      int64
	Tag     string
	Pending int64
	// Cells are in the order of the repo's Browsers; a browser the build lacks is empty.
	Cells []cellView
}

// cellView is one browser of one build.
type cellView struct {
	Browser string
	Status  string
	Pending bool
}

// packageView is one package version's status.
type packageView struct {
	Pkg      string
	Env      string
	Version  string
	Previous string
	// Percent is the progress, rounded to a whole number.
	Percent int
	// State is "complete", "error" or "building".
	State   string
	Updated stamp
}

// collect reads every section of the board. A section that fails shows its error; the
// failure is logged.
func collect(ctx context.Context, cfg Config) page {
	now := cfg.Now()
	p := page{Now: newStamp(now, now, cfg.Location), PollMs: cfg.Poll.Milliseconds(), JobsWindow: windowText(cfg.JobsWindow)}
	p.Locks = collectLocks(ctx, cfg, now)
	p.Jobs = collectJobs(ctx, cfg, now)
	p.Builds = collectBuilds(ctx, cfg)
	p.Packages = collectPackages(ctx, cfg, now)
	return p
}

// failed logs a section's error and returns its text for the page.
func failed(cfg Config, what string, err error) string {
	cfg.Logger.Error().Err(err).Str("section", what).Msg("board: read")
	return "cannot read the " + what + " right now"
}

func collectLocks(ctx context.Context, cfg Config, now time.Time) section[envView] {
	envs, err := cfg.Reads.LockEnvs(ctx)
	if err != nil {
		return section[envView]{Err: failed(cfg, "locks", err)}
	}
	views := make([]envView, len(envs.Rows))
	idx := make([]int, len(envs.Rows))
	for i := range idx {
		idx[i] = i
	}
	// Each env's view is its own: an env whose stream cannot be read shows its error.
	_ = parallel.ForEach(ctx, envReaders, idx, func(ctx context.Context, i int) error {
		views[i] = envLock(ctx, cfg, envs.Rows[i], now)
		return nil
	})
	return section[envView]{Rows: views, Truncated: envs.Truncated}
}

// envLock reads one env's holder and queue, freezes, and the holder's meta.
func envLock(ctx context.Context, cfg Config, env string, now time.Time) envView {
	loc := cfg.Location
	v := envView{Env: env, State: "free"}
	q, err := cfg.LockLog.Queue(ctx, env, now)
	if err != nil {
		v.Err = failed(cfg, "lock of "+env, err)
		return v
	}
	freezes, err := cfg.LockLog.Freezes(ctx, env, now)
	if err != nil {
		v.Err = failed(cfg, "freezes of "+env, err)
		return v
	}
	h := q.Holder
	v.Held, v.Holder, v.Token, v.Uberlock, v.Claim = h.Held, h.User, h.Token, h.Uberlock, h.Claim
	if h.Held {
		v.State = "locked"
		if h.Uberlock {
			v.State = "uberlocked"
		}
		if h.Since != nil {
			v.Since = newStamp(*h.Since, now, loc)
		}
		if h.ExpiresAt != nil {
			v.Expires = newStamp(*h.ExpiresAt, now, loc)
		}
		v.Meta = holderMeta(ctx, cfg, env, h.User)
	}
	for _, w := range q.Waiting {
		v.Waiting = append(v.Waiting, waiterView{Position: w.Position, User: w.User, Since: newStamp(w.Since, now, loc)})
	}
	for _, f := range freezes {
		fv := freezeView{Reason: f.Reason, Cron: f.Cron, TZ: f.TZ, Duration: f.Duration, User: f.User, Open: f.Open}
		if f.OpenUntil != nil {
			fv.Until = newStamp(*f.OpenUntil, now, loc)
		}
		if f.NextStart != nil {
			fv.Next = newStamp(*f.NextStart, now, loc)
		}
		if f.Open && !v.Held {
			v.State = "frozen"
		}
		v.Freezes = append(v.Freezes, fv)
	}
	// Open windows first, then the soonest.
	slices.SortStableFunc(v.Freezes, func(a, b freezeView) int {
		switch {
		case a.Open != b.Open:
			if a.Open {
				return -1
			}
			return 1
		case a.Next.IsZero() || b.Next.IsZero():
			return 0
		}
		return a.Next.at.Compare(b.Next.at)
	})
	return v
}

// holderMeta returns the meta of the holder's active lock row ("" when the read model has
// not caught up or cannot be read: meta is a detail, the holder is what matters).
func holderMeta(ctx context.Context, cfg Config, env, user string) string {
	locks, err := cfg.Reads.Locks(ctx, env)
	if err != nil {
		cfg.Logger.Warn().Err(err).Str("env", env).Msg("board: read the lock's meta")
		return ""
	}
	for _, l := range locks {
		if l.Active && l.User == user {
			return l.Meta
		}
	}
	return ""
}

func collectJobs(ctx context.Context, cfg Config, now time.Time) section[jobView] {
	jobs, err := cfg.Reads.RecentJobs(ctx, cfg.JobsWindow, now)
	if err != nil {
		return section[jobView]{Err: failed(cfg, "jobs", err)}
	}
	s := section[jobView]{Truncated: jobs.Truncated}
	for _, j := range jobs.Rows {
		v := jobView{Jobname: j.Jobname, Version: j.Version, User: j.User, Skipped: j.Skipped,
			Started: stampMs(j.Started, now, cfg.Location)}
		if j.Ended != nil {
			v.Ended = stampMs(*j.Ended, now, cfg.Location)
		}
		s.Rows = append(s.Rows, v)
	}
	return s
}

func collectBuilds(ctx context.Context, cfg Config) section[repoView] {
	repos, err := cfg.Reads.LatestBuilds(ctx, cfg.BuildsPerRepo)
	if err != nil {
		return section[repoView]{Err: failed(cfg, "builds", err)}
	}
	s := section[repoView]{Truncated: repos.Truncated}
	for _, rb := range repos.Rows {
		v := repoView{Name: rb.Repo.User + "/" + rb.Repo.Repo}
		if rb.Repo.CurrentBuildInProgress != nil {
			v.InProgress = *rb.Repo.CurrentBuildInProgress
		}
		for _, b := range rb.Builds {
			for _, br := range b.Browsers {
				if !slices.Contains(v.Browsers, br.Name) {
					v.Browsers = append(v.Browsers, br.Name)
				}
			}
		}
		slices.Sort(v.Browsers)
		for _, b := range rb.Builds {
			bv := buildView{ID: b.BuildID, Tag: b.Tag, Pending: b.Pending}
			for _, name := range v.Browsers {
				c := cellView{Browser: name}
				if br, ok := b.Browser(name); ok {
					c.Status, c.Pending = br.Status, br.Pending
				}
				bv.Cells = append(bv.Cells, c)
			}
			v.Builds = append(v.Builds, bv)
		}
		s.Rows = append(s.Rows, v)
	}
	return s
}

func collectPackages(ctx context.Context, cfg Config, now time.Time) section[packageView] {
	statuses, err := cfg.Reads.PackageStatuses(ctx)
	if err != nil {
		return section[packageView]{Err: failed(cfg, "package statuses", err)}
	}
	s := section[packageView]{Truncated: statuses.Truncated}
	for _, st := range statuses.Rows {
		v := packageView{Pkg: st.Pkg, Env: st.Env, Version: st.Version, Previous: st.PreviousVersion,
			Percent: int(math.Round(min(max(st.Total, 0), 100))), State: "building",
			Updated: stampMs(st.UpdatedAt, now, cfg.Location)}
		switch {
		case st.Error:
			v.State = "error"
		case st.Complete:
			v.State = "complete"
		}
		s.Rows = append(s.Rows, v)
	}
	return s
}
