package projections

import (
	"context"
	"errors"
	"fmt"
	"math"

	"buildledger/internal/convert"
)

var (
	// ErrConditionFailed means a guarded write found the stored item in another state than
	// its guard asked for (another writer came first), or a transaction collided with
	// another one; nothing of the write took effect.
	ErrConditionFailed = errors.New("projections: condition failed")
	// ErrNoTable means a table does not exist, e.g. a generation that a replay dropped.
	ErrNoTable = errors.New("projections: no such table")
	// ErrInvalidWrite means a write is malformed: an unknown table, a key that does not fit
	// its schema, a value of an unsupported type, the same item twice, too many items.
	ErrInvalidWrite = errors.New("projections: invalid write")
)

// MaxWriteItems is the most puts and deletes one Store.Write may carry: DynamoDB's
// TransactWriteItems limit.
const MaxWriteItems = 100

// Store is the read-model store port: tables of items addressed by Key, grouped in
// generations. Every call that does I/O takes ctx first. Stores are safe for concurrent use.
type Store interface {
	// Get returns the items stored under keys, read strongly consistent; keys with no item
	// are absent from the result. A missing table is ErrNoTable. Up to MaxWriteItems keys
	// are read as one snapshot: a Write is seen wholly or not at all.
	Get(ctx context.Context, keys []Key) (map[Key]Item, error)
	// Query returns the items of one partition of a table or index in sort key order,
	// following every page, up to q.Limit items.
	Query(ctx context.Context, q Query) ([]Item, error)
	// Scan calls fn with every item of table t, page by page, in no particular order.
	Scan(ctx context.Context, t Table, fn func(items []Item) error) error
	// Write applies puts and deletes all or nothing. A put whose guard does not hold makes
	// the whole write fail with ErrConditionFailed. At most MaxWriteItems items, each
	// touched once.
	Write(ctx context.Context, puts []Put, deletes []Key) error
	// WriteBatch applies puts and deletes without a transaction, in batches, retrying what
	// the store leaves unprocessed; guards are not allowed. An error may leave part of it
	// written. Each item may be touched once.
	WriteBatch(ctx context.Context, puts []Put, deletes []Key) error
	// CreateTables creates the tables that do not exist yet and waits until they can be
	// used; it returns the ones it created.
	CreateTables(ctx context.Context, tables []Table) (created []Table, err error)
	// DropTables deletes tables; tables that do not exist are ignored.
	DropTables(ctx context.Context, tables []Table) error
	// Tables returns every table of the read model that exists, of every generation.
	Tables(ctx context.Context) ([]Table, error)
}

// Put writes one item, replacing whatever the table holds under its key.
type Put struct {
	// Table is the table the item goes to.
	Table Table
	// Item is the whole item, key attributes included.
	Item Item
	// Guard, when set, is a condition on the stored item that must hold for the write to
	// take effect.
	Guard *Guard
}

// GuardOp is the kind of condition a Guard states.
type GuardOp int

const (
	// GuardAbsent: no item is stored under the key.
	GuardAbsent GuardOp = iota + 1
	// GuardEqual: an item is stored and each of Attrs holds the value at the same index of
	// Values.
	GuardEqual
	// GuardOlder: no item is stored, or the stored tuple of Attrs sorts before Values
	// (compared attribute by attribute, as with CompareValues). It turns a put into a "newest
	// wins" write whose outcome does not depend on the order writers arrive in.
	GuardOlder
)

// Guard is a condition on the stored item of a Put.
type Guard struct {
	// Op is the condition.
	Op GuardOp
	// Attrs are the attributes the condition reads (GuardEqual, GuardOlder).
	Attrs []string
	// Values are what Attrs are compared with: strings, int64 or bool.
	Values []any
}

// Absent returns the guard "no item is stored under the key".
func Absent() *Guard { return &Guard{Op: GuardAbsent} }

// Equal returns the guard "the stored item's attr is v".
func Equal(attr string, v any) *Guard {
	return &Guard{Op: GuardEqual, Attrs: []string{attr}, Values: []any{v}}
}

// Older returns the guard "no item is stored, or its (attrs...) sort before (values...)".
func Older(attrs []string, values []any) *Guard {
	return &Guard{Op: GuardOlder, Attrs: attrs, Values: values}
}

