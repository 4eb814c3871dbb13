package projections

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Logical table names. A table's physical name is the configured prefix, then "g<N>-" for
// generations N > 0, then the logical name (see PhysicalName).
const (
	TableRepos          = "repos"
	TableBuilds         = "builds"
	TableStatuses       = "statuses"
	TableStatusHeads    = "status_heads"
	TableStatusEvents   = "status_events"
	TableStatusCounters = "status_counters"
	TableLocks          = "locks"
	TableJobs           = "jobs"
	// TablePositions holds, per stream, the last version applied.
	TablePositions = "positions"
	// TableReadModel holds the generation pointer and the replay lease; it has no generations.
	TableReadModel = "readmodel"
)

// IndexJobsByVersion is the jobs table's global secondary index: partition key version,
// sort key jobname.
const IndexJobsByVersion = "byVersion"

// Projection names.
const (
	ProjectionBuilds   = "builds"
	ProjectionStatuses = "statuses"
	ProjectionLocks    = "locks"
	ProjectionJobs     = "jobs"
)

// Table names one table of one generation.
type Table struct {
	// Name is the logical name, e.g. TableRepos.
	Name string
	// Generation is the table set the table belongs to; 0 for the first one and for
	// TableReadModel.
	Generation int64
}

// String returns the table's physical name without a prefix, e.g. "g3-repos".
func (t Table) String() string { return PhysicalName("", t) }

// Key identifies one item of one table.
type Key struct {
	// Table is the table that holds the item.
	Table Table
	// Partition is the value of the table's partition key (every partition key is a string).
	Partition string
	// Sort is the value of the table's sort key: a string or an int64; nil for tables
	// without a sort key.
	Sort any
}

// String returns the key for messages, e.g. "g3-builds[api/foo|1]".
func (k Key) String() string {
	if k.Sort == nil {
		return fmt.Sprintf("%s[%s]", k.Table, k.Partition)
	}
	return fmt.Sprintf("%s[%s|%v]", k.Table, k.Partition, k.Sort)
}

// Item is one stored row: attribute name → value. Values are string, int64, float64, bool
// or nil (null). Stores return numbers as int64 when they are whole and fit, else as float64,
// whatever was written, so that every store returns the same items.
type Item map[string]any

// Clone returns a copy of the item that shares no memory with it.
func (it Item) Clone() Item {
	if it == nil {
		return nil
	}
	out := make(Item, len(it))
	for k, v := range it {
		out[k] = v
	}
	return out
}

// TableSchema describes the keys and indexes of a table.
type TableSchema struct {
	// Name is the logical table name.
	Name string
	// PartitionKey is the partition key attribute (a string).
	PartitionKey string
	// SortKey is the sort key attribute, "" for none.
	SortKey string
	// SortKeyNumeric says the sort key is a number (int64) rather than a string.
	SortKeyNumeric bool
	// Indexes are the table's global secondary indexes.
	Indexes []IndexSchema
	// Projection is the projection that owns the table; "" for TablePositions and
	// TableReadModel.
	Projection string
	// Generational says the table has generations; false only for TableReadModel.
	Generational bool
}

// IndexSchema describes a global secondary index; both its keys are strings.
type IndexSchema struct {
	// Name is the index name.
	Name string
	// PartitionKey is the index's partition key attribute.
	PartitionKey string
	// SortKey is the index's sort key attribute.
	SortKey string
}

// schemas are the tables: those of the projections with the keys their row types' tags
// name, then the positions and the generation pointer.
var schemas = []TableSchema{
	repoRows.schema(ProjectionBuilds),
	buildRows.schema(ProjectionBuilds),
	statusRows.schema(ProjectionStatuses),
	headRows.schema(ProjectionStatuses),
	eventRows.schema(ProjectionStatuses),
	counterRows.schema(ProjectionStatuses),
	lockRows.schema(ProjectionLocks),
	jobRows.schema(ProjectionJobs, IndexSchema{Name: IndexJobsByVersion, PartitionKey: "version", SortKey: "jobname"}),
	{Name: TablePositions, PartitionKey: attrStream, Generational: true},
	{Name: TableReadModel, PartitionKey: "id"},
}

// Schemas returns the schema of every table, TablePositions and TableReadModel included.
func Schemas() []TableSchema {
	out := make([]TableSchema, len(schemas))
	copy(out, schemas)
	return out
}

// SchemaOf returns the schema of a logical table name.
func SchemaOf(name string) (TableSchema, bool) {
	for _, s := range schemas {
		if s.Name == name {
			return s, true
		}
	}
	return TableSchema{}, false
}

// KeyOf returns the key of an item of table t, read from its key attributes.
func KeyOf(t Table, it Item) (Key, error) {
	s, ok := SchemaOf(t.Name)
	if !ok {
		return Key{}, fmt.Errorf("projections: unknown table %q", t.Name)
	}
	pk, ok := it[s.PartitionKey].(string)
	if !ok || pk == "" {
		return Key{}, fmt.Errorf("projections: item of %s: partition key %s is %T %v, want a non-empty string", t, s.PartitionKey, it[s.PartitionKey], it[s.PartitionKey])
	}
	k := Key{Table: t, Partition: pk}
	if s.SortKey == "" {
		return k, nil
	}
	sv, err := Normalize(it[s.SortKey])
	if err != nil {
		return Key{}, fmt.Errorf("projections: item of %s: sort key %s: %w", t, s.SortKey, err)
	}
	switch v := sv.(type) {
	case string:
		if s.SortKeyNumeric || v == "" {
			return Key{}, fmt.Errorf("projections: item of %s: sort key %s is %q, want a %s", t, s.SortKey, v, sortKind(s))
		}
		k.Sort = v
	case int64:
		if !s.SortKeyNumeric {
			return Key{}, fmt.Errorf("projections: item of %s: sort key %s is %d, want a string", t, s.SortKey, v)
		}
		k.Sort = v
	default:
		return Key{}, fmt.Errorf("projections: item of %s: sort key %s is %T, want a %s", t, s.SortKey, v, sortKind(s))
	}
	return k, nil
}

