package projections

import (
	"time"

	"buildledger/domain"
	"buildledger/eventstore"
)

// statusesProjection keeps warehouse.ai's models of status streams: statuses,
// status_heads (shared by the versions of a package and environment), status_events and
// status_counters.
var statusesProjection = &projection{
	name: ProjectionStatuses, kind: domain.KindStatus,
	needs: statusesNeeds, project: projectStatuses, owned: statusesOwned,
}

// statusesOwned: the version's status and counter rows and its events; the head is
// shared with the other versions.
func statusesOwned(parts []string) rowSet {
	pkg, env, version := parts[0], parts[1], parts[2]
	return rowSet{
		rows:       []ref{statusRef(pkg, env, version), counterRef(pkg, env, version)},
		partitions: []Query{{Table: Table{Name: TableStatusEvents}, Partition: pkgEnvVersionKey(pkg, env, version)}},
	}
}

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
	if e, ok := e.(domain.StatusStarted); ok {
		return []ref{headRef(e.Pkg, e.Env)}
	}
	if pkg, env, version, _, ok := statusProgress(e); ok {
		return []ref{statusRef(pkg, env, version), headRef(pkg, env)}
	}
	return nil
}

// statusProgress returns the status version an event after its start changes, and when
// it happened; ok is false for the start and for events of other streams.
func statusProgress(e domain.Event) (pkg, env, version string, at time.Time, ok bool) {
	switch e := e.(type) {
	case domain.StatusEventRecorded:
		return e.Pkg, e.Env, e.Version, e.At, true
	case domain.LocaleCompleted:
		return e.Pkg, e.Env, e.Version, e.At, true
	case domain.StatusCompleted:
		return e.Pkg, e.Env, e.Version, e.At, true
	case domain.StatusErrored:
		return e.Pkg, e.Env, e.Version, e.At, true
	}
	return "", "", "", time.Time{}, false
}

func (v view) status(pkg, env, version string, at time.Time) (Status, error) {
	// A progress event without its start cannot come from the domain; keep what the
	// event says rather than fail.
	return loadedRow(v, statusRows, statusRef(pkg, env, version), Status{Pkg: pkg, Env: env, Version: version, CreatedAt: ms(at)})
}

func (v view) head(pkg, env string) (StatusHead, bool, error) {
	it, err := v.loaded(headRef(pkg, env))
	if err != nil || it == nil {
		return StatusHead{}, false, err
	}
	h, err := headRows.row(it)
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
	p := headRows.put(h)
	p.guard = Older([]string{attrStartedKey, attrStreamVersion}, []any{h.StartedKey, h.StreamVersion})
	return p
}

func projectStatuses(rec eventstore.Record, e domain.Event, v view) (change, error) {
	if e, ok := e.(domain.StatusStarted); ok {
		return projectStatusStarted(rec, e, v)
	}
	pkg, env, version, at, ok := statusProgress(e)
	if !ok {
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
		ch.puts = append(ch.puts, eventRows.put(ev))
	case domain.LocaleCompleted:
		s.Total = e.Total
		c := StatusCounter{Pkg: e.Pkg, Env: e.Env, Version: e.Version, Count: int64(e.Count), StreamVersion: rec.Version}
		ch.puts = append(ch.puts, counterRows.put(c))
	case domain.StatusCompleted:
		s.Complete = true
	case domain.StatusErrored:
		s.Error = true
	}
	ch.puts = append(ch.puts, statusRows.put(s))
	cur, ok, err := v.head(pkg, env)
	if err != nil {
		return change{}, err
	}
	if ok && cur.Version == version {
		ch.puts = append(ch.puts, headPut(headOf(s, cur.StartedKey)))
	}
	return ch, nil
}

// projectStatusStarted writes the new version's status and counter rows, and moves the
// head to it unless a version started later holds it.
func projectStatusStarted(rec eventstore.Record, e domain.StatusStarted, v view) (change, error) {
	s := Status{
		Pkg: e.Pkg, Env: e.Env, Version: e.Version, PreviousVersion: e.PreviousVersion,
		CreatedAt: ms(e.At), UpdatedAt: ms(e.At), StreamVersion: rec.Version,
	}
	c := StatusCounter{Pkg: e.Pkg, Env: e.Env, Version: e.Version, StreamVersion: rec.Version}
	ch := change{puts: []rowPut{statusRows.put(s), counterRows.put(c)}}
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
}

