package domain

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// maxBrowsers bounds a build's browser matrix: each browser becomes two attributes of the
// build's read row, which must fit in one DynamoDB item.
const maxBrowsers = 256

// repoSchema is the version of the Repo snapshot state.
const repoSchema = 1

// Browser statuses the domain itself assigns; CI sends any other status text.
const (
	// StatusQueued is the status of every browser of a new build.
	StatusQueued = "queued"
)

// CreateBuild asks for the next build of a repository, run on every listed browser.
type CreateBuild struct {
	User     string   `json:"user"`
	Repo     string   `json:"repo"`
	Tag      string   `json:"tag"`
	Browsers []string `json:"browsers"`
}

// CommandType returns "CreateBuild".
func (CreateBuild) CommandType() string { return "CreateBuild" }

// StreamID returns the repository's stream, "repo:{user}/{repo}".
func (c CreateBuild) StreamID() string { return RepoStreamID(c.User, c.Repo) }

// Validate checks the names and the browser list.
func (c CreateBuild) Validate() error {
	p := repoProblems(c.CommandType(), c.User, c.Repo)
	p.check("tag", nameProblem(c.Tag, true))
	switch {
	case len(c.Browsers) == 0:
		p.check("browsers", "must not be empty")
	case len(c.Browsers) > maxBrowsers:
		p.check("browsers", fmt.Sprintf("must list at most %d browsers", maxBrowsers))
	default:
		seen := make(map[string]bool, len(c.Browsers))
		for i, b := range c.Browsers {
			field := fmt.Sprintf("browsers[%d]", i)
			switch {
			case nameProblem(b, true) != "":
				p.check(field, nameProblem(b, true))
			case reservedBrowserName(b):
				p.check(field, fmt.Sprintf("%q is reserved by the build view", b))
			case seen[b]:
				p.check(field, fmt.Sprintf("%q is listed twice", b))
			}
			seen[b] = true
		}
	}
	return p.err()
}

// repoProblems starts the problems of a command on a repository stream with its names.
func repoProblems(command, user, repo string) *problems {
	p := newProblems(command)
	p.check("user", nameProblem(user, false))
	p.check("repo", nameProblem(repo, false))
	return p
}

// reservedBrowserName reports names that would collide with the columns of dynostore's
// build row, where each browser is a column and "<browser>-pending" its flag.
func reservedBrowserName(name string) bool {
	switch name {
	case "tag", "repoID", "buildID", "pending", "user", "repo", "version", "streamVersion":
		return true
	}
	return strings.HasSuffix(name, "-pending")
}

// UpdateBuild reports the status of one browser of a build; Finished marks that browser done.
type UpdateBuild struct {
	User     string `json:"user"`
	Repo     string `json:"repo"`
	BuildID  int    `json:"buildId"`
	Browser  string `json:"browser"`
	Status   string `json:"status"`
	Finished bool   `json:"finished"`
}

// CommandType returns "UpdateBuild".
func (UpdateBuild) CommandType() string { return "UpdateBuild" }

// StreamID returns the repository's stream, "repo:{user}/{repo}".
func (c UpdateBuild) StreamID() string { return RepoStreamID(c.User, c.Repo) }

// Validate checks the names, the build id and the status.
func (c UpdateBuild) Validate() error {
	p := repoProblems(c.CommandType(), c.User, c.Repo)
	if c.BuildID <= 0 {
		p.check("buildId", "must be positive")
	}
	p.check("browser", nameProblem(c.Browser, true))
	p.check("status", nameProblem(c.Status, true))
	return p.err()
}

// BuildCreated records a new build; every browser starts queued and pending.
type BuildCreated struct {
	User     string    `json:"user"`
	Repo     string    `json:"repo"`
	BuildID  int       `json:"buildId"`
	Tag      string    `json:"tag"`
	Browsers []string  `json:"browsers"`
	At       time.Time `json:"at"`
}

// EventType returns "BuildCreated".
func (BuildCreated) EventType() string { return "BuildCreated" }

