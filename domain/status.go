package domain

import (
	"fmt"
	"slices"
	"time"
)

// statusSchema is the version of the Status snapshot state.
const statusSchema = 1

// StartStatus starts tracking the build of one package version in one environment. The
// locales to build are given either as a list (Locales) or as a number (LocaleCount).
type StartStatus struct {
	Pkg             string   `json:"pkg"`
	Env             string   `json:"env"`
	Version         string   `json:"version"`
	PreviousVersion string   `json:"previousVersion"`
	Locales         []string `json:"locales"`
	LocaleCount     int      `json:"localeCount"`
}

// CommandType returns "StartStatus".
func (StartStatus) CommandType() string { return "StartStatus" }

// StreamID returns the status stream, "status:{pkg}/{env}/{version}".
func (c StartStatus) StreamID() string { return StatusStreamID(c.Pkg, c.Env, c.Version) }

// Validate checks the names and that the locales are a non-empty list or a positive count;
// when both are given the count must match the list.
func (c StartStatus) Validate() error {
	p := statusProblems(c.CommandType(), c.Pkg, c.Env, c.Version)
	p.check("previousVersion", optionalNameProblem(c.PreviousVersion))
	seen := make(map[string]bool, len(c.Locales))
	for i, l := range c.Locales {
		field := fmt.Sprintf("locales[%d]", i)
		if reason := nameProblem(l, true); reason != "" {
			p.check(field, reason)
		} else if seen[l] {
			p.check(field, fmt.Sprintf("%q is listed twice", l))
		}
		seen[l] = true
	}
	switch {
	case len(c.Locales) == 0 && c.LocaleCount <= 0:
		p.check("localeCount", "must be positive when no locales are listed")
	case len(c.Locales) > 0 && c.LocaleCount != 0 && c.LocaleCount != len(c.Locales):
		p.check("localeCount", fmt.Sprintf("must be 0 or the number of listed locales (%d)", len(c.Locales)))
	}
	return p.err()
}

// RecordStatusEvent records one step of a build (a message with optional details, for one
// locale or the whole build); Error marks the build as failed.
type RecordStatusEvent struct {
	Pkg     string `json:"pkg"`
	Env     string `json:"env"`
	Version string `json:"version"`
	Locale  string `json:"locale"`
	Message string `json:"message"`
	Details string `json:"details"`
	Error   bool   `json:"error"`
}

// CommandType returns "RecordStatusEvent".
func (RecordStatusEvent) CommandType() string { return "RecordStatusEvent" }

// StreamID returns the status stream, "status:{pkg}/{env}/{version}".
func (c RecordStatusEvent) StreamID() string { return StatusStreamID(c.Pkg, c.Env, c.Version) }

// Validate checks the names and the message; the locale and details are optional.
func (c RecordStatusEvent) Validate() error {
	p := statusProblems(c.CommandType(), c.Pkg, c.Env, c.Version)
	p.check("locale", optionalNameProblem(c.Locale))
	p.check("message", textProblem(c.Message, true))
	p.check("details", textProblem(c.Details, false))
	return p.err()
}

// CompleteLocale reports that the build of one locale finished.
type CompleteLocale struct {
	Pkg     string `json:"pkg"`
	Env     string `json:"env"`
	Version string `json:"version"`
	Locale  string `json:"locale"`
}

// CommandType returns "CompleteLocale".
func (CompleteLocale) CommandType() string { return "CompleteLocale" }

// StreamID returns the status stream, "status:{pkg}/{env}/{version}".
func (c CompleteLocale) StreamID() string { return StatusStreamID(c.Pkg, c.Env, c.Version) }

// Validate checks the names.
func (c CompleteLocale) Validate() error {
	p := statusProblems(c.CommandType(), c.Pkg, c.Env, c.Version)
	p.check("locale", nameProblem(c.Locale, true))
	return p.err()
}

func statusProblems(command, pkg, env, version string) *problems {
	p := newProblems(command)
	p.check("pkg", pkgProblem(pkg))
	p.check("env", nameProblem(env, false))
	p.check("version", nameProblem(version, false))
	return p
}

