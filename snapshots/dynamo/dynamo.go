// Package dynamo is the DynamoDB adapter of the snapshots port. One item per aggregate:
//
//	aggregateId (S, partition key)  the aggregate's stream id
//	version     (N)                 the stream version the state reflects
//	schema      (N)                 the state's layout version
//	createdAt   (N)                 when the snapshot was taken, Unix milliseconds
//	state       (S)                 the state as JSON
//
// A write replaces the item only when it is older, so concurrent writers of one aggregate
// converge on the newest snapshot without reading first.
package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/internal/ddb"
	"buildledger/internal/settings"
	"buildledger/snapshots"
)

// Attribute names of a snapshot item.
const (
	attrAggregateID = "aggregateId"
	attrVersion     = "version"
	attrSchema      = "schema"
	attrCreatedAt   = "createdAt"
	attrState       = "state"
)

// MaxItemBytes is DynamoDB's item size limit.
const MaxItemBytes = 400 * 1024

// ErrTooLarge means a snapshot does not fit in one DynamoDB item. Such an aggregate can only
// be loaded by replaying its events, which is slower but correct.
var ErrTooLarge = errors.New("snapshots/dynamo: snapshot exceeds the 400 KB item limit")

// Config configures a Store.
type Config struct {
	// Client is the DynamoDB client. Required.
	Client *dynamodb.Client
	// Table is the snapshots table name, prefix included. Required; see CreateTable.
	Table string
	// Now stamps snapshots stored without a createdAt. Defaults to time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	settings.DefaultFunc(&c.Now, time.Now)
}

var tableName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

// Validate reports every problem with the config at once.
func (c Config) Validate() error {
	p := settings.Prefixed("")
	p.If(c.Client == nil, "client is nil")
	p.If(!tableName.MatchString(c.Table), "table %q is not a DynamoDB table name (3 to 255 of a-z A-Z 0-9 _ . -)", c.Table)
	p.If(c.Now == nil, "now is nil")
	return p.Err()
}

// Store is the DynamoDB snapshots.Store. It is safe for concurrent use.
type Store struct {
	client *dynamodb.Client
	table  string
	now    func() time.Time
}

var _ snapshots.Store = (*Store)(nil)

// New returns a Store for cfg, after filling in defaults and validating it.
func New(cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("snapshots/dynamo: invalid config: %w", err)
	}
	return &Store{client: cfg.Client, table: cfg.Table, now: cfg.Now}, nil
}

// Store writes s unless a snapshot of the same or a newer version is already stored. State
// must also be valid UTF-8 (DynamoDB strings are) and the item must fit in 400 KB.
func (st *Store) Store(ctx context.Context, s snapshots.Snapshot) error {
	if err := snapshots.Validate(s); err != nil {
		return fmt.Errorf("snapshots/dynamo: store: %w", err)
	}
	if !utf8.Valid(s.State) {
		return fmt.Errorf("snapshots/dynamo: store %s at %d: %w: state is not valid UTF-8", s.AggregateID, s.Version, snapshots.ErrInvalidInput)
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = st.now()
	}
	item := marshal(s)
	if n := itemSize(item); n > MaxItemBytes {
		return fmt.Errorf("%w: %s at %d is %d bytes", ErrTooLarge, s.AggregateID, s.Version, n)
	}
	_, err := st.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(st.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#id) OR #version < :version"),
		ExpressionAttributeNames: map[string]string{"#id": attrAggregateID, "#version": attrVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":version": item[attrVersion],
		},
	})
	if _, failed := ddb.ConditionFailure(err); failed {
		// A snapshot of the same or a newer version is stored: it serves at least as well.
		return nil
	}
	if err != nil {
		return fmt.Errorf("snapshots/dynamo: store %s at %d: %w", s.AggregateID, s.Version, err)
	}
	return nil
}

