package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"buildledger/domain"
	"buildledger/eventstore"
)

// ref names a row independently of table generations.
type ref struct {
	table     string
	partition string
	sort      any
}

func (r ref) key(gen int64) Key {
	return Key{Table: Table{Name: r.table, Generation: gen}, Partition: r.partition, Sort: r.sort}
}

// view holds the rows a projection asked for. A key that maps to nil has no row; a key that
// is not in the view was not loaded (a bug in the projection's needs).
type view map[ref]Item

// rowPut is a row a projection writes, with the guard the write needs (shared rows only).
type rowPut struct {
	ref   ref
	item  Item
	guard *Guard
}

// put returns the write of the row to generation gen.
func (rp rowPut) put(gen int64) Put {
	return Put{Table: Table{Name: rp.ref.table, Generation: gen}, Item: rp.item, Guard: rp.guard}
}

// change is what a projection decides for one event.
type change struct {
	puts []rowPut
}

// rowSet names rows of one generation: single rows, and whole partitions of tables.
type rowSet struct {
	rows       []ref
	partitions []Query // Table.Name, Partition and Filter set; the generation is filled in
}

// projection is one read model: the stream kind it follows and the pure functions that
// turn an event into rows. Each is defined in a file of its own (builds.go, statuses.go,
// locks.go, jobs.go); the tables it owns are those whose schema names it.
type projection struct {
	name string
	// kind is the stream kind it follows, e.g. domain.KindRepo.
	kind string
	// needs returns the rows project reads for event e.
	needs func(e domain.Event) []ref
	// project returns the rows to write for the event of rec, given the rows needs named.
	project func(rec eventstore.Record, e domain.Event, v view) (change, error)
	// owned returns the rows of the stream whose id has components parts that only that
	// stream writes: those a single-stream rebuild may delete. Shared rows (status heads),
	// which several streams write, are not among them.
	owned func(parts []string) rowSet
}

var allProjections = []*projection{buildsProjection, statusesProjection, locksProjection, jobsProjection}

// ProjectionNames returns the names of the four projections.
func ProjectionNames() []string {
	names := make([]string, len(allProjections))
	for i, p := range allProjections {
		names[i] = p.name
	}
	return names
}

func projectionByName(name string) (*projection, bool) {
	for _, p := range allProjections {
		if p.name == name {
			return p, true
		}
	}
	return nil, false
}

// projectionOf returns the projection that follows a stream, or nil for streams that are not
// domain streams (Put events, the store's bookkeeping).
func projectionOf(stream string) *projection { return projectionOfKind(domain.StreamKind(stream)) }

func projectionOfKind(kind string) *projection {
	for _, p := range allProjections {
		if p.kind == kind {
			return p
		}
	}
	return nil
}

// splitStream returns the projection that follows a domain stream and the stream id's
// components (see domain.ParseStreamID).
func splitStream(stream string) (p *projection, parts []string, err error) {
	kind, parts, err := domain.ParseStreamID(stream)
	if err != nil {
		return nil, nil, fmt.Errorf("projections: %w", err)
	}
	return projectionOfKind(kind), parts, nil
}

// decodeEvent decodes a record's event. Types the domain does not know are skipped (ok
// false, no error) so that events written by newer code do not stop the projection; a known
// type whose body does not decode is an error.
func decodeEvent(rec eventstore.Record) (e domain.Event, ok bool, err error) {
	e, err = domain.DecodeEvent(rec.Type, rec.Body)
	switch {
	case errors.Is(err, domain.ErrUnknownEventType):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("projections: %s@%d: %w", rec.Stream, rec.Version, err)
	}
	return e, true, nil
}

// neededRows returns the rows the projection reads for the event of rec: none for an
// event of a type the domain does not know.
func (p *projection) neededRows(rec eventstore.Record) (domain.Event, []ref, error) {
	e, known, err := decodeEvent(rec)
	if err != nil || !known {
		return nil, nil, err
	}
	return e, p.needs(e), nil
}

// changeOf returns the rows to write for the event e of rec (nil for an unknown type).
func (p *projection) changeOf(rec eventstore.Record, e domain.Event, v view) (change, error) {
	if e == nil {
		return change{}, nil
	}
	return p.project(rec, e, v)
}

// loadRows reads the rows refs name from generation gen into v (nil for a row that does
// not exist), and the items of extra keys in the same read, which it returns.
func loadRows(ctx context.Context, store Store, gen int64, refs []ref, v view, extra ...Key) (map[Key]Item, error) {
	keys := make([]Key, 0, len(extra)+len(refs))
	keys = append(keys, extra...)
	for _, r := range refs {
		keys = append(keys, r.key(gen))
	}
	if len(keys) == 0 {
		return nil, nil
	}
	items, err := store.Get(ctx, keys)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		v[r] = items[r.key(gen)]
	}
	return items, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func ptr[T any](v T) *T { return &v }

func put(table string, item Item) rowPut {
	s, _ := SchemaOf(table)
	r := ref{table: table, partition: item[s.PartitionKey].(string)}
	if s.SortKey != "" {
		r.sort = item[s.SortKey]
	}
	return rowPut{ref: r, item: item}
}

// loaded returns the row of r from the view; it is an error for a projection to read a row
// it did not name in its needs.
func (v view) loaded(r ref) (Item, error) {
	it, ok := v[r]
	if !ok {
		return nil, fmt.Errorf("projections: row %s[%s|%v] was not loaded", r.table, r.partition, r.sort)
	}
	return it, nil
}

// loadedRow decodes the row of r from the view with c, or returns absent when r has no row.
func loadedRow[T any](v view, c *rowCodec[T], r ref, absent T) (T, error) {
	it, err := v.loaded(r)
	if err != nil || it == nil {
		return absent, err
	}
	return c.row(it)
}
