package eventstore

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// KeyLength is the length of a timestamp key such as "20130927T005240652508858176".
const KeyLength = 27

// Layout of the nine digits after the milliseconds: a per-millisecond sequence, then the
// generator's node number. The sequence comes first so that keys of one generator sort in
// the order they were made.
const (
	seqDigits  = 5
	nodeDigits = 4
	maxSeq     = 99_999
	maxNode    = 9_999
	// seqSpread bounds the random first sequence number of each millisecond (see NewKeyGenerator).
	seqSpread = 50_000
)

const keyTimeLayout = "20060102T150405"

// KeyGenerator makes timestamp keys in dynamodb-eventstore's format: the UTC time as
// YYYYMMDDTHHMMSS, three digits of milliseconds, five digits of a per-millisecond sequence
// and four digits of the generator's node number, 27 characters in all.
//
// Keys of one generator are unique and strictly increasing in call order, also when many
// keys are made within one millisecond and when the clock steps back: the generator keeps
// the last millisecond it used and counts on from there, carrying into the next millisecond
// when the sequence is exhausted. Keys of different generators differ by their node number.
// A KeyGenerator is safe for concurrent use.
type KeyGenerator struct {
	now      func() time.Time
	node     int
	seqStart func() int

	mu     sync.Mutex
	lastMs int64
	seq    int
}

// NewKeyGenerator returns a generator with a random node number, reading time from now
// (time.Now when nil). Use one generator per process.
//
// Each millisecond's sequence starts at a random number below 50,000 rather than at 0: with
// only 10,000 node numbers, two processes that share one would otherwise collide whenever
// both make their first key of the same millisecond, which is common; with the random start
// they also need the same sequence number. At least 50,000 keys per millisecond remain
// before the sequence carries into the next millisecond.
func NewKeyGenerator(now func() time.Time) *KeyGenerator {
	g := newKeyGenerator(now, rand.IntN(maxNode+1))
	g.seqStart = func() int { return rand.IntN(seqSpread) }
	return g
}

// NewKeyGeneratorWithNode returns a deterministic generator: node number node (0 to 9999)
// and every millisecond's sequence starting at 0. It suits a single process that owns its
// store (the in-memory store) and tests; processes sharing a table need distinct nodes.
func NewKeyGeneratorWithNode(now func() time.Time, node int) (*KeyGenerator, error) {
	if node < 0 || node > maxNode {
		return nil, fmt.Errorf("%w: key generator node %d is outside 0..%d", ErrInvalidInput, node, maxNode)
	}
	return newKeyGenerator(now, node), nil
}

func newKeyGenerator(now func() time.Time, node int) *KeyGenerator {
	if now == nil {
		now = time.Now
	}
	return &KeyGenerator{now: now, node: node, seqStart: func() int { return 0 }, lastMs: math.MinInt64}
}

// Node is the generator's node number, the last four digits of its keys.
func (g *KeyGenerator) Node() int { return g.node }

// Next returns a new key, greater than every key this generator returned before.
func (g *KeyGenerator) Next() string {
	g.mu.Lock()
	ms := g.now().UnixMilli()
	if ms > g.lastMs {
		g.lastMs = ms
		g.seq = g.seqStart()
	} else {
		// Same millisecond, or the clock went back: stay on the last millisecond.
		g.seq++
		if g.seq > maxSeq {
			g.lastMs++
			g.seq = 0
		}
	}
	ms, seq := g.lastMs, g.seq
	g.mu.Unlock()
	return formatKey(ms, seq, g.node)
}

func formatKey(ms int64, seq, node int) string {
	buf := make([]byte, 0, KeyLength)
	buf = time.UnixMilli(ms).UTC().AppendFormat(buf, keyTimeLayout)
	buf = appendDigits(buf, int(ms%1000), 3)
	buf = appendDigits(buf, seq, seqDigits)
	buf = appendDigits(buf, node, nodeDigits)
	return string(buf)
}

func appendDigits(buf []byte, v, width int) []byte {
	start := len(buf)
	for range width {
		buf = append(buf, '0')
	}
	for i := len(buf) - 1; i >= start && v > 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return buf
}

// Bucket returns the time bucket of a key, its day "YYYYMMDD", under which the time index
// groups events. A string shorter than a day is returned whole.
func Bucket(key string) string {
	if len(key) < 8 {
		return key
	}
	return key[:8]
}

// ParseKey checks that key is a timestamp key and returns the time it encodes, to the
// millisecond.
func ParseKey(key string) (time.Time, error) {
	if len(key) != KeyLength {
		return time.Time{}, fmt.Errorf("%w: key %q is not %d characters long", ErrInvalidInput, key, KeyLength)
	}
	for i := 15; i < KeyLength; i++ {
		if key[i] < '0' || key[i] > '9' {
			return time.Time{}, fmt.Errorf("%w: key %q has a non-digit at %d", ErrInvalidInput, key, i)
		}
	}
	t, err := time.Parse(keyTimeLayout, key[:15])
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: key %q: %v", ErrInvalidInput, key, err)
	}
	ms := int(key[15]-'0')*100 + int(key[16]-'0')*10 + int(key[17]-'0')
	return t.Add(time.Duration(ms) * time.Millisecond), nil
}

// FirstKeyAt returns the smallest timestamp key of the millisecond of t: every key made in
// that millisecond or later sorts at or after it, so it is where a read from time t starts.
func FirstKeyAt(t time.Time) string { return formatKey(t.UnixMilli(), 0, 0) }
