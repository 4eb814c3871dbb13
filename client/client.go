// Package client sends commands to buildledger and waits for what became of them: the
// command's outcome and, for read-your-writes, the read side reaching the version the
// command produced.
//
// A command travels as a JSON object on the commands FIFO queue, its own fields flat at
// the top level next to "type", "id" (the idempotency key) and "metadata":
//
//	{"type":"Lock","id":"6b0c…","metadata":{"correlationId":"deploy-42"},"env":"prod","user":"alice","meta":"","uberlock":false}
//
// The message group is the command's stream, so that commands on one stream are decided in
// the order sent, and the deduplication id is the command id, so that SQS drops a resend
// within its five-minute window (the worker drops any later one by id).
package client

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"buildledger/domain"
	"buildledger/envelope"
	"buildledger/eventstore"
	"buildledger/internal/settings"
)

// Defaults of Config.
const (
	// DefaultPollInterval is how often outcomes and positions are polled.
	DefaultPollInterval = 100 * time.Millisecond
)

// withdrawTimeout bounds withdrawing a command the caller gave up on, which runs after the
// caller's own context has ended.
const withdrawTimeout = 10 * time.Second

// OutcomeReader reads the outcome stored for a command id; eventstore.Store is one. A
// missing outcome is an error that errors.Is eventstore.ErrNotFound.
type OutcomeReader interface {
	Outcome(ctx context.Context, commandID string) (eventstore.Outcome, error)
}

// PositionReader reads the stream version the read side reflects (0 when it has seen
// nothing of the stream).
type PositionReader interface {
	Position(ctx context.Context, stream string) (int64, error)
}

// OutcomeRecorder stores an outcome unless the command id has one already (then an error
// that errors.Is eventstore.ErrDuplicateCommand); eventstore.Store is one.
type OutcomeRecorder interface {
	RecordOutcome(ctx context.Context, o eventstore.Outcome) error
}

// Config configures a Client.
type Config struct {
	// SQS is the client commands are sent with; required to send.
	SQS *sqs.Client
	// QueueURL is the URL of the commands FIFO queue; required to send.
	QueueURL string
	// Outcomes reads command outcomes; required to wait for an outcome.
	Outcomes OutcomeReader
	// Positions reads the read side's stream versions; required to wait for projections.
	Positions PositionReader
	// Recorder stores the expired outcome of a command the caller gives up on, so that it
	// can never take effect later; without it a command given up on may still take
	// effect until its deadline.
	Recorder OutcomeRecorder
	// PollInterval is how often WaitOutcome and WaitProjected poll; default DefaultPollInterval.
	PollInterval time.Duration
	// MaxCommandBytes is the largest body Send sends; default envelope.DefaultMaxBytes,
	// what the worker accepts by default.
	MaxCommandBytes int
}

func (c *Config) setDefaults() {
	settings.DefaultUnlessPositive(&c.PollInterval, DefaultPollInterval)
	settings.DefaultUnlessPositive(&c.MaxCommandBytes, envelope.DefaultMaxBytes)
}

// Validate reports every problem of the configuration. Only what sending needs is
// required; the readers are checked when a wait needs them.
func (c Config) Validate() error {
	p := settings.Wrapped("client: config")
	p.If(c.SQS == nil, "SQS client is required")
	p.If(c.QueueURL == "", "QueueURL is required")
	return p.Err()
}

// Client sends commands and waits for their outcomes.
type Client struct {
	cfg      Config
	idTokens IDTokenSource
}

// New returns a Client for a validated configuration.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg}, nil
}

// RejectedError is the outcome of a command a domain rule refused.
type RejectedError struct {
	// CommandID is the command's id.
	CommandID string
	// Code is the rejection's stable code, e.g. "locked" or eventstore.RejectionExpired;
	// empty for outcomes stored before codes existed.
	Code string
	// Reason is the rule's reason, e.g. "Still locked at env prod by alice".
	Reason string
}

// Error returns the reason as the worker stored it.
func (e *RejectedError) Error() string { return "client: command rejected: " + e.Reason }

// InvalidError is the outcome of a command message the worker could not decode or validate.
type InvalidError struct {
	// CommandID is the command's id.
	CommandID string
	// Reason is the decoding or validation error.
	Reason string
}

// Error returns the reason as the worker stored it.
func (e *InvalidError) Error() string { return "client: command invalid: " + e.Reason }

// SendOption changes how Send sends a command.
type SendOption func(*sendOptions)

type sendOptions struct {
	id            string
	correlationID string
	notAfter      time.Time
	idToken       string
}