// BuildBrowserUpdated records a browser's new status, its pending flag after the update and
// the build's number of pending browsers after the update.
type BuildBrowserUpdated struct {
	User           string    `json:"user"`
	Repo           string    `json:"repo"`
	BuildID        int       `json:"buildId"`
	Browser        string    `json:"browser"`
	Status         string    `json:"status"`
	Finished       bool      `json:"finished"`
	BrowserPending bool      `json:"browserPending"`
	Pending        int       `json:"pending"`
	At             time.Time `json:"at"`
}

// EventType returns "BuildBrowserUpdated".
func (BuildBrowserUpdated) EventType() string { return "BuildBrowserUpdated" }

// BuildCompleted records that the last pending browser of a build finished: the build
// becomes the repository's latest build. CurrentBuildInProgress is the repository's build
// in progress afterwards, 0 for none.
type BuildCompleted struct {
	User                   string    `json:"user"`
	Repo                   string    `json:"repo"`
	BuildID                int       `json:"buildId"`
	CurrentBuildInProgress int       `json:"currentBuildInProgress"`
	At                     time.Time `json:"at"`
}

// EventType returns "BuildCompleted".
func (BuildCompleted) EventType() string { return "BuildCompleted" }

// UnknownBuildError rejects an update of a build id the repository has not assigned yet.
type UnknownBuildError struct {
	rejection
	// Repo is "{user}/{repo}".
	Repo    string
	BuildID int
}

// Error names the build and repository.
func (e *UnknownBuildError) Error() string {
	return fmt.Sprintf("domain: build %d of %s does not exist", e.BuildID, e.Repo)
}

// BuildFinishedError rejects an update of a build whose browsers have all finished.
type BuildFinishedError struct {
	rejection
	// Repo is "{user}/{repo}".
	Repo    string
	BuildID int
}

// Error names the build and repository.
func (e *BuildFinishedError) Error() string {
	return fmt.Sprintf("domain: build %d of %s has finished on every browser and takes no more updates", e.BuildID, e.Repo)
}

// UnknownBrowserError rejects an update of a browser that is not in the build's matrix.
type UnknownBrowserError struct {
	rejection
	// Repo is "{user}/{repo}".
	Repo    string
	BuildID int
	Browser string
}

// Error names the browser and build.
func (e *UnknownBrowserError) Error() string {
	return fmt.Sprintf("domain: browser %q is not part of build %d of %s", e.Browser, e.BuildID, e.Repo)
}

// Repo is the state of a repository's builds. It keeps only the unfinished builds: the
// finished ones live in the read model, so the state stays small however many builds ran.
type Repo struct {
	stream
	user, name  string
	nextBuildID int
	latestBuild int // 0 for none
	current     int // build in progress, 0 for none
	builds      map[int]*build
}

type build struct {
	id       int
	tag      string
	pending  int
	browsers []browserState
}

type browserState struct {
	name    string
	status  string
	pending bool
}

func (b *build) browser(name string) (int, bool) {
	i := slices.IndexFunc(b.browsers, func(s browserState) bool { return s.name == name })
	return i, i >= 0
}

// BuildView is a read-only copy of an unfinished build.
type BuildView struct {
	ID       int
	Tag      string
	Pending  int
	Browsers []BrowserView
}

// BrowserView is a read-only copy of one browser of a build.
type BrowserView struct {
	Name    string
	Status  string
	Pending bool
}

// User returns the repository's owner.
func (r *Repo) User() string { return r.user }

// Name returns the repository's name.
func (r *Repo) Name() string { return r.name }

// NextBuildID returns the id the next build will get.
func (r *Repo) NextBuildID() int { return r.nextBuildID }

// CurrentBuildInProgress returns the newest build still in progress, if any.
func (r *Repo) CurrentBuildInProgress() (int, bool) { return r.current, r.current != 0 }

// LatestBuild returns the build that finished last, if any.
func (r *Repo) LatestBuild() (int, bool) { return r.latestBuild, r.latestBuild != 0 }

