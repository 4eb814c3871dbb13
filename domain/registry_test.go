package domain

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestTypeNames(t *testing.T) {
	wantEvents := []string{"BuildBrowserUpdated", "BuildCompleted", "BuildCreated", "FreezeAdded", "FreezeRemoved",
		"JobEnded", "JobStarted", "LocaleCompleted", "LockExpired", "LockQueueLeft", "LockQueued", "LockRefreshed",
		"Locked", "Released", "StatusCompleted", "StatusErrored", "StatusEventRecorded", "StatusStarted"}
	if got := EventTypes(); !slices.Equal(got, wantEvents) {
		t.Errorf("EventTypes() = %q", got)
	}
	wantCommands := []string{"AddFreeze", "CompleteLocale", "CreateBuild", "EndJob", "ExpireLock", "LeaveQueue",
		"Lock", "RecordStatusEvent", "Release", "RemoveFreeze", "Renew", "StartJob", "StartStatus", "UpdateBuild"}
	if got := CommandTypes(); !slices.Equal(got, wantCommands) {
		t.Errorf("CommandTypes() = %q", got)
	}
	for _, typ := range EventTypes() {
		e, err := DecodeEvent(typ, []byte(`{}`))
		if err != nil || e.EventType() != typ {
			t.Errorf("DecodeEvent(%q, {}) = %T, %v", typ, e, err)
		}
	}
}

func TestDecodeEvent(t *testing.T) {
	e, err := DecodeEvent("Locked", []byte(`{"env":"production","user":"alice","meta":"CLI","uberlock":true,
		"lockId":"00000000-0000-4000-8000-000000000001","at":"2024-05-01T12:30:00.123456789Z","future":1}`))
	want := Locked{Env: "production", User: "alice", Meta: "CLI", Uberlock: true, LockID: rid(1), At: t0}
	if err != nil || !reflect.DeepEqual(e, want) {
		t.Errorf("DecodeEvent = %#v, %v", e, err)
	}
	refused := []struct {
		name, typ, body string
		wantIs          error // nil when any error will do
	}{
		{"given an unknown type then it is ErrUnknownEventType", "BuildDeleted", `{}`, ErrUnknownEventType},
		{"given a malformed body then it does not decode", "Locked", `{"env":`, nil},
		{"given a bad uuid then it does not decode", "Locked", `{"lockId":"nope"}`, nil},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeEvent(tc.typ, []byte(tc.body))
			if err == nil || tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("DecodeEvent(%q, %s) = %v, want an error matching %v", tc.typ, tc.body, err, tc.wantIs)
			}
		})
	}
}

type foreignEvent struct{}

func (foreignEvent) EventType() string { return "Locked" }

func TestEncodeEvent(t *testing.T) {
	e := created(1, "A")
	typ, body, err := EncodeEvent(&e)
	if err != nil || typ != "BuildCreated" {
		t.Fatalf("EncodeEvent(&e) = %q, %v", typ, err)
	}
	const want = `{"user":"api","repo":"foo","buildId":1,"tag":"master","browsers":["A"],"at":"2024-05-01T12:30:00.123456789Z"}`
	if string(body) != want {
		t.Errorf("body = %s", body)
	}
	refused := []struct {
		name string
		e    Event
	}{
		{"given no event then it is ErrUnknownEventType", nil},
		{"given a nil pointer event then it is ErrUnknownEventType", (*Locked)(nil)},
		{"given a foreign event then it is ErrUnknownEventType", foreignEvent{}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := EncodeEvent(tc.e); !errors.Is(err, ErrUnknownEventType) {
				t.Errorf("EncodeEvent(%#v) = %v, want ErrUnknownEventType", tc.e, err)
			}
		})
	}
}

