package domain

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Look-alikes of "prod" and "café" that the name rules refuse; each was once accepted as an
// environment of its own.
const (
	prodZeroWidthSpace = "prod\u200b"
	prodBOM            = "\ufeffprod"
	prodRTLOverride    = "prod\u202e"
	prodCyrillicO      = "pr\u043ed"
	prodFullwidth      = "\uff50\uff52\uff4f\uff44"
	cafeNFD            = "cafe\u0301"
	cafeNFC            = "caf\u00e9"
)

func TestNameRules(t *testing.T) {
	cases := []struct {
		name string
		env  string
		want string // the reason, "" when the name is accepted
	}{
		{name: "given a zero-width space after prod when locking then it is refused",
			env: prodZeroWidthSpace, want: "must not contain U+200B (an invisible formatting character)"},
		{name: "given a byte order mark before prod when locking then it is refused",
			env: prodBOM, want: "must not contain U+FEFF (an invisible formatting character)"},
		{name: "given a right-to-left override after prod when locking then it is refused",
			env: prodRTLOverride, want: "must not contain U+202E (an invisible formatting character)"},
		{name: "given a zero-width joiner inside a Latin name when locking then it is refused",
			env: "pr\u200dod", want: "must not contain U+200D (an invisible formatting character)"},
		{name: "given a space inside the name when locking then it is refused",
			env: "my env", want: "must not contain U+0020 (a space)"},
		{name: "given a no-break space inside the name when locking then it is refused",
			env: "my\u00a0env", want: "must not contain U+00A0 (a space)"},
		{name: "given a symbol PRECIS disallows when locking then it is refused",
			env: "prod\u2603", want: "must not contain U+2603 (a character not allowed in names)"},
		{name: "given a Cyrillic o in prod when locking then it mixes scripts",
			env: prodCyrillicO, want: "mixes Latin and Cyrillic letters"},
		{name: "given a Greek omicron in prod when locking then it mixes scripts",
			env: "pr\u03bfd", want: "mixes Latin and Greek letters"},
		{name: "given Latin, Cyrillic and Greek letters when locking then all three are named",
			env: "p\u0440\u03bfd", want: "mixes Latin, Cyrillic and Greek letters"},
		{name: "given Hangul with Katakana when locking then it mixes scripts",
			env: "\uc11c\uc6b8\u30b9\u30c6", want: "mixes Hangul and Katakana letters"},
		{name: "given café in NFD when locking then it must be in NFC",
			env: cafeNFD, want: `must be in normalized form "café"`},
		{name: "given fullwidth prod when locking then it must be in its narrow form",
			env: prodFullwidth, want: `must be in normalized form "prod"`},
		{name: "given a right-to-left name that starts with a digit when locking then it breaks the Bidi Rule",
			env: "1\u05d0\u05d1", want: "must follow the Bidi Rule of RFC 5893 for right-to-left text"},

		// The checks that came before the identifier rules keep their reasons.
		{name: "given an empty name when locking then it is refused", env: "", want: "must not be empty"},
		{name: "given a trailing space when locking then the white-space reason is kept",
			env: "prod ", want: "must not start or end with white space"},
		{name: "given a control character when locking then the control reason is kept",
			env: "pr\nod", want: "must not contain control characters"},
		{name: "given a slash in a stream component when locking then it is refused",
			env: "pr/od", want: `must not contain "/"`},
		{name: "given 257 bytes when locking then it is too long", env: strings.Repeat("p", 257), want: "must be at most 256 bytes"},
		{name: "given invalid UTF-8 when locking then it is refused", env: "pr\xffod", want: "must be valid UTF-8"},

		{name: "given plain ASCII when locking then it is accepted", env: "production"},
		{name: "given a capitalised name when locking then its case is kept and accepted", env: "Production"},
		{name: "given ASCII punctuation when locking then it is accepted", env: "eu-west_1.prod+canary@v2~x"},
		{name: "given café in NFC when locking then it is accepted", env: cafeNFC},
		{name: "given an all-Cyrillic name when locking then it is accepted", env: "\u043f\u0440\u043e\u0434"},
		{name: "given an all-Greek name when locking then it is accepted", env: "\u03c0\u03c1\u03bf\u03b4"},
		{name: "given a Japanese name mixing Han, Katakana and Latin when locking then it is accepted",
			env: "\u6771\u4eac\u30b9\u30c6\u30fc\u30b8-prod"},
		{name: "given a Japanese name mixing Hiragana and Han when locking then it is accepted",
			env: "\u672c\u756a\u306e\u74b0\u5883"},
		{name: "given a Korean name mixing Hangul, Han and Latin when locking then it is accepted",
			env: "\uc11c\uc6b8\u6f22-prod"},
		{name: "given a Taiwanese name mixing Bopomofo, Han and Latin when locking then it is accepted",
			env: "\u3105\u3106\u53f0-prod"},
		{name: "given a Hebrew name when locking then it is accepted", env: "\u05d0\u05d1-1"},
		{name: "given a left-to-right name that starts with a digit and ends with a hyphen when locking then the Bidi Rule does not apply",
			env: "2024-\u00e9t\u00e9-"},
		{name: "given a Vietnamese name in NFC when locking then it is accepted", env: "Vi\u1ec7t-prod"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Lock{Env: tc.env, User: "alice"}.Validate()
			wantInvalid(t, err, "Lock", "env", tc.want)
			if tc.want != "" && !errors.Is(err, ErrInvalidCommand) {
				t.Errorf("%v is not ErrInvalidCommand", err)
			}
		})
	}
}

