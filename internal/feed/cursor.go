package feed

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"buildledger/eventstore"
)

// ErrInvalidCursor means a cursor (an after parameter or a Last-Event-ID) is malformed.
var ErrInvalidCursor = errors.New("feed: invalid cursor")

// cursorSeparator joins a cursor's keys; timestamp keys are digits and a T, so it never
// occurs in one, and it needs no escaping in a URL or an SSE id.
const cursorSeparator = "."

// Cursor is a position in the feed that resumes exactly: every event whose key is at or
// before Position was delivered, and so were the events named in Ahead, whose keys lie after
// Position. Ahead holds the earlier versions of a stream sent before their place in key
// order, because a worker with a slower clock wrote them with later keys (see Reader).
//
// The zero Cursor is the beginning of the feed.
type Cursor struct {
	// Position is a timestamp key, or "" for the beginning.
	Position string
	// Ahead are the keys, after Position and in increasing order, of events already sent.
	Ahead []string
}

// String returns the cursor's text: Position, then each Ahead key, joined by ".".
func (c Cursor) String() string {
	if len(c.Ahead) == 0 {
		return c.Position
	}
	return c.Position + cursorSeparator + strings.Join(c.Ahead, cursorSeparator)
}

// ParseCursor reads a cursor written by Cursor.String; "" is the beginning. A bare timestamp
// key is a cursor, so that the after of /v1/events is one.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	keys := strings.Split(s, cursorSeparator)
	for _, k := range keys {
		if _, err := eventstore.ParseKey(k); err != nil {
			return Cursor{}, fmt.Errorf("%w: %q: %v", ErrInvalidCursor, s, err)
		}
	}
	c := Cursor{Position: keys[0], Ahead: keys[1:]}
	for i, k := range c.Ahead {
		if k <= c.Position || (i > 0 && k <= c.Ahead[i-1]) {
			return Cursor{}, fmt.Errorf("%w: %q: the keys after the first must increase", ErrInvalidCursor, s)
		}
	}
	if len(c.Ahead) == 0 {
		c.Ahead = nil
	}
	return c, nil
}

// sent tells whether the event with key was delivered before c.
func (c Cursor) sent(key string) bool {
	if key <= c.Position {
		return true
	}
	_, found := slices.BinarySearch(c.Ahead, key)
	return found
}

// advance moves the position to key, forgetting the ahead keys it passes.
func (c Cursor) advance(key string) Cursor {
	i := 0
	for i < len(c.Ahead) && c.Ahead[i] <= key {
		i++
	}
	return Cursor{Position: key, Ahead: slices.Clone(c.Ahead[i:])}
}

// withAhead adds key, which lies after the position, to the ahead keys.
func (c Cursor) withAhead(key string) Cursor {
	ahead := slices.Clone(c.Ahead)
	i, found := slices.BinarySearch(ahead, key)
	if !found {
		ahead = slices.Insert(ahead, i, key)
	}
	return Cursor{Position: c.Position, Ahead: ahead}
}