// UnfinishedBuilds returns the ids of the builds in progress, ascending.
func (r *Repo) UnfinishedBuilds() []int {
	ids := make([]int, 0, len(r.builds))
	for id := range r.builds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Build returns a copy of an unfinished build; finished builds are not kept.
func (r *Repo) Build(id int) (BuildView, bool) {
	b, ok := r.builds[id]
	if !ok {
		return BuildView{}, false
	}
	v := BuildView{ID: b.id, Tag: b.tag, Pending: b.pending, Browsers: make([]BrowserView, len(b.browsers))}
	for i, s := range b.browsers {
		v.Browsers[i] = BrowserView{Name: s.name, Status: s.status, Pending: s.pending}
	}
	return v, true
}

func (r *Repo) kind() string { return KindRepo }

func (r *Repo) fullName() string { return r.user + "/" + r.name }

// Handle decides CreateBuild and UpdateBuild.
func (r *Repo) Handle(c Command, env Env) ([]Event, error) {
	c, err := begin(r, c)
	if err != nil {
		return nil, err
	}
	switch c := c.(type) {
	case CreateBuild:
		return r.createBuild(c, env)
	case UpdateBuild:
		return r.updateBuild(c, env)
	}
	return nil, unsupported(r, c)
}

func (r *Repo) createBuild(c CreateBuild, env Env) ([]Event, error) {
	at, err := env.at()
	if err != nil {
		return nil, err
	}
	return []Event{BuildCreated{
		User:     r.user,
		Repo:     r.name,
		BuildID:  r.nextBuildID,
		Tag:      c.Tag,
		Browsers: slices.Clone(c.Browsers),
		At:       at,
	}}, nil
}

func (r *Repo) updateBuild(c UpdateBuild, env Env) ([]Event, error) {
	b, ok := r.builds[c.BuildID]
	if !ok {
		if c.BuildID < r.nextBuildID {
			return nil, &BuildFinishedError{Repo: r.fullName(), BuildID: c.BuildID}
		}
		return nil, &UnknownBuildError{Repo: r.fullName(), BuildID: c.BuildID}
	}
	i, ok := b.browser(c.Browser)
	if !ok {
		return nil, &UnknownBrowserError{Repo: r.fullName(), BuildID: c.BuildID, Browser: c.Browser}
	}
	at, err := env.at()
	if err != nil {
		return nil, err
	}
	// A browser counts down the build's pending once: a repeated finished report (a CI
	// retry) still updates the status but must not finish the build early.
	pending := b.pending
	browserPending := b.browsers[i].pending
	if c.Finished && browserPending {
		pending--
		browserPending = false
	}
	events := []Event{BuildBrowserUpdated{
		User:           r.user,
		Repo:           r.name,
		BuildID:        c.BuildID,
		Browser:        c.Browser,
		Status:         c.Status,
		Finished:       c.Finished,
		BrowserPending: browserPending,
		Pending:        pending,
		At:             at,
	}}
	if pending == 0 {
		events = append(events, BuildCompleted{
			User:                   r.user,
			Repo:                   r.name,
			BuildID:                c.BuildID,
			CurrentBuildInProgress: r.currentAfter(c.BuildID),
			At:                     at,
		})
	}
	return events, nil
}

// currentAfter returns the build in progress once build id has finished: unchanged if
// another build is current, else the newest build still unfinished, or 0. dynostore
// clears it outright, which is the same when one build runs at a time and avoids hiding an
// older build that is still running.
func (r *Repo) currentAfter(id int) int {
	if r.current != id {
		return r.current
	}
	newest := 0
	for other := range r.builds {
		if other != id && other > newest {
			newest = other
		}
	}
	return newest
}

// Apply changes the state by one event.
func (r *Repo) Apply(e Event) {
	switch e := r.next(e).(type) {
	case BuildCreated:
		b := &build{id: e.BuildID, tag: e.Tag, browsers: make([]browserState, 0, len(e.Browsers))}
		for _, name := range e.Browsers {
			if _, dup := b.browser(name); !dup {
				b.browsers = append(b.browsers, browserState{name: name, status: StatusQueued, pending: true})
			}
		}
		b.pending = len(b.browsers)
		r.builds[e.BuildID] = b
		if e.BuildID >= r.nextBuildID && e.BuildID < math.MaxInt {
			r.nextBuildID = e.BuildID + 1
		}
		r.current = e.BuildID
	case BuildBrowserUpdated:
		b, ok := r.builds[e.BuildID]
		if !ok {
			return
		}
		if i, ok := b.browser(e.Browser); ok {
			b.browsers[i].status = e.Status
			b.browsers[i].pending = e.BrowserPending
		}
		b.pending = e.Pending
	case BuildCompleted:
		delete(r.builds, e.BuildID)
		r.latestBuild = e.BuildID
		r.current = e.CurrentBuildInProgress
	}
}

// SnapshotSchema returns the version of the state schema.
func (r *Repo) SnapshotSchema() int { return repoSchema }

type repoState struct {
	User                   string       `json:"user"`
	Repo                   string       `json:"repo"`
	NextBuildID            int          `json:"nextBuildId"`
	LatestBuild            int          `json:"latestBuild"`
	CurrentBuildInProgress int          `json:"currentBuildInProgress"`
	Unfinished             []buildState `json:"unfinished"`
}

type buildState struct {
	ID       int            `json:"id"`
	Tag      string         `json:"tag"`
	Pending  int            `json:"pending"`
	Browsers []browserEntry `json:"browsers"`
}

type browserEntry struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Pending bool   `json:"pending"`
}

