package projections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// attrStreamVersion is the attribute every row keeps: the version of the stream it reflects.
const attrStreamVersion = "streamVersion"

// Repo is a repository's row, dynostore's repo view. Its JSON is exactly dynostore's:
// user, repo, and currentBuildInProgress and latestBuild as a build id string or null.
type Repo struct {
	// User owns the repository.
	User string `json:"user"`
	// Repo is the repository's name.
	Repo string `json:"repo"`
	// CurrentBuildInProgress is the id of the build in progress, nil when none.
	CurrentBuildInProgress *string `json:"currentBuildInProgress"`
	// LatestBuild is the id of the build that finished last, nil when none.
	LatestBuild *string `json:"latestBuild"`
	// StreamVersion is the version of the repo's stream the row reflects. It stays out of
	// the JSON view, which must match dynostore's.
	StreamVersion int64 `json:"-"`
}

// Build is a build's row, dynostore's build view: tag, repoID, buildID, pending, and per
// browser a column with its status and a "<browser>-pending" flag.
type Build struct {
	// RepoID is "{user}/{repo}".
	RepoID string
	// BuildID is the build's number in its repository: 1, 2, …
	BuildID int64
	// Tag is what the build runs, e.g. "master".
	Tag string
	// Pending is the number of browsers not finished yet.
	Pending int64
	// Browsers are the browsers of the build's matrix, sorted by name.
	Browsers []BrowserStatus
	// StreamVersion is the version of the repo's stream the row reflects (not in the JSON).
	StreamVersion int64
}

// BrowserStatus is one browser of a build.
type BrowserStatus struct {
	// Name is the browser, e.g. "BrowserA"; its status is the build row's column of that name.
	Name string
	// Status is the last status CI reported, "queued" at first.
	Status string
	// Pending is false once the browser finished.
	Pending bool
}

// pendingSuffix ends the name of a browser's pending flag column.
const pendingSuffix = "-pending"

// MarshalJSON writes dynostore's flat build view.
func (b Build) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	field := func(name string, v any) error {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return err
		}
		val, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(val)
		return nil
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"tag", b.Tag}, {"repoID", b.RepoID}, {"buildID", b.BuildID}, {"pending", b.Pending}} {
		if err := field(f.name, f.v); err != nil {
			return nil, err
		}
	}
	for _, br := range b.Browsers {
		if err := field(br.Name, br.Status); err != nil {
			return nil, err
		}
		if err := field(br.Name+pendingSuffix, br.Pending); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads dynostore's flat build view.
func (b *Build) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	var out Build
	fields := map[string]any{"tag": &out.Tag, "repoID": &out.RepoID, "buildID": &out.BuildID, "pending": &out.Pending}
	browsers := map[string]*BrowserStatus{}
	browser := func(name string) *BrowserStatus {
		if browsers[name] == nil {
			browsers[name] = &BrowserStatus{Name: name}
		}
		return browsers[name]
	}
	for name, raw := range m {
		if dst, ok := fields[name]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return fmt.Errorf("projections: build view %s: %w", name, err)
			}
			continue
		}
		if base, ok := strings.CutSuffix(name, pendingSuffix); ok {
			var p bool
			if err := json.Unmarshal(raw, &p); err == nil {
				browser(base).Pending = p
				continue
			}
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("projections: build view column %s is not a status string", name)
		}
		browser(name).Status = s
	}
	for _, br := range browsers {
		out.Browsers = append(out.Browsers, *br)
	}
	sortBrowsers(out.Browsers)
	*b = out
	return nil
}

func sortBrowsers(bs []BrowserStatus) {
	slices.SortFunc(bs, func(a, b BrowserStatus) int { return strings.Compare(a.Name, b.Name) })
}

// Browser returns the status of one browser of the build.
func (b Build) Browser(name string) (BrowserStatus, bool) {
	i := slices.IndexFunc(b.Browsers, func(s BrowserStatus) bool { return s.Name == name })
	if i < 0 {
		return BrowserStatus{}, false
	}
	return b.Browsers[i], true
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

// Lock is one deploy lock of an environment (Da-Playa's DaPlayaLocks row); released locks
// stay, inactive, as history. Times are epoch milliseconds.
type Lock struct {
	ID        string `json:"id"`
	User      string `json:"user"`
	Env       string `json:"env"`
	CreatedAt int64  `json:"createdAt"`
	UpdatedAt int64  `json:"updatedAt"`
	Active    bool   `json:"active"`
	Uberlock  bool   `json:"uberlock"`
	Meta      string `json:"meta"`
	// StreamVersion is the version of the lock stream the row reflects.
	StreamVersion int64 `json:"streamVersion"`
}

// Job is one run of a job (Da-Playa's DaPlayaRunningJobs row). Times are epoch milliseconds;
// Ended is nil while the run runs.
type Job struct {
	ID      string `json:"id"`
	User    string `json:"user"`
	Jobname string `json:"jobname"`
	Version string `json:"version"`
	Started int64  `json:"started"`
	Ended   *int64 `json:"ended"`
	Skipped bool   `json:"skipped"`
	// EndedBy is who ended the run, when the end named a user.
	EndedBy string `json:"endedBy,omitempty"`
	// StreamVersion is the version of the job stream the row reflects.
	StreamVersion int64 `json:"streamVersion"`
}

// itemReader reads typed attributes of an item and remembers the first problem.
type itemReader struct {
	table string
	item  Item
	err   error
}

func (r *itemReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("projections: %s row: "+format, append([]any{r.table}, args...)...)
	}
}