// WithID sends the command under id, the idempotency key: sending the same command again
// with the same id has no further effect. By default every Send uses a new random id.
func WithID(id string) SendOption { return func(o *sendOptions) { o.id = id } }

// WithCorrelationID links the command and everything it causes to a wider request.
func WithCorrelationID(id string) SendOption { return func(o *sendOptions) { o.correlationID = id } }

// WithNotAfter gives the command a deadline: the worker never lets it take effect after t
// (by the worker's clock), rejecting it with code eventstore.RejectionExpired instead.
func WithNotAfter(t time.Time) SendOption { return func(o *sendOptions) { o.notAfter = t } }

// Marshal returns the message body of cmd under id (see envelope.Marshal): plain ASCII
// JSON that the worker decodes to the same command. Of the options, WithCorrelationID,
// WithNotAfter and WithIDToken apply.
func Marshal(cmd domain.Command, id string, opts ...SendOption) ([]byte, error) {
	return marshal(cmd, id, options(opts))
}

// options applies opts.
func options(opts []SendOption) sendOptions {
	var o sendOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func marshal(cmd domain.Command, id string, o sendOptions) ([]byte, error) {
	body, err := envelope.Marshal(cmd, envelope.Header{ID: id, CorrelationID: o.correlationID, NotAfter: o.notAfter, IDToken: o.idToken})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return body, nil
}

// Send validates cmd, sends it and returns its command id (the given one, or a new one).
// An invalid command is an error and nothing is sent.
func (c *Client) Send(ctx context.Context, cmd domain.Command, opts ...SendOption) (string, error) {
	o := options(opts)
	if o.id == "" {
		o.id = uuid.NewString()
	}
	if o.idToken == "" && c.idTokens != nil {
		tok, err := c.idTokens(ctx)
		if err != nil {
			return "", fmt.Errorf("client: ID token for %s: %w", cmd.CommandType(), err)
		}
		o.idToken = tok
	}
	body, err := marshal(cmd, o.id, o)
	if err != nil {
		return "", err
	}
	if len(body) > c.cfg.MaxCommandBytes {
		return "", fmt.Errorf("client: %s is %d bytes encoded, at most %d are accepted", cmd.CommandType(), len(body), c.cfg.MaxCommandBytes)
	}
	if _, err := c.send(ctx, cmd.StreamID(), o.id, body); err != nil {
		return "", err
	}
	return o.id, nil
}

// SendRaw sends a message body as it is, for callers that build the JSON themselves. The
// stream orders it among the stream's other commands; id, when not empty, deduplicates
// resends and should be the body's "id". It returns the id to wait for: id, or, when the
// body is sent without one, the SQS message id the worker uses in its place.
func (c *Client) SendRaw(ctx context.Context, streamID, id string, body []byte) (string, error) {
	if streamID == "" {
		return "", errors.New("client: send raw: stream id is empty")
	}
	if id != "" {
		if err := envelope.CheckID(id); err != nil {
			return "", fmt.Errorf("client: %w", err)
		}
	}
	messageID, err := c.send(ctx, streamID, id, body)
	if err != nil {
		return "", err
	}
	if id == "" {
		return messageID, nil
	}
	return id, nil
}

func (c *Client) send(ctx context.Context, stream, id string, body []byte) (string, error) {
	dedup := id
	if dedup == "" || !validDedupID(dedup) {
		sum := sha256.Sum256(append([]byte(id+"\x00"), body...))
		dedup = hex.EncodeToString(sum[:])
	}
	out, err := c.cfg.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:               aws.String(c.cfg.QueueURL),
		MessageBody:            aws.String(string(body)),
		MessageGroupId:         aws.String(GroupID(stream)),
		MessageDeduplicationId: aws.String(dedup),
	})
	if err != nil {
		return "", fmt.Errorf("client: send command to %s: %w", stream, err)
	}
	return aws.ToString(out.MessageId), nil
}

// WaitOutcome polls the outcome of a command until it is stored or ctx ends. An accepted
// command returns its outcome; a rejected one the outcome and a *RejectedError; an invalid
// one the outcome and an *InvalidError.
func (c *Client) WaitOutcome(ctx context.Context, id string) (eventstore.Outcome, error) {
	if c.cfg.Outcomes == nil {
		return eventstore.Outcome{}, errors.New("client: no OutcomeReader configured")
	}
	var (
		got  eventstore.Outcome
		last error
	)
	err := c.poll(ctx, func() (bool, error) {
		o, err := c.cfg.Outcomes.Outcome(ctx, id)
		switch {
		case errors.Is(err, eventstore.ErrNotFound):
			return false, nil
		case err != nil:
			last = err // a throttled or unreachable store may recover before ctx ends
			return false, nil
		}
		got = o
		return true, outcomeError(o)
	})
	if err != nil && got.Status == "" {
		return eventstore.Outcome{}, fmt.Errorf("client: waiting for the outcome of %s: %w", id, errors.Join(err, last))
	}
	return got, err
}