// MarshalState returns the state as JSON, builds in ascending id order.
func (r *Repo) MarshalState() ([]byte, error) {
	s := repoState{
		User:                   r.user,
		Repo:                   r.name,
		NextBuildID:            r.nextBuildID,
		LatestBuild:            r.latestBuild,
		CurrentBuildInProgress: r.current,
		Unfinished:             []buildState{},
	}
	for _, id := range r.UnfinishedBuilds() {
		b := r.builds[id]
		bs := buildState{ID: b.id, Tag: b.tag, Pending: b.pending, Browsers: make([]browserEntry, len(b.browsers))}
		for i, br := range b.browsers {
			bs.Browsers[i] = browserEntry{Name: br.name, Status: br.status, Pending: br.pending}
		}
		s.Unfinished = append(s.Unfinished, bs)
	}
	return jsonMarshal(s)
}

func (r *Repo) restore(state []byte) error {
	var s repoState
	if err := decodeState(state, &s); err != nil {
		return err
	}
	switch {
	case s.User != r.user || s.Repo != r.name:
		return fmt.Errorf("state is of %s/%s", s.User, s.Repo)
	case s.NextBuildID < 1:
		return fmt.Errorf("nextBuildId %d is not positive", s.NextBuildID)
	case s.LatestBuild < 0 || s.LatestBuild >= s.NextBuildID:
		return fmt.Errorf("latestBuild %d is out of range", s.LatestBuild)
	}
	builds := make(map[int]*build, len(s.Unfinished))
	for _, bs := range s.Unfinished {
		if bs.ID < 1 || bs.ID >= s.NextBuildID || builds[bs.ID] != nil || bs.ID == s.LatestBuild {
			return fmt.Errorf("unfinished build %d is out of range or repeated", bs.ID)
		}
		b := &build{id: bs.ID, tag: bs.Tag, pending: bs.Pending}
		pending := 0
		for _, br := range bs.Browsers {
			if _, dup := b.browser(br.Name); dup || br.Name == "" {
				return fmt.Errorf("build %d: browser %q is empty or repeated", bs.ID, br.Name)
			}
			if br.Pending {
				pending++
			}
			b.browsers = append(b.browsers, browserState{name: br.Name, status: br.Status, pending: br.Pending})
		}
		// A build may have no pending browser left: a snapshot can fall between the
		// BuildBrowserUpdated and the BuildCompleted of one decision.
		if len(b.browsers) == 0 || pending != bs.Pending {
			return fmt.Errorf("build %d: pending count does not match its browsers", bs.ID)
		}
		builds[bs.ID] = b
	}
	if s.CurrentBuildInProgress != 0 && builds[s.CurrentBuildInProgress] == nil {
		return fmt.Errorf("currentBuildInProgress %d is not an unfinished build", s.CurrentBuildInProgress)
	}
	r.nextBuildID, r.latestBuild, r.current, r.builds = s.NextBuildID, s.LatestBuild, s.CurrentBuildInProgress, builds
	return nil
}
