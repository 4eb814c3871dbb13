package domain

import (
	"reflect"
	"strings"
	"testing"
)

const webStream = "status:@scope/web/dev/1.2.0"

func statusStarted(locales []string, count int) StatusStarted {
	return StatusStarted{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", PreviousVersion: "1.1.0", Locales: locales, LocaleCount: count, At: t0}
}

func localeCompleted(locale string, count int, total float64) LocaleCompleted {
	return LocaleCompleted{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", Locale: locale, Count: count, Total: total, At: t0}
}

func startStatus(locales []string, count int) StartStatus {
	return StartStatus{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", PreviousVersion: "1.1.0", Locales: locales, LocaleCount: count}
}

func completeLocale(locale string) CompleteLocale {
	return CompleteLocale{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", Locale: locale}
}

func recordEvent(locale, message string, isErr bool) RecordStatusEvent {
	return RecordStatusEvent{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", Locale: locale, Message: message, Details: "step 3 of 7", Error: isErr}
}

func eventRecorded(n int, locale, message string, isErr bool) StatusEventRecorded {
	return StatusEventRecorded{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", Locale: locale, Message: message,
		Details: "step 3 of 7", Error: isErr, EventID: tid(n).String(), At: t0}
}

var (
	statusDone   = StatusCompleted{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", At: t0}
	twoLocales   = statusStarted([]string{"en-US", "fr-FR"}, 2)
	threeCounted = statusStarted([]string{}, 3)
)

func TestStatusRules(t *testing.T) {
	notStarted := &StatusNotStartedError{Pkg: "@scope/web", Env: "dev", Version: "1.2.0"}
	runScenarios(t, webStream, []scenario{
		{
			name: "given nothing when StartStatus with locales then the status starts with their number",
			when: startStatus([]string{"en-US", "fr-FR"}, 0),
			then: []Event{twoLocales},
			check: func(t *testing.T, a Aggregate) {
				s := stateOf[*Status](t, a)
				if !s.Started() || s.LocaleCount() != 2 || s.Complete() || s.Errored() || s.Total() != 0 {
					t.Errorf("state after start: %+v", s)
				}
				if s.Pkg() != "@scope/web" || s.Env() != "dev" || s.PkgVersion() != "1.2.0" || s.PreviousVersion() != "1.1.0" {
					t.Errorf("identity: %s %s %s %s", s.Pkg(), s.Env(), s.PkgVersion(), s.PreviousVersion())
				}
				if !reflect.DeepEqual(s.Locales(), []string{"en-US", "fr-FR"}) {
					t.Errorf("locales = %q", s.Locales())
				}
			},
		},
		{
			name: "given nothing when StartStatus with a count then the status starts with an empty list",
			when: startStatus(nil, 3),
			then: []Event{threeCounted},
		},
		{
			name: "given nothing when StartStatus with a list and its matching count then it starts",
			when: startStatus([]string{"en-US", "fr-FR"}, 2),
			then: []Event{twoLocales},
		},
		{
			name: "given nothing when StartStatus without previous version then it starts",
			when: StartStatus{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", LocaleCount: 1},
			then: []Event{StatusStarted{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", Locales: []string{}, LocaleCount: 1, At: t0}},
		},
		{
			name:    "given a started status when StartStatus again then it is rejected",
			given:   []Event{twoLocales},
			when:    startStatus(nil, 3),
			thenErr: &StatusAlreadyStartedError{Pkg: "@scope/web", Env: "dev", Version: "1.2.0"},
			thenMsg: "domain: status of @scope/web 1.2.0 in dev has already been started",
		},
		{
			name:    "given nothing when RecordStatusEvent then it is rejected as not started",
			when:    recordEvent("en-US", "building", false),
			thenErr: notStarted,
			thenMsg: "domain: status of @scope/web 1.2.0 in dev has not been started",
		},
		{
			name:    "given nothing when CompleteLocale then it is rejected as not started",
			when:    completeLocale("en-US"),
			thenErr: notStarted,
		},
		{
			name:  "given a started status when RecordStatusEvent then the event gets a time id",
			given: []Event{twoLocales},
			when:  recordEvent("en-US", "building", false),
			then:  []Event{eventRecorded(1, "en-US", "building", false)},
		},
		{
			name:  "given a started status when an event without locale is recorded then it is accepted",
			given: []Event{twoLocales},
			when:  RecordStatusEvent{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", Message: "queued"},
			then: []Event{StatusEventRecorded{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", Message: "queued",
				EventID: tid(1).String(), At: t0}},
		},
		{
			name:  "given a started status when an error event is recorded then the status errors",
			given: []Event{twoLocales},
			when:  recordEvent("fr-FR", "webpack failed", true),
			then: []Event{
				eventRecorded(1, "fr-FR", "webpack failed", true),
				StatusErrored{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", EventID: tid(1).String(), At: t0},
			},
			check: func(t *testing.T, a Aggregate) {
				if !stateOf[*Status](t, a).Errored() {
					t.Error("not errored")
				}
			},
		},
		{
			name: "given an errored status when another error event is recorded then it errors only once",
			given: []Event{twoLocales, eventRecorded(1, "fr-FR", "webpack failed", true),
				StatusErrored{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", EventID: tid(1).String(), At: t0}},
			when: recordEvent("en-US", "webpack failed too", true),
			then: []Event{eventRecorded(1, "en-US", "webpack failed too", true)},
		},
		{
			name:  "given two locales when one completes then progress is 50%",
			given: []Event{twoLocales},
			when:  completeLocale("fr-FR"),
			then:  []Event{localeCompleted("fr-FR", 1, 50)},
		},
		{
			name:  "given one of two locales done when the other completes then the status completes",
			given: []Event{twoLocales, localeCompleted("fr-FR", 1, 50)},
			when:  completeLocale("en-US"),
			then:  []Event{localeCompleted("en-US", 2, 100), statusDone},
			check: func(t *testing.T, a Aggregate) {
				s := stateOf[*Status](t, a)
				if !s.Complete() || s.Count() != 2 || s.Total() != 100 {
					t.Errorf("complete %v count %d total %v", s.Complete(), s.Count(), s.Total())
				}
				if !reflect.DeepEqual(s.CompletedLocales(), []string{"en-US", "fr-FR"}) {
					t.Errorf("completed = %q", s.CompletedLocales())
				}
			},
		},
		{
			name:  "given a locale done when it completes again then nothing happens and no error",
			given: []Event{twoLocales, localeCompleted("fr-FR", 1, 50)},
			when:  completeLocale("fr-FR"),
			then:  nil,
		},
		{
			name:  "given a complete status when a locale completes again then nothing happens",
			given: []Event{twoLocales, localeCompleted("fr-FR", 1, 50), localeCompleted("en-US", 2, 100), statusDone},
			when:  completeLocale("en-US"),
			then:  nil,
		},
		{
			name:    "given a locale list when a locale outside it completes then it is rejected",
			given:   []Event{twoLocales},
			when:    completeLocale("de-DE"),
			thenErr: &UnknownLocaleError{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", Locale: "de-DE", Locales: []string{"en-US", "fr-FR"}},
			thenMsg: `domain: locale "de-DE" is not one of the locales of @scope/web 1.2.0 in dev ["en-US" "fr-FR"]`,
		},
		{
			name:  "given a count of 3 when a third distinct locale completes then the status completes",
			given: []Event{threeCounted, localeCompleted("a", 1, 100.0/3), localeCompleted("b", 2, 200.0/3)},
			when:  completeLocale("c"),
			then:  []Event{localeCompleted("c", 3, 100), statusDone},
		},
		{
			name: "given a count of 3 all done when a fourth locale completes then it is rejected",
			given: []Event{threeCounted, localeCompleted("a", 1, 100.0/3), localeCompleted("b", 2, 200.0/3),
				localeCompleted("c", 3, 100), statusDone},
			when:    completeLocale("d"),
			thenErr: &TooManyLocalesError{Pkg: "@scope/web", Env: "dev", Version: "1.2.0", Locale: "d", LocaleCount: 3},
			thenMsg: `domain: all 3 locales of @scope/web 1.2.0 in dev are complete; "d" would be one too many`,
		},
		{
			name:  "given a complete status when an event is recorded then it is still accepted",
			given: []Event{twoLocales, localeCompleted("fr-FR", 1, 50), localeCompleted("en-US", 2, 100), statusDone},
			when:  recordEvent("", "published", false),
			then:  []Event{eventRecorded(1, "", "published", false)},
		},
		{
			name:    "when StartStatus has neither locales nor a count then it is invalid",
			when:    startStatus(nil, 0),
			thenErr: invalid("StartStatus", "localeCount", "must be positive when no locales are listed"),
			thenMsg: "domain: invalid command: StartStatus: localeCount: must be positive when no locales are listed",
		},
		{
			name:    "when StartStatus has a negative count then it is invalid",
			when:    startStatus([]string{}, -1),
			thenErr: invalid("StartStatus", "localeCount", "must be positive when no locales are listed"),
		},
		{
			name:    "when StartStatus has a count that differs from its list then it is invalid",
			when:    startStatus([]string{"en-US"}, 2),
			thenErr: invalid("StartStatus", "localeCount", "must be 0 or the number of listed locales (1)"),
		},
		{
			name:    "when StartStatus lists a locale twice then it is invalid",
			when:    startStatus([]string{"en-US", "en-US"}, 0),
			thenErr: invalid("StartStatus", "locales[1]", `"en-US" is listed twice`),
		},
		{
			name:    "when StartStatus lists an empty locale then it is invalid",
			when:    startStatus([]string{""}, 0),
			thenErr: invalid("StartStatus", "locales[0]", "must not be empty"),
		},
		{
			name:    "when the package has a slash without a scope then it is invalid",
			when:    StartStatus{Pkg: "a/b", Env: "dev", Version: "1", LocaleCount: 1},
			thenErr: invalid("StartStatus", "pkg", `may contain "/" only as a scoped name "@scope/name"`),
		},
		{
			name:    "when the scoped package has two slashes then it is invalid",
			when:    StartStatus{Pkg: "@a/b/c", Env: "dev", Version: "1", LocaleCount: 1},
			thenErr: invalid("StartStatus", "pkg", `may contain "/" only as a scoped name "@scope/name"`),
		},
		{
			name:    "when the package is empty then it is invalid",
			when:    StartStatus{Env: "dev", Version: "1", LocaleCount: 1},
			thenErr: invalid("StartStatus", "pkg", "must not be empty"),
		},
		{
			name:    "when the env has a slash then it is invalid",
			when:    StartStatus{Pkg: "web", Env: "dev/x", Version: "1", LocaleCount: 1},
			thenErr: invalid("StartStatus", "env", `must not contain "/"`),
		},
		{
			name:    "when the version is empty then it is invalid",
			when:    CompleteLocale{Pkg: "web", Env: "dev", Locale: "en-US"},
			thenErr: invalid("CompleteLocale", "version", "must not be empty"),
		},
		{
			name:    "when the previous version has a control character then it is invalid",
			when:    StartStatus{Pkg: "web", Env: "dev", Version: "1", PreviousVersion: "0\t9", LocaleCount: 1},
			thenErr: invalid("StartStatus", "previousVersion", "must not contain control characters"),
		},
		{
			name:    "when RecordStatusEvent has no message then it is invalid",
			when:    recordEvent("en-US", "", false),
			thenErr: invalid("RecordStatusEvent", "message", "must not be empty"),
		},
		{
			name:    "when RecordStatusEvent has oversized details then it is invalid",
			when:    RecordStatusEvent{Pkg: "web", Env: "dev", Version: "1", Message: "m", Details: strings.Repeat("d", maxTextBytes+1)},
			thenErr: invalid("RecordStatusEvent", "details", "must be at most 65536 bytes"),
		},
		{
			name:    "when CompleteLocale has no locale then it is invalid",
			when:    completeLocale(""),
			thenErr: invalid("CompleteLocale", "locale", "must not be empty"),
		},
		{
			name:   "given a started status when the env has no time id source then the decision fails",
			given:  []Event{twoLocales},
			when:   recordEvent("en-US", "building", false),
			env:    envWith(func(e *Env) { e.NewTimeID = nil }),
			thenIs: ErrInvalidEnv,
		},
	})
}
