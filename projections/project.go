package projections

import (
	"errors"
	"fmt"
	"time"

	"buildledger/domain"
	"buildledger/eventstore"
)

// ref names a row independently of table generations.
type ref struct {
	table     string
	partition string
	sort      any
}

func (r ref) key(gen int64) Key {
	return Key{Table: Table{Name: r.table, Generation: gen}, Partition: r.partition, Sort: r.sort}
}

func refOf(k Key) ref { return ref{table: k.Table.Name, partition: k.Partition, sort: k.Sort} }

// view holds the rows a projection asked for. A key that maps to nil has no row; a key that
// is not in the view was not loaded (a bug in the projection's needs).
type view map[ref]Item

// rowPut is a row a projection writes, with the guard the write needs (shared rows only).
type rowPut struct {
	ref   ref
	item  Item
	guard *Guard
}

// change is what a projection decides for one event.
type change struct {
	puts []rowPut
}

// projection is one read model: the stream kind it follows, the tables it owns, and the pure
// functions that turn an event into rows.
type projection struct {
	name string
	// kind is the stream id prefix it follows, e.g. "repo".
	kind string
	// needs returns the rows project reads for event e.
	needs func(e domain.Event) []ref
	// project returns the rows to write for the event of rec, given the rows needs named.
	project func(rec eventstore.Record, e domain.Event, v view) (change, error)
	// shared reports rows that several streams write (status heads); they are written with
	// a GuardOlder so that the newest wins whatever order writers arrive in.
	shared func(table string) bool
}

var (
	buildsProjection = &projection{
		name: ProjectionBuilds, kind: domain.KindRepo,
		needs: buildsNeeds, project: projectBuilds,
		shared: func(string) bool { return false },
	}
	statusesProjection = &projection{
		name: ProjectionStatuses, kind: domain.KindStatus,
		needs: statusesNeeds, project: projectStatuses,
		shared: func(table string) bool { return table == TableStatusHeads },
	}
	locksProjection = &projection{
		name: ProjectionLocks, kind: domain.KindLock,
		needs: locksNeeds, project: projectLocks,
		shared: func(string) bool { return false },
	}
	jobsProjection = &projection{
		name: ProjectionJobs, kind: domain.KindJob,
		needs: jobsNeeds, project: projectJobs,
		shared: func(string) bool { return false },
	}
	allProjections = []*projection{buildsProjection, statusesProjection, locksProjection, jobsProjection}
)

// ProjectionNames returns the names of the four projections.
func ProjectionNames() []string {
	names := make([]string, len(allProjections))
	for i, p := range allProjections {
		names[i] = p.name
	}
	return names
}

func projectionByName(name string) (*projection, bool) {
	for _, p := range allProjections {
		if p.name == name {
			return p, true
		}
	}
	return nil, false
}

// projectionOf returns the projection that follows a stream, or nil for streams that are not
// domain streams (Put events, the store's bookkeeping).
func projectionOf(stream string) *projection {
	return projectionOfKind(domain.StreamKind(stream))
}

func projectionOfKind(kind string) *projection {
	for _, p := range allProjections {
		if p.kind == kind {
			return p
		}
	}
	return nil
}

