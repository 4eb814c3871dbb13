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
	locks, truncated, err := scanRows(ctx, q, ProjectionLocks, lockRows)
	if err != nil {
		return Listing[string]{}, err
	}
	seen := map[string]bool{}
	for _, l := range locks {
		seen[l.Env] = true
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
	repos, truncated, err := scanRows(ctx, q, ProjectionBuilds, repoRows)
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
		builds, err := queryRows(ctx, q, ProjectionBuilds, buildRows, Query{Partition: r.User + "/" + r.Repo, Descending: true, Limit: perRepo})
		if err != nil {
			return err
		}
		mu.Lock()
		out[i] = RepoBuilds{Repo: r, Builds: builds}
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
	statuses, truncated, err := scanRows(ctx, q, ProjectionStatuses, statusRows)
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
	jobs, truncated, err := scanRows(ctx, q, ProjectionJobs, jobRows)
	if err != nil {
		return Listing[Job]{}, err
	}
	recent := func(j Job) bool { return j.Started >= since && (j.Ended == nil || j.Skipped) }
	jobs = slices.DeleteFunc(jobs, func(j Job) bool { return !recent(j) })
	slices.SortFunc(jobs, func(a, b Job) int {
		return cmp.Or(cmp.Compare(b.Started, a.Started), strings.Compare(a.Jobname, b.Jobname), strings.Compare(a.ID, b.ID))
	})
	return cut(jobs, truncated), nil
}

// scanRows decodes with c the rows of its table in a projection's current generation, at
// most MaxBoardScan of them, and reports whether the scan stopped there.
func scanRows[T any](ctx context.Context, q *Queries, projection string, c *rowCodec[T]) (rows []T, truncated bool, err error) {
	items, truncated, err := q.scanBounded(ctx, projection, c.table)
	if err != nil {
		return nil, false, err
	}
	rows, err = c.rows(items)
	return rows, truncated, err
}

// scanBounded returns the items of a projection's table, at most MaxBoardScan of them, and
// reports whether it stopped there. A scan that current runs again (a replay dropped the
// table) starts the items over.
func (q *Queries) scanBounded(ctx context.Context, projection, table string) (gathered []Item, truncated bool, err error) {
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
		return nil, false, err
	}
	return gathered, truncated, nil
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
