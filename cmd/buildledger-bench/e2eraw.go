package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"buildledger/client"
	"buildledger/eventstore"
)

// createRawQueue creates the raw baseline's FIFO queue, which orders each stream's commands
// as the commands queue does, and returns its URL.
func createRawQueue(ctx context.Context, e *environment) (string, error) {
	out, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(e.name("e2e-raw.fifo")),
		Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "30"},
	})
	if err != nil {
		return "", fmt.Errorf("create raw queue: %w", err)
	}
	url := aws.ToString(out.QueueUrl)
	e.trackMessaging([]string{url}, nil)
	return url, nil
}

// rawSender sends the same bodies to the raw queue in one plain SendMessage each, grouped
// and deduplicated as the client groups and deduplicates them.
func rawSender(queue *sqs.Client, queueURL string) commandSender {
	return func(ctx context.Context, pc plannedCommand) error {
		_, err := queue.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl:               aws.String(queueURL),
			MessageBody:            aws.String(string(pc.body)),
			MessageGroupId:         aws.String(client.GroupID(pc.stream)),
			MessageDeduplicationId: aws.String(pc.id),
		})
		return err
	}
}

// commandsByID indexes a plan by command id, for the raw consumers to find what a message
// decides.
func commandsByID(plan [][]plannedCommand) map[string]plannedCommand {
	byID := map[string]plannedCommand{}
	for _, cmds := range plan {
		for _, pc := range cmds {
			byID[pc.id] = pc
		}
	}
	return byID
}

// e2eSide is one side of the end-to-end figure and what its rounds measured.
// rawConsumers are the raw baseline's consumers: receive, one transaction, delete.
type rawConsumers struct {
	db               *dynamodb.Client
	sqs              *sqs.Client
	queueURL         string
	events, commands string
	plan             map[string]plannedCommand
	vis              *visibility

	mu  sync.Mutex
	err error
}

func (c *rawConsumers) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *rawConsumers) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// start runs n consumers until ctx ends; the channel closes when they have stopped.
func (c *rawConsumers) start(ctx context.Context, n int) <-chan struct{} {
	done := make(chan struct{})
	keys := eventstore.NewKeyGenerator(nil)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				out, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
					QueueUrl:            aws.String(c.queueURL),
					MaxNumberOfMessages: 10,
					WaitTimeSeconds:     1,
				})
				if err != nil {
					if ctx.Err() == nil {
						c.fail(fmt.Errorf("receive: %w", err))
						time.Sleep(100 * time.Millisecond)
					}
					continue
				}
				for _, msg := range out.Messages {
					if err := c.handle(ctx, keys, msg); err != nil && ctx.Err() == nil {
						c.fail(err)
					}
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

func (c *rawConsumers) handle(ctx context.Context, keys *eventstore.KeyGenerator, msg sqstypes.Message) error {
	var head struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(msg.Body)), &head); err != nil {
		return fmt.Errorf("decode raw message: %w", err)
	}
	pc, ok := c.plan[head.ID]
	if !ok {
		return fmt.Errorf("raw message of unknown command %s", head.ID)
	}
	specs := make([]rawEventSpec, len(pc.events))
	for i, ev := range pc.events {
		specs[i] = rawEventSpec{key: keys.Next(), typ: ev.Type, body: string(ev.Body)}
	}
	_, err := c.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: rawAppendItems(c.events, c.commands, pc.stream, pc.expected, specs, pc.id, head.Type, "h", time.Now()),
	})
	if err != nil {
		return fmt.Errorf("raw transaction of %s: %w", pc.id, err)
	}
	if _, err := c.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(c.queueURL), ReceiptHandle: msg.ReceiptHandle}); err != nil {
		return fmt.Errorf("delete raw message: %w", err)
	}
	c.vis.reached(pc.stream, pc.last())
	return nil
}
