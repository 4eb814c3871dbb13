// Package memory is an in-memory projections.Store for tests and for running buildledger
// without AWS. It keeps the semantics of the DynamoDB adapter that callers rely on — guarded
// all-or-nothing writes, missing tables, number normalization, query order and paging —
// and passes the same conformance suite (projections/projectionstest). It keeps nothing
// across processes.
package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"buildledger/projections"
)

// Store is an in-memory read-model store, safe for concurrent use.
type Store struct {
	mu     sync.RWMutex
	tables map[projections.Table]*table
}

type table struct {
	schema projections.TableSchema
	items  map[projections.Key]projections.Item
}

var _ projections.Store = (*Store)(nil)

// scanPage is the number of items Scan hands to its callback at a time.
const scanPage = 100

// New returns a store holding the empty tables of a new install: the readmodel table and
// generation 0 of every other table.
func New() *Store {
	s := &Store{tables: map[projections.Table]*table{}}
	for _, sc := range projections.Schemas() {
		s.tables[projections.Table{Name: sc.Name}] = &table{schema: sc, items: map[projections.Key]projections.Item{}}
	}
	return s
}

func noTable(t projections.Table) error {
	return fmt.Errorf("projections/memory: table %s: %w", t, projections.ErrNoTable)
}

// Get implements projections.Store.
func (s *Store) Get(ctx context.Context, keys []projections.Key) (map[projections.Key]projections.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := projections.CheckKey(k); err != nil {
			return nil, err
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[projections.Key]projections.Item, len(keys))
	for _, k := range keys {
		t, ok := s.tables[k.Table]
		if !ok {
			return nil, noTable(k.Table)
		}
		if it, ok := t.items[k]; ok {
			out[k] = it.Clone()
		}
	}
	return out, nil
}

// Query implements projections.Store.
func (s *Store) Query(ctx context.Context, q projections.Query) ([]projections.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.Partition == "" || q.Limit < 0 {
		return nil, fmt.Errorf("projections/memory: query %s: empty partition or negative limit", q.Table)
	}
	s.mu.RLock()
	t, ok := s.tables[q.Table]
	if !ok {
		s.mu.RUnlock()
		return nil, noTable(q.Table)
	}
	pk, sk := t.schema.PartitionKey, t.schema.SortKey
	if q.Index != "" {
		i := slices.IndexFunc(t.schema.Indexes, func(ix projections.IndexSchema) bool { return ix.Name == q.Index })
		if i < 0 {
			s.mu.RUnlock()
			return nil, fmt.Errorf("projections/memory: table %s has no index %q", q.Table, q.Index)
		}
		pk, sk = t.schema.Indexes[i].PartitionKey, t.schema.Indexes[i].SortKey
	}
	type keyed struct {
		k  projections.Key
		it projections.Item
	}
	var all []keyed
	for k, it := range t.items {
		if p, ok := it[pk].(string); ok && p == q.Partition {
			all = append(all, keyed{k, it.Clone()})
		}
	}
	s.mu.RUnlock()

	slices.SortFunc(all, func(a, b keyed) int {
		if sk != "" {
			if c := projections.CompareValues(a.it[sk], b.it[sk]); c != 0 {
				return c
			}
		}
		return projections.CompareKeys(a.k, b.k)
	})
	if q.Descending {
		slices.Reverse(all)
	}
	var out []projections.Item
	for _, a := range all {
		if q.After != nil && sk != "" {
			c := projections.CompareValues(a.it[sk], q.After)
			if (!q.Descending && c <= 0) || (q.Descending && c >= 0) {
				continue
			}
		}
		if !matches(a.it, q.Filter) {
			continue
		}
		out = append(out, a.it)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func matches(it projections.Item, filter map[string]any) bool {
	for name, want := range filter {
		v, ok := it[name]
		if !ok {
			return false
		}
		w, err := projections.Normalize(want)
		if err != nil || projections.CompareValues(v, w) != 0 {
			return false
		}
	}
	return true
}

// Scan implements projections.Store.
func (s *Store) Scan(ctx context.Context, t projections.Table, fn func(items []projections.Item) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	tb, ok := s.tables[t]
	if !ok {
		s.mu.RUnlock()
		return noTable(t)
	}
	items := make([]projections.Item, 0, len(tb.items))
	for _, it := range tb.items {
		items = append(items, it.Clone())
	}
	s.mu.RUnlock()
	for start := 0; start < len(items); start += scanPage {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(items[start:min(start+scanPage, len(items))]); err != nil {
			return err
		}
	}
	return nil
}

// Write implements projections.Store.
func (s *Store) Write(ctx context.Context, puts []projections.Put, deletes []projections.Key) error {
	return s.write(ctx, puts, deletes, false)
}

// WriteBatch implements projections.Store.
func (s *Store) WriteBatch(ctx context.Context, puts []projections.Put, deletes []projections.Key) error {
	return s.write(ctx, puts, deletes, true)
}

func (s *Store) write(ctx context.Context, puts []projections.Put, deletes []projections.Key, batch bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := projections.CheckWrite(puts, deletes, batch); err != nil {
		return err
	}
	type prepared struct {
		k  projections.Key
		it projections.Item
		g  *projections.Guard
	}
	ps := make([]prepared, len(puts))
	for i, p := range puts {
		k, _ := projections.KeyOf(p.Table, p.Item) // checked by CheckWrite
		it, err := projections.NormalizeItem(p.Item)
		if err != nil {
			return err
		}
		ps[i] = prepared{k, it, p.Guard}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		if _, ok := s.tables[p.k.Table]; !ok {
			return noTable(p.k.Table)
		}
	}
	for _, k := range deletes {
		if _, ok := s.tables[k.Table]; !ok {
			return noTable(k.Table)
		}
	}
	for _, p := range ps {
		if !p.g.Holds(s.tables[p.k.Table].items[p.k]) {
			return fmt.Errorf("projections/memory: put %s: %w", p.k, projections.ErrConditionFailed)
		}
	}
	for _, p := range ps {
		s.tables[p.k.Table].items[p.k] = p.it
	}
	for _, k := range deletes {
		delete(s.tables[k.Table].items, k)
	}
	return nil
}

// CreateTables implements projections.Store.
func (s *Store) CreateTables(ctx context.Context, tables []projections.Table) ([]projections.Table, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var created []projections.Table
	for _, t := range tables {
		sc, ok := projections.SchemaOf(t.Name)
		if !ok || (!sc.Generational && t.Generation != 0) || t.Generation < 0 {
			return created, fmt.Errorf("projections/memory: create table %s: not a read-model table", t)
		}
		if _, ok := s.tables[t]; ok {
			continue
		}
		s.tables[t] = &table{schema: sc, items: map[projections.Key]projections.Item{}}
		created = append(created, t)
	}
	return created, nil
}

// DropTables implements projections.Store.
func (s *Store) DropTables(ctx context.Context, tables []projections.Table) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range tables {
		delete(s.tables, t)
	}
	return nil
}

// Tables implements projections.Store.
func (s *Store) Tables(ctx context.Context) ([]projections.Table, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]projections.Table, 0, len(s.tables))
	for t := range s.tables {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b projections.Table) int {
		return projections.CompareKeys(projections.Key{Table: a}, projections.Key{Table: b})
	})
	return out, nil
}
