package dynamo

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/eventstore"
	"buildledger/eventstore/dynamo/layout"
)

// Attribute names of the events and commands tables (see layout).
const (
	attrStream        = layout.Stream
	attrVersion       = layout.Version
	attrKey           = layout.Key
	attrBucket        = layout.Bucket
	attrType          = layout.Type
	attrBody          = layout.Body
	attrCommandID     = layout.CommandID
	attrCorrelationID = layout.CorrelationID
	attrCausationID   = layout.CausationID
	attrRecordedAt    = layout.RecordedAt
	attrStatus        = layout.Status
	attrCommandType   = layout.CommandType
	attrFirstVersion  = layout.FirstVersion
	attrLastVersion   = layout.LastVersion
	attrReason        = layout.Reason
	attrCode          = layout.Code
	attrBodyHash      = layout.BodyHash
	attrSenderID      = layout.SenderID
	attrIdentity      = layout.Identity
	attrPolicy        = layout.Policy
)

// TimeIndex is the name of the events table's global secondary index that orders events by
// timestamp key within a time bucket (a day, or a shard of a day: see layout.TimeBucket).
const TimeIndex = "byTime"

// bucketsStream is the partition where the adapter lists the day buckets that hold events,
// one item per day (version = YYYYMMDD), so that ReadAll finds them without a scan. Its
// items have no "tb" attribute and so stay out of the time index.
const bucketsStream = eventstore.ReservedStreamPrefix + "buckets"

// timeShardsStream is the partition where the adapter records the shard counts written on
// each day, one item per day (version = YYYYMMDD) with the set of counts in layout.Shards,
// so that ReadAll knows which shards to read. It is apart from bucketsStream because
// earlier versions write a day's bucketsStream item whole, which would erase the set.
// Days written only unsharded have no item here.
const timeShardsStream = eventstore.ReservedStreamPrefix + "timeshards"

const timeLayout = layout.TimeLayout

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func eventKey(stream string, version int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrStream: str(stream), attrVersion: num(version)}
}

// eventItem is the item of r in a store of the default shard count (see eventItemSharded).
func eventItem(r eventstore.Record) map[string]types.AttributeValue {
	return eventItemSharded(r, layout.DefaultTimeShards)
}

// eventItemSharded is the item of r in a store configured with shards time shards: its
// time bucket is layout.TimeBucket of the count layout.ShardsFor gives.
func eventItemSharded(r eventstore.Record, shards int) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrStream:     str(r.Stream),
		attrVersion:    num(r.Version),
		attrKey:        str(r.Key),
		attrBucket:     str(layout.TimeBucket(r.Stream, r.Key, layout.ShardsFor(r.Stream, shards))),
		attrType:       str(r.Type),
		attrBody:       str(string(r.Body)),
		attrRecordedAt: str(layout.FormatTime(r.RecordedAt)),
	}
	putOptional(item, attrCommandID, r.CommandID)
	putOptional(item, attrCorrelationID, r.Metadata.CorrelationID)
	putOptional(item, attrCausationID, r.Metadata.CausationID)
	putSender(item, r.Metadata.SenderID, r.Metadata.Identity)
	return item
}

func outcomeItem(o eventstore.Outcome) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrCommandID:  str(o.CommandID),
		attrStatus:     str(o.Status),
		attrVersion:    num(o.Version),
		attrRecordedAt: str(layout.FormatTime(o.RecordedAt)),
	}
	putOptional(item, attrCommandType, o.CommandType)
	putOptional(item, attrStream, o.Stream)
	putOptional(item, attrReason, o.Reason)
	putOptional(item, attrCode, o.Code)
	putOptional(item, attrBodyHash, o.BodyHash)
	putOptional(item, attrPolicy, o.Policy)
	putSender(item, o.SenderID, o.Identity)
	if o.FirstVersion != 0 {
		item[attrFirstVersion] = num(o.FirstVersion)
	}
	if o.LastVersion != 0 {
		item[attrLastVersion] = num(o.LastVersion)
	}
	return item
}

// putSender adds who sent the command, when known: the sender principal and the
// identity map, each only when not empty, so that items without them keep their layout.
func putSender(item map[string]types.AttributeValue, senderID string, i eventstore.Identity) {
	putOptional(item, attrSenderID, senderID)
	members := layout.IdentityMembers(i)
	if len(members) == 0 {
		return
	}
	m := make(map[string]types.AttributeValue, len(members))
	for _, member := range members {
		m[member.Name] = str(member.Value)
	}
	item[attrIdentity] = &types.AttributeValueMemberM{Value: m}
}