func sortKind(s TableSchema) string {
	if s.SortKeyNumeric {
		return "number"
	}
	return "non-empty string"
}

// CheckKey reports whether k fits its table's schema.
func CheckKey(k Key) error {
	s, ok := SchemaOf(k.Table.Name)
	switch {
	case !ok:
		return fmt.Errorf("projections: unknown table %q", k.Table.Name)
	case !s.Generational && k.Table.Generation != 0:
		return fmt.Errorf("projections: table %s has no generations", k.Table.Name)
	case k.Table.Generation < 0:
		return fmt.Errorf("projections: table %s: negative generation", k.Table)
	case k.Partition == "":
		return fmt.Errorf("projections: key of %s: empty partition key", k.Table)
	}
	switch v := k.Sort.(type) {
	case nil:
		if s.SortKey != "" {
			return fmt.Errorf("projections: key of %s: sort key %s is missing", k.Table, s.SortKey)
		}
	case string:
		if s.SortKey == "" || s.SortKeyNumeric || v == "" {
			return fmt.Errorf("projections: key of %s: sort key %q does not fit", k.Table, v)
		}
	case int64:
		if !s.SortKeyNumeric {
			return fmt.Errorf("projections: key of %s: sort key %d does not fit", k.Table, v)
		}
	default:
		return fmt.Errorf("projections: key of %s: sort key is %T, want string or int64", k.Table, v)
	}
	return nil
}

// CompareKeys orders keys by table, partition and sort key.
func CompareKeys(a, b Key) int {
	if c := cmp.Compare(a.Table.Name, b.Table.Name); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Table.Generation, b.Table.Generation); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Partition, b.Partition); c != 0 {
		return c
	}
	return CompareValues(a.Sort, b.Sort)
}

// CompareValues orders attribute values the way DynamoDB orders keys: numbers numerically,
// strings by bytes; nil first, then numbers, then strings, then booleans.
func CompareValues(a, b any) int {
	ra, rb := valueRank(a), valueRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch a := a.(type) {
	case int64:
		switch b := b.(type) {
		case int64:
			return cmp.Compare(a, b)
		case float64:
			return cmp.Compare(float64(a), b)
		}
	case float64:
		switch b := b.(type) {
		case int64:
			return cmp.Compare(a, float64(b))
		case float64:
			return cmp.Compare(a, b)
		}
	case string:
		return strings.Compare(a, b.(string))
	case bool:
		bb := b.(bool)
		switch {
		case a == bb:
			return 0
		case !a:
			return -1
		}
		return 1
	}
	return 0
}

func valueRank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case int64, float64:
		return 1
	case string:
		return 2
	case bool:
		return 3
	}
	return 4
}

// generationPrefix starts the part of a physical table name that names its generation.
const generationPrefix = "g"

// PhysicalName returns the stored name of table t under prefix: prefix + name for
// generation 0, prefix + "g<N>-" + name for generation N.
func PhysicalName(prefix string, t Table) string {
	if t.Generation == 0 {
		return prefix + t.Name
	}
	return prefix + generationPrefix + strconv.FormatInt(t.Generation, 10) + "-" + t.Name
}

// ParsePhysicalName is the inverse of PhysicalName: it reports whether name is the stored
// name of one of the read model's tables under prefix.
func ParsePhysicalName(prefix, name string) (Table, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return Table{}, false
	}
	if s, ok := SchemaOf(rest); ok {
		return Table{Name: s.Name}, true
	}
	digits, ok := strings.CutPrefix(rest, generationPrefix)
	if !ok {
		return Table{}, false
	}
	num, logical, ok := strings.Cut(digits, "-")
	if !ok || num == "" || num[0] == '0' {
		return Table{}, false
	}
	gen, err := strconv.ParseInt(num, 10, 64)
	if err != nil || gen <= 0 {
		return Table{}, false
	}
	s, ok := SchemaOf(logical)
	if !ok || !s.Generational {
		return Table{}, false
	}
	return Table{Name: s.Name, Generation: gen}, true
}

// projectionTables returns the logical names of the tables a projection owns.
func projectionTables(projection string) []string {
	var names []string
	for _, s := range schemas {
		if s.Projection == projection {
			names = append(names, s.Name)
		}
	}
	return names
}

// keyPart escapes a name for use in a composite key such as pkgEnv ("pkg#env"), so that
// names containing "#" cannot make two keys equal. Names without "#" or "%" are unchanged.
func keyPart(s string) string {
	if !strings.ContainsAny(s, "#%") {
		return s
	}
	return strings.NewReplacer("%", "%25", "#", "%23").Replace(s)
}

func pkgEnvKey(pkg, env string) string { return keyPart(pkg) + "#" + keyPart(env) }

func pkgEnvVersionKey(pkg, env, version string) string {
	return keyPart(pkg) + "#" + keyPart(env) + "#" + keyPart(version)
}