// Fetch reads the snapshot of aggregateID with a consistent read, so that a snapshot stored
// just before is seen. An empty aggregateID is invalid input.
func (st *Store) Fetch(ctx context.Context, aggregateID string, schema int) (snapshots.Snapshot, error) {
	if aggregateID == "" {
		return snapshots.Snapshot{}, fmt.Errorf("snapshots/dynamo: fetch: %w: aggregateId is empty", snapshots.ErrInvalidInput)
	}
	out, err := st.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(st.table),
		Key:            map[string]types.AttributeValue{attrAggregateID: &types.AttributeValueMemberS{Value: aggregateID}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return snapshots.Snapshot{}, fmt.Errorf("snapshots/dynamo: fetch %s: %w", aggregateID, err)
	}
	if out.Item == nil {
		return snapshots.Snapshot{}, fmt.Errorf("snapshots/dynamo: fetch %s: %w", aggregateID, snapshots.ErrNotFound)
	}
	s, err := unmarshal(aggregateID, out.Item, schema)
	if err != nil {
		return snapshots.Snapshot{}, fmt.Errorf("snapshots/dynamo: fetch %s: %w", aggregateID, err)
	}
	return s, nil
}

func marshal(s snapshots.Snapshot) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrAggregateID: &types.AttributeValueMemberS{Value: s.AggregateID},
		attrVersion:     &types.AttributeValueMemberN{Value: strconv.FormatInt(s.Version, 10)},
		attrSchema:      &types.AttributeValueMemberN{Value: strconv.Itoa(s.Schema)},
		attrCreatedAt:   &types.AttributeValueMemberN{Value: strconv.FormatInt(s.CreatedAt.UnixMilli(), 10)},
		attrState:       &types.AttributeValueMemberS{Value: string(s.State)},
	}
}

// unmarshal decodes an item, reporting anything that makes it unusable as an
// *snapshots.UnusableError: such an item was written by another schema or is damaged, and
// the caller replays the stream instead.
func unmarshal(aggregateID string, item map[string]types.AttributeValue, schema int) (snapshots.Snapshot, error) {
	s := snapshots.Snapshot{AggregateID: aggregateID}
	unusable := func(reason string, args ...any) error {
		return &snapshots.UnusableError{AggregateID: aggregateID, Version: s.Version, Reason: fmt.Sprintf(reason, args...)}
	}
	var err error
	if s.Version, err = number(item, attrVersion); err != nil {
		return snapshots.Snapshot{}, unusable("%v", err)
	}
	stored, err := number(item, attrSchema)
	if err != nil {
		return snapshots.Snapshot{}, unusable("%v", err)
	}
	if stored != int64(schema) {
		return snapshots.Snapshot{}, unusable("schema %d, want %d", stored, schema)
	}
	s.Schema = schema
	createdAt, err := number(item, attrCreatedAt)
	if err != nil {
		return snapshots.Snapshot{}, unusable("%v", err)
	}
	s.CreatedAt = time.UnixMilli(createdAt).UTC()
	state, ok := item[attrState].(*types.AttributeValueMemberS)
	if !ok {
		return snapshots.Snapshot{}, unusable("%s is %s, want a string", attrState, kind(item[attrState]))
	}
	if !json.Valid([]byte(state.Value)) {
		return snapshots.Snapshot{}, unusable("state is not JSON")
	}
	s.State = json.RawMessage(state.Value)
	return s, nil
}

func number(item map[string]types.AttributeValue, name string) (int64, error) {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("%s is %s, want a number", name, kind(item[name]))
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not an integer", name, n.Value)
	}
	return v, nil
}

func kind(av types.AttributeValue) string {
	switch av.(type) {
	case nil:
		return "missing"
	case *types.AttributeValueMemberS:
		return "a string"
	case *types.AttributeValueMemberN:
		return "a number"
	case *types.AttributeValueMemberB:
		return "binary"
	case *types.AttributeValueMemberBOOL:
		return "a boolean"
	case *types.AttributeValueMemberNULL:
		return "null"
	case *types.AttributeValueMemberM:
		return "a map"
	case *types.AttributeValueMemberL:
		return "a list"
	default:
		return "a set"
	}
}

// itemSize is the item's size as DynamoDB counts it: names and values in UTF-8 bytes, numbers
// at their largest (21 bytes), which errs on the safe side by a few bytes.
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, av := range item {
		n += len(name)
		switch v := av.(type) {
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		case *types.AttributeValueMemberN:
			n += 21
		}
	}
	return n
}