func TestNameRulesCoverEveryNameField(t *testing.T) {
	const zw = prodZeroWidthSpace
	const reason = "must not contain U+200B (an invisible formatting character)"
	cases := []struct {
		name  string
		when  Command
		field string
	}{
		{name: "when Lock has a look-alike user then the user is refused",
			when: Lock{Env: "prod", User: zw}, field: "user"},
		{name: "when Release has a look-alike env then the env is refused",
			when: Release{Env: zw, User: "alice"}, field: "env"},
		{name: "when Release has a look-alike user then the user is refused",
			when: Release{Env: "prod", User: zw}, field: "user"},
		{name: "when CreateBuild has a look-alike user then the user is refused",
			when: CreateBuild{User: zw, Repo: "foo", Tag: "master", Browsers: []string{"A"}}, field: "user"},
		{name: "when CreateBuild has a look-alike repo then the repo is refused",
			when: CreateBuild{User: "api", Repo: zw, Tag: "master", Browsers: []string{"A"}}, field: "repo"},
		{name: "when CreateBuild has a look-alike browser then that browser is refused",
			when: CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: []string{"A", zw}}, field: "browsers[1]"},
		{name: "when UpdateBuild has a look-alike browser then the browser is refused",
			when: UpdateBuild{User: "api", Repo: "foo", BuildID: 1, Browser: zw, Status: "started"}, field: "browser"},
		{name: "when StartStatus has a look-alike pkg then the pkg is refused",
			when: StartStatus{Pkg: zw, Env: "dev", Version: "1.0.0", LocaleCount: 1}, field: "pkg"},
		{name: "when StartStatus has a look-alike scoped pkg then the pkg is refused",
			when: StartStatus{Pkg: "@scope/" + zw, Env: "dev", Version: "1.0.0", LocaleCount: 1}, field: "pkg"},
		{name: "when StartStatus has a look-alike env then the env is refused",
			when: StartStatus{Pkg: "web", Env: zw, Version: "1.0.0", LocaleCount: 1}, field: "env"},
		{name: "when StartStatus has a look-alike version then the version is refused",
			when: StartStatus{Pkg: "web", Env: "dev", Version: zw, LocaleCount: 1}, field: "version"},
		{name: "when StartStatus has a look-alike previous version then it is refused",
			when: StartStatus{Pkg: "web", Env: "dev", Version: "1.0.0", PreviousVersion: zw, LocaleCount: 1}, field: "previousVersion"},
		{name: "when StartStatus lists a look-alike locale then that locale is refused",
			when: StartStatus{Pkg: "web", Env: "dev", Version: "1.0.0", Locales: []string{"en-US", zw}}, field: "locales[1]"},
		{name: "when RecordStatusEvent has a look-alike locale then the locale is refused",
			when: RecordStatusEvent{Pkg: "web", Env: "dev", Version: "1.0.0", Locale: zw, Message: "m"}, field: "locale"},
		{name: "when CompleteLocale has a look-alike locale then the locale is refused",
			when: CompleteLocale{Pkg: "web", Env: "dev", Version: "1.0.0", Locale: zw}, field: "locale"},
		{name: "when StartJob has a look-alike jobname then the jobname is refused",
			when: StartJob{Jobname: zw, User: "alice", Version: "3f2a9c1"}, field: "jobname"},
		{name: "when StartJob has a look-alike user then the user is refused",
			when: StartJob{Jobname: "deploy", User: zw, Version: "3f2a9c1"}, field: "user"},
		{name: "when EndJob has a look-alike git version then the version is refused",
			when: EndJob{Jobname: "deploy", Version: zw}, field: "version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantInvalid(t, tc.when.Validate(), tc.when.CommandType(), tc.field, reason)
		})
	}
}

