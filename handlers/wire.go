package handlers

import (
	"context"
	"errors"
	"fmt"

	wsns "github.com/ThreeDotsLabs/watermill-aws/sns"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// wire builds the publishers, subscribers and handlers for the resolved endpoints.
func (w *Worker) wire(ep Endpoints) error {
	w.router.AddMiddleware(
		// Outermost: a panic anywhere below becomes an error, so the message is nacked
		// and redelivered (and, if it keeps panicking, dead-lettered by SQS).
		middleware.Recoverer,
		middleware.CorrelationID,
		w.drain.handlerMiddleware,
	)
	bus, err := w.eventBus(ep.EventsTopicARN)
	if err != nil {
		return err
	}
	timers := timerQueue{sqs: sqs.NewFromConfig(w.cfg.AWS), url: ep.TimersQueueURL, clock: w.cfg.Commands.Clock}
	commands, err := w.commandHandler(busPublisher{bus: bus}, timers)
	if err != nil {
		return err
	}
	if err := w.addCommandsHandler(ep, commands); err != nil {
		return err
	}
	if err := w.addTimersHandler(ep, commands, timers); err != nil {
		return err
	}
	if w.cfg.Applier == nil {
		return nil
	}
	return w.addProjectorHandler(ep)
}

// retry is the middleware that retries transient failures within one delivery.
func (w *Worker) retry() message.HandlerMiddleware {
	r := middleware.Retry{
		MaxRetries:          w.cfg.Retry.MaxRetries,
		InitialInterval:     w.cfg.Retry.InitialInterval,
		MaxInterval:         w.cfg.Retry.MaxInterval,
		Multiplier:          2,
		RandomizationFactor: 0.5,
		// A dead letter cannot succeed; a cancelled delivery is being shut down.
		ShouldRetry: func(p middleware.RetryParams) bool {
			return !IsDeadLetter(p.Err) && !errors.Is(p.Err, context.Canceled)
		},
		Logger: w.wlog,
	}
	return r.Middleware
}

// eventBus is the cqrs EventBus that publishes committed events to the SNS topic.
func (w *Worker) eventBus(topicARN string) (*cqrs.EventBus, error) {
	snsPub, err := wsns.NewPublisher(wsns.PublisherConfig{
		AWSConfig:                   w.cfg.AWS,
		TopicResolver:               wsns.TransparentTopicResolver{},
		DoNotCreateTopicIfNotExists: true,
		Marshaler:                   topicArnMarshaler{},
	}, w.wlog)
	if err != nil {
		return nil, fmt.Errorf("handlers: events publisher: %w", err)
	}
	w.closers = append(w.closers, snsPub.Close)
	bus, err := cqrs.NewEventBusWithConfig(snsPub, cqrs.EventBusConfig{
		GeneratePublishTopic: func(cqrs.GenerateEventPublishTopicParams) (string, error) { return topicARN, nil },
		Marshaler:            recordMarshaler{},
		Logger:               w.wlog,
	})
	if err != nil {
		return nil, fmt.Errorf("handlers: event bus: %w", err)
	}
	return bus, nil
}

// commandHandler returns the worker's command handler, which publishes to publisher and
// schedules lease timers with timers.
func (w *Worker) commandHandler(publisher RecordPublisher, timers TimerScheduler) (*CommandHandler, error) {
	cfg := w.cfg.Commands
	cfg.Publisher, cfg.Timers, cfg.Metrics = publisher, timers, w.metrics
	commands, err := NewCommandHandler(cfg)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.commands = commands
	w.mu.Unlock()
	return commands, nil
}

// addCommandsHandler adds the handler of the commands queue: one cqrs handler for the
// Envelope, whose body's "type" picks the command.
func (w *Worker) addCommandsHandler(ep Endpoints, commands *CommandHandler) error {
	sub, err := w.subscriber(w.cfg.Parallelism)
	if err != nil {
		return err
	}
	poison, err := w.poisonQueue(ep.CommandsDLQURL, true)
	if err != nil {
		return err
	}
	processor, err := cqrs.NewCommandProcessorWithConfig(w.router, cqrs.CommandProcessorConfig{
		GenerateSubscribeTopic: func(cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) {
			return ep.CommandsQueueURL, nil
		},
		SubscriberConstructor: func(cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			return sub, nil
		},
		Marshaler: envelopeMarshaler{},
		Logger:    w.wlog,
	})
	if err != nil {
		return fmt.Errorf("handlers: command processor: %w", err)
	}
	handler, err := processor.AddHandler(cqrs.NewCommandHandler(commandsHandlerName, func(ctx context.Context, env *Envelope) error {
		ctx, cancel := w.detach(ctx)
		defer cancel()
		_, err := commands.Handle(ctx, *env)
		return err
	}))
	if err != nil {
		return fmt.Errorf("handlers: add command handler: %w", err)
	}
	// PoisonQueue outside Retry: a message is dead-lettered only once retrying is over,
	// and only when the error says no retry can fix it.
	handler.AddMiddleware(poison, w.retry())
	return nil
}

// addTimersHandler adds the handler of the timers queue, which expires the locks whose
// leases ended through commands, and sends early timers again through timers.
func (w *Worker) addTimersHandler(ep Endpoints, commands *CommandHandler, timers TimerScheduler) error {
	expiry, err := NewTimerHandler(TimerHandlerConfig{
		Commands: commands, Timers: timers, Clock: w.cfg.Commands.Clock, Logger: w.cfg.Logger, Metrics: w.metrics,
	})
	if err != nil {
		return err
	}
	return w.addQueueHandler(timersHandlerName, ep.TimersQueueURL, ep.TimersDLQURL, w.cfg.Parallelism, expiry.Handle)
}

// addProjectorHandler adds the handler of the projector queue, which hands every
// published event to the Applier.
func (w *Worker) addProjectorHandler(ep Endpoints) error {
	projector, err := NewProjectorHandler(ProjectorHandlerConfig{
		Applier: w.cfg.Applier, Clock: w.cfg.Commands.Clock, Logger: w.cfg.Logger, Metrics: w.metrics,
	})
	if err != nil {
		return err
	}
	return w.addQueueHandler(projectorHandlerName, ep.ProjectorQueueURL, ep.ProjectorDLQURL, w.cfg.ProjectorParallelism, projector.Handle)
}

// addQueueHandler adds the handler name of the standard queue at queueURL: parallelism
// messages at a time, each body given to handle with a deadline of its own, transient
// failures retried, and dead letters moved to the queue at dlqURL.
func (w *Worker) addQueueHandler(name, queueURL, dlqURL string, parallelism int, handle func(context.Context, []byte) error) error {
	sub, err := w.subscriber(parallelism)
	if err != nil {
		return err
	}
	poison, err := w.poisonQueue(dlqURL, false)
	if err != nil {
		return err
	}
	handler := w.router.AddConsumerHandler(name, queueURL, sub, func(msg *message.Message) error {
		ctx, cancel := w.detach(msg.Context())
		defer cancel()
		return handle(ctx, msg.Payload)
	})
	handler.AddMiddleware(poison, w.retry())
	return nil
}

// poisonQueue is the middleware that moves a message no retry can fix (a dead letter) to
// the dead-letter queue at url.
func (w *Worker) poisonQueue(url string, fifo bool) (message.HandlerMiddleware, error) {
	dlq, err := w.deadLetterPublisher(fifo)
	if err != nil {
		return nil, err
	}
	poison, err := middleware.PoisonQueueWithFilter(dlq, url, IsDeadLetter)
	if err != nil {
		return nil, fmt.Errorf("handlers: dead-letter middleware for %s: %w", url, err)
	}
	return poison, nil
}

// detach gives a message's handling its own deadline, free of the subscription's
// cancellation, so that a message in flight at shutdown finishes instead of leaving a
// half-done attempt behind.
func (w *Worker) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), w.cfg.CommandTimeout)
}
