package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"buildledger/internal/settings"
)

// DefaultPrefix is the name prefix of every table, queue and topic unless configured otherwise.
const DefaultPrefix = "buildledger-"

// Names are the names of every AWS resource one buildledger installation uses, all derived
// from one prefix so that several installations (or test runs) share an account safely.
type Names struct {
	// Prefix is the common prefix.
	Prefix string
	// EventsTable holds the events of every stream.
	EventsTable string
	// CommandsTable holds one outcome per command id.
	CommandsTable string
	// SnapshotsTable holds aggregate snapshots.
	SnapshotsTable string
	// CommandsQueue is the FIFO queue clients send commands to.
	CommandsQueue string
	// CommandsDLQ receives commands that cannot be processed.
	CommandsDLQ string
	// EventsTopic is the SNS topic committed events are published to.
	EventsTopic string
	// ProjectorQueue is subscribed to EventsTopic and feeds the projections.
	ProjectorQueue string
	// ProjectorDLQ receives events the projections cannot apply.
	ProjectorDLQ string
	// TimersQueue carries the worker's self-addressed lease timers, each delayed until
	// its lease ends.
	TimersQueue string
	// TimersDLQ receives timer messages that cannot be read.
	TimersDLQ string
}

// NewNames derives every resource name from prefix. The prefix may hold letters, digits,
// '-' and '_' (what SQS, SNS and DynamoDB names all accept).
func NewNames(prefix string) (Names, error) {
	for _, r := range prefix {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return Names{}, fmt.Errorf("handlers: prefix %q: only letters, digits, '-' and '_' are allowed", prefix)
		}
	}
	// SQS names are at most 80 characters; the longest suffix is "commands-dlq.fifo".
	if len(prefix) > 60 {
		return Names{}, fmt.Errorf("handlers: prefix %q is longer than 60 characters", prefix)
	}
	return Names{
		Prefix:         prefix,
		EventsTable:    prefix + "events",
		CommandsTable:  prefix + "commands",
		SnapshotsTable: prefix + "snapshots",
		CommandsQueue:  prefix + "commands.fifo",
		CommandsDLQ:    prefix + "commands-dlq.fifo",
		EventsTopic:    prefix + "events",
		ProjectorQueue: prefix + "projector",
		ProjectorDLQ:   prefix + "projector-dlq",
		TimersQueue:    prefix + "timers",
		TimersDLQ:      prefix + "timers-dlq",
	}, nil
}

// MessagingConfig tunes the queues that Provision creates.
type MessagingConfig struct {
	// MaxReceiveCount is how often a message is received before SQS moves it to the
	// dead-letter queue. Transient failures (throttling, an emulator restart) nack and retry,
	// so it must be large enough to ride out an outage. Default 20.
	MaxReceiveCount int
	// VisibilityTimeoutSeconds is how long a received message stays hidden. Default 30.
	VisibilityTimeoutSeconds int
	// TimersVisibilityTimeoutSeconds is how long a received timer stays hidden. It is
	// short so that a timer taken by a worker that was killed comes back soon, and the
	// lease it ends is not held for longer than it should be. Default 10.
	TimersVisibilityTimeoutSeconds int
}

func (c *MessagingConfig) setDefaults() {
	settings.DefaultUnlessPositive(&c.MaxReceiveCount, 20)
	settings.DefaultUnlessPositive(&c.VisibilityTimeoutSeconds, 30)
	settings.DefaultUnlessPositive(&c.TimersVisibilityTimeoutSeconds, 10)
}

// Endpoints are the resolved addresses of the messaging resources.
type Endpoints struct {
	// CommandsQueueURL is the URL of the commands queue.
	CommandsQueueURL string
	// CommandsDLQURL is the URL of the commands dead-letter queue.
	CommandsDLQURL string
	// EventsTopicARN is the ARN of the events topic.
	EventsTopicARN string
	// ProjectorQueueURL is the URL of the projector queue.
	ProjectorQueueURL string
	// ProjectorDLQURL is the URL of the projector dead-letter queue.
	ProjectorDLQURL string
	// TimersQueueURL is the URL of the lease timers queue.
	TimersQueueURL string
	// TimersDLQURL is the URL of the lease timers dead-letter queue.
	TimersDLQURL string
}

