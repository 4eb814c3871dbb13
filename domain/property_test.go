package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"
)

// model is a plain re-statement of an aggregate's rules: it predicts the outcome of each
// command and checks the aggregate's getters against its own state.
type model interface {
	// step checks the outcome of c against the model's prediction, then follows it.
	step(t *rapid.T, c Command, events []Event, err error)
	// check compares the aggregate's getters with the model.
	check(t *rapid.T, a Aggregate)
}

// propertyEnv hands out increasing times in a random zone and distinct ids.
func propertyEnv(t *rapid.T) *Env {
	now := time.Unix(rapid.Int64Range(0, 4e9).Draw(t, "start"), rapid.Int64Range(0, 1e9-1).Draw(t, "nanos"))
	zone := time.FixedZone("z", rapid.IntRange(-12, 14).Draw(t, "zone")*3600)
	var n uint64
	next := func(version byte) uuid.UUID {
		n++
		var u uuid.UUID
		u[0], u[6], u[8] = 0xab, version<<4, 0x80
		for i := 0; i < 8; i++ {
			u[15-i] = byte(n >> (8 * i))
		}
		return u
	}
	return &Env{
		Now:       now.In(zone),
		NewID:     func() uuid.UUID { return next(4) },
		NewTimeID: func() uuid.UUID { return next(1) },
	}
}

// checkStream runs random valid commands against one stream and checks that every
// rejection was predicted, every event survives a JSON round trip, and a snapshot taken
// after any event, plus the events after it, gives the same state as a full replay.
func checkStream(t *rapid.T, stream string, m model, draw func(t *rapid.T, a Aggregate) Command) {
	a, err := NewAggregate(stream)
	if err != nil {
		t.Fatal(err)
	}
	env := propertyEnv(t)
	var history []Event
	first, _ := a.MarshalState()
	states := [][]byte{first}
	steps := rapid.IntRange(0, 60).Draw(t, "steps")
	for i := 0; i < steps; i++ {
		c := draw(t, a)
		before, _ := a.MarshalState()
		events, err := a.Handle(c, *env)
		if after, _ := a.MarshalState(); !bytes.Equal(before, after) {
			t.Fatalf("Handle(%#v) changed the state", c)
		}
		if err != nil && !errors.Is(err, ErrRejected) {
			t.Fatalf("Handle(%#v): %v is not a rejection", c, err)
		}
		m.step(t, c, events, err)
		for _, e := range events {
			roundTrip(t, e)
			a.Apply(e)
			history = append(history, e)
			state, err := a.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			states = append(states, state)
		}
		m.check(t, a)
		env.Now = env.Now.Add(time.Duration(rapid.Int64Range(0, 1e12).Draw(t, "elapsed")))
	}
	final := states[len(states)-1]
	full, err := Rehydrate(stream, history)
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, "full replay", full, final, int64(len(history)))
	for k, state := range states {
		restored, err := RestoreAggregate(stream, int64(k), a.SnapshotSchema(), state)
		if err != nil {
			t.Fatalf("restore after %d events: %v\n%s", k, err, state)
		}
		for _, e := range history[k:] {
			restored.Apply(e)
		}
		assertSameState(t, fmt.Sprintf("snapshot at %d + tail", k), restored, final, int64(len(history)))
	}
}

func assertSameState(t *rapid.T, what string, a Aggregate, want []byte, version int64) {
	got, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || a.Version() != version {
		t.Fatalf("%s: state at %d\n got: %s\nwant: %s (at %d)", what, a.Version(), got, want, version)
	}
}

func roundTrip(t *rapid.T, e Event) {
	typ, body, err := EncodeEvent(e)
	if err != nil {
		t.Fatalf("EncodeEvent(%#v): %v", e, err)
	}
	back, err := DecodeEvent(typ, body)
	if err != nil {
		t.Fatalf("DecodeEvent(%s, %s): %v", typ, body, err)
	}
	if !reflect.DeepEqual(back, e) {
		t.Fatalf("round trip of %s\n got: %#v\nwant: %#v", body, back, e)
	}
}

// expectErr checks that err is of the predicted type (nil for acceptance).
func expectErr(t *rapid.T, c Command, err error, want error) {
	if want == nil {
		if err != nil {
			t.Fatalf("%#v rejected: %v", c, err)
		}
		return
	}
	if err == nil || reflect.TypeOf(err) != reflect.TypeOf(want) {
		t.Fatalf("%#v: got error %v, want a %T", c, err, want)
	}
}

var browserPool = []string{"chrome", "firefox", "safari", "edge"}

type repoModel struct {
	next            int
	builds          map[int]map[string]bool // unfinished builds: browser -> pending
	latest, current int
}