func TestScopedPackageNames(t *testing.T) {
	cases := []struct {
		name string
		pkg  string
		want string
	}{
		{name: "given a scoped package in NFD then it must be in NFC",
			pkg: "@scope/" + cafeNFD, want: `must be in normalized form "@scope/café"`},
		{name: "given a scope with a Cyrillic letter then it mixes scripts",
			pkg: "@sc\u043epe/web", want: "mixes Latin and Cyrillic letters"},
		{name: "given a scope and a name in two scripts then it mixes scripts",
			pkg: "@\u043f\u0440\u043e\u0434/web", want: "mixes Cyrillic and Latin letters"},
		{name: "given a second slash then it is not a scoped name",
			pkg: "@scope/web/x", want: `may contain "/" only as a scoped name "@scope/name"`},
		{name: "given a plain scoped package then it is accepted", pkg: "@scope/web"},
		{name: "given a scoped package in NFC then it is accepted", pkg: "@scope/" + cafeNFC},
		{name: "given a plain package then it is accepted", pkg: "web-ui"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CompleteLocale{Pkg: tc.pkg, Env: "dev", Version: "1.0.0", Locale: "en-US"}.Validate()
			wantInvalid(t, err, "CompleteLocale", "pkg", tc.want)
		})
	}
}

// TestNamesOfExistingTestsStillPass keeps the ASCII names the repository's tests, the
// end-to-end tests and the fault tests send valid under the identifier rules.
func TestNamesOfExistingTestsStillPass(t *testing.T) {
	cmds := []Command{
		CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: []string{"BrowserA", "BrowserB", "chrome", "firefox"}},
		CreateBuild{User: "Alice", Repo: "my-repo.v2", Tag: "feature/x", Browsers: []string{"ie11", "safari_14", "Edge-120"}},
		CreateBuild{User: "api", Repo: "foo", Tag: "v1.0", Browsers: []string{"A"}},
		UpdateBuild{User: "api", Repo: "foo", BuildID: 1, Browser: "BrowserA", Status: "finished", Finished: true},
		StartStatus{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", PreviousVersion: "1.1.0-rc.1+build.5",
			Locales: []string{"en-US", "fr-FR", "de-DE", "nl-NL", "ja-JP", "zh_Hant_TW"}},
		RecordStatusEvent{Pkg: "web", Env: "production", Version: "1.2.0", Locale: "en-US", Message: "built in 3 s"},
		CompleteLocale{Pkg: "@scope/ui", Env: "test", Version: "0.0.1", Locale: "en-US"},
		Lock{Env: "production", User: "alice", Meta: "deploy via CLI"},
		Release{Env: "staging-eu", User: "bob@example.com"},
		StartJob{Jobname: "deploy-prod", User: "alice", Version: "3f2a9c1"},
		EndJob{Jobname: "nightly:build", Version: "0123456789abcdef0123456789abcdef01234567", Skipped: true},
	}
	for _, c := range cmds {
		if err := c.Validate(); err != nil {
			t.Errorf("%#v: %v", c, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	cases := []struct {
		name string
		when Command
		then Command
	}{
		{name: "given an NFD env when normalized then it is in NFC",
			when: Lock{Env: cafeNFD, User: "alice", Meta: cafeNFD},
			then: Lock{Env: cafeNFC, User: "alice", Meta: cafeNFD}},
		{name: "given a fullwidth env when normalized then it is narrow",
			when: Release{Env: prodFullwidth, User: "alice"},
			then: Release{Env: "prod", User: "alice"}},
		{name: "given an uppercase user when normalized then its case is kept",
			when: Lock{Env: "prod", User: "Alice"},
			then: Lock{Env: "prod", User: "Alice"}},
		{name: "given NFD browsers when normalized then every browser is in NFC",
			when: CreateBuild{User: cafeNFD, Repo: cafeNFD, Tag: cafeNFD, Browsers: []string{"A", cafeNFD}},
			then: CreateBuild{User: cafeNFC, Repo: cafeNFC, Tag: cafeNFC, Browsers: []string{"A", cafeNFC}}},
		{name: "given NFD locales and versions when normalized then they are in NFC",
			when: StartStatus{Pkg: "@scope/" + cafeNFD, Env: cafeNFD, Version: cafeNFD, PreviousVersion: cafeNFD, Locales: []string{cafeNFD}},
			then: StartStatus{Pkg: "@scope/" + cafeNFC, Env: cafeNFC, Version: cafeNFC, PreviousVersion: cafeNFC, Locales: []string{cafeNFC}}},
		{name: "given a zero-width space when normalized then the name is left for Validate to refuse",
			when: Lock{Env: prodZeroWidthSpace, User: cafeNFD},
			then: Lock{Env: prodZeroWidthSpace, User: cafeNFC}},
		{name: "given mixed scripts when normalized then the name is unchanged",
			when: Lock{Env: prodCyrillicO, User: "alice"},
			then: Lock{Env: prodCyrillicO, User: "alice"}},
		{name: "given free text in NFD when normalized then the text is unchanged",
			when: RecordStatusEvent{Pkg: "web", Env: "dev", Version: "1", Locale: cafeNFD, Message: cafeNFD, Details: cafeNFD},
			then: RecordStatusEvent{Pkg: "web", Env: "dev", Version: "1", Locale: cafeNFC, Message: cafeNFD, Details: cafeNFD}},
		{name: "given a pointer to a command when normalized then the normalized value is returned",
			when: &EndJob{Jobname: cafeNFD, Version: "1"},
			then: EndJob{Jobname: cafeNFC, Version: "1"}},
		{name: "given a foreign command when normalized then it is returned unchanged",
			when: foreignCommand{}, then: foreignCommand{}},
		{name: "given no command when normalized then nil is returned", when: nil, then: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Normalize(tc.when)
			if !reflect.DeepEqual(got, tc.then) {
				t.Fatalf("Normalize\n got: %#v\nwant: %#v", got, tc.then)
			}
		})
	}
}

func TestNormalizeMakesAnNFDNameValid(t *testing.T) {
	c := Lock{Env: cafeNFD, User: "alice"}
	if err := c.Validate(); err == nil {
		t.Fatal("given an NFD env, Validate() = nil; want it refused")
	}
	n := Normalize(c)
	if err := n.Validate(); err != nil {
		t.Fatalf("Validate(Normalize(c)) = %v", err)
	}
	if got, want := n.StreamID(), "lock:"+cafeNFC; got != want {
		t.Errorf("StreamID() = %q, want %q", got, want)
	}
}

func TestNormalizeDoesNotChangeItsArgument(t *testing.T) {
	browsers := []string{cafeNFD}
	locales := []string{cafeNFD}
	Normalize(CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: browsers})
	Normalize(StartStatus{Pkg: "web", Env: "dev", Version: "1", Locales: locales})
	if browsers[0] != cafeNFD || locales[0] != cafeNFD {
		t.Errorf("Normalize wrote into the caller's slices: %q %q", browsers, locales)
	}
}