// ProvisionMessaging creates, idempotently, the commands FIFO queue with its dead-letter
// queue and redrive policy, the events topic, the projector queue (with its dead-letter
// queue) subscribed to the topic with raw delivery, and the standard timers queue (with its
// dead-letter queue). It returns the endpoints and the names of
// what it created (empty when everything already existed).
func ProvisionMessaging(ctx context.Context, sqsc *sqs.Client, snsc *sns.Client, n Names, cfg MessagingConfig) (Endpoints, []string, error) {
	cfg.setDefaults()
	var (
		ep      Endpoints
		created []string
		err     error
	)
	queue := func(name string, attrs map[string]string) (url, arn string) {
		if err != nil {
			return "", ""
		}
		var made bool
		url, arn, made, err = ensureQueue(ctx, sqsc, name, attrs)
		if made {
			created = append(created, "queue "+name)
		}
		return url, arn
	}
	fifo := map[string]string{"FifoQueue": "true"}
	visibility := strconv.Itoa(cfg.VisibilityTimeoutSeconds)

	var dlqArn string
	ep.CommandsDLQURL, dlqArn = queue(n.CommandsDLQ, fifo)
	ep.CommandsQueueURL, _ = queue(n.CommandsQueue, map[string]string{
		"FifoQueue":         "true",
		"VisibilityTimeout": visibility,
		"RedrivePolicy":     redrive(dlqArn, cfg.MaxReceiveCount),
	})
	var projDLQArn, projArn string
	ep.ProjectorDLQURL, projDLQArn = queue(n.ProjectorDLQ, nil)
	ep.ProjectorQueueURL, projArn = queue(n.ProjectorQueue, map[string]string{
		"VisibilityTimeout": visibility,
		"RedrivePolicy":     redrive(projDLQArn, cfg.MaxReceiveCount),
	})
	var timersDLQArn string
	ep.TimersDLQURL, timersDLQArn = queue(n.TimersDLQ, nil)
	ep.TimersQueueURL, _ = queue(n.TimersQueue, map[string]string{
		// Standard, not FIFO: only standard queues delay single messages.
		"VisibilityTimeout": strconv.Itoa(cfg.TimersVisibilityTimeoutSeconds),
		"RedrivePolicy":     redrive(timersDLQArn, cfg.MaxReceiveCount),
	})
	if err != nil {
		return ep, created, err
	}

	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(n.EventsTopic)})
	if err != nil {
		return ep, created, fmt.Errorf("handlers: create topic %s: %w", n.EventsTopic, err)
	}
	ep.EventsTopicARN = aws.ToString(topic.TopicArn)
	// On AWS a queue takes SNS deliveries only when its policy allows the topic to send.
	if _, err := sqsc.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(ep.ProjectorQueueURL),
		Attributes: map[string]string{"Policy": topicDeliveryPolicy(projArn, ep.EventsTopicARN)},
	}); err != nil {
		return ep, created, fmt.Errorf("handlers: allow %s to deliver to %s: %w", n.EventsTopic, n.ProjectorQueue, err)
	}

	subscribed, err := hasSubscription(ctx, snsc, ep.EventsTopicARN, projArn)
	if err != nil {
		return ep, created, err
	}
	if !subscribed {
		if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{
			TopicArn:   aws.String(ep.EventsTopicARN),
			Protocol:   aws.String("sqs"),
			Endpoint:   aws.String(projArn),
			Attributes: map[string]string{"RawMessageDelivery": "true"},
		}); err != nil {
			return ep, created, fmt.Errorf("handlers: subscribe %s to %s: %w", n.ProjectorQueue, n.EventsTopic, err)
		}
		created = append(created, "subscription "+n.EventsTopic+" → "+n.ProjectorQueue)
	}
	return ep, created, nil
}