// StatusStarted records the start of a status. Locales is empty when only a count was
// given; LocaleCount is always the number of locales to complete.
type StatusStarted struct {
	Pkg             string    `json:"pkg"`
	Env             string    `json:"env"`
	Version         string    `json:"version"`
	PreviousVersion string    `json:"previousVersion"`
	Locales         []string  `json:"locales"`
	LocaleCount     int       `json:"localeCount"`
	At              time.Time `json:"at"`
}

// EventType returns "StatusStarted".
func (StatusStarted) EventType() string { return "StatusStarted" }

// StatusEventRecorded records one step of a build; EventID is time-ordered.
type StatusEventRecorded struct {
	Pkg     string    `json:"pkg"`
	Env     string    `json:"env"`
	Version string    `json:"version"`
	Locale  string    `json:"locale"`
	Message string    `json:"message"`
	Details string    `json:"details"`
	Error   bool      `json:"error"`
	EventID string    `json:"eventId"`
	At      time.Time `json:"at"`
}

// EventType returns "StatusEventRecorded".
func (StatusEventRecorded) EventType() string { return "StatusEventRecorded" }

// LocaleCompleted records a locale's completion: Count locales are done, Total is the
// progress as a percentage (Count / LocaleCount × 100).
type LocaleCompleted struct {
	Pkg     string    `json:"pkg"`
	Env     string    `json:"env"`
	Version string    `json:"version"`
	Locale  string    `json:"locale"`
	Count   int       `json:"count"`
	Total   float64   `json:"total"`
	At      time.Time `json:"at"`
}

// EventType returns "LocaleCompleted".
func (LocaleCompleted) EventType() string { return "LocaleCompleted" }

// StatusCompleted records that every locale is done.
type StatusCompleted struct {
	Pkg     string    `json:"pkg"`
	Env     string    `json:"env"`
	Version string    `json:"version"`
	At      time.Time `json:"at"`
}

// EventType returns "StatusCompleted".
func (StatusCompleted) EventType() string { return "StatusCompleted" }

// StatusErrored records that the build failed; EventID is the error event that said so.
type StatusErrored struct {
	Pkg     string    `json:"pkg"`
	Env     string    `json:"env"`
	Version string    `json:"version"`
	EventID string    `json:"eventId"`
	At      time.Time `json:"at"`
}

// EventType returns "StatusErrored".
func (StatusErrored) EventType() string { return "StatusErrored" }

// StatusNotStartedError rejects a command on a status that was never started.
type StatusNotStartedError struct {
	rejection
	Pkg, Env, Version string
}

// Error names the status.
func (e *StatusNotStartedError) Error() string {
	return fmt.Sprintf("domain: status of %s has not been started", statusName(e.Pkg, e.Env, e.Version))
}

// StatusAlreadyStartedError rejects starting a status a second time.
type StatusAlreadyStartedError struct {
	rejection
	Pkg, Env, Version string
}

// Error names the status.
func (e *StatusAlreadyStartedError) Error() string {
	return fmt.Sprintf("domain: status of %s has already been started", statusName(e.Pkg, e.Env, e.Version))
}

// UnknownLocaleError rejects completing a locale that is not in the status's locale list.
type UnknownLocaleError struct {
	rejection
	Pkg, Env, Version string
	Locale            string
	// Locales is the list the status was started with.
	Locales []string
}

// Error names the locale and the status.
func (e *UnknownLocaleError) Error() string {
	return fmt.Sprintf("domain: locale %q is not one of the locales of %s %q", e.Locale, statusName(e.Pkg, e.Env, e.Version), e.Locales)
}

// TooManyLocalesError rejects completing one more distinct locale than the status was
// started with, when it was started with a count only.
type TooManyLocalesError struct {
	rejection
	Pkg, Env, Version string
	Locale            string
	LocaleCount       int
}

// Error names the locale, the count and the status.
func (e *TooManyLocalesError) Error() string {
	return fmt.Sprintf("domain: all %d locales of %s are complete; %q would be one too many", e.LocaleCount, statusName(e.Pkg, e.Env, e.Version), e.Locale)
}

func statusName(pkg, env, version string) string {
	return fmt.Sprintf("%s %s in %s", pkg, version, env)
}

// Status is the state of one package version's build in one environment.
type Status struct {
	stream
	pkg, env, pkgVersion string
	started              bool
	previousVersion      string
	locales              []string // empty when started with a count only
	localeCount          int
	completed            map[string]bool
	errored              bool
}