func (m *repoModel) step(t *rapid.T, c Command, events []Event, err error) {
	switch c := c.(type) {
	case CreateBuild:
		expectErr(t, c, err, nil)
		m.builds[m.next] = map[string]bool{}
		for _, b := range c.Browsers {
			m.builds[m.next][b] = true
		}
		m.current = m.next
		m.next++
	case UpdateBuild:
		b, ok := m.builds[c.BuildID]
		switch {
		case !ok && c.BuildID < m.next:
			expectErr(t, c, err, &BuildFinishedError{})
			return
		case !ok:
			expectErr(t, c, err, &UnknownBuildError{})
			return
		}
		if _, ok := b[c.Browser]; !ok {
			expectErr(t, c, err, &UnknownBrowserError{})
			return
		}
		expectErr(t, c, err, nil)
		if c.Finished {
			b[c.Browser] = false
		}
		if slices.Contains(slices.Collect(maps.Values(b)), true) {
			return
		}
		delete(m.builds, c.BuildID)
		m.latest = c.BuildID
		if m.current == c.BuildID {
			m.current = 0
			for id := range m.builds {
				m.current = max(m.current, id)
			}
		}
	}
}

func (m *repoModel) check(t *rapid.T, a Aggregate) {
	r := a.(*Repo)
	cur, _ := r.CurrentBuildInProgress()
	latest, _ := r.LatestBuild()
	if r.NextBuildID() != m.next || cur != m.current || latest != m.latest {
		t.Fatalf("next %d current %d latest %d; model %+v", r.NextBuildID(), cur, latest, m)
	}
	if got := r.UnfinishedBuilds(); !slices.Equal(got, slices.Sorted(maps.Keys(m.builds))) {
		t.Fatalf("unfinished %v; model %v", got, m.builds)
	}
	for id, browsers := range m.builds {
		v, _ := r.Build(id)
		pending := 0
		for _, b := range v.Browsers {
			if b.Pending != browsers[b.Name] {
				t.Fatalf("build %d browser %s pending %v; model %v", id, b.Name, b.Pending, browsers)
			}
			if b.Pending {
				pending++
			}
		}
		if len(v.Browsers) != len(browsers) || v.Pending != pending {
			t.Fatalf("build %d: %+v; model %v", id, v, browsers)
		}
	}
}

func TestPropertyRepo(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &repoModel{next: 1, builds: map[int]map[string]bool{}}
		checkStream(t, fooStream, m, func(t *rapid.T, a Aggregate) Command {
			r := a.(*Repo)
			if rapid.IntRange(0, 4).Draw(t, "create?") == 0 {
				return CreateBuild{User: "api", Repo: "foo", Tag: rapid.SampledFrom([]string{"master", "v1.0", "feature/x"}).Draw(t, "tag"),
					Browsers: rapid.SliceOfNDistinct(rapid.SampledFrom(browserPool), 1, 3, rapid.ID).Draw(t, "browsers")}
			}
			return UpdateBuild{User: "api", Repo: "foo",
				BuildID:  rapid.IntRange(1, r.NextBuildID()).Draw(t, "buildId"),
				Browser:  rapid.SampledFrom(browserPool).Draw(t, "browser"),
				Status:   rapid.SampledFrom([]string{"started", "finished", "failed"}).Draw(t, "status"),
				Finished: rapid.Bool().Draw(t, "finished")}
		})
	})
}

var localePool = []string{"en-US", "fr-FR", "de-DE", "nl-NL", "ja-JP"}

type statusModel struct {
	started   bool
	listed    []string
	count     int
	completed map[string]bool
	errored   bool
}

func (m *statusModel) step(t *rapid.T, c Command, events []Event, err error) {
	if _, start := c.(StartStatus); !start && !m.started {
		expectErr(t, c, err, &StatusNotStartedError{})
		return
	}
	switch c := c.(type) {
	case StartStatus:
		if m.started {
			expectErr(t, c, err, &StatusAlreadyStartedError{})
			return
		}
		expectErr(t, c, err, nil)
		m.started, m.listed, m.count = true, c.Locales, max(c.LocaleCount, len(c.Locales))
	case RecordStatusEvent:
		expectErr(t, c, err, nil)
		want := 1
		if c.Error && !m.errored {
			want = 2
		}
		if len(events) != want {
			t.Fatalf("%#v raised %d events, want %d", c, len(events), want)
		}
		m.errored = m.errored || c.Error
	case CompleteLocale:
		switch {
		case m.completed[c.Locale]:
			expectErr(t, c, err, nil)
			if len(events) != 0 {
				t.Fatalf("repeated completion raised %#v", events)
			}
		case len(m.listed) > 0 && !slices.Contains(m.listed, c.Locale):
			expectErr(t, c, err, &UnknownLocaleError{})
		case len(m.completed) >= m.count:
			expectErr(t, c, err, &TooManyLocalesError{})
		default:
			expectErr(t, c, err, nil)
			m.completed[c.Locale] = true
			lc := events[0].(LocaleCompleted)
			if lc.Count != len(m.completed) || lc.Total != float64(len(m.completed))/float64(m.count)*100 {
				t.Fatalf("%#v with model %+v", lc, m)
			}
			if done := len(m.completed) == m.count; done != (len(events) == 2) {
				t.Fatalf("completion of %d/%d raised %#v", len(m.completed), m.count, events)
			}
		}
	}
}

