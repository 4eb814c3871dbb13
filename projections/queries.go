package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

var (
	// ErrNotFound means the row asked for does not exist (yet).
	ErrNotFound = errors.New("projections: not found")
	// ErrInvalidQuery means a query parameter is malformed; the error says which.
	ErrInvalidQuery = errors.New("projections: invalid query")
)

// Limits of StatusEvents pages.
const (
	// DefaultStatusEventsLimit is the page size of StatusEvents when limit is 0.
	DefaultStatusEventsLimit = 100
	// MaxStatusEventsLimit is the largest page StatusEvents returns.
	MaxStatusEventsLimit = 1000
)

// Queries answers queries on the read models of the generation readers currently see.
// Single rows that do not exist are ErrNotFound; lists are empty instead. Single-row reads
// are strongly consistent, so that a client that waited for Position reads its own writes.
type Queries struct {
	store Store
	gens  *generations
}

// NewQueries returns Queries on store.
func NewQueries(store Store) *Queries {
	return &Queries{store: store, gens: newGenerations(store, GenerationCacheTTL, time.Now)}
}

// StatusEventPage is one page of a status's events, oldest first.
type StatusEventPage struct {
	// Events are in time order.
	Events []StatusEvent `json:"events"`
	// Next is the cursor of the following page (pass it as after); 0 when there is no more.
	Next int64 `json:"next"`
}

// Repo returns a repository's row: dynostore's getRepo.
func (q *Queries) Repo(ctx context.Context, user, repo string) (Repo, error) {
	if err := required("user", user, "repo", repo); err != nil {
		return Repo{}, err
	}
	return getRow(ctx, q, ProjectionBuilds, repoRows, repoRef(user, repo))
}

// Build returns a build's row: dynostore's getBuild.
func (q *Queries) Build(ctx context.Context, user, repo string, buildID int) (Build, error) {
	if err := required("user", user, "repo", repo); err != nil {
		return Build{}, err
	}
	if buildID < 1 {
		return Build{}, fmt.Errorf("%w: buildID %d is not positive", ErrInvalidQuery, buildID)
	}
	return getRow(ctx, q, ProjectionBuilds, buildRows, buildRef(user, repo, buildID))
}

// Status returns the status of a package version in an environment.
func (q *Queries) Status(ctx context.Context, pkg, env, version string) (Status, error) {
	if err := required("pkg", pkg, "env", env, "version", version); err != nil {
		return Status{}, err
	}
	return getRow(ctx, q, ProjectionStatuses, statusRows, statusRef(pkg, env, version))
}

// StatusHead returns the status of the newest version started for a package in an
// environment.
func (q *Queries) StatusHead(ctx context.Context, pkg, env string) (StatusHead, error) {
	if err := required("pkg", pkg, "env", env); err != nil {
		return StatusHead{}, err
	}
	return getRow(ctx, q, ProjectionStatuses, headRows, headRef(pkg, env))
}

// StatusCounter returns the number of completed locales of a status.
func (q *Queries) StatusCounter(ctx context.Context, pkg, env, version string) (StatusCounter, error) {
	if err := required("pkg", pkg, "env", env, "version", version); err != nil {
		return StatusCounter{}, err
	}
	return getRow(ctx, q, ProjectionStatuses, counterRows, counterRef(pkg, env, version))
}

// StatusEvents returns the events of a status in time order, those after the cursor after
// (0 for the first page), at most limit of them (0 for DefaultStatusEventsLimit, at most
// MaxStatusEventsLimit).
func (q *Queries) StatusEvents(ctx context.Context, pkg, env, version string, after int64, limit int) (StatusEventPage, error) {
	if err := required("pkg", pkg, "env", env, "version", version); err != nil {
		return StatusEventPage{}, err
	}
	switch {
	case after < 0:
		return StatusEventPage{}, fmt.Errorf("%w: after %d is negative", ErrInvalidQuery, after)
	case limit < 0 || limit > MaxStatusEventsLimit:
		return StatusEventPage{}, fmt.Errorf("%w: limit %d is outside 0..%d", ErrInvalidQuery, limit, MaxStatusEventsLimit)
	case limit == 0:
		limit = DefaultStatusEventsLimit
	}
	query := Query{Partition: pkgEnvVersionKey(pkg, env, version), Limit: limit + 1}
	if after > 0 {
		query.After = after
	}
	items, err := q.query(ctx, ProjectionStatuses, TableStatusEvents, query)
	if err != nil {
		return StatusEventPage{}, err
	}
	// The one item past the page only tells that another page follows.
	events, err := eventRows.rows(items[:min(len(items), limit)])
	if err != nil {
		return StatusEventPage{}, err
	}
	page := StatusEventPage{Events: events}
	if len(items) > limit {
		page.Next = events[limit-1].Seq
	}
	return page, nil
}

// Locks returns every lock of an environment, released ones included, newest first.
func (q *Queries) Locks(ctx context.Context, env string) ([]Lock, error) {
	if err := required("env", env); err != nil {
		return nil, err
	}
	locks, err := queryRows(ctx, q, ProjectionLocks, lockRows, Query{Partition: env})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(locks, func(a, b Lock) int {
		return cmp.Or(cmp.Compare(b.CreatedAt, a.CreatedAt), cmp.Compare(b.StreamVersion, a.StreamVersion), strings.Compare(a.ID, b.ID))
	})
	return locks, nil
}

