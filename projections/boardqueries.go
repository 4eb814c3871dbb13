package projections

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"buildledger/internal/parallel"
)

// Bounds of the board's lists. The read models are keyed for one repo, env, package or
// job at a time; the board lists all of them by scanning, so every list is bounded twice:
// in what it reads and in what it returns.
const (
	// MaxBoardRows is the most rows a board list returns.
	MaxBoardRows = 200
	// MaxBoardScan is the most items a board list reads from one table. A list that stops
	// there is marked Truncated: it shows some of the rows, not the newest ones for sure.
	MaxBoardScan = 5000
	// boardReaders is how many partitions LatestBuilds reads at a time.
	boardReaders = 8
)

// errScanFull ends a bounded scan once it has read MaxBoardScan items.
var errScanFull = errors.New("projections: board scan is full")

// Listing is a bounded list of rows for the board.
type Listing[T any] struct {
	// Rows are the rows shown, at most MaxBoardRows (never nil).
	Rows []T
	// Truncated says there are more rows than Rows: the list was cut at MaxBoardRows or
	// its scan stopped at MaxBoardScan items.
	Truncated bool
}

// RepoBuilds is one repository and its latest builds, newest first.
type RepoBuilds struct {
	// Repo is the repository's row.
	Repo Repo
	// Builds are its latest builds, newest first.
	Builds []Build
}

// LockEnvs returns the environments that have (or had) a deploy lock, sorted by name.
func (q *Queries) LockEnvs(ctx context.Context) (Listing[string], error) {
	seen := map[string]bool{}
	truncated, err := q.scanBounded(ctx, ProjectionLocks, TableLocks, func(it Item) error {
		l, err := lockRows.row(it)
		seen[l.Env] = true
		return err
	})
	if err != nil {
		return Listing[string]{}, err
	}
	envs := make([]string, 0, len(seen))
	for env := range seen {
		envs = append(envs, env)
	}
	slices.Sort(envs)
	return cut(envs, truncated), nil
}

// LatestBuilds returns the repositories, sorted by user and name, each with its latest
// perRepo builds (at least 1), newest first; at most MaxBoardRows builds in all.
func (q *Queries) LatestBuilds(ctx context.Context, perRepo int) (Listing[RepoBuilds], error) {
	perRepo = max(perRepo, 1)
	var repos []Repo
	truncated, err := q.scanBounded(ctx, ProjectionBuilds, TableRepos, func(it Item) error {
		r, err := repoRows.row(it)
		repos = append(repos, r)
		return err
	})
	if err != nil {
		return Listing[RepoBuilds]{}, err
	}
	slices.SortFunc(repos, func(a, b Repo) int {
		return cmp.Or(strings.Compare(a.User, b.User), strings.Compare(a.Repo, b.Repo))
	})
	if most := MaxBoardRows / perRepo; len(repos) > most {
		repos, truncated = repos[:most], true
	}
	out := make([]RepoBuilds, len(repos))
	var mu sync.Mutex
	idx := make([]int, len(repos))
	for i := range idx {
		idx[i] = i
	}
	err = parallel.ForEach(ctx, boardReaders, idx, func(ctx context.Context, i int) error {
		r := repos[i]
		items, err := q.query(ctx, ProjectionBuilds, TableBuilds, Query{Partition: r.User + "/" + r.Repo, Descending: true, Limit: perRepo})
		if err != nil {
			return err
		}
		rb := RepoBuilds{Repo: r, Builds: make([]Build, 0, len(items))}
		for _, it := range items {
			b, err := buildRows.row(it)
			if err != nil {
				return err
			}
			rb.Builds = append(rb.Builds, b)
		}
		mu.Lock()
		out[i] = rb
		mu.Unlock()
		return nil
	})
	if err != nil {
		return Listing[RepoBuilds]{}, err
	}
	return Listing[RepoBuilds]{Rows: out, Truncated: truncated}, nil
}

// PackageStatuses returns the status of every package version in every environment,
// the most recently updated first.
func (q *Queries) PackageStatuses(ctx context.Context) (Listing[Status], error) {
	var statuses []Status
	truncated, err := q.scanBounded(ctx, ProjectionStatuses, TableStatuses, func(it Item) error {
		s, err := statusRows.row(it)
		statuses = append(statuses, s)
		return err
	})
	if err != nil {
		return Listing[Status]{}, err
	}
	slices.SortFunc(statuses, func(a, b Status) int {
		return cmp.Or(cmp.Compare(b.UpdatedAt, a.UpdatedAt), strings.Compare(a.Pkg, b.Pkg),
			strings.Compare(a.Env, b.Env), strings.Compare(a.Version, b.Version))
	})
	return cut(statuses, truncated), nil
}

// RecentJobs returns the runs of every job started within ttl before now that still run
// or ended skipped, newest first.
func (q *Queries) RecentJobs(ctx context.Context, ttl time.Duration, now time.Time) (Listing[Job], error) {
	since, err := window("*", ttl, now)
	if err != nil {
		return Listing[Job]{}, err
	}
	var jobs []Job
	truncated, err := q.scanBounded(ctx, ProjectionJobs, TableJobs, func(it Item) error {
		j, err := jobRows.row(it)
		if err == nil && j.Started >= since && (j.Ended == nil || j.Skipped) {
			jobs = append(jobs, j)
		}
		return err
	})
	if err != nil {
		return Listing[Job]{}, err
	}
	slices.SortFunc(jobs, func(a, b Job) int {
		return cmp.Or(cmp.Compare(b.Started, a.Started), strings.Compare(a.Jobname, b.Jobname), strings.Compare(a.ID, b.ID))
	})
	return cut(jobs, truncated), nil
}

// scanBounded calls fn with the items of a projection's table, at most MaxBoardScan of
// them, and reports whether it stopped there. The items are gathered first, so that a
// scan that current runs again (a replay dropped the table) does not call fn twice.
func (q *Queries) scanBounded(ctx context.Context, projection, table string, fn func(Item) error) (truncated bool, err error) {
	var gathered []Item
	err = q.current(ctx, projection, func(gen int64) error {
		gathered, truncated = gathered[:0], false
		err := q.store.Scan(ctx, Table{Name: table, Generation: gen}, func(items []Item) error {
			for _, it := range items {
				if len(gathered) == MaxBoardScan {
					truncated = true
					return errScanFull
				}
				gathered = append(gathered, it)
			}
			return nil
		})
		if errors.Is(err, errScanFull) {
			return nil
		}
		return err
	})
	if err != nil {
		return false, err
	}
	for _, it := range gathered {
		if err := fn(it); err != nil {
			return false, err
		}
	}
	return truncated, nil
}

// cut returns rows as a Listing of at most MaxBoardRows.
func cut[T any](rows []T, truncated bool) Listing[T] {
	if rows == nil {
		rows = []T{}
	}
	if len(rows) > MaxBoardRows {
		rows, truncated = rows[:MaxBoardRows], true
	}
	return Listing[T]{Rows: rows, Truncated: truncated}
}
