package handlers

import (
	"context"
	"sync/atomic"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/ThreeDotsLabs/watermill/message"
)

// drain lets a stopping worker finish the messages it holds and delete them from their
// queues before the subscriptions close. Closing first would end watermill-aws's wait for
// the acks: the messages would be durable but not deleted, and would come back after the
// visibility timeout (harmless, but a delay for whoever waits on them).
//
// While draining, receives return no messages, so nothing new is taken; a receive already
// waiting on SQS may still bring one, which is then handled and deleted like the others.
type drain struct {
	stopping atomic.Bool
	handling atomic.Int64 // messages inside a handler
	deleting atomic.Int64 // DeleteMessage calls under way
}

// handlerMiddleware counts the messages being handled.
func (d *drain) handlerMiddleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		d.handling.Add(1)
		defer d.handling.Add(-1)
		return h(msg)
	}
}

// sqsOption makes an SQS client's receives come back empty while draining and counts its
// deletes.
func (d *drain) sqsOption(o *sqs.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("buildledgerDrain",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				switch awsmiddleware.GetOperationName(ctx) {
				case "ReceiveMessage":
					if d.stopping.Load() {
						select {
						case <-time.After(100 * time.Millisecond):
						case <-ctx.Done():
							return middleware.InitializeOutput{}, middleware.Metadata{}, ctx.Err()
						}
						return middleware.InitializeOutput{Result: &sqs.ReceiveMessageOutput{}}, middleware.Metadata{}, nil
					}
				case "DeleteMessage":
					d.deleting.Add(1)
					defer d.deleting.Add(-1)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

// wait stops taking messages and returns once none is being handled or deleted (seen so
// several times in a row, to cover the step from a handler's end to its delete), or when
// the deadline passes.
func (d *drain) wait(deadline time.Duration) {
	d.stopping.Store(true)
	end := time.Now().Add(deadline)
	for quiet := 0; quiet < 5 && time.Now().Before(end); {
		if d.handling.Load() == 0 && d.deleting.Load() == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(20 * time.Millisecond)
	}
}
