package webhooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/internal/ddb"
	"buildledger/internal/settings"
)

// The subscriptions table's layout: this file alone knows it. One item per subscription,
// partition key name (S).
const (
	attrName       = "name"
	attrURL        = "url"
	attrKinds      = "kinds"
	attrStreams    = "streams"
	attrSecret     = "secret"
	attrState      = "state"
	attrCheckpoint = "checkpoint"
	attrFailures   = "failures"
	attrLastError  = "lastError"
	attrParkedKey  = "parkedKey"
	attrLeaseOwner = "leaseOwner"
	attrLeaseUntil = "leaseUntil" // Unix milliseconds
	attrGeneration = "generation"
	attrCreatedAt  = "createdAt"
)

// TableName is the name of the subscriptions table of the installation prefix.
func TableName(prefix string) string { return prefix + "subscriptions" }

// CreateTable creates the subscriptions table unless it exists and waits until it is active.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) (created bool, err error) {
	created, err = ddb.CreateTable(ctx, client, ddb.StringKeyTable(table, attrName))
	if err != nil {
		return created, fmt.Errorf("webhooks: %w", err)
	}
	return created, nil
}

// DynamoConfig configures a DynamoStore.
type DynamoConfig struct {
	// Client is the DynamoDB client; required.
	Client *dynamodb.Client
	// Table is the subscriptions table (TableName); required.
	Table string
}

// Validate reports every problem of the configuration at once.
func (c DynamoConfig) Validate() error {
	p := settings.Prefixed("webhooks: config")
	p.If(c.Client == nil, "Client is nil")
	p.If(c.Table == "", "Table is empty")
	return p.Err()
}

// DynamoStore is the Store on the subscriptions table.
type DynamoStore struct {
	client *dynamodb.Client
	table  *string
}

var _ Store = (*DynamoStore)(nil)

// NewDynamoStore returns the store of a validated configuration.
func NewDynamoStore(cfg DynamoConfig) (*DynamoStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &DynamoStore{client: cfg.Client, table: aws.String(cfg.Table)}, nil
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func (d *DynamoStore) key(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrName: str(name)}
}

