package projections

import (
	"context"
	"fmt"
	"slices"
)

// Dump returns every item of the tables readers currently see, by logical table name,
// each table's items in key order, positions included. It reads whole tables: it is meant
// for comparisons (a replay against the live model) and debugging, not for serving.
func Dump(ctx context.Context, store Store) (map[string][]Item, error) {
	ptr, err := loadPointer(ctx, store)
	if err != nil {
		return nil, err
	}
	out := map[string][]Item{}
	for _, proj := range allProjections {
		for _, name := range projectionTables(proj.name) {
			items, err := scanSorted(ctx, store, Table{Name: name, Generation: ptr.gens[proj.name]})
			if err != nil {
				return nil, err
			}
			out[name] = items
		}
	}
	// Positions of a projection live in the positions table of its generation.
	var positions []Item
	for g := range ptr.positionsGenerations() {
		items, err := scanSorted(ctx, store, positionsTable(g))
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			s, _ := it[attrStream].(string)
			if p := projectionOf(s); p != nil && ptr.gens[p.name] == g {
				positions = append(positions, it)
			}
		}
	}
	slices.SortFunc(positions, func(a, b Item) int { return CompareValues(a[attrStream], b[attrStream]) })
	out[TablePositions] = positions
	return out, nil
}

func scanSorted(ctx context.Context, store Store, t Table) ([]Item, error) {
	type keyed struct {
		k  Key
		it Item
	}
	var all []keyed
	err := store.Scan(ctx, t, func(items []Item) error {
		for _, it := range items {
			k, err := KeyOf(t, it)
			if err != nil {
				return err
			}
			all = append(all, keyed{k, it})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("projections: dump %s: %w", t, err)
	}
	slices.SortFunc(all, func(a, b keyed) int { return CompareKeys(a.k, b.k) })
	out := make([]Item, len(all))
	for i, a := range all {
		out[i] = a.it
	}
	return out, nil
}
