// Package dynamo is the DynamoDB adapter of the read-model store port (projections.Store).
//
// Every table is named Config.Prefix + (for generations above 0) "g<N>-" + the logical name,
// e.g. "buildledger-repos" or "buildledger-g3-repos" (see projections.PhysicalName). Guarded
// writes are DynamoDB condition expressions; a transaction is one TransactWriteItems; batch
// writes are BatchWriteItem calls of 25 items, several in flight, retrying what DynamoDB
// leaves unprocessed. Single-item reads and queries of tables are strongly consistent.
package dynamo

import (
	"regexp"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"buildledger/internal/settings"
	"buildledger/projections"
)

// Config configures a Store. Zero values of the optional fields take the defaults below.
type Config struct {
	// Client is the DynamoDB client every call goes through; required.
	Client *dynamodb.Client
	// Prefix starts the name of every read-model table, e.g. "buildledger-". Tables under it
	// whose names look like read-model tables belong to the read model: replays drop those
	// of generations no longer in use.
	Prefix string
	// BatchAttempts is how many times a batch is sent before the items DynamoDB still leaves
	// unprocessed fail; default 10. Attempts back off exponentially from 20 ms.
	BatchAttempts int
	// BatchConcurrency is how many BatchWriteItem calls one WriteBatch keeps in flight;
	// default 4.
	BatchConcurrency int
}

const (
	defaultBatchAttempts    = 10
	defaultBatchConcurrency = 4
	maxBatchWrite           = 25
	maxBatchGet             = 100
	maxTableName            = 255
)

// tableNameChars are the characters DynamoDB allows in table names.
var tableNameChars = regexp.MustCompile(`^[a-zA-Z0-9_.-]*$`)

func (c *Config) setDefaults() {
	settings.Default(&c.BatchAttempts, defaultBatchAttempts)
	settings.Default(&c.BatchConcurrency, defaultBatchConcurrency)
}

// longestName is the longest logical table name, with room for a large generation number.
const longestName = len("g999999999-") + len(projections.TableStatusCounters)

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	p := settings.Prefixed("projections/dynamo: config")
	p.If(c.Client == nil, "Client is nil")
	p.If(!tableNameChars.MatchString(c.Prefix) || len(c.Prefix)+longestName > maxTableName, "Prefix %q must be at most %d characters of a-z, A-Z, 0-9, _, - and .", c.Prefix, maxTableName-longestName)
	settings.AtLeast(p, "BatchAttempts", c.BatchAttempts, 1)
	settings.AtLeast(p, "BatchConcurrency", c.BatchConcurrency, 1)
	return p.Err()
}

// Store is the DynamoDB read-model store; it is safe for concurrent use.
type Store struct {
	cfg Config
	db  *dynamodb.Client
}

var _ projections.Store = (*Store)(nil)

// New returns a Store for the tables under cfg.Prefix (see CreateTables).
func New(cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Store{cfg: cfg, db: cfg.Client}, nil
}

func (s *Store) name(t projections.Table) string { return projections.PhysicalName(s.cfg.Prefix, t) }