// Pkg returns the package name.
func (s *Status) Pkg() string { return s.pkg }

// Env returns the environment.
func (s *Status) Env() string { return s.env }

// PkgVersion returns the package version (Version is the stream's version).
func (s *Status) PkgVersion() string { return s.pkgVersion }

// Started reports whether the status was started.
func (s *Status) Started() bool { return s.started }

// PreviousVersion returns the package version built before this one.
func (s *Status) PreviousVersion() string { return s.previousVersion }

// Locales returns the locale list the status was started with, empty for a count only.
func (s *Status) Locales() []string { return slices.Clone(s.locales) }

// LocaleCount returns the number of locales to complete.
func (s *Status) LocaleCount() int { return s.localeCount }

// CompletedLocales returns the completed locales, sorted.
func (s *Status) CompletedLocales() []string {
	done := make([]string, 0, len(s.completed))
	for l := range s.completed {
		done = append(done, l)
	}
	slices.Sort(done)
	return done
}

// Count returns the number of completed locales.
func (s *Status) Count() int { return len(s.completed) }

// Total returns the progress as a percentage of completed locales.
func (s *Status) Total() float64 { return percent(len(s.completed), s.localeCount) }

// Complete reports whether every locale is done.
func (s *Status) Complete() bool {
	return s.started && s.localeCount > 0 && len(s.completed) >= s.localeCount
}

// Errored reports whether an error event was recorded.
func (s *Status) Errored() bool { return s.errored }

func percent(count, of int) float64 {
	if of <= 0 {
		return 0
	}
	return float64(count) / float64(of) * 100
}

func (s *Status) kind() string { return KindStatus }

// Handle decides StartStatus, RecordStatusEvent and CompleteLocale.
func (s *Status) Handle(c Command, env Env) ([]Event, error) {
	c, err := begin(s, c)
	if err != nil {
		return nil, err
	}
	switch c := c.(type) {
	case StartStatus:
		return s.start(c, env)
	case RecordStatusEvent:
		if !s.started {
			return nil, s.notStarted()
		}
		return s.record(c, env)
	case CompleteLocale:
		if !s.started {
			return nil, s.notStarted()
		}
		return s.completeLocale(c, env)
	}
	return nil, unsupported(s, c)
}

func (s *Status) notStarted() error {
	return &StatusNotStartedError{Pkg: s.pkg, Env: s.env, Version: s.pkgVersion}
}

func (s *Status) start(c StartStatus, env Env) ([]Event, error) {
	if s.started {
		return nil, &StatusAlreadyStartedError{Pkg: s.pkg, Env: s.env, Version: s.pkgVersion}
	}
	at, err := env.at()
	if err != nil {
		return nil, err
	}
	count := c.LocaleCount
	if len(c.Locales) > 0 {
		count = len(c.Locales)
	}
	return []Event{StatusStarted{
		Pkg:             s.pkg,
		Env:             s.env,
		Version:         s.pkgVersion,
		PreviousVersion: c.PreviousVersion,
		Locales:         append([]string{}, c.Locales...),
		LocaleCount:     count,
		At:              at,
	}}, nil
}

func (s *Status) record(c RecordStatusEvent, env Env) ([]Event, error) {
	at, err := env.at()
	if err != nil {
		return nil, err
	}
	id, err := env.timeID()
	if err != nil {
		return nil, err
	}
	events := []Event{StatusEventRecorded{
		Pkg:     s.pkg,
		Env:     s.env,
		Version: s.pkgVersion,
		Locale:  c.Locale,
		Message: c.Message,
		Details: c.Details,
		Error:   c.Error,
		EventID: id.String(),
		At:      at,
	}}
	// The status turns to error once; later error events are still recorded as events.
	if c.Error && !s.errored {
		events = append(events, StatusErrored{Pkg: s.pkg, Env: s.env, Version: s.pkgVersion, EventID: id.String(), At: at})
	}
	return events, nil
}

