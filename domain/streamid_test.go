package domain_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"buildledger/domain"
)

func TestParseStreamID_given_stored_stream_ids_then_kind_and_components(t *testing.T) {
	for id, want := range map[string][]string{
		"repo:api/foo":                {domain.KindRepo, "api", "foo"},
		"status:@scope/pkg/dev/1.0.0": {domain.KindStatus, "@scope/pkg", "dev", "1.0.0"},
		"lock:PROD":                   {domain.KindLock, "PROD"},
		"job:deploy/abc":              {domain.KindJob, "deploy", "abc"},
	} {
		kind, parts, err := domain.ParseStreamID(id)
		if err != nil || kind != want[0] || !reflect.DeepEqual(parts, want[1:]) {
			t.Errorf("ParseStreamID(%q) = %q, %v, %v; want %v", id, kind, parts, err, want)
		}
	}
}

func TestParseStreamID_given_no_domain_stream_then_invalid(t *testing.T) {
	for _, id := range []string{"job:deploy", "put:20240101T000000000000000000", "$buckets", "repo:api /foo", "lock:" + strings.Repeat("x", 1000)} {
		if kind, parts, err := domain.ParseStreamID(id); !errors.Is(err, domain.ErrInvalidStreamID) || kind != "" || parts != nil {
			t.Errorf("ParseStreamID(%q) = %q, %v, %v; want ErrInvalidStreamID", id, kind, parts, err)
		}
	}
}

func TestStreamKind(t *testing.T) {
	for id, want := range map[string]string{"repo:a/b": "repo", "put:123": "put", "$buckets": "", "lock:x": "lock"} {
		if got := domain.StreamKind(id); got != want {
			t.Errorf("StreamKind(%q) = %q, want %q", id, got, want)
		}
	}
}
