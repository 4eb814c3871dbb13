package projections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"buildledger/domain"
	"buildledger/eventstore"
)

// buildsProjection keeps dynostore's views of repo streams: one repos row per repository
// and one builds row per build.
var buildsProjection = &projection{
	name: ProjectionBuilds, kind: domain.KindRepo,
	needs: buildsNeeds, project: projectBuilds, owned: buildsOwned,
}

// buildsOwned: the repository's row and every build of it.
func buildsOwned(parts []string) rowSet {
	user, repo := parts[0], parts[1]
	return rowSet{
		rows:       []ref{repoRef(user, repo)},
		partitions: []Query{{Table: Table{Name: TableBuilds}, Partition: user + "/" + repo}},
	}
}

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
	return loadedRow(v, repoRows, repoRef(user, name), Repo{User: user, Repo: name})
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
		return change{puts: []rowPut{repoRows.put(repo), buildRows.put(b)}}, nil

	case domain.BuildBrowserUpdated:
		b, err := loadedRow(v, buildRows, buildRef(e.User, e.Repo, e.BuildID), Build{RepoID: e.User + "/" + e.Repo, BuildID: int64(e.BuildID)})
		if err != nil {
			return change{}, err
		}
		b.ApplyBrowserUpdate(e)
		b.StreamVersion = rec.Version
		return change{puts: []rowPut{buildRows.put(b)}}, nil

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
		return change{puts: []rowPut{repoRows.put(repo)}}, nil
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

// Repo is a repository's row, dynostore's repo view. Its JSON is exactly dynostore's:
// user, repo, and currentBuildInProgress and latestBuild as a build id string or null.
type Repo struct {
	// User owns the repository.
	User string `json:"user" row:"user,partition"`
	// Repo is the repository's name.
	Repo string `json:"repo" row:"repo,sort"`
	// CurrentBuildInProgress is the id of the build in progress, nil when none.
	CurrentBuildInProgress *string `json:"currentBuildInProgress" row:"currentBuildInProgress"`
	// LatestBuild is the id of the build that finished last, nil when none.
	LatestBuild *string `json:"latestBuild" row:"latestBuild"`
	// StreamVersion is the version of the repo's stream the row reflects. It stays out of
	// the JSON view, which must match dynostore's.
	StreamVersion int64 `json:"-" row:"streamVersion"`
}

// Build is a build's row, dynostore's build view: tag, repoID, buildID, pending, and per
// browser a column with its status and a "<browser>-pending" flag.
type Build struct {
	// RepoID is "{user}/{repo}".
	RepoID string `row:"repoID,partition"`
	// BuildID is the build's number in its repository: 1, 2, …
	BuildID int64 `row:"buildID,sort"`
	// Tag is what the build runs, e.g. "master".
	Tag string `row:"tag"`
	// Pending is the number of browsers not finished yet.
	Pending int64 `row:"pending"`
	// Browsers are the browsers of the build's matrix, sorted by name: a column each.
	Browsers []BrowserStatus `row:"-"`
	// StreamVersion is the version of the repo's stream the row reflects (not in the JSON).
	StreamVersion int64 `row:"streamVersion"`
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

// ApplyBrowserUpdate sets the status of e's browser and the build's pending count as e says;
// a browser the build did not list takes its place in name order. It is how the build's row
// follows the event, for the projection and for views that fold the events themselves.
func (b *Build) ApplyBrowserUpdate(e domain.BuildBrowserUpdated) {
	br := BrowserStatus{Name: e.Browser, Status: e.Status, Pending: e.BrowserPending}
	if i := indexBrowser(b.Browsers, e.Browser); i >= 0 {
		b.Browsers[i] = br
	} else {
		b.Browsers = append(b.Browsers, br)
		sortBrowsers(b.Browsers)
	}
	b.Pending = int64(e.Pending)
}

// Browser returns the status of one browser of the build.
func (b Build) Browser(name string) (BrowserStatus, bool) {
	i := slices.IndexFunc(b.Browsers, func(s BrowserStatus) bool { return s.Name == name })
	if i < 0 {
		return BrowserStatus{}, false
	}
	return b.Browsers[i], true
}

var (
	repoRows  = newRowCodec[Repo](TableRepos)
	buildRows = newBuildRows()
)

// newBuildRows returns the codec of build rows: the tagged columns, then a column with the
// status and a "<browser>-pending" flag per browser.
func newBuildRows() *rowCodec[Build] {
	c := newRowCodec[Build](TableBuilds)
	fixed := c.columns()
	c.encode = func(b Build, it Item) {
		for _, br := range b.Browsers {
			it[br.Name] = br.Status
			it[br.Name+pendingSuffix] = br.Pending
		}
	}
	c.decode = func(b *Build, it Item, r *itemReader) {
		flags := map[string]bool{}
		for name, v := range it {
			if fixed[name] {
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
	}
	return c
}

func idString(n int) string { return strconv.Itoa(n) }