func putOptional(item map[string]types.AttributeValue, name, value string) {
	if value != "" {
		item[name] = str(value)
	}
}

// itemDecoder reads attributes of one item and remembers the first problem, so that
// decoding reads as a list of fields.
type itemDecoder struct {
	item map[string]types.AttributeValue
	err  error
}

func (d *itemDecoder) str(name string, required bool) string {
	switch v := d.item[name].(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case nil:
		if required {
			d.fail(fmt.Errorf("attribute %s is missing", name))
		}
	default:
		d.fail(fmt.Errorf("attribute %s is %T, want a string", name, v))
	}
	return ""
}

func (d *itemDecoder) num(name string, required bool) int64 {
	switch v := d.item[name].(type) {
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			d.fail(fmt.Errorf("attribute %s: %w", name, err))
		}
		return n
	case nil:
		if required {
			d.fail(fmt.Errorf("attribute %s is missing", name))
		}
	default:
		d.fail(fmt.Errorf("attribute %s is %T, want a number", name, v))
	}
	return 0
}

// identity reads the optional identity map; a missing one is the zero Identity.
func (d *itemDecoder) identity(name string) eventstore.Identity {
	switch v := d.item[name].(type) {
	case nil:
		return eventstore.Identity{}
	case *types.AttributeValueMemberM:
		inner := itemDecoder{item: v.Value}
		id := layout.IdentityFromMembers(func(member string) string { return inner.str(member, false) })
		if inner.err != nil {
			d.fail(fmt.Errorf("attribute %s: %w", name, inner.err))
		}
		return id
	default:
		d.fail(fmt.Errorf("attribute %s is %T, want a map", name, v))
	}
	return eventstore.Identity{}
}

func (d *itemDecoder) time(name string) time.Time {
	s := d.str(name, true)
	if d.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		d.fail(fmt.Errorf("attribute %s: %w", name, err))
	}
	return t.UTC()
}

func (d *itemDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func decodeRecord(item map[string]types.AttributeValue) (eventstore.Record, error) {
	d := itemDecoder{item: item}
	r := eventstore.Record{
		Stream:    d.str(attrStream, true),
		Version:   d.num(attrVersion, true),
		Key:       d.str(attrKey, true),
		Type:      d.str(attrType, true),
		Body:      json.RawMessage(d.str(attrBody, true)),
		CommandID: d.str(attrCommandID, false),
		Metadata: eventstore.Metadata{
			CorrelationID: d.str(attrCorrelationID, false),
			CausationID:   d.str(attrCausationID, false),
			SenderID:      d.str(attrSenderID, false),
			Identity:      d.identity(attrIdentity),
		},
		RecordedAt: d.time(attrRecordedAt),
	}
	if d.err != nil {
		return eventstore.Record{}, fmt.Errorf("eventstore/dynamo: decode event %s@%d: %w", r.Stream, r.Version, d.err)
	}
	return r, nil
}

func decodeOutcome(item map[string]types.AttributeValue) (eventstore.Outcome, error) {
	d := itemDecoder{item: item}
	o := eventstore.Outcome{
		CommandID:    d.str(attrCommandID, true),
		CommandType:  d.str(attrCommandType, false),
		Status:       d.str(attrStatus, true),
		Stream:       d.str(attrStream, false),
		FirstVersion: d.num(attrFirstVersion, false),
		LastVersion:  d.num(attrLastVersion, false),
		Version:      d.num(attrVersion, true),
		Reason:       d.str(attrReason, false),
		Code:         d.str(attrCode, false),
		BodyHash:     d.str(attrBodyHash, false),
		SenderID:     d.str(attrSenderID, false),
		Identity:     d.identity(attrIdentity),
		Policy:       d.str(attrPolicy, false),
		RecordedAt:   d.time(attrRecordedAt),
	}
	if d.err != nil {
		return eventstore.Outcome{}, fmt.Errorf("eventstore/dynamo: decode outcome %s: %w", o.CommandID, d.err)
	}
	return o, nil
}

// itemSize is the size DynamoDB counts for item toward its 400 KB limit: every attribute's
// name plus its value.
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return len(v.Value) // not an integer; never written by this adapter
		}
		return layout.NumberSize(n)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for name, e := range v.Value {
			n += len(name) + valueSize(e) + 1
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += valueSize(e) + 1
		}
		return n
	}
	return 0
}
