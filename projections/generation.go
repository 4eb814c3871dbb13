package projections

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// GenerationCacheTTL is how long queries and the live projector keep the generation pointer
// before they read it again. A replay waits this long after switching readers to a new
// generation before it catches up and drops the old one, so that by then every reader and
// writer has moved over.
const GenerationCacheTTL = time.Second

// Items of TableReadModel.
const (
	pointerID = "pointer"
	leaseID   = "replay"
)

// pointer says which generation of tables each projection reads and writes. It is one item
// of TableReadModel; its absence means generation 0 everywhere.
type pointer struct {
	// revision counts the pointer's writes; every write is conditioned on it.
	revision int64
	// next is the next generation number to hand out: numbers are never reused, so that a
	// crashed replay's tables can never be mistaken for live ones.
	next int64
	gens map[string]int64
	// catchUp holds, per projection, the timestamp key a replay's catch-up pass starts
	// from, from the moment readers switch to the new generation until the pass is done:
	// a replay interrupted in between leaves it for the next one to finish.
	catchUp map[string]string
}

func newPointer() pointer {
	p := pointer{next: 1, gens: map[string]int64{}, catchUp: map[string]string{}}
	for _, name := range ProjectionNames() {
		p.gens[name] = 0
	}
	return p
}

func (p pointer) clone() pointer {
	c := p
	c.gens = make(map[string]int64, len(p.gens))
	for k, v := range p.gens {
		c.gens[k] = v
	}
	c.catchUp = make(map[string]string, len(p.catchUp))
	for k, v := range p.catchUp {
		c.catchUp[k] = v
	}
	return c
}

// positionsGenerations returns the generations whose positions tables the pointer uses.
func (p pointer) positionsGenerations() map[int64]bool {
	gens := map[int64]bool{}
	for _, g := range p.gens {
		gens[g] = true
	}
	return gens
}

// tables returns every table the pointer refers to.
func (p pointer) tables() []Table {
	var out []Table
	for _, proj := range allProjections {
		for _, name := range projectionTables(proj.name) {
			out = append(out, Table{Name: name, Generation: p.gens[proj.name]})
		}
	}
	for g := range p.positionsGenerations() {
		out = append(out, Table{Name: TablePositions, Generation: g})
	}
	return out
}

// references reports whether table t is one the pointer refers to.
func (p pointer) references(t Table) bool {
	s, ok := SchemaOf(t.Name)
	switch {
	case !ok:
		return false
	case !s.Generational:
		return true
	case s.Name == TablePositions:
		return p.positionsGenerations()[t.Generation]
	}
	return p.gens[s.Projection] == t.Generation
}

var readModelTable = Table{Name: TableReadModel}

func pointerKey() Key { return Key{Table: readModelTable, Partition: pointerID} }

func loadPointer(ctx context.Context, store Store) (pointer, error) {
	items, err := store.Get(ctx, []Key{pointerKey()})
	if err != nil {
		return pointer{}, fmt.Errorf("projections: read generation pointer: %w", err)
	}
	it := items[pointerKey()]
	p := newPointer()
	if it == nil {
		return p, nil
	}
	r := itemReader{table: TableReadModel, item: it}
	p.revision = r.int("revision")
	p.next = r.int("next")
	for name := range p.gens {
		p.gens[name] = r.int(name)
		if from := r.str(catchUpAttr(name)); from != "" {
			p.catchUp[name] = from
		}
	}
	if r.err != nil {
		return pointer{}, r.err
	}
	return p, nil
}

func catchUpAttr(projection string) string { return "catchUpFrom_" + projection }

// savePointer replaces old with p, conditioned on old's revision, so that two replays can
// never both think they switched readers. It returns p as stored, with its new revision.
func savePointer(ctx context.Context, store Store, old, p pointer) (pointer, error) {
	p = p.clone()
	p.revision = old.revision + 1
	it := Item{"id": pointerID, "revision": p.revision, "next": p.next}
	for name, g := range p.gens {
		it[name] = g
	}
	for name, from := range p.catchUp {
		it[catchUpAttr(name)] = from
	}
	guard := Absent()
	if old.revision != 0 {
		guard = Equal("revision", old.revision)
	}
	if err := store.Write(ctx, []Put{{Table: readModelTable, Item: it, Guard: guard}}, nil); err != nil {
		return pointer{}, fmt.Errorf("projections: write generation pointer: %w", err)
	}
	return p, nil
}

// generations caches the pointer for GenerationCacheTTL.
type generations struct {
	store Store
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	cur     pointer
	fetched time.Time
	valid   bool
}

func newGenerations(store Store, ttl time.Duration, now func() time.Time) *generations {
	return &generations{store: store, ttl: ttl, now: now}
}

// get returns the pointer, read again when the cached one is older than the TTL.
func (g *generations) get(ctx context.Context) (pointer, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.valid && g.now().Sub(g.fetched) < g.ttl {
		return g.cur, nil
	}
	p, err := loadPointer(ctx, g.store)
	if err != nil {
		return pointer{}, err
	}
	g.cur, g.fetched, g.valid = p, g.now(), true
	return p, nil
}

// invalidate makes the next get read the pointer again, e.g. after a table went missing.
func (g *generations) invalidate() {
	g.mu.Lock()
	g.valid = false
	g.mu.Unlock()
}

// Init creates the tables of the read model that do not exist yet: TableReadModel, and
// the tables of the generations the pointer refers to (generation 0 on a new install). It is
// idempotent and returns the tables it created.
func Init(ctx context.Context, store Store) ([]Table, error) {
	created, err := store.CreateTables(ctx, []Table{readModelTable})
	if err != nil {
		return created, fmt.Errorf("projections: init: %w", err)
	}
	p, err := loadPointer(ctx, store)
	if err != nil {
		return created, err
	}
	more, err := store.CreateTables(ctx, p.tables())
	created = append(created, more...)
	if err != nil {
		return created, fmt.Errorf("projections: init: %w", err)
	}
	return created, nil
}
