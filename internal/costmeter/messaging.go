package costmeter

import (
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// usageOf is what one successful call of op carried and consumed.
func usageOf(op Op, params, result any) Usage {
	switch op.Service {
	case ServiceDynamoDB:
		return dynamoUsage(op.Operation, params, result)
	case ServiceSQS, ServiceSNS:
		return Usage{Entries: messageEntries(params, result)}
	}
	return Usage{Entries: 1}
}

// messageEntries is how many messages an SQS or SNS call carried: a batch's entries, the
// messages a receive returned, else 1.
func messageEntries(params, result any) int64 {
	switch p := params.(type) {
	case *sqs.SendMessageBatchInput:
		return int64(len(p.Entries))
	case *sqs.DeleteMessageBatchInput:
		return int64(len(p.Entries))
	case *sqs.ChangeMessageVisibilityBatchInput:
		return int64(len(p.Entries))
	case *sns.PublishBatchInput:
		return int64(len(p.PublishBatchRequestEntries))
	}
	if r, ok := result.(*sqs.ReceiveMessageOutput); ok {
		return int64(len(r.Messages))
	}
	return 1
}