// WaitProjected polls until the read side reflects stream at version or later, or ctx ends.
func (c *Client) WaitProjected(ctx context.Context, stream string, version int64) error {
	if c.cfg.Positions == nil {
		return errors.New("client: no PositionReader configured")
	}
	var last error
	err := c.poll(ctx, func() (bool, error) {
		pos, err := c.cfg.Positions.Position(ctx, stream)
		if err != nil {
			last = err
			return false, nil
		}
		return pos >= version, nil
	})
	if err != nil {
		return fmt.Errorf("client: waiting for %s to reach version %d: %w", stream, version, errors.Join(err, last))
	}
	return nil
}

// WithdrawnError says that a command the caller gave up on was withdrawn before it was
// decided: it has not taken effect and never will.
type WithdrawnError struct {
	// CommandID is the command's id.
	CommandID string
	// Cause is why the caller gave up (context.DeadlineExceeded, context.Canceled).
	Cause error
}

// Error says that nothing happened.
func (e *WithdrawnError) Error() string {
	return fmt.Sprintf("client: gave up on command %s (%v) and withdrew it: it did not take effect and never will", e.CommandID, e.Cause)
}

// Unwrap returns the cause.
func (e *WithdrawnError) Unwrap() error { return e.Cause }

// UnknownOutcomeError says that a command the caller gave up on could not be withdrawn,
// so whether it takes effect is not known: it may until its deadline, if it has one.
type UnknownOutcomeError struct {
	// CommandID is the command's id.
	CommandID string
	// NotAfter is the command's deadline; zero when it has none.
	NotAfter time.Time
	// Err is why withdrawing failed.
	Err error
}

// Error names the command and, when it has one, the time after which it cannot take effect.
func (e *UnknownOutcomeError) Error() string {
	until := "at any later time"
	if !e.NotAfter.IsZero() {
		until = "until " + e.NotAfter.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("client: command %s has no outcome yet and could not be withdrawn (%v): it may still take effect %s", e.CommandID, e.Err, until)
}

// Unwrap returns why withdrawing failed.
func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// Withdraw makes sure that a command the caller gives up on cannot take effect later: it
// stores the command's outcome as rejected with code eventstore.RejectionExpired, on the
// condition that the command has no outcome yet. The worker writes its outcome under the
// same condition, in the same transaction as the command's events, so exactly one of the
// two wins, whatever the clocks say. Withdraw returns the outcome that stands and whether
// it is the one Withdraw stored; otherwise it is the one the worker stored first, which
// may be accepted. cmd must be the command sent under id, so that the worker recognises the
// withdrawn outcome as its own.
func (c *Client) Withdraw(ctx context.Context, id string, cmd domain.Command, cause error) (o eventstore.Outcome, withdrawn bool, err error) {
	if c.cfg.Recorder == nil || c.cfg.Outcomes == nil {
		return eventstore.Outcome{}, false, errors.New("client: withdraw: no OutcomeRecorder and OutcomeReader configured")
	}
	hash, err := domain.CommandHash(cmd)
	if err != nil {
		return eventstore.Outcome{}, false, fmt.Errorf("client: withdraw %s: %w", id, err)
	}
	o = eventstore.Outcome{
		CommandID:   id,
		CommandType: cmd.CommandType(),
		Status:      eventstore.OutcomeRejected,
		Stream:      cmd.StreamID(),
		Code:        eventstore.RejectionExpired,
		Reason:      fmt.Sprintf("expired: the sender gave up before the command was decided (%v); it was not carried out", cause),
		BodyHash:    hash,
		RecordedAt:  time.Now().UTC(),
	}
	err = c.cfg.Recorder.RecordOutcome(ctx, o)
	switch {
	case err == nil:
		return o, true, nil
	case !errors.Is(err, eventstore.ErrDuplicateCommand):
		return eventstore.Outcome{}, false, fmt.Errorf("client: withdraw %s: %w", id, err)
	}
	stored, err := c.cfg.Outcomes.Outcome(ctx, id)
	if err != nil {
		return eventstore.Outcome{}, false, fmt.Errorf("client: withdraw %s: read the outcome that won: %w", id, err)
	}
	return stored, false, nil
}

// Settle is what a caller calls to learn the truth about command id when it stops waiting
// for it (cause: its context ended, or a send failed that may still have enqueued it): it
// withdraws the command, in a context of its own, and returns the outcome that stands,
// with the error WaitOutcome would have returned for it; a command it withdrew is a
// *WithdrawnError, and one it could not withdraw an *UnknownOutcomeError.
func (c *Client) Settle(ctx context.Context, id string, cmd domain.Command, notAfter time.Time, cause error) (eventstore.Outcome, error) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), withdrawTimeout)
	defer cancel()
	o, withdrawn, err := c.Withdraw(wctx, id, cmd, cause)
	switch {
	case err != nil:
		return eventstore.Outcome{}, &UnknownOutcomeError{CommandID: id, NotAfter: notAfter, Err: err}
	case withdrawn:
		return o, &WithdrawnError{CommandID: id, Cause: cause}
	}
	return o, outcomeError(o)
}