func (s *Status) completeLocale(c CompleteLocale, env Env) ([]Event, error) {
	// A locale counts once: a retried completion is accepted and changes nothing, so CI
	// can repeat it safely.
	if s.completed[c.Locale] {
		return nil, nil
	}
	if len(s.locales) > 0 && !slices.Contains(s.locales, c.Locale) {
		return nil, &UnknownLocaleError{Pkg: s.pkg, Env: s.env, Version: s.pkgVersion, Locale: c.Locale, Locales: slices.Clone(s.locales)}
	}
	if len(s.completed) >= s.localeCount {
		return nil, &TooManyLocalesError{Pkg: s.pkg, Env: s.env, Version: s.pkgVersion, Locale: c.Locale, LocaleCount: s.localeCount}
	}
	at, err := env.at()
	if err != nil {
		return nil, err
	}
	count := len(s.completed) + 1
	events := []Event{LocaleCompleted{
		Pkg:     s.pkg,
		Env:     s.env,
		Version: s.pkgVersion,
		Locale:  c.Locale,
		Count:   count,
		Total:   percent(count, s.localeCount),
		At:      at,
	}}
	if count == s.localeCount {
		events = append(events, StatusCompleted{Pkg: s.pkg, Env: s.env, Version: s.pkgVersion, At: at})
	}
	return events, nil
}

// Apply changes the state by one event.
func (s *Status) Apply(e Event) {
	switch e := s.next(e).(type) {
	case StatusStarted:
		s.started = true
		s.previousVersion = e.PreviousVersion
		s.locales = slices.Clone(e.Locales)
		s.localeCount = e.LocaleCount
	case LocaleCompleted:
		s.completed[e.Locale] = true
	case StatusErrored:
		s.errored = true
	}
}

// SnapshotSchema returns the version of the state schema.
func (s *Status) SnapshotSchema() int { return statusSchema }

type statusState struct {
	Pkg             string   `json:"pkg"`
	Env             string   `json:"env"`
	Version         string   `json:"version"`
	Started         bool     `json:"started"`
	PreviousVersion string   `json:"previousVersion"`
	Locales         []string `json:"locales"`
	LocaleCount     int      `json:"localeCount"`
	Completed       []string `json:"completed"`
	Errored         bool     `json:"errored"`
}

// MarshalState returns the state as JSON, completed locales sorted.
func (s *Status) MarshalState() ([]byte, error) {
	return jsonMarshal(statusState{
		Pkg:             s.pkg,
		Env:             s.env,
		Version:         s.pkgVersion,
		Started:         s.started,
		PreviousVersion: s.previousVersion,
		Locales:         append([]string{}, s.locales...),
		LocaleCount:     s.localeCount,
		Completed:       s.CompletedLocales(),
		Errored:         s.errored,
	})
}

func (s *Status) restore(state []byte) error {
	var st statusState
	if err := decodeState(state, &st); err != nil {
		return err
	}
	if st.Pkg != s.pkg || st.Env != s.env || st.Version != s.pkgVersion {
		return fmt.Errorf("state is of %s", statusName(st.Pkg, st.Env, st.Version))
	}
	listed := make(map[string]bool, len(st.Locales))
	for _, l := range st.Locales {
		if l == "" || listed[l] {
			return fmt.Errorf("locale %q is empty or repeated", l)
		}
		listed[l] = true
	}
	completed := make(map[string]bool, len(st.Completed))
	for _, l := range st.Completed {
		if l == "" || completed[l] || (len(st.Locales) > 0 && !listed[l]) {
			return fmt.Errorf("completed locale %q is repeated or not listed", l)
		}
		completed[l] = true
	}
	switch {
	case !st.Started && (st.PreviousVersion != "" || len(st.Locales) > 0 || st.LocaleCount != 0 || len(completed) > 0 || st.Errored):
		return fmt.Errorf("a status not started has progress")
	case st.Started && st.LocaleCount <= 0:
		return fmt.Errorf("localeCount %d is not positive", st.LocaleCount)
	case len(st.Locales) > 0 && st.LocaleCount != len(st.Locales):
		return fmt.Errorf("localeCount %d does not match %d locales", st.LocaleCount, len(st.Locales))
	case len(completed) > st.LocaleCount:
		return fmt.Errorf("%d locales completed of %d", len(completed), st.LocaleCount)
	}
	s.started, s.previousVersion, s.localeCount, s.errored = st.Started, st.PreviousVersion, st.LocaleCount, st.Errored
	s.locales = slices.Clone(st.Locales)
	s.completed = completed
	return nil
}