func (r *itemReader) str(name string) string {
	switch v := r.item[name].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		r.fail("%s is %T, want a string", name, v)
		return ""
	}
}

func (r *itemReader) optStr(name string) *string {
	switch v := r.item[name].(type) {
	case string:
		return &v
	case nil:
		return nil
	default:
		r.fail("%s is %T, want a string or null", name, v)
		return nil
	}
}

func (r *itemReader) int(name string) int64 {
	switch v := r.item[name].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	case nil:
		return 0
	default:
		r.fail("%s is %T, want a number", name, v)
		return 0
	}
}

func (r *itemReader) optInt(name string) *int64 {
	if r.item[name] == nil {
		return nil
	}
	v := r.int(name)
	return &v
}

func (r *itemReader) float(name string) float64 {
	switch v := r.item[name].(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	case nil:
		return 0
	default:
		r.fail("%s is %T, want a number", name, v)
		return 0
	}
}

func (r *itemReader) bool(name string) bool {
	switch v := r.item[name].(type) {
	case bool:
		return v
	case nil:
		return false
	default:
		r.fail("%s is %T, want a boolean", name, v)
		return false
	}
}

func optString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func optInt(n *int64) any {
	if n == nil {
		return nil
	}
	return *n
}

func repoItem(r Repo) Item {
	return Item{
		"user":                   r.User,
		"repo":                   r.Repo,
		"currentBuildInProgress": optString(r.CurrentBuildInProgress),
		"latestBuild":            optString(r.LatestBuild),
		attrStreamVersion:        r.StreamVersion,
	}
}

func repoFromItem(it Item) (Repo, error) {
	r := itemReader{table: TableRepos, item: it}
	row := Repo{
		User:                   r.str("user"),
		Repo:                   r.str("repo"),
		CurrentBuildInProgress: r.optStr("currentBuildInProgress"),
		LatestBuild:            r.optStr("latestBuild"),
		StreamVersion:          r.int(attrStreamVersion),
	}
	return row, r.err
}

// buildFixed are the build row's attributes that are not browser columns.
var buildFixed = map[string]bool{"repoID": true, "buildID": true, "tag": true, "pending": true, attrStreamVersion: true}

func buildItem(b Build) Item {
	it := Item{
		"repoID":          b.RepoID,
		"buildID":         b.BuildID,
		"tag":             b.Tag,
		"pending":         b.Pending,
		attrStreamVersion: b.StreamVersion,
	}
	for _, br := range b.Browsers {
		it[br.Name] = br.Status
		it[br.Name+pendingSuffix] = br.Pending
	}
	return it
}

func buildFromItem(it Item) (Build, error) {
	r := itemReader{table: TableBuilds, item: it}
	b := Build{
		RepoID:        r.str("repoID"),
		BuildID:       r.int("buildID"),
		Tag:           r.str("tag"),
		Pending:       r.int("pending"),
		StreamVersion: r.int(attrStreamVersion),
	}
	flags := map[string]bool{}
	for name, v := range it {
		if buildFixed[name] {
			continue
		}
		switch v := v.(type) {
		case string:
			b.Browsers = append(b.Browsers, BrowserStatus{Name: name, Status: v})
		case bool:
			base, ok := strings.CutSuffix(name, pendingSuffix)
			if !ok {
				r.fail("column %s is a boolean but not a pending flag", name)
			}
			flags[base] = v
		default:
			r.fail("column %s is %T", name, v)
		}
	}
	for i := range b.Browsers {
		b.Browsers[i].Pending = flags[b.Browsers[i].Name]
	}
	sortBrowsers(b.Browsers)
	return b, r.err
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

func lockItem(l Lock) Item {
	return Item{
		"env":             l.Env,
		"id":              l.ID,
		"user":            l.User,
		"createdAt":       l.CreatedAt,
		"updatedAt":       l.UpdatedAt,
		"active":          l.Active,
		"uberlock":        l.Uberlock,
		"meta":            l.Meta,
		attrStreamVersion: l.StreamVersion,
	}
}

func lockFromItem(it Item) (Lock, error) {
	r := itemReader{table: TableLocks, item: it}
	l := Lock{
		ID:            r.str("id"),
		User:          r.str("user"),
		Env:           r.str("env"),
		CreatedAt:     r.int("createdAt"),
		UpdatedAt:     r.int("updatedAt"),
		Active:        r.bool("active"),
		Uberlock:      r.bool("uberlock"),
		Meta:          r.str("meta"),
		StreamVersion: r.int(attrStreamVersion),
	}
	return l, r.err
}

func jobItem(j Job) Item {
	it := Item{
		"jobname":         j.Jobname,
		"id":              j.ID,
		"user":            j.User,
		"version":         j.Version,
		"started":         j.Started,
		"ended":           optInt(j.Ended),
		"skipped":         j.Skipped,
		attrStreamVersion: j.StreamVersion,
	}
	if j.EndedBy != "" {
		// Only when known: a run ended without a user keeps the row it always had.
		it["endedBy"] = j.EndedBy
	}
	return it
}

func jobFromItem(it Item) (Job, error) {
	r := itemReader{table: TableJobs, item: it}
	j := Job{
		ID:            r.str("id"),
		User:          r.str("user"),
		Jobname:       r.str("jobname"),
		Version:       r.str("version"),
		Started:       r.int("started"),
		Ended:         r.optInt("ended"),
		Skipped:       r.bool("skipped"),
		EndedBy:       r.str("endedBy"),
		StreamVersion: r.int(attrStreamVersion),
	}
	return j, r.err
}

func idString(n int) string { return strconv.Itoa(n) }