func (m *statusModel) check(t *rapid.T, a Aggregate) {
	s := a.(*Status)
	if s.Started() != m.started || s.LocaleCount() != m.count || s.Errored() != m.errored ||
		!slices.Equal(s.CompletedLocales(), slices.Sorted(maps.Keys(m.completed))) ||
		s.Complete() != (m.started && len(m.completed) == m.count) {
		t.Fatalf("status %+v; model %+v", s, m)
	}
}

func TestPropertyStatus(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &statusModel{completed: map[string]bool{}}
		pkg, env, version := "@scope/web", "dev", "1.2.0"
		checkStream(t, StatusStreamID(pkg, env, version), m, func(t *rapid.T, a Aggregate) Command {
			switch rapid.IntRange(0, 5).Draw(t, "kind") {
			case 0:
				c := StartStatus{Pkg: pkg, Env: env, Version: version, PreviousVersion: "1.1.0"}
				if rapid.Bool().Draw(t, "list?") {
					c.Locales = rapid.SliceOfNDistinct(rapid.SampledFrom(localePool), 1, 3, rapid.ID).Draw(t, "locales")
				} else {
					c.LocaleCount = rapid.IntRange(1, 4).Draw(t, "localeCount")
				}
				return c
			case 1, 2:
				return RecordStatusEvent{Pkg: pkg, Env: env, Version: version,
					Locale:  rapid.SampledFrom(append([]string{""}, localePool...)).Draw(t, "locale"),
					Message: rapid.StringN(1, 20, -1).Draw(t, "message"),
					Details: rapid.String().Draw(t, "details"),
					Error:   rapid.IntRange(0, 4).Draw(t, "error?") == 0}
			default:
				return CompleteLocale{Pkg: pkg, Env: env, Version: version, Locale: rapid.SampledFrom(localePool).Draw(t, "locale")}
			}
		})
	})
}

type lockModel struct {
	holder string
	uber   bool
	id     uuid.UUID
}

func (m *lockModel) step(t *rapid.T, c Command, events []Event, err error) {
	switch c := c.(type) {
	case Lock:
		if m.holder != "" && m.holder != c.User {
			expectErr(t, c, err, &LockedError{})
			if err.Error() != "Still locked at env production by "+m.holder {
				t.Fatalf("message %q", err)
			}
			return
		}
		expectErr(t, c, err, nil)
		if m.holder == "" {
			m.id = events[0].(Locked).LockID
		} else if events[0].(LockRefreshed).LockID != m.id {
			t.Fatalf("refresh changed the lock id: %#v", events[0])
		}
		m.holder, m.uber = c.User, m.uber || c.Uberlock
	case Release:
		switch {
		case m.holder != c.User:
			expectErr(t, c, err, &NotLockHolderError{})
		case m.uber && !c.Uberlock:
			expectErr(t, c, err, &UberlockReleaseError{})
		default:
			expectErr(t, c, err, nil)
			m.holder, m.uber, m.id = "", false, uuid.Nil
		}
	}
}

func (m *lockModel) check(t *rapid.T, a Aggregate) {
	l := a.(*EnvLock)
	if l.Holder() != m.holder || l.Held() != (m.holder != "") || l.Uberlock() != m.uber || l.LockID() != m.id {
		t.Fatalf("lock %q %v %s; model %+v", l.Holder(), l.Uberlock(), l.LockID(), m)
	}
}

func TestPropertyLock(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		users := []string{"alice@example.com", "bob@example.com"}
		checkStream(t, prodStream, &lockModel{}, func(t *rapid.T, a Aggregate) Command {
			user := rapid.SampledFrom(users).Draw(t, "user")
			uber := rapid.IntRange(0, 3).Draw(t, "uber?") == 0
			if rapid.Bool().Draw(t, "lock?") {
				return Lock{Env: "production", User: user, Meta: rapid.String().Draw(t, "meta"), Uberlock: uber}
			}
			return Release{Env: "production", User: user, Uberlock: uber}
		})
	})
}

type jobModel struct {
	running bool
	run     uuid.UUID
}

