package handlers_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"buildledger/handlers"
	"buildledger/internal/awstest"
)

func TestProvisionMessaging_GivenNothing_WhenRunTwice_ThenSecondRunCreatesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sqsc, snsc := awstest.SQS(t), awstest.SNS(t)
	names, err := handlers.NewNames(awstest.Prefix(t, "provision"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := handlers.MessagingConfig{MaxReceiveCount: 2}

	first, created, err := handlers.ProvisionMessaging(ctx, sqsc, snsc, names, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 7 {
		t.Fatalf("first run created %v, want 6 queues and 1 subscription", created)
	}
	second, created, err := handlers.ProvisionMessaging(ctx, sqsc, snsc, names, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 0 {
		t.Fatalf("second run created %v, want nothing", created)
	}
	if first != second {
		t.Fatalf("endpoints differ between runs: %+v vs %+v", first, second)
	}
	resolved, err := handlers.ResolveMessaging(ctx, sqsc, snsc, names)
	if err != nil || resolved != first {
		t.Fatalf("ResolveMessaging = %+v, %v; want %+v", resolved, err, first)
	}

	attrs := queueAttributes(t, sqsc, first.CommandsQueueURL, sqstypes.QueueAttributeNameAll)
	if attrs["FifoQueue"] != "true" {
		t.Errorf("commands queue FifoQueue = %q, want true", attrs["FifoQueue"])
	}
	if target, err := redriveTarget(attrs["RedrivePolicy"]); err != nil || target == "" {
		t.Errorf("commands queue RedrivePolicy = %q (%v), want a dead-letter target", attrs["RedrivePolicy"], err)
	}

	timers := queueAttributes(t, sqsc, first.TimersQueueURL, sqstypes.QueueAttributeNameAll)
	if timers["FifoQueue"] == "true" || timers["VisibilityTimeout"] != "10" {
		t.Errorf("timers queue attributes = %v, want a standard queue with a 10 s visibility timeout", timers)
	}
	if target, err := redriveTarget(timers["RedrivePolicy"]); err != nil || target == "" {
		t.Errorf("timers queue RedrivePolicy = %q (%v), want a dead-letter target", timers["RedrivePolicy"], err)
	}

	// On AWS the projector queue takes the topic's deliveries only with a policy that says so.
	proj := queueAttributes(t, sqsc, first.ProjectorQueueURL, sqstypes.QueueAttributeNamePolicy)
	var policy struct {
		Statement []struct {
			Effect    string
			Principal struct{ Service string }
			Action    string
			Condition struct {
				ArnEquals map[string]string
			}
		}
	}
	if err := json.Unmarshal([]byte(proj["Policy"]), &policy); err != nil || len(policy.Statement) != 1 ||
		policy.Statement[0].Principal.Service != "sns.amazonaws.com" || policy.Statement[0].Action != "sqs:SendMessage" ||
		policy.Statement[0].Condition.ArnEquals["aws:SourceArn"] != first.EventsTopicARN {
		t.Errorf("projector queue Policy = %q (%v), want sns.amazonaws.com allowed to send from %s only", proj["Policy"], err, first.EventsTopicARN)
	}

	// An event published to the topic reaches the projector queue as the raw body.
	if _, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(first.EventsTopicARN), Message: aws.String(`{"hello":"projector"}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(first.ProjectorQueueURL), WaitTimeSeconds: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 || aws.ToString(got.Messages[0].Body) != `{"hello":"projector"}` {
		t.Fatalf("projector queue received %+v, want the raw published body", got.Messages)
	}

	// A command received MaxReceiveCount times without being deleted moves to the dead-letter queue.
	if _, err := sqsc.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(first.CommandsQueueURL), MessageBody: aws.String(`poison`),
		MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d1"),
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(first.CommandsQueueURL), WaitTimeSeconds: 1, VisibilityTimeout: 0})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			_, _ = sqsc.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(first.CommandsQueueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		}
	}
	dead, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(first.CommandsDLQURL), WaitTimeSeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(dead.Messages) != 1 || aws.ToString(dead.Messages[0].Body) != "poison" {
		t.Fatalf("dead-letter queue holds %+v, want the poison message", dead.Messages)
	}
}

// queueAttributes returns the attribute name (or all of them) of the queue at url.
func queueAttributes(t *testing.T, sqsc *sqs.Client, url string, name sqstypes.QueueAttributeName) map[string]string {
	t.Helper()
	out, err := sqsc.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{name},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes
}

// redriveTarget returns the dead-letter target of a queue's RedrivePolicy attribute.
func redriveTarget(redrivePolicy string) (string, error) {
	var rp struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     any    `json:"maxReceiveCount"`
	}
	err := json.Unmarshal([]byte(redrivePolicy), &rp)
	return rp.DeadLetterTargetArn, err
}

func TestNewNames_GivenBadPrefix_ThenError(t *testing.T) {
	for _, p := range []string{"has space", "slash/", string(make([]byte, 61))} {
		if _, err := handlers.NewNames(p); err == nil {
			t.Errorf("NewNames(%q) succeeded, want an error", p)
		}
	}
}
