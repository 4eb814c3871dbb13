package deploy

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"buildledger/handlers"
	"buildledger/internal/app"
	"buildledger/internal/awstest"
)

// provisioned is what init asked AWS to create, recorded from the requests themselves.
type provisioned struct {
	mu            sync.Mutex
	tables        []*dynamodb.CreateTableInput
	queues        []*sqs.CreateQueueInput
	topics        []*sns.CreateTopicInput
	subscriptions []*sns.SubscribeInput
	// queuePolicies are the Policy attributes set on queues: queue URL → policy JSON.
	queuePolicies map[string]string
	// calls are every request init made, as IAM sees it: action and resource name.
	calls []call
}

// call is one AWS request: its IAM action (service:Operation) and the name of the table,
// queue or topic it acts on.
type call struct {
	service, action, name string
}

// record is a client option that notes every create request before it is sent.
func (p *provisioned) record(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("deploy-record-creates",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			p.mu.Lock()
			p.calls = append(p.calls, call{
				service: strings.ToLower(awsmiddleware.GetServiceID(ctx)),
				action:  strings.ToLower(awsmiddleware.GetServiceID(ctx)) + ":" + middleware.GetOperationName(ctx),
				name:    resourceName(in.Parameters),
			})
			switch x := in.Parameters.(type) {
			case *dynamodb.CreateTableInput:
				p.tables = append(p.tables, x)
			case *sqs.CreateQueueInput:
				p.queues = append(p.queues, x)
			case *sns.CreateTopicInput:
				p.topics = append(p.topics, x)
			case *sns.SubscribeInput:
				p.subscriptions = append(p.subscriptions, x)
			case *sqs.SetQueueAttributesInput:
				if policy, ok := x.Attributes["Policy"]; ok {
					if p.queuePolicies == nil {
						p.queuePolicies = map[string]string{}
					}
					p.queuePolicies[aws.ToString(x.QueueUrl)] = policy
				}
			}
			p.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// runInit runs what `buildledger init` runs — App.CreateTables, then App.ProvisionMessaging
// with cfg — against the local emulators under a fresh prefix, and returns that prefix and
// every create request it made. It cleans up after the test.
func runInit(t *testing.T, cfg handlers.MessagingConfig) (string, *provisioned) {
	t.Helper()
	awsCfg := awstest.Config(t)
	prefix := awstest.Prefix(t, "deploy")
	names, err := handlers.NewNames(prefix)
	if err != nil {
		t.Fatal(err)
	}
	p := &provisioned{}
	withRecorder := func(o *[]func(*middleware.Stack) error) { *o = append(*o, p.record) }
	ddb := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { withRecorder(&o.APIOptions) })
	sqsc := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { withRecorder(&o.APIOptions) })
	snsc := sns.NewFromConfig(awsCfg, func(o *sns.Options) { withRecorder(&o.APIOptions) })
	a, err := app.New(app.Config{AWS: awsCfg, Names: names, DynamoDB: ddb, SQS: sqsc, SNS: snsc})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() { awstest.DeleteTables(context.Background(), t, ddb, prefix) })
	if _, err := a.CreateTables(ctx); err != nil {
		t.Fatalf("init: create tables: %v", err)
	}
	ep, _, err := a.ProvisionMessaging(ctx, cfg)
	t.Cleanup(func() { deleteMessaging(t, sqsc, snsc, ep) })
	if err != nil {
		t.Fatalf("init: provision messaging: %v", err)
	}
	return prefix, p
}

func deleteMessaging(t *testing.T, sqsc *sqs.Client, snsc *sns.Client, ep handlers.Endpoints) {
	ctx := context.Background()
	for _, url := range []string{ep.CommandsQueueURL, ep.CommandsDLQURL, ep.ProjectorQueueURL, ep.ProjectorDLQURL, ep.TimersQueueURL, ep.TimersDLQURL} {
		if url != "" {
			_, _ = sqsc.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
		}
	}
	if ep.EventsTopicARN != "" {
		_, _ = snsc.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(ep.EventsTopicARN)})
	}
}

// resourceName returns the name of the table, queue or topic a request's input names:
// TableName, QueueName or the last part of QueueUrl, Name or the last part of TopicArn.
func resourceName(input any) string {
	v := reflect.Indirect(reflect.ValueOf(input))
	if v.Kind() != reflect.Struct {
		return ""
	}
	field := func(name string) string {
		f := v.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() || f.Elem().Kind() != reflect.String {
			return ""
		}
		return f.Elem().String()
	}
	for _, name := range []string{"TableName", "QueueName", "Name"} {
		if s := field(name); s != "" {
			return s
		}
	}
	if url := field("QueueUrl"); url != "" {
		return url[strings.LastIndex(url, "/")+1:]
	}
	if arn := field("TopicArn"); arn != "" {
		return arnName(arn)
	}
	return ""
}