func (m *jobModel) step(t *rapid.T, c Command, events []Event, err error) {
	switch c := c.(type) {
	case StartJob:
		if m.running {
			expectErr(t, c, err, &JobRunningError{})
			return
		}
		expectErr(t, c, err, nil)
		m.running, m.run = true, events[0].(JobStarted).RunID
	case EndJob:
		if !m.running {
			expectErr(t, c, err, &NoRunningJobError{})
			return
		}
		expectErr(t, c, err, nil)
		if events[0].(JobEnded).RunID != m.run {
			t.Fatalf("ended %#v, running %s", events[0], m.run)
		}
		m.running, m.run = false, uuid.Nil
	}
}

func (m *jobModel) check(t *rapid.T, a Aggregate) {
	if id, ok := a.(*Job).RunID(); ok != m.running || id != m.run {
		t.Fatalf("run %s %v; model %+v", id, ok, m)
	}
}

func TestPropertyJob(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		checkStream(t, deployStream, &jobModel{}, func(t *rapid.T, a Aggregate) Command {
			if rapid.Bool().Draw(t, "start?") {
				return StartJob{Jobname: "deploy-prod", User: rapid.SampledFrom([]string{"alice", "bob"}).Draw(t, "user"), Version: "3f2a9c1"}
			}
			return EndJob{Jobname: "deploy-prod", Version: "3f2a9c1", Skipped: rapid.Bool().Draw(t, "skipped")}
		})
	})
}

// jsonValue draws an arbitrary JSON value, biased towards names that are almost valid.
func jsonValue() *rapid.Generator[any] {
	names := []string{"api", "foo", "@scope/web", "a/b", "@a/b/c", " dev", "dev", "1.0.0", "", "BrowserA", "pending", "\x00"}
	scalar := rapid.OneOf(
		rapid.Map(rapid.SampledFrom(names), func(s string) any { return s }),
		rapid.Map(rapid.String(), func(s string) any { return s }),
		rapid.Map(rapid.IntRange(-3, 5), func(i int) any { return i }),
		rapid.Map(rapid.Float64(), func(f float64) any { return f }),
		rapid.Map(rapid.Bool(), func(b bool) any { return b }),
		rapid.Just[any](nil),
	)
	return rapid.OneOf(scalar, rapid.Map(rapid.SliceOfN(scalar, 0, 4), func(s []any) any { return s }))
}

var jsonFields = []string{"user", "repo", "tag", "browsers", "buildId", "browser", "status", "finished", "pkg", "env",
	"version", "previousVersion", "locales", "localeCount", "locale", "message", "details", "error", "meta", "uberlock",
	"jobname", "skipped", "lockId", "runId", "eventId", "at", "pending", "browserPending", "count", "total",
	"currentBuildInProgress"}

func jsonBody(t *rapid.T) []byte {
	fields := rapid.MapOfN(rapid.SampledFrom(jsonFields), jsonValue(), 0, 8).Draw(t, "fields")
	body, err := json.Marshal(fields)
	if err != nil {
		return []byte(`{}`) // NaN and infinities have no JSON form
	}
	return body
}

// TestPropertyArbitraryInput feeds arbitrary JSON to the decoders, and whatever decodes to
// the aggregates: nothing panics, every failure is classified, and a valid command's
// stream id always names an aggregate.
func TestPropertyArbitraryInput(t *testing.T) {
	streams := map[string]string{KindRepo: fooStream, KindStatus: webStream, KindLock: prodStream, KindJob: deployStream}
	rapid.Check(t, func(t *rapid.T) {
		aggregates := map[string]Aggregate{}
		for kind, id := range streams {
			aggregates[kind], _ = NewAggregate(id)
		}
		for i, n := 0, rapid.IntRange(0, 10).Draw(t, "events"); i < n; i++ {
			e, err := DecodeEvent(rapid.SampledFrom(EventTypes()).Draw(t, "eventType"), jsonBody(t))
			if err != nil {
				continue
			}
			aggregates[eventKind(e)].Apply(e)
		}
		for _, a := range aggregates {
			if _, err := a.MarshalState(); err != nil {
				t.Fatal(err)
			}
		}
		typ := rapid.SampledFrom(append(CommandTypes(), "Bogus")).Draw(t, "commandType")
		c, err := DecodeCommand(typ, jsonBody(t))
		if err != nil {
			if !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("DecodeCommand: %v is not ErrInvalidCommand", err)
			}
			return
		}
		a, err := NewAggregate(c.StreamID())
		if err != nil {
			t.Fatalf("valid %#v has stream id %q: %v", c, c.StreamID(), err)
		}
		env := propertyEnv(t)
		if _, err := a.Handle(c, *env); err != nil && !errors.Is(err, ErrRejected) {
			t.Fatalf("Handle(%#v): %v", c, err)
		}
		kind, _, _ := ParseStreamID(c.StreamID())
		if same := aggregates[kind]; same.StreamID() == c.StreamID() {
			if _, err := same.Handle(c, *env); err != nil && !errors.Is(err, ErrRejected) {
				t.Fatalf("Handle(%#v) after arbitrary events: %v", c, err)
			}
		}
	})
}
