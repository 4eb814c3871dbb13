package costmeter

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Attach returns a copy of cfg whose clients report to m; cfg itself is unchanged.
func (m *Meter) Attach(cfg aws.Config) aws.Config {
	// A fresh slice: appending to cfg's could write into an array other copies share.
	cfg.APIOptions = append(slices.Clip(cfg.APIOptions), m.Register)
	return cfg
}

// Register adds the meter's middleware to one operation's stack; it is an entry for
// aws.Config.APIOptions or a client's Options.APIOptions.
func (m *Meter) Register(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(callMiddleware{m}, middleware.Before); err != nil {
		return err
	}
	// Last in the finalize step, after the retry middleware: it sees every attempt.
	return stack.Finalize.Add(attemptMiddleware{m}, middleware.After)
}

// callMiddleware asks DynamoDB to report consumed capacity and counts what a successful
// call carried and consumed.
type callMiddleware struct{ m *Meter }

func (callMiddleware) ID() string { return "costmeter.Call" }

func (c callMiddleware) HandleInitialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	op := opOf(ctx)
	if op.Service == ServiceDynamoDB {
		in.Parameters = withConsumedCapacity(in.Parameters)
	}
	out, md, err := next.HandleInitialize(ctx, in)
	if err == nil {
		c.m.record(op, usageOf(op, in.Parameters, out.Result))
	}
	return out, md, err
}

// attemptMiddleware counts every HTTP request sent, retries included.
type attemptMiddleware struct{ m *Meter }

func (attemptMiddleware) ID() string { return "costmeter.Attempt" }

func (a attemptMiddleware) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleFinalize(ctx, in)
	u := Usage{Requests: 1}
	if err != nil {
		u.Failed = 1
	}
	a.m.record(opOf(ctx), u)
	return out, md, err
}

func opOf(ctx context.Context) Op {
	return Op{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx)}
}
