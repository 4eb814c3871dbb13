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

// Status is a package version's build status in one environment (warehouse.ai's Status).
// Times are epoch milliseconds.
type Status struct {
	// Pkg is the package name, e.g. "@scope/ui".
	Pkg string `json:"pkg"`
	// Env is the environment the build is for, e.g. "dev".
	Env string `json:"env"`
	// Version is the package version the status is of.
	Version string `json:"version"`
	// PreviousVersion is the version built before it.
	PreviousVersion string `json:"previousVersion"`
	// Total is the progress as a percentage of completed locales.
	Total float64 `json:"total"`
	// Error is true once an error event was recorded.
	Error bool `json:"error"`
	// Complete is true once every locale completed.
	Complete bool `json:"complete"`
	// CreatedAt is when the status started.
	CreatedAt int64 `json:"createdAt"`
	// UpdatedAt is when its last event happened.
	UpdatedAt int64 `json:"updatedAt"`
	// StreamVersion is the version of the status stream the row reflects.
	StreamVersion int64 `json:"streamVersion"`
}

// StatusHead is the status of the newest version started for a package and environment
// (warehouse.ai's StatusHead): a Status without error and complete.
type StatusHead struct {
	Pkg             string  `json:"pkg"`
	Env             string  `json:"env"`
	Version         string  `json:"version"`
	PreviousVersion string  `json:"previousVersion"`
	Total           float64 `json:"total"`
	CreatedAt       int64   `json:"createdAt"`
	UpdatedAt       int64   `json:"updatedAt"`
	// StreamVersion is the version of the head version's status stream the row reflects.
	StreamVersion int64 `json:"streamVersion"`
	// StartedKey is the timestamp key of the head version's StatusStarted event: the head
	// follows the largest one.
	StartedKey string `json:"-"`
}

// StatusEvent is one step of a build (warehouse.ai's StatusEvent). Seq is its version in the
// status stream: events of a version are ordered by it, and it is the cursor of StatusEvents.
type StatusEvent struct {
	Pkg       string `json:"pkg"`
	Env       string `json:"env"`
	Version   string `json:"version"`
	Locale    string `json:"locale"`
	Error     bool   `json:"error"`
	Message   string `json:"message"`
	Details   string `json:"details"`
	CreatedAt int64  `json:"createdAt"`
	// EventID is a time-ordered UUID.
	EventID string `json:"eventId"`
	Seq     int64  `json:"seq"`
}

// StatusCounter counts the completed locales of a status (warehouse.ai's StatusCounter).
type StatusCounter struct {
	Pkg     string `json:"pkg"`
	Env     string `json:"env"`
	Version string `json:"version"`
	Count   int64  `json:"count"`
	// StreamVersion is the version of the status stream the row reflects.
	StreamVersion int64 `json:"streamVersion"`
}

func statusItem(s Status) Item {
	return Item{
		"pkgEnv":          pkgEnvKey(s.Pkg, s.Env),
		"pkg":             s.Pkg,
		"env":             s.Env,
		"version":         s.Version,
		"previousVersion": s.PreviousVersion,
		"total":           s.Total,
		"error":           s.Error,
		"complete":        s.Complete,
		"createdAt":       s.CreatedAt,
		"updatedAt":       s.UpdatedAt,
		attrStreamVersion: s.StreamVersion,
	}
}

func statusFromItem(it Item) (Status, error) {
	r := itemReader{table: TableStatuses, item: it}
	s := Status{
		Pkg:             r.str("pkg"),
		Env:             r.str("env"),
		Version:         r.str("version"),
		PreviousVersion: r.str("previousVersion"),
		Total:           r.float("total"),
		Error:           r.bool("error"),
		Complete:        r.bool("complete"),
		CreatedAt:       r.int("createdAt"),
		UpdatedAt:       r.int("updatedAt"),
		StreamVersion:   r.int(attrStreamVersion),
	}
	return s, r.err
}

// Attributes of the status head that order heads (see GuardOlder).
const (
	attrStartedKey = "startedKey"
)

func headItem(h StatusHead) Item {
	return Item{
		"pkgEnv":          pkgEnvKey(h.Pkg, h.Env),
		"pkg":             h.Pkg,
		"env":             h.Env,
		"version":         h.Version,
		"previousVersion": h.PreviousVersion,
		"total":           h.Total,
		"createdAt":       h.CreatedAt,
		"updatedAt":       h.UpdatedAt,
		attrStartedKey:    h.StartedKey,
		attrStreamVersion: h.StreamVersion,
	}
}

func headFromItem(it Item) (StatusHead, error) {
	r := itemReader{table: TableStatusHeads, item: it}
	h := StatusHead{
		Pkg:             r.str("pkg"),
		Env:             r.str("env"),
		Version:         r.str("version"),
		PreviousVersion: r.str("previousVersion"),
		Total:           r.float("total"),
		CreatedAt:       r.int("createdAt"),
		UpdatedAt:       r.int("updatedAt"),
		StartedKey:      r.str(attrStartedKey),
		StreamVersion:   r.int(attrStreamVersion),
	}
	return h, r.err
}

func statusEventItem(e StatusEvent) Item {
	return Item{
		"pkgEnvVersion": pkgEnvVersionKey(e.Pkg, e.Env, e.Version),
		"seq":           e.Seq,
		"pkg":           e.Pkg,
		"env":           e.Env,
		"version":       e.Version,
		"locale":        e.Locale,
		"error":         e.Error,
		"message":       e.Message,
		"details":       e.Details,
		"createdAt":     e.CreatedAt,
		"eventId":       e.EventID,
		// The event's own version: the row never changes after it is written.
		attrStreamVersion: e.Seq,
	}
}

func statusEventFromItem(it Item) (StatusEvent, error) {
	r := itemReader{table: TableStatusEvents, item: it}
	e := StatusEvent{
		Pkg:       r.str("pkg"),
		Env:       r.str("env"),
		Version:   r.str("version"),
		Locale:    r.str("locale"),
		Error:     r.bool("error"),
		Message:   r.str("message"),
		Details:   r.str("details"),
		CreatedAt: r.int("createdAt"),
		EventID:   r.str("eventId"),
		Seq:       r.int("seq"),
	}
	return e, r.err
}

func counterItem(c StatusCounter) Item {
	return Item{
		"pkgEnvVersion":   pkgEnvVersionKey(c.Pkg, c.Env, c.Version),
		"pkg":             c.Pkg,
		"env":             c.Env,
		"version":         c.Version,
		"count":           c.Count,
		attrStreamVersion: c.StreamVersion,
	}
}

func counterFromItem(it Item) (StatusCounter, error) {
	r := itemReader{table: TableStatusCounters, item: it}
	c := StatusCounter{
		Pkg:           r.str("pkg"),
		Env:           r.str("env"),
		Version:       r.str("version"),
		Count:         r.int("count"),
		StreamVersion: r.int(attrStreamVersion),
	}
	return c, r.err
}