// freeTextFields are the string fields of commands that are text, not names: Normalize
// leaves them as they are.
var freeTextFields = []string{"Meta", "Message", "Details", "Reason", "Lease", "Cron", "Duration", "TZ"}

// TestNormalizeCoversEveryCommand fills every name field of every registered command type
// with an NFD name and checks that Normalize turns each of them into NFC, so a new command
// or a new name field cannot be forgotten.
func TestNormalizeCoversEveryCommand(t *testing.T) {
	samples := map[string]Command{
		"CreateBuild":       CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: []string{"A"}},
		"UpdateBuild":       UpdateBuild{User: "api", Repo: "foo", BuildID: 1, Browser: "A", Status: "started"},
		"StartStatus":       StartStatus{Pkg: "web", Env: "dev", Version: "1", PreviousVersion: "0", Locales: []string{"en"}},
		"RecordStatusEvent": RecordStatusEvent{Pkg: "web", Env: "dev", Version: "1", Locale: "en", Message: "m", Details: "d"},
		"CompleteLocale":    CompleteLocale{Pkg: "web", Env: "dev", Version: "1", Locale: "en"},
		"Lock":              Lock{Env: "prod", User: "alice", Meta: "m"},
		"Release":           Release{Env: "prod", User: "alice"},
		"Renew":             Renew{Env: "prod", User: "alice", Token: 3},
		"ExpireLock":        ExpireLock{Env: "prod", Token: 3},
		"LeaveQueue":        LeaveQueue{Env: "prod", User: "alice"},
		"AddFreeze":         AddFreeze{Env: "prod", User: "alice", Cron: "0 18 * * FRI", Duration: "64h", TZ: "UTC", Reason: "r"},
		"RemoveFreeze":      RemoveFreeze{Env: "prod", User: "alice", ID: 1},
		"StartJob":          StartJob{Jobname: "deploy", User: "alice", Version: "1"},
		"EndJob":            EndJob{Jobname: "deploy", Version: "1"},
	}
	for _, typ := range CommandTypes() {
		t.Run(typ, func(t *testing.T) {
			sample, ok := samples[typ]
			if !ok {
				t.Fatalf("no sample of %s: add one, and its name fields to Normalize", typ)
			}
			decoded, err := DecodeCommand(typ, mustJSON(t, sample))
			if err != nil || reflect.TypeOf(decoded) != reflect.TypeOf(sample) {
				t.Fatalf("the sample of %s is a %T; DecodeCommand gives %T, %v", typ, sample, decoded, err)
			}
			if got := Normalize(sample); !reflect.DeepEqual(got, sample) {
				t.Errorf("Normalize changed a normalized command:\n got: %#v\nwant: %#v", got, sample)
			}
			nfd, nfc := withEveryString(sample, cafeNFD), withEveryString(sample, cafeNFC)
			got := reflect.ValueOf(Normalize(nfd.Interface().(Command)))
			for i := range got.NumField() {
				name := got.Type().Field(i).Name
				want := nfc.Field(i)
				if slices.Contains(freeTextFields, name) {
					want = nfd.Field(i)
				}
				if !reflect.DeepEqual(got.Field(i).Interface(), want.Interface()) {
					t.Errorf("%s.%s = %+q after Normalize, want %+q", typ, name, got.Field(i).Interface(), want.Interface())
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withEveryString returns a copy of the struct c with every string field, and every element
// of every []string field, set to s.
func withEveryString(c Command, s string) reflect.Value {
	v := reflect.New(reflect.TypeOf(c)).Elem()
	v.Set(reflect.ValueOf(c))
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.String:
			f.SetString(s)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			f.Set(reflect.ValueOf([]string{s}))
		}
	}
	return v
}

func TestValidateStreamName(t *testing.T) {
	cases := []struct {
		name  string
		field string
		v     string
		want  string
	}{
		{name: "given a plain env then it is valid", field: "env", v: "prod"},
		{name: "given a scoped pkg then it is valid", field: "pkg", v: "@scope/web"},
		{name: "given a zero-width space in an env then it is refused", field: "env", v: prodZeroWidthSpace,
			want: "must not contain U+200B (an invisible formatting character)"},
		{name: "given a Cyrillic o in an env then it is refused", field: "env", v: prodCyrillicO,
			want: "mixes Latin and Cyrillic letters"},
		{name: "given an NFD user then it is refused", field: "user", v: cafeNFD,
			want: `must be in normalized form "café"`},
		{name: "given a slash in a repo then it is refused", field: "repo", v: "a/b", want: `must not contain "/"`},
		{name: "given an NFD scoped pkg then it is refused", field: "pkg", v: "@scope/" + cafeNFD,
			want: `must be in normalized form "@scope/café"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateStreamName(tc.field, tc.v)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ValidateStreamName = %v, want nil", err)
				}
				return
			}
			var ice *InvalidCommandError
			if !errors.As(err, &ice) || ice.Field != tc.field || ice.Reason != tc.want {
				t.Fatalf("ValidateStreamName = %#v, want field %q reason %q", err, tc.field, tc.want)
			}
		})
	}
}
