package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"testing"
)

// legacyNamesFixture holds events stored before names were held to the identifier rules:
// look-alike environments, an NFD user, names with spaces. Stored data is forever, so they
// must keep loading exactly as they did.
const legacyNamesFixture = "testdata/legacy_names.json"

// storedRecord is an event as the event store's record envelope holds it, reduced to what
// the domain reads.
type storedRecord struct {
	Stream  string          `json:"stream"`
	Version int64           `json:"version"`
	Type    string          `json:"type"`
	Body    json.RawMessage `json:"body"`
}

// legacyHistories decodes the fixture into each stream's history, streams in fixture order.
func legacyHistories(t *testing.T) (streams []string, histories map[string][]Event) {
	t.Helper()
	b, err := os.ReadFile(legacyNamesFixture)
	if err != nil {
		t.Fatal(err)
	}
	var recs []storedRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	histories = map[string][]Event{}
	for _, r := range recs {
		if int64(len(histories[r.Stream])) != r.Version-1 {
			t.Fatalf("fixture: %s@%d is out of order", r.Stream, r.Version)
		}
		e, err := DecodeEvent(r.Type, r.Body)
		if err != nil {
			t.Fatalf("fixture: %s@%d: %v", r.Stream, r.Version, err)
		}
		if len(histories[r.Stream]) == 0 {
			streams = append(streams, r.Stream)
		}
		histories[r.Stream] = append(histories[r.Stream], e)
	}
	return streams, histories
}

func TestLegacyNamesStillLoad(t *testing.T) {
	streams, histories := legacyHistories(t)
	checks := map[string]func(t *testing.T, a Aggregate){
		"lock:prod\u200b": func(t *testing.T, a Aggregate) {
			l := a.(*EnvLock)
			if l.Env() != "prod\u200b" || !l.Held() || l.Holder() != "alice" || l.LockID() != rid(1) || l.Uberlock() {
				t.Errorf("lock = %q held %v by %q id %v uber %v", l.Env(), l.Held(), l.Holder(), l.LockID(), l.Uberlock())
			}
		},
		"lock:pr\u043ed": func(t *testing.T, a Aggregate) {
			l := a.(*EnvLock)
			if l.Env() != "pr\u043ed" || l.Held() || l.Holder() != "" {
				t.Errorf("lock = %q held %v by %q", l.Env(), l.Held(), l.Holder())
			}
		},
		"lock:\ufeffprod": func(t *testing.T, a Aggregate) {
			l := a.(*EnvLock)
			if l.Env() != "\ufeffprod" || !l.Held() || l.Holder() != "carol" || l.LockID() != rid(3) {
				t.Errorf("lock = %q held %v by %q id %v", l.Env(), l.Held(), l.Holder(), l.LockID())
			}
		},
		"repo:cafe\u0301/x": func(t *testing.T, a Aggregate) {
			r := a.(*Repo)
			current, _ := r.CurrentBuildInProgress()
			if r.User() != "cafe\u0301" || r.Name() != "x" || r.NextBuildID() != 2 || current != 1 {
				t.Errorf("repo = %q/%q next %d current %d", r.User(), r.Name(), r.NextBuildID(), current)
			}
			b, _ := r.Build(1)
			want := BuildView{ID: 1, Tag: "master", Pending: 1, Browsers: []BrowserView{
				{Name: "Chrome 120", Status: "passed", Pending: false},
				{Name: "firefox", Status: StatusQueued, Pending: true},
			}}
			if !reflect.DeepEqual(b, want) {
				t.Errorf("build 1 = %+v, want %+v", b, want)
			}
		},
		"status:@scope/web/prod\u202e/1.0.0": func(t *testing.T, a Aggregate) {
			s := a.(*Status)
			if s.Pkg() != "@scope/web" || s.Env() != "prod\u202e" || s.PkgVersion() != "1.0.0" || !s.Started() ||
				s.PreviousVersion() != "0.9.0" || s.LocaleCount() != 2 || s.Total() != 50 || s.Complete() {
				t.Errorf("status = %q %q %q started %v prev %q count %d total %v", s.Pkg(), s.Env(), s.PkgVersion(),
					s.Started(), s.PreviousVersion(), s.LocaleCount(), s.Total())
			}
			if !slices.Equal(s.Locales(), []string{"en US", "fr-FR"}) || !slices.Equal(s.CompletedLocales(), []string{"en US"}) {
				t.Errorf("locales %q, completed %q", s.Locales(), s.CompletedLocales())
			}
		},
		"job:deploy prod/3f2a9c1": func(t *testing.T, a Aggregate) {
			j := a.(*Job)
			if id, running := j.RunID(); j.Jobname() != "deploy prod" || j.GitVersion() != "3f2a9c1" || !running || id != rid(4) {
				t.Errorf("job = %q %q running %v id %v", j.Jobname(), j.GitVersion(), running, id)
			}
		},
	}
	if len(streams) != len(checks) {
		t.Fatalf("fixture streams %q, checks for %d", streams, len(checks))
	}
	for _, stream := range streams {
		t.Run(stream, func(t *testing.T) {
			if refusedComponents(t, stream) == 0 {
				t.Fatalf("no component of %q is refused by the command rules: not a legacy name", stream)
			}
			history := histories[stream]
			a, err := Rehydrate(stream, history)
			if err != nil {
				t.Fatalf("given stored events, Rehydrate: %v", err)
			}
			if a.Version() != int64(len(history)) {
				t.Errorf("Version() = %d, want %d", a.Version(), len(history))
			}
			checks[stream](t, a)

			state, err := a.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			restored, err := RestoreAggregate(stream, a.Version(), a.SnapshotSchema(), state)
			if err != nil {
				t.Fatalf("given its snapshot, RestoreAggregate: %v", err)
			}
			again, _ := restored.MarshalState()
			if !bytes.Equal(again, state) || restored.Version() != a.Version() {
				t.Errorf("restored state\n%s\nwant\n%s", again, state)
			}
			checks[stream](t, restored)

			if _, err := NewAggregate(stream); err != nil {
				t.Errorf("NewAggregate: %v", err)
			}
		})
	}
}

// TestLegacyStreamsRefuseNewCommands shows the other half: a command may no longer name a
// look-alike stream, so nothing is ever added to one.
func TestLegacyStreamsRefuseNewCommands(t *testing.T) {
	_, histories := legacyHistories(t)
	a, err := Rehydrate("lock:prod\u200b", histories["lock:prod\u200b"])
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Handle(Release{Env: "prod\u200b", User: "alice"}, testEnv())
	want := invalid("Release", "env", "must not contain U+200B (an invisible formatting character)")
	if err == nil || err.Error() != want.Error() || !errors.Is(err, ErrInvalidCommand) {
		t.Errorf("Handle(Release) = %v, want %v", err, want)
	}
}

// refusedComponents counts the components of a stream id that ValidateStreamName refuses.
func refusedComponents(t *testing.T, stream string) int {
	t.Helper()
	kind, parts, err := ParseStreamID(stream)
	if err != nil {
		t.Fatalf("ParseStreamID(%q): %v", stream, err)
	}
	fields := map[string][]string{
		KindRepo: {"user", "repo"}, KindStatus: {"pkg", "env", "version"}, KindLock: {"env"}, KindJob: {"jobname", "version"},
	}[kind]
	n := 0
	for i, p := range parts {
		if ValidateStreamName(fields[i], p) != nil {
			n++
		}
	}
	return n
}
