package domain_test

import (
	"errors"
	"reflect"
	"testing"

	"buildledger/domain"
)

func TestParseStreamID(t *testing.T) {
	for _, tc := range []struct {
		name  string
		id    string
		kind  string
		parts []string
	}{
		{"given a repo stream then user and repo", "repo:api/foo", domain.KindRepo, []string{"api", "foo"}},
		{"given a scoped package then it keeps its slash", "status:@scope/pkg/dev/1.0.0", domain.KindStatus, []string{"@scope/pkg", "dev", "1.0.0"}},
		{"given a lock stream then the env", "lock:PROD", domain.KindLock, []string{"PROD"}},
		{"given a job stream then jobname and version", "job:deploy/abc", domain.KindJob, []string{"deploy", "abc"}},
		{"given a job stream without version then invalid", "job:deploy", "", nil},
		{"given a put stream then invalid", "put:20240101T000000000000000000", "", nil},
		{"given no kind then invalid", "$buckets", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, parts, err := domain.ParseStreamID(tc.id)
			if kind != tc.kind || !reflect.DeepEqual(parts, tc.parts) {
				t.Errorf("ParseStreamID(%q) = %q, %v, %v", tc.id, kind, parts, err)
			}
			if tc.kind == "" && !errors.Is(err, domain.ErrInvalidStreamID) {
				t.Errorf("ParseStreamID(%q): error %v, want ErrInvalidStreamID", tc.id, err)
			}
		})
	}
}

func TestStreamKind(t *testing.T) {
	for id, want := range map[string]string{"repo:a/b": "repo", "put:123": "put", "$buckets": "", "lock:x": "lock"} {
		if got := domain.StreamKind(id); got != want {
			t.Errorf("StreamKind(%q) = %q, want %q", id, got, want)
		}
	}
}