// Holds reports whether the guard holds for stored, the item currently stored (nil when
// there is none). Stores without native conditions (the in-memory one) use it.
func (g *Guard) Holds(stored Item) bool {
	if g == nil {
		return true
	}
	switch g.Op {
	case GuardAbsent:
		return stored == nil
	case GuardEqual:
		if stored == nil {
			return false
		}
		for i, a := range g.Attrs {
			v, ok := stored[a]
			if !ok || valueRank(v) != valueRank(g.Values[i]) || CompareValues(v, g.Values[i]) != 0 {
				return false
			}
		}
		return true
	case GuardOlder:
		if stored == nil {
			return true
		}
		for i, a := range g.Attrs {
			v, ok := stored[a]
			if !ok || valueRank(v) != valueRank(g.Values[i]) {
				// DynamoDB's comparison of a missing or differently typed attribute is
				// false: the guard does not hold.
				return false
			}
			switch c := CompareValues(v, g.Values[i]); {
			case c < 0:
				return true
			case c > 0:
				return false
			}
		}
		return false // equal tuples: not older
	}
	return false
}

// Check reports whether the guard is well formed.
func (g *Guard) Check() error {
	if g == nil {
		return nil
	}
	switch g.Op {
	case GuardAbsent:
		if len(g.Attrs) != 0 || len(g.Values) != 0 {
			return fmt.Errorf("%w: an absent guard names attributes", ErrInvalidWrite)
		}
		return nil
	case GuardEqual, GuardOlder:
		if len(g.Attrs) == 0 || len(g.Attrs) != len(g.Values) {
			return fmt.Errorf("%w: guard has %d attributes and %d values", ErrInvalidWrite, len(g.Attrs), len(g.Values))
		}
		for i, v := range g.Values {
			switch v.(type) {
			case string, int64, bool:
			default:
				return fmt.Errorf("%w: guard value of %s is %T, want string, int64 or bool", ErrInvalidWrite, g.Attrs[i], v)
			}
		}
		return nil
	}
	return fmt.Errorf("%w: unknown guard op %d", ErrInvalidWrite, g.Op)
}

// Query selects items of one partition of a table or of one of its indexes.
type Query struct {
	// Table is the table to read.
	Table Table
	// Index is the global secondary index to read, "" for the table itself. Index reads
	// are eventually consistent; table reads are strongly consistent.
	Index string
	// Partition is the partition key value.
	Partition string
	// After, when not nil, starts after this sort key value (exclusive): a string or int64.
	After any
	// Descending returns items in descending sort key order.
	Descending bool
	// Limit is the most items returned; 0 for all of them.
	Limit int
	// Filter keeps only items whose attributes equal these values (string, int64 or bool);
	// it may not name key attributes of the table or index read.
	Filter map[string]any
}

// Normalize returns v as a store returns it: int64 for whole numbers that fit, float64 for
// other numbers, and string, bool or nil unchanged. It fails for other types and for NaN
// and infinities, which no store can hold.
func Normalize(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, bool, int64:
		return v, nil
	case int:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: number %v", ErrInvalidWrite, v)
		}
		if v == math.Trunc(v) && v >= -(1<<63) && v < 1<<63 {
			return int64(v), nil
		}
		return v, nil
	}
	return nil, fmt.Errorf("%w: value of type %T", ErrInvalidWrite, v)
}

// NormalizeItem returns a copy of it with every value normalized (see Normalize).
func NormalizeItem(it Item) (Item, error) { return convert.Attributes(it, Normalize) }

// CheckWrite checks a Write or WriteBatch before a store sends anything: known tables, keys
// that fit, supported values, well-formed guards (none when batch), each item once, and
// for a transaction at most MaxWriteItems items. Stores call it so that they fail alike.
func CheckWrite(puts []Put, deletes []Key, batch bool) error {
	if !batch && len(puts)+len(deletes) > MaxWriteItems {
		return fmt.Errorf("%w: %d items in one transaction, at most %d", ErrInvalidWrite, len(puts)+len(deletes), MaxWriteItems)
	}
	seen := make(map[Key]bool, len(puts)+len(deletes))
	// once checks k and that no other write of the call has it.
	once := func(k Key) error {
		if err := CheckKey(k); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidWrite, err)
		}
		if seen[k] {
			return fmt.Errorf("%w: %s is written twice", ErrInvalidWrite, k)
		}
		seen[k] = true
		return nil
	}
	for _, p := range puts {
		k, err := KeyOf(p.Table, p.Item)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidWrite, err)
		}
		if err := once(k); err != nil {
			return err
		}
		for name, v := range p.Item {
			if name == "" {
				return fmt.Errorf("%w: item %s has an empty attribute name", ErrInvalidWrite, k)
			}
			if _, err := Normalize(v); err != nil {
				return fmt.Errorf("%w: item %s attribute %s", err, k, name)
			}
		}
		if batch && p.Guard != nil {
			return fmt.Errorf("%w: batch put of %s has a guard", ErrInvalidWrite, k)
		}
		if err := p.Guard.Check(); err != nil {
			return fmt.Errorf("%w (item %s)", err, k)
		}
	}
	for _, k := range deletes {
		if err := once(k); err != nil {
			return err
		}
	}
	return nil
}
