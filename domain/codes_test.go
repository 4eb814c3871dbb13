package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"buildledger/domain"
)

func TestReason_GivenRejectionsAndInvalidCommands_ThenTextForPeopleWithoutPackagePrefix(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"given a held lock then Da-Playa's line exactly", &domain.LockedError{Env: "prod", User: "alice"}, "Still locked at env prod by alice"},
		{"given an unknown build then no prefix", &domain.UnknownBuildError{Repo: "api/foo", BuildID: 7}, "build 7 of api/foo does not exist"},
		{"given joined validation problems then each without prefix", errors.Join(
			&domain.InvalidCommandError{Command: "Lock", Field: "env", Reason: "must not be empty"},
			&domain.InvalidCommandError{Command: "Lock", Field: "user", Reason: "must not be empty"}),
			"invalid command: Lock: env: must not be empty; invalid command: Lock: user: must not be empty"},
		{"given a wrapped rejection then the rejection's own text", fmt.Errorf("deciding: %w", &domain.NoRunningJobError{Jobname: "deploy", Version: "abc"}), "job deploy at version abc is not running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.Reason(tt.err); got != tt.want {
				t.Errorf("Reason = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRejectionCode_GivenEachRejection_ThenItMatchesErrRejectedWithItsCode(t *testing.T) {
	tests := []struct {
		err  error
		code string
	}{
		{&domain.LockedError{}, domain.CodeLocked},
		{&domain.NotLockHolderError{}, domain.CodeNotHolder},
		{&domain.UberlockReleaseError{}, domain.CodeUberlocked},
		{&domain.JobRunningError{}, domain.CodeJobRunning},
		{&domain.NoRunningJobError{}, domain.CodeJobNotRunning},
		{&domain.UnknownBuildError{}, domain.CodeUnknownBuild},
		{&domain.BuildFinishedError{}, domain.CodeBuildFinished},
		{&domain.UnknownBrowserError{}, domain.CodeUnknownBrowser},
		{&domain.StatusNotStartedError{}, domain.CodeStatusNotStarted},
		{&domain.StatusAlreadyStartedError{}, domain.CodeStatusStarted},
		{&domain.UnknownLocaleError{}, domain.CodeUnknownLocale},
		{&domain.TooManyLocalesError{}, domain.CodeTooManyLocales},
		{&domain.LockLostError{}, domain.CodeLockLost},
		{&domain.HolderError{}, domain.CodeHolder},
		{&domain.FrozenError{}, domain.CodeFrozen},
		{&domain.UnknownFreezeError{}, domain.CodeUnknownFreeze},
	}
	for _, tt := range tests {
		t.Run("given a "+fmt.Sprintf("%T", tt.err)+" then it is a rejection coded "+tt.code, func(t *testing.T) {
			wrapped := fmt.Errorf("deciding: %w", tt.err)
			if !errors.Is(wrapped, domain.ErrRejected) {
				t.Errorf("%T does not match ErrRejected", tt.err)
			}
			if got := domain.RejectionCode(wrapped); got != tt.code {
				t.Errorf("RejectionCode = %q, want %q", got, tt.code)
			}
		})
	}
}
