package projections

import (
	"fmt"
	"reflect"
	"strings"
)

// rowCodec turns rows of type T into items and back, by the `row` tags of T's fields, read
// once: `row:"name"` stores the field as attribute name, `row:"name,omitempty"` leaves it
// out when empty, `row:"-"` not at all. Strings, int64, float64 and bool are stored as
// such; *string and *int64 as their value or null. A tag may add ",partition" or ",sort":
// the table's keys. Attributes computed from the row (composite keys) are given as derived.
//
// Reading is lenient as stores are: a missing attribute is the zero value (nil for a
// pointer), a whole float64 is an int64; another type is an error.
type rowCodec[T any] struct {
	table   string
	fields  []rowField
	derived []derivedAttr[T]
	// decode, when set, reads what the tags do not cover (a build's browser columns).
	decode func(row *T, it Item, r *itemReader)
	// encode, when set, writes what the tags do not cover.
	encode func(row T, it Item)
}

// rowField is one tagged field of a row type.
type rowField struct {
	index     int
	name      string
	kind      reflect.Type
	omitEmpty bool
	key       string
}

// derivedAttr is an attribute computed from the row, e.g. "pkgEnv".
type derivedAttr[T any] struct {
	name  string
	key   string // "partition", "sort" or ""
	value func(T) any
}

var (
	typeString    = reflect.TypeFor[string]()
	typeInt64     = reflect.TypeFor[int64]()
	typeFloat64   = reflect.TypeFor[float64]()
	typeBool      = reflect.TypeFor[bool]()
	typeOptString = reflect.TypeFor[*string]()
	typeOptInt64  = reflect.TypeFor[*int64]()
)

// newRowCodec reads T's tags; it panics on a field it cannot store, since that is a bug in
// the row type, found when the package loads.
func newRowCodec[T any](table string, derived ...derivedAttr[T]) *rowCodec[T] {
	c := &rowCodec[T]{table: table, derived: derived}
	t := reflect.TypeFor[T]()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("row")
		if !ok {
			panic(fmt.Sprintf("projections: %s.%s has no row tag", t.Name(), f.Name))
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		switch f.Type {
		case typeString, typeInt64, typeFloat64, typeBool, typeOptString, typeOptInt64:
		default:
			panic(fmt.Sprintf("projections: %s.%s: a row cannot store %s", t.Name(), f.Name, f.Type))
		}
		rf := rowField{index: i, name: name, kind: f.Type}
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "":
			case "omitempty":
				rf.omitEmpty = true
			case "partition", "sort":
				rf.key = o
			default:
				panic(fmt.Sprintf("projections: %s.%s: unknown row tag option %q", t.Name(), f.Name, o))
			}
		}
		c.fields = append(c.fields, rf)
	}
	return c
}

// item returns the item stored for row.
func (c *rowCodec[T]) item(row T) Item {
	v := reflect.ValueOf(row)
	it := make(Item, len(c.fields)+len(c.derived))
	for _, d := range c.derived {
		it[d.name] = d.value(row)
	}
	for _, f := range c.fields {
		fv := v.Field(f.index)
		if f.omitEmpty && fv.IsZero() {
			continue
		}
		switch f.kind {
		case typeOptString, typeOptInt64:
			if fv.IsNil() {
				it[f.name] = nil
			} else {
				it[f.name] = fv.Elem().Interface()
			}
		default:
			it[f.name] = fv.Interface()
		}
	}
	if c.encode != nil {
		c.encode(row, it)
	}
	return it
}

// put returns the write of row to the codec's table.
func (c *rowCodec[T]) put(row T) rowPut { return put(c.table, c.item(row)) }

// row reads a row from its item.
func (c *rowCodec[T]) row(it Item) (T, error) {
	var row T
	v := reflect.ValueOf(&row).Elem()
	r := itemReader{table: c.table, item: it}
	for _, f := range c.fields {
		fv := v.Field(f.index)
		switch f.kind {
		case typeString:
			fv.SetString(r.str(f.name))
		case typeInt64:
			fv.SetInt(r.int(f.name))
		case typeFloat64:
			fv.SetFloat(r.float(f.name))
		case typeBool:
			fv.SetBool(r.bool(f.name))
		case typeOptString:
			fv.Set(reflect.ValueOf(r.optStr(f.name)))
		case typeOptInt64:
			fv.Set(reflect.ValueOf(r.optInt(f.name)))
		}
	}
	if c.decode != nil {
		c.decode(&row, it, &r)
	}
	return row, r.err
}

// rows reads the rows of items, in their order; never nil.
func (c *rowCodec[T]) rows(items []Item) ([]T, error) {
	rows := make([]T, 0, len(items))
	for _, it := range items {
		row, err := c.row(it)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// columns returns the names of the attributes the tags and derived attributes write.
func (c *rowCodec[T]) columns() map[string]bool {
	names := make(map[string]bool, len(c.fields)+len(c.derived))
	for _, f := range c.fields {
		names[f.name] = true
	}
	for _, d := range c.derived {
		names[d.name] = true
	}
	return names
}

// schema returns the table's schema, keys read from the tags: the partition key is a
// string, the sort key a string or, for an int64 field, a number.
func (c *rowCodec[T]) schema(projection string, indexes ...IndexSchema) TableSchema {
	s := TableSchema{Name: c.table, Projection: projection, Generational: true, Indexes: indexes}
	set := func(name, key string, numeric bool) {
		switch key {
		case "partition":
			s.PartitionKey = name
		case "sort":
			s.SortKey, s.SortKeyNumeric = name, numeric
		}
	}
	for _, f := range c.fields {
		set(f.name, f.key, f.kind == typeInt64)
	}
	for _, d := range c.derived {
		set(d.name, d.key, false)
	}
	return s
}