// Jobs returns the runs of a job at a git version, newest first: Da-Playa's `jobs get`.
func (q *Queries) Jobs(ctx context.Context, jobname, version string) ([]Job, error) {
	if err := required("jobname", jobname, "version", version); err != nil {
		return nil, err
	}
	return q.jobs(ctx, Query{Partition: jobname, Filter: map[string]any{"version": version}}, nil)
}

// JobsByVersion returns the runs of every job at a git version, newest first. It reads an
// index, which may lag the latest writes by a moment.
func (q *Queries) JobsByVersion(ctx context.Context, version string) ([]Job, error) {
	if err := required("version", version); err != nil {
		return nil, err
	}
	return q.jobs(ctx, Query{Index: IndexJobsByVersion, Partition: version}, nil)
}

// ActiveJobs returns the runs of a job started within ttl before now that have not ended,
// newest first.
func (q *Queries) ActiveJobs(ctx context.Context, jobname string, ttl time.Duration, now time.Time) ([]Job, error) {
	since, err := window(jobname, ttl, now)
	if err != nil {
		return nil, err
	}
	return q.jobs(ctx, Query{Partition: jobname}, func(j Job) bool { return j.Started >= since && j.Ended == nil })
}

// SkippedJobs returns the runs of a job started within ttl before now that ended skipped,
// newest first.
func (q *Queries) SkippedJobs(ctx context.Context, jobname string, ttl time.Duration, now time.Time) ([]Job, error) {
	since, err := window(jobname, ttl, now)
	if err != nil {
		return nil, err
	}
	return q.jobs(ctx, Query{Partition: jobname, Filter: map[string]any{"skipped": true}}, func(j Job) bool { return j.Started >= since })
}

// Position returns the last version of stream the read models show, 0 for none.
func (q *Queries) Position(ctx context.Context, stream string) (int64, error) {
	return streamPosition(ctx, q.store, q.gens, stream)
}

func window(jobname string, ttl time.Duration, now time.Time) (int64, error) {
	if err := required("jobname", jobname); err != nil {
		return 0, err
	}
	switch {
	case ttl <= 0:
		return 0, fmt.Errorf("%w: ttl %s is not positive", ErrInvalidQuery, ttl)
	case now.IsZero():
		return 0, fmt.Errorf("%w: now is not set", ErrInvalidQuery)
	}
	return now.Add(-ttl).UnixMilli(), nil
}

func (q *Queries) jobs(ctx context.Context, query Query, keep func(Job) bool) ([]Job, error) {
	jobs, err := queryRows(ctx, q, ProjectionJobs, jobRows, query)
	if err != nil {
		return nil, err
	}
	if keep != nil {
		jobs = slices.DeleteFunc(jobs, func(j Job) bool { return !keep(j) })
	}
	slices.SortFunc(jobs, func(a, b Job) int {
		return cmp.Or(cmp.Compare(b.Started, a.Started), strings.Compare(a.Jobname, b.Jobname), strings.Compare(a.ID, b.ID))
	})
	return jobs, nil
}

// get reads one row of a projection's current generation; ErrNotFound when it is absent.
func (q *Queries) get(ctx context.Context, projection string, r ref) (Item, error) {
	var it Item
	err := q.current(ctx, projection, func(gen int64) error {
		k := r.key(gen)
		items, err := q.store.Get(ctx, []Key{k})
		it = items[k]
		return err
	})
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, ErrNotFound
	}
	return it, nil
}

// getRow reads one row of a projection's current generation and decodes it with c;
// ErrNotFound when it is absent.
func getRow[T any](ctx context.Context, q *Queries, projection string, c *rowCodec[T], r ref) (T, error) {
	it, err := q.get(ctx, projection, r)
	if err != nil {
		var zero T
		return zero, err
	}
	return c.row(it)
}

// queryRows runs query on c's table in a projection's current generation and decodes the
// rows it returns, in order.
func queryRows[T any](ctx context.Context, q *Queries, projection string, c *rowCodec[T], query Query) ([]T, error) {
	items, err := q.query(ctx, projection, c.table, query)
	if err != nil {
		return nil, err
	}
	return c.rows(items)
}

func (q *Queries) query(ctx context.Context, projection, table string, query Query) ([]Item, error) {
	var items []Item
	err := q.current(ctx, projection, func(gen int64) error {
		query.Table = Table{Name: table, Generation: gen}
		var err error
		items, err = q.store.Query(ctx, query)
		return err
	})
	return items, err
}

// current runs read on the projection's current generation, once more after re-reading the
// pointer if a replay dropped the tables meanwhile.
func (q *Queries) current(ctx context.Context, projection string, read func(gen int64) error) error {
	if q == nil || q.store == nil {
		return errors.New("projections: queries have no store")
	}
	for attempt := 0; ; attempt++ {
		ptr, err := q.gens.get(ctx)
		if err != nil {
			return err
		}
		err = read(ptr.gens[projection])
		if errors.Is(err, ErrNoTable) && attempt == 0 {
			q.gens.invalidate()
			continue
		}
		if err != nil {
			return fmt.Errorf("projections: query %s: %w", projection, err)
		}
		return nil
	}
}

// required checks that every named parameter (name, value, name, value, …) is set.
func required(pairs ...string) error {
	var errs []error
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			errs = append(errs, fmt.Errorf("%w: %s is empty", ErrInvalidQuery, pairs[i]))
		}
	}
	return errors.Join(errs...)
}
