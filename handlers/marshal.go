package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"

	"buildledger/eventstore"
)

// Names the watermill cqrs components know the two message kinds by. Every message on the
// commands queue is an Envelope and every message on the projector queue a Record,
// whatever sent it, so the names come from the queue, not from message metadata.
const (
	envelopeName = "buildledger.CommandEnvelope"
	recordName   = "buildledger.EventRecord"
)

// Message metadata keys set on published records (SNS message attributes, which raw
// delivery passes on to the projector queue).
const (
	metaStream  = "stream"
	metaVersion = "version"
	metaType    = "event_type"
)

// recordNamespace derives the message UUID of a record from its stream and version, so
// that every publication of the same event carries the same id.
var recordNamespace = uuid.MustParse("6f1e1c52-3f0b-4f43-9a55-2a3b8b1c7d10")

// envelopeMarshaler is the cqrs marshaler of the commands queue. Watermill's JSON
// marshaler would need the command name in message metadata; CI systems send plain JSON,
// so every message is handed to the one Envelope handler and its "type" is read from the
// body.
type envelopeMarshaler struct{}

var _ cqrs.CommandEventMarshaler = envelopeMarshaler{}

func (envelopeMarshaler) Marshal(v any) (*message.Message, error) {
	env, ok := v.(*Envelope)
	if !ok {
		return nil, fmt.Errorf("handlers: cannot marshal %T as a command envelope", v)
	}
	id := env.MessageID
	if id == "" {
		id = uuid.NewString()
	}
	msg := message.NewMessage(id, env.Body)
	if env.CorrelationID != "" {
		middleware.SetCorrelationID(env.CorrelationID, msg)
	}
	return msg, nil
}

// Unmarshal never fails: whether the body is a command is the handler's decision, so that
// an undecodable message gets an invalid outcome and goes to the dead-letter queue.
func (envelopeMarshaler) Unmarshal(msg *message.Message, v any) error {
	env, ok := v.(*Envelope)
	if !ok {
		return fmt.Errorf("handlers: cannot unmarshal a command message into %T", v)
	}
	*env = Envelope{
		Body:          msg.Payload,
		MessageID:     msg.UUID,
		CorrelationID: middleware.MessageCorrelationID(msg),
		SenderID:      msg.Metadata.Get(metaSenderID),
	}
	return nil
}

func (envelopeMarshaler) Name(any) string                         { return envelopeName }
func (envelopeMarshaler) NameFromMessage(*message.Message) string { return envelopeName }

// recordMarshaler is the cqrs marshaler of published events: the payload is the
// eventstore.Record as JSON, the storage-neutral envelope the read side consumes.
type recordMarshaler struct{}

var _ cqrs.CommandEventMarshaler = recordMarshaler{}

func (recordMarshaler) Marshal(v any) (*message.Message, error) {
	var r eventstore.Record
	switch x := v.(type) {
	case eventstore.Record:
		r = x
	case *eventstore.Record:
		r = *x
	default:
		return nil, fmt.Errorf("handlers: cannot marshal %T as an event record", v)
	}
	body, err := json.Marshal(r)
	if err == nil {
		// Plain ASCII: SNS and SQS refuse some characters an event may hold.
		body, err = eventstore.ASCIIJSON(body)
	}
	if err != nil {
		return nil, fmt.Errorf("handlers: marshal record %s@%d: %w", r.Stream, r.Version, err)
	}
	msg := message.NewMessage(RecordMessageID(r), body)
	msg.Metadata.Set(metaStream, r.Stream)
	msg.Metadata.Set(metaVersion, strconv.FormatInt(r.Version, 10))
	msg.Metadata.Set(metaType, r.Type)
	if r.Metadata.CorrelationID != "" {
		middleware.SetCorrelationID(r.Metadata.CorrelationID, msg)
	}
	return msg, nil
}

func (recordMarshaler) Unmarshal(msg *message.Message, v any) error {
	r, ok := v.(*eventstore.Record)
	if !ok {
		return fmt.Errorf("handlers: cannot unmarshal an event message into %T", v)
	}
	rec, err := DecodeRecord(msg.Payload)
	if err != nil {
		return err
	}
	*r = rec
	return nil
}

func (recordMarshaler) Name(any) string                         { return recordName }
func (recordMarshaler) NameFromMessage(*message.Message) string { return recordName }

// RecordMessageID is the message id every publication of r carries: derived from its
// stream and version, so that consumers can recognise a re-published event.
func RecordMessageID(r eventstore.Record) string {
	return uuid.NewSHA1(recordNamespace, []byte(r.Stream+"\x00"+strconv.FormatInt(r.Version, 10))).String()
}

// DecodeRecord decodes a published event and checks that it names a stream, a version and
// a type; anything else cannot be applied and belongs in the dead-letter queue.
func DecodeRecord(body []byte) (eventstore.Record, error) {
	var r eventstore.Record
	if err := json.Unmarshal(body, &r); err != nil {
		return eventstore.Record{}, &DeadLetterError{Kind: DeadLetterInvalid, Reason: "event record is not valid JSON: " + err.Error(), Err: err}
	}
	var errs []error
	if r.Stream == "" {
		errs = append(errs, errors.New("stream is empty"))
	}
	if r.Version < 1 {
		errs = append(errs, fmt.Errorf("version %d is below 1", r.Version))
	}
	if r.Type == "" {
		errs = append(errs, errors.New("type is empty"))
	}
	if !json.Valid(r.Body) {
		errs = append(errs, errors.New("body is not JSON"))
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		return eventstore.Record{}, &DeadLetterError{Kind: DeadLetterInvalid, Reason: "event record: " + err.Error(), Err: err}
	}
	return r, nil
}
