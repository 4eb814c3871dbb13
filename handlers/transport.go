package handlers

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	wsns "github.com/ThreeDotsLabs/watermill-aws/sns"
	wsqs "github.com/ThreeDotsLabs/watermill-aws/sqs"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"

	"buildledger/envelope"
	"buildledger/eventstore"
)

// subscriber receives from a queue given by URL as topic, with workers consumers.
func (w *Worker) subscriber(workers int) (*wsqs.Subscriber, error) {
	wait := int32(w.cfg.ReceiveWaitTime / time.Second)
	visibility := int32(w.cfg.VisibilityTimeout / time.Second)
	sub, err := wsqs.NewSubscriber(wsqs.SubscriberConfig{
		AWSConfig:                   w.cfg.AWS,
		DoNotCreateQueueIfNotExists: true,
		QueueUrlResolver:            knownQueueURL{},
		ConsumeWorkers:              workers,
		Unmarshaler:                 senderUnmarshaler{},
		OptFns:                      []func(*sqs.Options){w.drain.sqsOption},
		GenerateReceiveMessageInput: func(_ context.Context, url wsqs.QueueURL) (*sqs.ReceiveMessageInput, error) {
			// One message per receive: a nack drops the rest of a batch, and a FIFO
			// group stays blocked while any of its messages is in flight anyway.
			return &sqs.ReceiveMessageInput{
				QueueUrl:                    aws.String(string(url)),
				MessageAttributeNames:       []string{"All"},
				MessageSystemAttributeNames: senderAttributes,
				MaxNumberOfMessages:         1,
				WaitTimeSeconds:             wait,
				VisibilityTimeout:           visibility,
			}, nil
		},
	}, w.wlog)
	if err != nil {
		return nil, fmt.Errorf("handlers: sqs subscriber: %w", err)
	}
	w.closers = append(w.closers, sub.Close)
	return sub, nil
}

// deadLetterPublisher publishes to a dead-letter queue given by URL as topic. FIFO queues
// need a group and a deduplication id, which watermill's default send input lacks.
func (w *Worker) deadLetterPublisher(fifo bool) (*wsqs.Publisher, error) {
	pub, err := wsqs.NewPublisher(wsqs.PublisherConfig{
		AWSConfig:                   w.cfg.AWS,
		DoNotCreateQueueIfNotExists: true,
		QueueUrlResolver:            knownQueueURL{},
		GenerateSendMessageInput: func(_ context.Context, url wsqs.QueueURL, msg *sqstypes.Message) (*sqs.SendMessageInput, error) {
			in := &sqs.SendMessageInput{
				QueueUrl:          aws.String(string(url)),
				MessageBody:       msg.Body,
				MessageAttributes: deadLetterAttributes(msg.MessageAttributes),
			}
			if fifo {
				in.MessageGroupId = aws.String(deadLetterGroup)
				in.MessageDeduplicationId = aws.String(deadLetterDedupID(msg))
			}
			return in, nil
		},
	}, w.wlog)
	if err != nil {
		return nil, fmt.Errorf("handlers: dead-letter publisher: %w", err)
	}
	w.closers = append(w.closers, pub.Close)
	return pub, nil
}

// deadLetterDedupID is the original message's id, so that a message dead-lettered again
// after a lost ack is stored once.
func deadLetterDedupID(msg *sqstypes.Message) string {
	if a, ok := msg.MessageAttributes[wsqs.UUIDAttribute]; ok && a.StringValue != nil && *a.StringValue != "" {
		id := *a.StringValue
		if len(id) <= 128 {
			return id
		}
	}
	return uuid.NewSHA1(recordNamespace, []byte(aws.ToString(msg.Body))).String()
}

// deadLetterAttributes keeps what SQS accepts: at most ten non-empty attributes, the
// poison reason and origin first, the reason cut to a readable length.
func deadLetterAttributes(in map[string]sqstypes.MessageAttributeValue) map[string]sqstypes.MessageAttributeValue {
	first := []string{
		middleware.ReasonForPoisonedKey, middleware.PoisonedTopicKey, middleware.PoisonedHandlerKey,
		wsqs.UUIDAttribute, middleware.CorrelationIDMetadataKey, middleware.PoisonedSubscriberKey,
	}
	rest := make([]string, 0, len(in))
	for k := range in {
		if !slices.Contains(first, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	out := make(map[string]sqstypes.MessageAttributeValue, sqsMaxAttributes)
	for _, k := range append(first, rest...) {
		v, ok := in[k]
		if !ok || len(out) == sqsMaxAttributes || strings.HasPrefix(k, "AWS.") || strings.HasPrefix(k, "Amazon.") {
			continue
		}
		if v.DataType == nil || (v.StringValue == nil || *v.StringValue == "") && len(v.BinaryValue) == 0 {
			continue
		}
		if k == middleware.ReasonForPoisonedKey && v.StringValue != nil {
			v.StringValue = aws.String(envelope.Truncate(*v.StringValue, 1024))
		}
		out[k] = v
	}
	return out
}

// knownQueueURL takes the topic to be the queue URL of a queue that exists, so that
// watermill neither looks it up nor tries to create it (provisioning is ProvisionMessaging's job).
type knownQueueURL struct{}

func (knownQueueURL) ResolveQueueUrl(_ context.Context, p wsqs.ResolveQueueUrlParams) (wsqs.QueueUrlResolverResult, error) {
	url := wsqs.QueueURL(p.Topic)
	exists := true
	name := p.Topic[strings.LastIndex(p.Topic, "/")+1:]
	return wsqs.QueueUrlResolverResult{QueueName: wsqs.QueueName(name), QueueURL: &url, Exists: &exists}, nil
}

// topicArnMarshaler is watermill's SNS marshaler addressing the topic by TopicArn rather
// than TargetArn: both are valid for AWS, but emulators (fauxqs) accept only TopicArn.
type topicArnMarshaler struct {
	wsns.DefaultMarshalerUnmarshaler
}

func (m topicArnMarshaler) Marshal(topic wsns.TopicArn, msg *message.Message) *sns.PublishInput {
	in := m.DefaultMarshalerUnmarshaler.Marshal(topic, msg)
	in.TopicArn, in.TargetArn = in.TargetArn, nil
	return in
}

// busPublisher publishes records through a cqrs EventBus, one message per event.
type busPublisher struct{ bus *cqrs.EventBus }

func (p busPublisher) Publish(ctx context.Context, records []eventstore.Record) error {
	for _, r := range records {
		if err := p.bus.Publish(ctx, r); err != nil {
			return fmt.Errorf("handlers: publish %s@%d: %w", r.Stream, r.Version, err)
		}
	}
	return nil
}