// Add implements Store.
func (d *DynamoStore) Add(ctx context.Context, s Subscription) error {
	if err := s.Validate(); err != nil {
		return err
	}
	item := map[string]types.AttributeValue{
		attrName: str(s.Name), attrURL: str(s.URL), attrSecret: str(s.Secret), attrState: str(string(StateActive)),
		attrCheckpoint: str(s.Checkpoint), attrFailures: num(0), attrGeneration: num(0),
		attrCreatedAt: str(s.CreatedAt.UTC().Format(time.RFC3339Nano)),
	}
	if len(s.Kinds) > 0 {
		item[attrKinds] = &types.AttributeValueMemberSS{Value: s.Kinds}
	}
	if s.Streams != "" {
		item[attrStreams] = str(s.Streams)
	}
	_, err := d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: d.table, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(#n)"), ExpressionAttributeNames: map[string]string{"#n": attrName}})
	if f, ok := ddb.ConditionFailure(err); ok && f.Any() {
		return fmt.Errorf("%w: %s", ErrExists, s.Name)
	}
	if err != nil {
		return fmt.Errorf("webhooks: add %s: %w", s.Name, err)
	}
	return nil
}

// Get implements Store.
func (d *DynamoStore) Get(ctx context.Context, name string) (Subscription, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: d.table, Key: d.key(name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Subscription{}, fmt.Errorf("webhooks: get %s: %w", name, err)
	}
	if out.Item == nil {
		return Subscription{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return decode(out.Item)
}

// List implements Store.
func (d *DynamoStore) List(ctx context.Context) ([]Subscription, error) {
	var subs []Subscription
	p := dynamodb.NewScanPaginator(d.client, &dynamodb.ScanInput{TableName: d.table, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("webhooks: list: %w", err)
		}
		for _, it := range page.Items {
			s, err := decode(it)
			if err != nil {
				return nil, err
			}
			subs = append(subs, s)
		}
	}
	slices.SortFunc(subs, func(a, b Subscription) int { return strings.Compare(a.Name, b.Name) })
	return subs, nil
}

// Remove implements Store.
func (d *DynamoStore) Remove(ctx context.Context, name string) error {
	_, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: d.table, Key: d.key(name),
		ConditionExpression: aws.String("attribute_exists(#n)"), ExpressionAttributeNames: map[string]string{"#n": attrName}})
	return d.operatorError(err, "remove", name)
}

// Pause implements Store.
func (d *DynamoStore) Pause(ctx context.Context, name string) error {
	return d.operate(ctx, "pause", name, "SET #state = :paused", map[string]types.AttributeValue{":paused": str(string(StatePaused))})
}

// Resume implements Store.
func (d *DynamoStore) Resume(ctx context.Context, name string) error {
	return d.operate(ctx, "resume", name, "SET #state = :active, #failures = :zero REMOVE #parked",
		map[string]types.AttributeValue{":active": str(string(StateActive)), ":zero": num(0)})
}

// Replay implements Store.
func (d *DynamoStore) Replay(ctx context.Context, name, checkpoint string) error {
	if err := checkReplay(name, checkpoint); err != nil {
		return err
	}
	return d.operate(ctx, "replay", name, "SET #checkpoint = :cp, #failures = :zero REMOVE #parked",
		map[string]types.AttributeValue{":cp": str(checkpoint), ":zero": num(0)})
}

// operate applies an operator's update to an existing subscription and moves its
// generation on, so that a delivery loop's next conditional write fails and it reads again.
func (d *DynamoStore) operate(ctx context.Context, op, name, update string, values map[string]types.AttributeValue) error {
	values[":one"] = num(1)
	set, remove, _ := strings.Cut(update, " REMOVE ")
	expr := set + ", #gen = #gen + :one"
	if remove != "" {
		expr += " REMOVE " + remove
	}
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: d.table, Key: d.key(name),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String("attribute_exists(#n)"),
		ExpressionAttributeNames:  names(expr, "#n"),
		ExpressionAttributeValues: values})
	return d.operatorError(err, op, name)
}

func (d *DynamoStore) operatorError(err error, op, name string) error {
	if f, ok := ddb.ConditionFailure(err); ok && f.Any() {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return fmt.Errorf("webhooks: %s %s: %w", op, name, err)
	}
	return nil
}

// Lease implements Store.
func (d *DynamoStore) Lease(ctx context.Context, name, owner string, generation int64, now, until time.Time) error {
	return d.owned(ctx, "lease", name, "SET #owner = :owner, #until = :until",
		"#state = :active AND #gen = :gen AND (attribute_not_exists(#owner) OR #owner = :owner OR #until < :now)",
		map[string]types.AttributeValue{":owner": str(owner), ":until": num(until.UnixMilli()), ":now": num(now.UnixMilli()),
			":active": str(string(StateActive)), ":gen": num(generation)})
}

// Checkpoint implements Store.
func (d *DynamoStore) Checkpoint(ctx context.Context, name, owner string, generation int64, cursor string) error {
	return d.owned(ctx, "checkpoint", name, "SET #checkpoint = :cp, #failures = :zero REMOVE #lastError",
		"#owner = :owner AND #gen = :gen",
		map[string]types.AttributeValue{":cp": str(cursor), ":zero": num(0), ":owner": str(owner), ":gen": num(generation)})
}

// Fail implements Store.
func (d *DynamoStore) Fail(ctx context.Context, name, owner string, generation int64, failures int, lastError string) error {
	return d.owned(ctx, "record failure of", name, "SET #failures = :f, #lastError = :e",
		"#owner = :owner AND #gen = :gen",
		map[string]types.AttributeValue{":f": num(int64(failures)), ":e": str(lastError), ":owner": str(owner), ":gen": num(generation)})
}

// Park implements Store.
func (d *DynamoStore) Park(ctx context.Context, name, owner string, generation int64, key string, failures int, lastError string) error {
	return d.owned(ctx, "park", name, "SET #state = :parked, #parked = :key, #failures = :f, #lastError = :e REMOVE #until, #owner",
		"#owner = :owner AND #gen = :gen",
		map[string]types.AttributeValue{":parked": str(string(StateParked)), ":key": str(key), ":f": num(int64(failures)),
			":e": str(lastError), ":owner": str(owner), ":gen": num(generation)})
}