// Status is a package version's build status in one environment (warehouse.ai's Status).
// Times are epoch milliseconds.
type Status struct {
	// Pkg is the package name, e.g. "@scope/ui".
	Pkg string `json:"pkg" row:"pkg"`
	// Env is the environment the build is for, e.g. "dev".
	Env string `json:"env" row:"env"`
	// Version is the package version the status is of.
	Version string `json:"version" row:"version,sort"`
	// PreviousVersion is the version built before it.
	PreviousVersion string `json:"previousVersion" row:"previousVersion"`
	// Total is the progress as a percentage of completed locales.
	Total float64 `json:"total" row:"total"`
	// Error is true once an error event was recorded.
	Error bool `json:"error" row:"error"`
	// Complete is true once every locale completed.
	Complete bool `json:"complete" row:"complete"`
	// CreatedAt is when the status started.
	CreatedAt int64 `json:"createdAt" row:"createdAt"`
	// UpdatedAt is when its last event happened.
	UpdatedAt int64 `json:"updatedAt" row:"updatedAt"`
	// StreamVersion is the version of the status stream the row reflects.
	StreamVersion int64 `json:"streamVersion" row:"streamVersion"`
}

// StatusHead is the status of the newest version started for a package and environment
// (warehouse.ai's StatusHead): a Status without error and complete.
type StatusHead struct {
	Pkg             string  `json:"pkg" row:"pkg"`
	Env             string  `json:"env" row:"env"`
	Version         string  `json:"version" row:"version"`
	PreviousVersion string  `json:"previousVersion" row:"previousVersion"`
	Total           float64 `json:"total" row:"total"`
	CreatedAt       int64   `json:"createdAt" row:"createdAt"`
	UpdatedAt       int64   `json:"updatedAt" row:"updatedAt"`
	// StreamVersion is the version of the head version's status stream the row reflects.
	StreamVersion int64 `json:"streamVersion" row:"streamVersion"`
	// StartedKey is the timestamp key of the head version's StatusStarted event: the head
	// follows the largest one.
	StartedKey string `json:"-" row:"startedKey"`
}

// StatusEvent is one step of a build (warehouse.ai's StatusEvent). Seq is its version in the
// status stream: events of a version are ordered by it, and it is the cursor of StatusEvents.
type StatusEvent struct {
	Pkg       string `json:"pkg" row:"pkg"`
	Env       string `json:"env" row:"env"`
	Version   string `json:"version" row:"version"`
	Locale    string `json:"locale" row:"locale"`
	Error     bool   `json:"error" row:"error"`
	Message   string `json:"message" row:"message"`
	Details   string `json:"details" row:"details"`
	CreatedAt int64  `json:"createdAt" row:"createdAt"`
	// EventID is a time-ordered UUID.
	EventID string `json:"eventId" row:"eventId"`
	Seq     int64  `json:"seq" row:"seq,sort"`
}

// StatusCounter counts the completed locales of a status (warehouse.ai's StatusCounter).
type StatusCounter struct {
	Pkg     string `json:"pkg" row:"pkg"`
	Env     string `json:"env" row:"env"`
	Version string `json:"version" row:"version"`
	Count   int64  `json:"count" row:"count"`
	// StreamVersion is the version of the status stream the row reflects.
	StreamVersion int64 `json:"streamVersion" row:"streamVersion"`
}

// Attributes of the status head that order heads (see GuardOlder).
const (
	attrStartedKey = "startedKey"
)

// Composite keys of the statuses tables (see keyPart).
const (
	attrPkgEnv        = "pkgEnv"
	attrPkgEnvVersion = "pkgEnvVersion"
)

var (
	statusRows = newRowCodec(TableStatuses, derivedAttr[Status]{name: attrPkgEnv, key: "partition", value: func(s Status) any { return pkgEnvKey(s.Pkg, s.Env) }})
	headRows   = newRowCodec(TableStatusHeads, derivedAttr[StatusHead]{name: attrPkgEnv, key: "partition", value: func(h StatusHead) any { return pkgEnvKey(h.Pkg, h.Env) }})
	eventRows  = newRowCodec(TableStatusEvents,
		derivedAttr[StatusEvent]{name: attrPkgEnvVersion, key: "partition", value: func(e StatusEvent) any { return pkgEnvVersionKey(e.Pkg, e.Env, e.Version) }},
		// The event's own version: the row never changes after it is written.
		derivedAttr[StatusEvent]{name: attrStreamVersion, value: func(e StatusEvent) any { return e.Seq }})
	counterRows = newRowCodec(TableStatusCounters, derivedAttr[StatusCounter]{name: attrPkgEnvVersion, key: "partition", value: func(c StatusCounter) any { return pkgEnvVersionKey(c.Pkg, c.Env, c.Version) }})
)
