package handlers

import "buildledger/envelope"

// Envelope is a command message as it arrives, before decoding (see package envelope): the
// one command type the watermill command processor handles; the domain command inside is
// chosen by the body's "type".
type Envelope = envelope.Message

// DefaultMaxCommandBytes is the largest command message body accepted unless configured
// otherwise.
const DefaultMaxCommandBytes = envelope.DefaultMaxBytes

// MaxCommandIDBytes bounds a client's command id.
const MaxCommandIDBytes = envelope.MaxIDBytes
