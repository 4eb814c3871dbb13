package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"buildledger/domain"
)

// timerSender is the part of the SQS client that sends timers.
type timerSender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// timerQueue schedules lease timers on the timers queue with SQS's own delivery delay, so
// that they survive any worker: nothing waits in a process.
type timerQueue struct {
	sqs   timerSender
	url   string
	clock func() time.Time
}

// Schedule sends t, delayed until it is due or by MaxTimerDelay, whichever is sooner.
func (q timerQueue) Schedule(ctx context.Context, t domain.LeaseTimer) error {
	body, err := encodeTimer(t)
	if err != nil {
		return err
	}
	delay := TimerDelay(t.Due, q.clock())
	if _, err := q.sqs.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:     aws.String(q.url),
		MessageBody:  aws.String(string(body)),
		DelaySeconds: int32(delay / time.Second),
	}); err != nil {
		return fmt.Errorf("handlers: send timer to %s: %w", q.url, err)
	}
	return nil
}