// Release implements Store.
func (d *DynamoStore) Release(ctx context.Context, name, owner string) error {
	err := d.owned(ctx, "release", name, "REMOVE #owner, #until", "#owner = :owner",
		map[string]types.AttributeValue{":owner": str(owner)})
	if errors.Is(err, ErrLeaseLost) {
		return nil
	}
	return err
}

// owned runs a delivery loop's update under its condition; a failed condition is ErrLeaseLost.
func (d *DynamoStore) owned(ctx context.Context, op, name, update, cond string, values map[string]types.AttributeValue) error {
	cond = "attribute_exists(#n) AND " + cond
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: d.table, Key: d.key(name),
		UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names(update+" "+cond, "#n"), ExpressionAttributeValues: values})
	if f, ok := ddb.ConditionFailure(err); ok && f.Any() {
		return fmt.Errorf("%w: %s", ErrLeaseLost, name)
	}
	if err != nil {
		return fmt.Errorf("webhooks: %s %s: %w", op, name, err)
	}
	return nil
}

// placeholders maps the expression attribute names the updates use to the attributes.
var placeholders = map[string]string{
	"#n": attrName, "#state": attrState, "#checkpoint": attrCheckpoint, "#failures": attrFailures,
	"#lastError": attrLastError, "#parked": attrParkedKey, "#owner": attrLeaseOwner, "#until": attrLeaseUntil,
	"#gen": attrGeneration,
}

// names returns the placeholders expr uses (DynamoDB refuses unused ones), and always.
func names(expr string, always ...string) map[string]string {
	out := map[string]string{}
	for p, attr := range placeholders {
		if slices.Contains(always, p) || containsPlaceholder(expr, p) {
			out[p] = attr
		}
	}
	return out
}

// containsPlaceholder tells whether expr uses p as a whole word ("#n" is not in "#gen").
func containsPlaceholder(expr, p string) bool {
	for i := 0; ; {
		j := strings.Index(expr[i:], p)
		if j < 0 {
			return false
		}
		end := i + j + len(p)
		if end == len(expr) || !isWordByte(expr[end]) {
			return true
		}
		i = end
	}
}

func isWordByte(b byte) bool {
	return b == '_' || ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') || ('0' <= b && b <= '9')
}

// decode reads a subscription item.
func decode(item map[string]types.AttributeValue) (Subscription, error) {
	s := Subscription{
		Name: getS(item, attrName), URL: getS(item, attrURL), Streams: getS(item, attrStreams), Secret: getS(item, attrSecret),
		State: State(getS(item, attrState)), Checkpoint: getS(item, attrCheckpoint), LastError: getS(item, attrLastError),
		ParkedKey: getS(item, attrParkedKey), LeaseOwner: getS(item, attrLeaseOwner),
	}
	if ss, ok := item[attrKinds].(*types.AttributeValueMemberSS); ok {
		s.Kinds = slices.Sorted(slices.Values(ss.Value))
	}
	failures, e1 := getN(item, attrFailures)
	s.Failures = int(failures)
	gen, e2 := getN(item, attrGeneration)
	s.Generation = gen
	until, e3 := getN(item, attrLeaseUntil)
	if until > 0 {
		s.LeaseUntil = time.UnixMilli(until).UTC()
	}
	var e4 error
	if c := getS(item, attrCreatedAt); c != "" {
		s.CreatedAt, e4 = time.Parse(time.RFC3339Nano, c)
	}
	if err := errors.Join(e1, e2, e3, e4); err != nil {
		return Subscription{}, fmt.Errorf("webhooks: subscription %s: %w", s.Name, err)
	}
	return s, nil
}

func getS(item map[string]types.AttributeValue, attr string) string {
	if v, ok := item[attr].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, attr string) (int64, error) {
	v, ok := item[attr].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v.Value, 10, 64)
}