// ResolveMessaging finds the endpoints of resources that ProvisionMessaging created, without
// creating anything; a missing resource is an error that says to run init.
func ResolveMessaging(ctx context.Context, sqsc *sqs.Client, snsc *sns.Client, n Names) (Endpoints, error) {
	var ep Endpoints
	var errs []error
	url := func(name string) string {
		out, err := sqsc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			errs = append(errs, fmt.Errorf("queue %s: %w", name, err))
			return ""
		}
		return aws.ToString(out.QueueUrl)
	}
	ep.CommandsQueueURL = url(n.CommandsQueue)
	ep.CommandsDLQURL = url(n.CommandsDLQ)
	ep.ProjectorQueueURL = url(n.ProjectorQueue)
	ep.ProjectorDLQURL = url(n.ProjectorDLQ)
	ep.TimersQueueURL = url(n.TimersQueue)
	ep.TimersDLQURL = url(n.TimersDLQ)
	// CreateTopic is idempotent and the documented way to look a topic's ARN up by name.
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(n.EventsTopic)})
	if err != nil {
		errs = append(errs, fmt.Errorf("topic %s: %w", n.EventsTopic, err))
	} else {
		ep.EventsTopicARN = aws.ToString(topic.TopicArn)
	}
	if len(errs) > 0 {
		return ep, fmt.Errorf("handlers: messaging resources missing (run `buildledger init`): %w", errors.Join(errs...))
	}
	return ep, nil
}

func redrive(dlqArn string, maxReceive int) string {
	b, _ := json.Marshal(map[string]string{
		"deadLetterTargetArn": dlqArn,
		"maxReceiveCount":     strconv.Itoa(maxReceive),
	})
	return string(b)
}

func ensureQueue(ctx context.Context, c *sqs.Client, name string, attrs map[string]string) (url, arn string, created bool, err error) {
	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	var missing *sqstypes.QueueDoesNotExist
	switch {
	case err == nil:
		url = aws.ToString(got.QueueUrl)
	case errors.As(err, &missing) || strings.Contains(err.Error(), "NonExistentQueue"):
		out, cerr := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if cerr != nil {
			return "", "", false, fmt.Errorf("handlers: create queue %s: %w", name, cerr)
		}
		url, created = aws.ToString(out.QueueUrl), true
	default:
		return "", "", false, fmt.Errorf("handlers: look up queue %s: %w", name, err)
	}
	a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", false, fmt.Errorf("handlers: queue %s attributes: %w", name, err)
	}
	return url, a.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], created, nil
}

func hasSubscription(ctx context.Context, c *sns.Client, topicArn, queueArn string) (bool, error) {
	var next *string
	for {
		out, err := c.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topicArn), NextToken: next})
		if err != nil {
			return false, fmt.Errorf("handlers: list subscriptions of %s: %w", topicArn, err)
		}
		for _, s := range out.Subscriptions {
			if aws.ToString(s.Endpoint) == queueArn && aws.ToString(s.Protocol) == "sqs" {
				return true, nil
			}
		}
		if out.NextToken == nil || *out.NextToken == "" {
			return false, nil
		}
		next = out.NextToken
	}
}

// topicDeliveryPolicy is the queue policy that lets the topic topicArn send to the queue
// queueArn, and nothing else.
func topicDeliveryPolicy(queueArn, topicArn string) string {
	b, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Sid":       "EventsTopicDelivers",
			"Effect":    "Allow",
			"Principal": map[string]string{"Service": "sns.amazonaws.com"},
			"Action":    "sqs:SendMessage",
			"Resource":  queueArn,
			"Condition": map[string]any{"ArnEquals": map[string]string{"aws:SourceArn": topicArn}},
		}},
	})
	return string(b)
}