func TestDecodeCommand(t *testing.T) {
	cases := []struct {
		name    string
		typ     string
		body    string
		want    Command
		wantMsg string
	}{
		{
			name: "given a CreateBuild body then it decodes to the value",
			typ:  "CreateBuild", body: `{"user":"api","repo":"foo","tag":"master","browsers":["BrowserA","BrowserB"]}`,
			want: createAB(),
		},
		{
			name: "given keys in another order then it decodes to the value",
			typ:  "Lock", body: `{"uberlock":true,"user":"alice","env":"production"}`,
			want: Lock{Env: "production", User: "alice", Uberlock: true},
		},
		{
			name: "given an unknown field then it is invalid naming the field",
			typ:  "Lock", body: `{"env":"production","user":"alice","uber_lock":true}`,
			wantMsg: "domain: invalid command: Lock: uber_lock: unknown field",
		},
		{
			name: "given a key in another case then it is refused, not folded onto the field",
			typ:  "Lock", body: `{"env":"production","user":"alice","USER":"mallory"}`,
			wantMsg: `domain: invalid command: Lock: USER: unknown field (field names are case-sensitive: did you mean "user"?)`,
		},
		{
			name: "given a key twice then it is invalid naming the key",
			typ:  "Lock", body: `{"env":"production","user":"alice","user":"mallory"}`,
			wantMsg: `domain: invalid command: Lock: key "user" appears more than once`,
		},
		{
			name: "given a key twice, once escaped, then it is invalid",
			typ:  "Release", body: `{"env":"production","user":"alice","\u0075ser":"mallory"}`,
			wantMsg: `domain: invalid command: Release: key "user" appears more than once`,
		},
		{
			name: "given a StartStatus with a count then it decodes",
			typ:  "StartStatus", body: `{"pkg":"@scope/web","env":"dev","version":"1.2.0","localeCount":3}`,
			want: StartStatus{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", LocaleCount: 3},
		},
		{
			name: "given an unknown type then it is invalid", typ: "DeleteRepo", body: `{}`,
			wantMsg: `domain: invalid command: unknown command type "DeleteRepo"`,
		},
		{
			name: "given malformed JSON then it is invalid", typ: "Release", body: `{"env":`,
			wantMsg: `domain: invalid command: Release: malformed JSON at "env": unexpected EOF`,
		},
		{
			name: "given an empty body then it is invalid", typ: "Release", body: ``,
			wantMsg: "domain: invalid command: Release: must be a JSON object",
		},
		{
			name: "given trailing data then it is invalid", typ: "EndJob", body: `{"jobname":"a","version":"b"} {}`,
			wantMsg: "domain: invalid command: EndJob: malformed JSON: data after the object",
		},
		{
			name: "given a string build id then it is invalid naming the field", typ: "UpdateBuild",
			body:    `{"user":"api","repo":"foo","buildId":"1","browser":"A","status":"started"}`,
			wantMsg: "domain: invalid command: UpdateBuild: buildId: got JSON string, want int",
		},
		{
			name: "given a fractional build id then it is invalid", typ: "UpdateBuild",
			body:    `{"user":"api","repo":"foo","buildId":1.5,"browser":"A","status":"started"}`,
			wantMsg: "domain: invalid command: UpdateBuild: buildId: got JSON number 1.5, want int",
		},
		{
			name: "given a browser that is a number then it is invalid", typ: "CreateBuild",
			body:    `{"user":"api","repo":"foo","tag":"master","browsers":["A",2]}`,
			wantMsg: "domain: invalid command: CreateBuild: browsers: got JSON number, want string",
		},
		{
			name: "given a string for a bool then it is invalid", typ: "Lock",
			body:    `{"env":"production","user":"alice","uberlock":"yes"}`,
			wantMsg: "domain: invalid command: Lock: uberlock: got JSON string, want bool",
		},
		{
			name: "given an array body then it is invalid", typ: "Lock", body: `[]`,
			wantMsg: "domain: invalid command: Lock: must be a JSON object",
		},
		{
			name: "given null then it is invalid", typ: "Release", body: `null`,
			wantMsg: "domain: invalid command: Release: must be a JSON object",
		},
		{
			name: "given an empty object then validation reports the missing fields", typ: "Release", body: `{}`,
			wantMsg: "domain: invalid command: Release: env: must not be empty\ndomain: invalid command: Release: user: must not be empty",
		},
		{
			name: "given an empty browser list then validation runs", typ: "CreateBuild",
			body:    `{"user":"api","repo":"foo","tag":"master","browsers":[]}`,
			wantMsg: "domain: invalid command: CreateBuild: browsers: must not be empty",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeCommand(tc.typ, []byte(tc.body))
			if tc.wantMsg == "" {
				if err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("DecodeCommand = %#v, %v; want %#v", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("error %v is not ErrInvalidCommand", err)
			}
			if err.Error() != tc.wantMsg {
				t.Errorf("message\n got: %q\nwant: %q", err.Error(), tc.wantMsg)
			}
			if got != nil {
				t.Errorf("command %#v returned with error", got)
			}
		})
	}
}

func TestNewAggregate(t *testing.T) {
	valid := []struct {
		id   string
		want any
	}{
		{"repo:api/foo", &Repo{}},
		{"status:web/dev/1.0.0", &Status{}},
		{"status:@scope/web/dev/1.0.0", &Status{}},
		{"status:@scope/dev/1.0.0", &Status{}},
		{"lock:production", &EnvLock{}},
		{"lock:prod:eu", &EnvLock{}},
		{"job:deploy-prod/3f2a9c1", &Job{}},
	}
	for _, tc := range valid {
		a, err := NewAggregate(tc.id)
		if err != nil {
			t.Errorf("NewAggregate(%q): %v", tc.id, err)
			continue
		}
		if reflect.TypeOf(a) != reflect.TypeOf(tc.want) || a.StreamID() != tc.id || a.Version() != 0 {
			t.Errorf("NewAggregate(%q) = %T %q %d", tc.id, a, a.StreamID(), a.Version())
		}
	}
	invalidIDs := []string{"", "repo", "repo:", "repo:api", "repo:api/", "repo:/foo", "repo:api/foo/bar",
		"build:api/foo", "status:web/dev", "status:a/b/dev/1", "status:@a/b/c/dev/1", "status:@/b/dev/1",
		"lock:", "lock:a/b", "job:deploy", "job:deploy/1/2", "lock: production", "lock:prod\x00",
		"lock:" + strings.Repeat("x", 257)}
	for _, id := range invalidIDs {
		if a, err := NewAggregate(id); !errors.Is(err, ErrInvalidStreamID) || a != nil {
			t.Errorf("NewAggregate(%q) = %v, %v; want ErrInvalidStreamID", id, a, err)
		}
	}
	// Stream ids built from valid names parse back to the same names.
	s, err := NewAggregate(StatusStreamID("@scope/web", "dev", "1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if st := s.(*Status); st.Pkg() != "@scope/web" || st.Env() != "dev" || st.PkgVersion() != "1.0.0" {
		t.Errorf("parsed %q %q %q", st.Pkg(), st.Env(), st.PkgVersion())
	}
	r, _ := NewAggregate(RepoStreamID("api", "foo"))
	if r := r.(*Repo); r.User() != "api" || r.Name() != "foo" || r.NextBuildID() != 1 {
		t.Errorf("parsed %q %q", r.User(), r.Name())
	}
}

func TestRestoreAggregate(t *testing.T) {
	good, _ := Rehydrate(fooStream, []Event{created(1, "A", "B"), created(2, "A")})
	state, _ := good.MarshalState()
	restored, err := RestoreAggregate(fooStream, 2, 1, state)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := restored.MarshalState(); string(again) != string(state) || restored.Version() != 2 {
		t.Errorf("restored %s at %d", again, restored.Version())
	}
	cases := []struct {
		name, stream string
		version      int64
		schema       int
		state        string
	}{
		{"another schema", fooStream, 2, 2, string(state)},
		{"negative version", fooStream, -1, 1, string(state)},
		{"not JSON", fooStream, 2, 1, `{"user":`},
		{"trailing data", fooStream, 2, 1, string(state) + `}`},
		{"unknown field", fooStream, 2, 1, `{"user":"api","repo":"foo","nextBuildId":1,"extra":1}`},
		{"another repo", "repo:api/bar", 2, 1, string(state)},
		{"null", fooStream, 0, 1, `null`},
		{"pending that does not match", fooStream, 1, 1,
			`{"user":"api","repo":"foo","nextBuildId":2,"latestBuild":0,"currentBuildInProgress":1,"unfinished":[{"id":1,"tag":"t","pending":2,"browsers":[{"name":"A","status":"queued","pending":true}]}]}`},
		{"build id beyond next", fooStream, 1, 1,
			`{"user":"api","repo":"foo","nextBuildId":1,"latestBuild":0,"currentBuildInProgress":0,"unfinished":[{"id":1,"tag":"t","pending":1,"browsers":[{"name":"A","status":"queued","pending":true}]}]}`},
		{"current not unfinished", fooStream, 1, 1,
			`{"user":"api","repo":"foo","nextBuildId":3,"latestBuild":0,"currentBuildInProgress":2,"unfinished":[]}`},
		{"status without start but progress", webStream, 1, 1,
			`{"pkg":"@scope/web","env":"dev","version":"1.2.0","started":false,"previousVersion":"","locales":[],"localeCount":0,"completed":["a"],"errored":false}`},
		{"status with unlisted completion", webStream, 1, 1,
			`{"pkg":"@scope/web","env":"dev","version":"1.2.0","started":true,"previousVersion":"","locales":["a"],"localeCount":1,"completed":["b"],"errored":false}`},
		{"status with more completions than locales", webStream, 1, 1,
			`{"pkg":"@scope/web","env":"dev","version":"1.2.0","started":true,"previousVersion":"","locales":[],"localeCount":1,"completed":["a","b"],"errored":false}`},
		{"held lock without holder", prodStream, 1, 1,
			`{"env":"production","held":true,"holder":"","lockId":"00000000-0000-4000-8000-000000000001","uberlock":false}`},
		{"free uberlock", prodStream, 1, 1,
			`{"env":"production","held":false,"holder":"","lockId":"00000000-0000-0000-0000-000000000000","uberlock":true}`},
		{"running job without run id", deployStream, 1, 1,
			`{"jobname":"deploy-prod","version":"3f2a9c1","running":true,"runId":"00000000-0000-0000-0000-000000000000"}`},
		{"job of another version", deployStream, 1, 1,
			`{"jobname":"deploy-prod","version":"beef","running":false,"runId":"00000000-0000-0000-0000-000000000000"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := RestoreAggregate(tc.stream, tc.version, tc.schema, []byte(tc.state))
			if !errors.Is(err, ErrUnusableSnapshot) || a != nil {
				t.Errorf("RestoreAggregate = %v, %v; want ErrUnusableSnapshot", a, err)
			}
		})
	}
	if _, err := RestoreAggregate("nope", 0, 1, state); !errors.Is(err, ErrInvalidStreamID) {
		t.Errorf("bad stream id: %v", err)
	}
}

func TestRehydrate(t *testing.T) {
	foreign := []struct {
		name    string
		stream  string
		history []Event
	}{
		{"given a lock event in a repo stream then it is ErrForeignEvent", fooStream, []Event{created(1, "A"), locked("alice", false, rid(1))}},
		{"given a nil event then it is ErrForeignEvent", fooStream, []Event{nil}},
		{"given a foreign Go type with a registered name then it is ErrForeignEvent", prodStream, []Event{foreignEvent{}}},
	}
	for _, tc := range foreign {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Rehydrate(tc.stream, tc.history); !errors.Is(err, ErrForeignEvent) {
				t.Errorf("Rehydrate(%s) = %v, want ErrForeignEvent", tc.stream, err)
			}
		})
	}
	e := created(1, "A")
	a, err := Rehydrate(fooStream, []Event{&e})
	if err != nil || a.Version() != 1 {
		t.Fatalf("pointer event: %v", err)
	}
	a.Apply(nil)
	a.Apply((*BuildCreated)(nil))
	if a.Version() != 1 {
		t.Errorf("nil events changed the version to %d", a.Version())
	}
}

func TestSnapshotSchemas(t *testing.T) {
	for _, id := range []string{fooStream, webStream, prodStream, deployStream} {
		a, _ := NewAggregate(id)
		if a.SnapshotSchema() != 1 {
			t.Errorf("%s schema %d", id, a.SnapshotSchema())
		}
		state, err := a.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := RestoreAggregate(id, 0, 1, state); err != nil {
			t.Errorf("%s: empty state does not restore: %v (%s)", id, err, state)
		}
	}
}
