package feed

import (
	"slices"
	"strings"
)

// Filter selects the streams a follower receives; the zero Filter selects every stream.
// It selects whole streams, so that a stream's events keep their order in any filtered feed.
type Filter struct {
	// Kinds are stream kinds (the part of a stream id before ":", e.g. "lock", "status",
	// "put"); empty for every kind.
	Kinds []string
	// Stream is one stream id; empty for every stream.
	Stream string
}

// Matches tells whether the filter selects stream.
func (f Filter) Matches(stream string) bool {
	if f.Stream != "" && stream != f.Stream {
		return false
	}
	if len(f.Kinds) == 0 {
		return true
	}
	kind, _, _ := strings.Cut(stream, ":")
	return slices.Contains(f.Kinds, kind)
}
