package handlers

import "buildledger/envelope"

// Envelope is a command message as it arrives, before decoding (see package envelope): the
// one command type the watermill command processor handles; the domain command inside is
// chosen by the body's "type".
type Envelope = envelope.Message

// MaxCommandIDBytes bounds a client's command id; it is envelope.MaxIDBytes, kept for the
// HTTP API, which checks ids by the same rules (envelope.CheckID).
const MaxCommandIDBytes = envelope.MaxIDBytes