// decodeEvent decodes a record's event. Types the domain does not know are skipped (ok
// false, no error) so that events written by newer code do not stop the projection; a known
// type whose body does not decode is an error.
func decodeEvent(rec eventstore.Record) (e domain.Event, ok bool, err error) {
	e, err = domain.DecodeEvent(rec.Type, rec.Body)
	switch {
	case errors.Is(err, domain.ErrUnknownEventType):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("projections: %s@%d: %w", rec.Stream, rec.Version, err)
	}
	return e, true, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func ptr[T any](v T) *T { return &v }

func put(table string, item Item) rowPut {
	s, _ := SchemaOf(table)
	r := ref{table: table, partition: item[s.PartitionKey].(string)}
	if s.SortKey != "" {
		r.sort = item[s.SortKey]
	}
	return rowPut{ref: r, item: item}
}

// loaded returns the row of r from the view; it is an error for a projection to read a row
// it did not name in its needs.
func (v view) loaded(r ref) (Item, error) {
	it, ok := v[r]
	if !ok {
		return nil, fmt.Errorf("projections: row %s[%s|%v] was not loaded", r.table, r.partition, r.sort)
	}
	return it, nil
}

// builds: repos and builds, dynostore's views.

func repoRef(user, repo string) ref {
	return ref{table: TableRepos, partition: user, sort: repo}
}

func buildRef(user, repo string, id int) ref {
	return ref{table: TableBuilds, partition: user + "/" + repo, sort: int64(id)}
}

func buildsNeeds(e domain.Event) []ref {
	switch e := e.(type) {
	case domain.BuildCreated:
		return []ref{repoRef(e.User, e.Repo)}
	case domain.BuildBrowserUpdated:
		return []ref{buildRef(e.User, e.Repo, e.BuildID)}
	case domain.BuildCompleted:
		return []ref{repoRef(e.User, e.Repo)}
	}
	return nil
}

func (v view) repo(user, name string) (Repo, error) {
	it, err := v.loaded(repoRef(user, name))
	if err != nil || it == nil {
		return Repo{User: user, Repo: name}, err
	}
	return repoFromItem(it)
}

func projectBuilds(rec eventstore.Record, e domain.Event, v view) (change, error) {
	switch e := e.(type) {
	case domain.BuildCreated:
		repo, err := v.repo(e.User, e.Repo)
		if err != nil {
			return change{}, err
		}
		repo.CurrentBuildInProgress = ptr(idString(e.BuildID))
		repo.StreamVersion = rec.Version
		b := Build{RepoID: e.User + "/" + e.Repo, BuildID: int64(e.BuildID), Tag: e.Tag, StreamVersion: rec.Version}
		for _, name := range e.Browsers {
			if _, dup := b.Browser(name); !dup {
				b.Browsers = append(b.Browsers, BrowserStatus{Name: name, Status: domain.StatusQueued, Pending: true})
			}
		}
		b.Pending = int64(len(b.Browsers))
		sortBrowsers(b.Browsers)
		return change{puts: []rowPut{put(TableRepos, repoItem(repo)), put(TableBuilds, buildItem(b))}}, nil

	case domain.BuildBrowserUpdated:
		it, err := v.loaded(buildRef(e.User, e.Repo, e.BuildID))
		if err != nil {
			return change{}, err
		}
		b := Build{RepoID: e.User + "/" + e.Repo, BuildID: int64(e.BuildID)}
		if it != nil {
			if b, err = buildFromItem(it); err != nil {
				return change{}, err
			}
		}
		br := BrowserStatus{Name: e.Browser, Status: e.Status, Pending: e.BrowserPending}
		if i := indexBrowser(b.Browsers, e.Browser); i >= 0 {
			b.Browsers[i] = br
		} else {
			b.Browsers = append(b.Browsers, br)
			sortBrowsers(b.Browsers)
		}
		b.Pending = int64(e.Pending)
		b.StreamVersion = rec.Version
		return change{puts: []rowPut{put(TableBuilds, buildItem(b))}}, nil

	case domain.BuildCompleted:
		repo, err := v.repo(e.User, e.Repo)
		if err != nil {
			return change{}, err
		}
		repo.CurrentBuildInProgress = nil
		if e.CurrentBuildInProgress != 0 {
			repo.CurrentBuildInProgress = ptr(idString(e.CurrentBuildInProgress))
		}
		repo.LatestBuild = ptr(idString(e.BuildID))
		repo.StreamVersion = rec.Version
		return change{puts: []rowPut{put(TableRepos, repoItem(repo))}}, nil
	}
	return change{}, nil
}

func indexBrowser(bs []BrowserStatus, name string) int {
	for i, b := range bs {
		if b.Name == name {
			return i
		}
	}
	return -1
}

// statuses: statuses, status_heads, status_events, status_counters.

func statusRef(pkg, env, version string) ref {
	return ref{table: TableStatuses, partition: pkgEnvKey(pkg, env), sort: version}
}

func headRef(pkg, env string) ref {
	return ref{table: TableStatusHeads, partition: pkgEnvKey(pkg, env)}
}

func counterRef(pkg, env, version string) ref {
	return ref{table: TableStatusCounters, partition: pkgEnvVersionKey(pkg, env, version)}
}

func statusesNeeds(e domain.Event) []ref {
	switch e := e.(type) {
	case domain.StatusStarted:
		return []ref{headRef(e.Pkg, e.Env)}
	case domain.StatusEventRecorded:
		return []ref{statusRef(e.Pkg, e.Env, e.Version), headRef(e.Pkg, e.Env)}
	case domain.LocaleCompleted:
		return []ref{statusRef(e.Pkg, e.Env, e.Version), headRef(e.Pkg, e.Env)}
	case domain.StatusCompleted:
		return []ref{statusRef(e.Pkg, e.Env, e.Version), headRef(e.Pkg, e.Env)}
	case domain.StatusErrored:
		return []ref{statusRef(e.Pkg, e.Env, e.Version), headRef(e.Pkg, e.Env)}
	}
	return nil
}

func (v view) status(pkg, env, version string, at time.Time) (Status, error) {
	it, err := v.loaded(statusRef(pkg, env, version))
	if err != nil || it == nil {
		// A progress event without its start cannot come from the domain; keep what the
		// event says rather than fail.
		return Status{Pkg: pkg, Env: env, Version: version, CreatedAt: ms(at)}, err
	}
	return statusFromItem(it)
}

func (v view) head(pkg, env string) (StatusHead, bool, error) {
	it, err := v.loaded(headRef(pkg, env))
	if err != nil || it == nil {
		return StatusHead{}, false, err
	}
	h, err := headFromItem(it)
	return h, true, err
}

// headOf returns the head row that mirrors status s, started at startedKey.
func headOf(s Status, startedKey string) StatusHead {
	return StatusHead{
		Pkg: s.Pkg, Env: s.Env, Version: s.Version, PreviousVersion: s.PreviousVersion,
		Total: s.Total, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
		StreamVersion: s.StreamVersion, StartedKey: startedKey,
	}
}

// headPut writes a head row so that the largest (startedKey, streamVersion) wins: the head
// follows the newest version started, and within that version its newest state, whatever
// order the writers of several versions arrive in.
func headPut(h StatusHead) rowPut {
	p := put(TableStatusHeads, headItem(h))
	p.guard = Older([]string{attrStartedKey, attrStreamVersion}, []any{h.StartedKey, h.StreamVersion})
	return p
}

func projectStatuses(rec eventstore.Record, e domain.Event, v view) (change, error) {
	var pkg, env, version string
	var at time.Time
	switch e := e.(type) {
	case domain.StatusStarted:
		s := Status{
			Pkg: e.Pkg, Env: e.Env, Version: e.Version, PreviousVersion: e.PreviousVersion,
			CreatedAt: ms(e.At), UpdatedAt: ms(e.At), StreamVersion: rec.Version,
		}
		c := StatusCounter{Pkg: e.Pkg, Env: e.Env, Version: e.Version, StreamVersion: rec.Version}
		ch := change{puts: []rowPut{put(TableStatuses, statusItem(s)), put(TableStatusCounters, counterItem(c))}}
		cur, ok, err := v.head(e.Pkg, e.Env)
		if err != nil {
			return change{}, err
		}
		// The head follows the newest start by timestamp key: a start that arrives late
		// for an older version leaves a newer head alone.
		if !ok || cur.StartedKey < rec.Key {
			ch.puts = append(ch.puts, headPut(headOf(s, rec.Key)))
		}
		return ch, nil
	case domain.StatusEventRecorded:
		pkg, env, version, at = e.Pkg, e.Env, e.Version, e.At
	case domain.LocaleCompleted:
		pkg, env, version, at = e.Pkg, e.Env, e.Version, e.At
	case domain.StatusCompleted:
		pkg, env, version, at = e.Pkg, e.Env, e.Version, e.At
	case domain.StatusErrored:
		pkg, env, version, at = e.Pkg, e.Env, e.Version, e.At
	default:
		return change{}, nil
	}

	s, err := v.status(pkg, env, version, at)
	if err != nil {
		return change{}, err
	}
	s.UpdatedAt = ms(at)
	s.StreamVersion = rec.Version
	var ch change
	switch e := e.(type) {
	case domain.StatusEventRecorded:
		ev := StatusEvent{
			Pkg: e.Pkg, Env: e.Env, Version: e.Version, Locale: e.Locale, Error: e.Error,
			Message: e.Message, Details: e.Details, CreatedAt: ms(e.At), EventID: e.EventID, Seq: rec.Version,
		}
		ch.puts = append(ch.puts, put(TableStatusEvents, statusEventItem(ev)))
	case domain.LocaleCompleted:
		s.Total = e.Total
		c := StatusCounter{Pkg: e.Pkg, Env: e.Env, Version: e.Version, Count: int64(e.Count), StreamVersion: rec.Version}
		ch.puts = append(ch.puts, put(TableStatusCounters, counterItem(c)))
	case domain.StatusCompleted:
		s.Complete = true
	case domain.StatusErrored:
		s.Error = true
	}
	ch.puts = append(ch.puts, put(TableStatuses, statusItem(s)))
	cur, ok, err := v.head(pkg, env)
	if err != nil {
		return change{}, err
	}
	if ok && cur.Version == version {
		ch.puts = append(ch.puts, headPut(headOf(s, cur.StartedKey)))
	}
	return ch, nil
}

// locks: one row per lock id, kept as history.

func lockRef(env, id string) ref { return ref{table: TableLocks, partition: env, sort: id} }

func locksNeeds(e domain.Event) []ref {
	switch e := e.(type) {
	case domain.LockRefreshed:
		return []ref{lockRef(e.Env, e.LockID.String())}
	case domain.Released:
		return []ref{lockRef(e.Env, e.LockID.String())}
	}
	return nil
}

func (v view) lock(env, id, user string, at time.Time) (Lock, error) {
	it, err := v.loaded(lockRef(env, id))
	if err != nil || it == nil {
		return Lock{ID: id, Env: env, User: user, CreatedAt: ms(at), UpdatedAt: ms(at)}, err
	}
	return lockFromItem(it)
}

func projectLocks(rec eventstore.Record, e domain.Event, v view) (change, error) {
	var l Lock
	switch e := e.(type) {
	case domain.Locked:
		l = Lock{
			ID: e.LockID.String(), User: e.User, Env: e.Env, CreatedAt: ms(e.At), UpdatedAt: ms(e.At),
			Active: true, Uberlock: e.Uberlock, Meta: e.Meta,
		}
	case domain.LockRefreshed:
		var err error
		if l, err = v.lock(e.Env, e.LockID.String(), e.User, e.At); err != nil {
			return change{}, err
		}
		l.User, l.Meta, l.Uberlock, l.Active, l.UpdatedAt = e.User, e.Meta, e.Uberlock, true, ms(e.At)
	case domain.Released:
		var err error
		if l, err = v.lock(e.Env, e.LockID.String(), e.User, e.At); err != nil {
			return change{}, err
		}
		l.Active, l.Uberlock, l.UpdatedAt = false, e.Uberlock, ms(e.At)
	default:
		return change{}, nil
	}
	l.StreamVersion = rec.Version
	return change{puts: []rowPut{put(TableLocks, lockItem(l))}}, nil
}

// jobs: one row per run id.

func jobRef(jobname, id string) ref { return ref{table: TableJobs, partition: jobname, sort: id} }

func jobsNeeds(e domain.Event) []ref {
	if e, ok := e.(domain.JobEnded); ok {
		return []ref{jobRef(e.Jobname, e.RunID.String())}
	}
	return nil
}

func projectJobs(rec eventstore.Record, e domain.Event, v view) (change, error) {
	var j Job
	switch e := e.(type) {
	case domain.JobStarted:
		j = Job{ID: e.RunID.String(), User: e.User, Jobname: e.Jobname, Version: e.Version, Started: ms(e.At)}
	case domain.JobEnded:
		it, err := v.loaded(jobRef(e.Jobname, e.RunID.String()))
		if err != nil {
			return change{}, err
		}
		j = Job{ID: e.RunID.String(), Jobname: e.Jobname, Version: e.Version}
		if it != nil {
			if j, err = jobFromItem(it); err != nil {
				return change{}, err
			}
		}
		j.Ended, j.Skipped, j.EndedBy = ptr(ms(e.At)), e.Skipped, e.EndedBy
	default:
		return change{}, nil
	}
	j.StreamVersion = rec.Version
	return change{puts: []rowPut{put(TableJobs, jobItem(j))}}, nil
}

// splitStream returns the projection that follows a domain stream and the stream id's
// components (see domain.ParseStreamID).
func splitStream(stream string) (p *projection, parts []string, err error) {
	kind, parts, err := domain.ParseStreamID(stream)
	if err != nil {
		return nil, nil, fmt.Errorf("projections: %w", err)
	}
	return projectionOfKind(kind), parts, nil
}
