package domain

import (
	"errors"
	"strings"
)

// Rejection codes: the stable, machine-readable kind of each rule rejection. Callers decide
// on the code; the error text is for people and may change.
const (
	// CodeLocked: someone else holds the environment's lock.
	CodeLocked = "locked"
	// CodeNotHolder: the user releasing a lock does not hold it.
	CodeNotHolder = "not_holder"
	// CodeUberlocked: a plain release met an uberlock.
	CodeUberlocked = "uberlocked"
	// CodeJobRunning: a run of the job at that version is already running.
	CodeJobRunning = "job_running"
	// CodeJobNotRunning: no run of the job at that version is running.
	CodeJobNotRunning = "job_not_running"
	// CodeUnknownBuild: the repository has no such build.
	CodeUnknownBuild = "unknown_build"
	// CodeBuildFinished: the build has finished.
	CodeBuildFinished = "build_finished"
	// CodeUnknownBrowser: the build does not run that browser.
	CodeUnknownBrowser = "unknown_browser"
	// CodeStatusNotStarted: the package version's status was never started.
	CodeStatusNotStarted = "status_not_started"
	// CodeStatusStarted: the package version's status was started already.
	CodeStatusStarted = "status_started"
	// CodeUnknownLocale: the status does not build that locale.
	CodeUnknownLocale = "unknown_locale"
	// CodeTooManyLocales: completing the locale would exceed the locale count.
	CodeTooManyLocales = "too_many_locales"
	// CodeLockLost: the grant to renew is no longer held (expired, forced or replaced).
	CodeLockLost = "lock_lost"
	// CodeHolder: the user leaving the queue holds the lock already.
	CodeHolder = "holder"
	// CodeFrozen: a scheduled freeze window is open.
	CodeFrozen = "frozen"
	// CodeUnknownFreeze: the env has no freeze schedule of that id.
	CodeUnknownFreeze = "unknown_freeze"
	// CodeRejected: a rejection that carries no more specific code.
	CodeRejected = "rejected"
)

// RejectionCode returns the stable code of a rule rejection (CodeLocked, …), CodeRejected
// for a rejection without one, and "" when err is not a rejection.
func RejectionCode(err error) string {
	var coded interface{ Code() string }
	if errors.As(err, &coded) {
		return coded.Code()
	}
	if errors.Is(err, ErrRejected) {
		return CodeRejected
	}
	return ""
}

// errorPrefix starts the text of this package's errors, as Go errors name their package.
const errorPrefix = "domain: "

// Reason returns the text of a rejection or of an invalid command for people: without the
// package prefix that its Go error carries, e.g. "build 7 of api/foo does not exist"; the
// errors of a joined error each so, joined by "; ". A LockedError's text, Da-Playa's
// "Still locked at env <ENV> by <USER>", is returned exactly as it is. Outcomes store
// this, and clients show it as it is.
func Reason(err error) string {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		for _, e := range joined.Unwrap() {
			parts = append(parts, Reason(e))
		}
		return strings.Join(parts, "; ")
	}
	var coded interface {
		error
		Code() string
	}
	if errors.As(err, &coded) {
		err = coded
	}
	return strings.TrimPrefix(err.Error(), errorPrefix)
}

// Code returns CodeLocked.
func (*LockedError) Code() string { return CodeLocked }

// Code returns CodeNotHolder.
func (*NotLockHolderError) Code() string { return CodeNotHolder }

// Code returns CodeUberlocked.
func (*UberlockReleaseError) Code() string { return CodeUberlocked }

// Code returns CodeJobRunning.
func (*JobRunningError) Code() string { return CodeJobRunning }

// Code returns CodeJobNotRunning.
func (*NoRunningJobError) Code() string { return CodeJobNotRunning }

// Code returns CodeUnknownBuild.
func (*UnknownBuildError) Code() string { return CodeUnknownBuild }

// Code returns CodeBuildFinished.
func (*BuildFinishedError) Code() string { return CodeBuildFinished }

// Code returns CodeUnknownBrowser.
func (*UnknownBrowserError) Code() string { return CodeUnknownBrowser }

// Code returns CodeStatusNotStarted.
func (*StatusNotStartedError) Code() string { return CodeStatusNotStarted }

// Code returns CodeStatusStarted.
func (*StatusAlreadyStartedError) Code() string { return CodeStatusStarted }

// Code returns CodeUnknownLocale.
func (*UnknownLocaleError) Code() string { return CodeUnknownLocale }

// Code returns CodeTooManyLocales.
func (*TooManyLocalesError) Code() string { return CodeTooManyLocales }