// outcomeError is the error that goes with a stored outcome: nil for accepted, a
// *RejectedError or an *InvalidError.
func outcomeError(o eventstore.Outcome) error {
	switch o.Status {
	case eventstore.OutcomeAccepted:
		return nil
	case eventstore.OutcomeRejected:
		return &RejectedError{CommandID: o.CommandID, Code: o.Code, Reason: o.Reason}
	case eventstore.OutcomeInvalid:
		return &InvalidError{CommandID: o.CommandID, Reason: o.Reason}
	}
	return fmt.Errorf("client: command %s has unknown outcome status %q", o.CommandID, o.Status)
}

// Submit sends cmd and waits for its outcome until ctx ends. When ctx has a deadline, the
// command carries it as its notAfter (unless opts give one). When ctx ends, or the send
// fails, before the outcome is known, Submit settles the command (see Settle), so that it
// never takes effect unreported. It returns what WaitOutcome or Settle returns.
func (c *Client) Submit(ctx context.Context, cmd domain.Command, opts ...SendOption) (eventstore.Outcome, error) {
	if c.cfg.Outcomes == nil {
		return eventstore.Outcome{}, errors.New("client: no OutcomeReader configured")
	}
	// Normalized once: the command sent and the one a withdrawal names must be the same.
	cmd = domain.Normalize(cmd)
	if d, ok := ctx.Deadline(); ok {
		opts = append([]SendOption{WithNotAfter(d)}, opts...)
	}
	// The id is chosen before sending: a send cut off by ctx may still have been enqueued.
	opts = append([]SendOption{WithID(uuid.NewString())}, opts...)
	o := options(opts)
	_, err := c.Send(ctx, cmd, opts...)
	sendErr := err
	var out eventstore.Outcome
	if err == nil {
		out, err = c.WaitOutcome(ctx, o.id)
	}
	if out.Status == "" && (ctx.Err() != nil || sendErr != nil) && c.cfg.Recorder != nil {
		// A send that failed may still have been enqueued.
		out, err = c.Settle(ctx, o.id, cmd, o.notAfter, cmp.Or(context.Cause(ctx), sendErr))
	}
	return out, err
}

// Do is Submit and then, for an accepted command, a wait for the read side to reflect it,
// so that a query made after Do sees the command's effect.
func (c *Client) Do(ctx context.Context, cmd domain.Command, opts ...SendOption) (eventstore.Outcome, error) {
	out, err := c.Submit(ctx, cmd, opts...)
	if err != nil {
		return out, err
	}
	if out.Version > 0 && out.Stream != "" {
		if err := c.WaitProjected(ctx, out.Stream, out.Version); err != nil {
			return out, err
		}
	}
	return out, nil
}

// poll calls check every PollInterval until it reports done or ctx ends.
func (c *Client) poll(ctx context.Context, check func() (bool, error)) error {
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	for {
		if done, err := check(); done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// GroupID returns the FIFO message group of a stream: the stream id itself when SQS
// accepts it (at most 128 characters, letters, digits and punctuation), else a hash of it,
// so that every stream keeps one group and therefore its order.
func GroupID(stream string) string {
	if validDedupID(stream) {
		return stream
	}
	sum := sha256.Sum256([]byte(stream))
	return "sha256-" + hex.EncodeToString(sum[:])
}

// validDedupID reports whether SQS accepts s as a message group or deduplication id.
func validDedupID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r)) {
			return false
		}
	}
	return true
}
