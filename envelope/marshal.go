package envelope

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"buildledger/domain"
	"buildledger/eventstore"
)

// Marshal returns the message body of cmd under h: its fields plus type, id, metadata,
// notAfter and auth, as plain ASCII JSON (every other character escaped), so that any valid string
// travels through SQS. The body is decoded back before it is returned, which validates
// cmd and checks that the worker will decode it to the same command (same hash): a
// command that did not survive the round trip would be dead-lettered far from its sender,
// and one whose hash changed could not be withdrawn.
func Marshal(cmd domain.Command, h Header) ([]byte, error) {
	if cmd == nil {
		return nil, errors.New("envelope: no command")
	}
	if err := CheckID(h.ID); err != nil {
		return nil, err
	}
	if err := checkIDToken(h.IDToken); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("envelope: encode %s: %w", cmd.CommandType(), err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("envelope: %s does not encode as a JSON object: %w", cmd.CommandType(), err)
	}
	for _, k := range reserved {
		if _, ok := fields[k]; ok {
			return nil, fmt.Errorf("envelope: %s has a field %q, which the envelope reserves", cmd.CommandType(), k)
		}
	}
	// Decoding validates: this is the one Validate of the sending side.
	back, err := domain.DecodeCommand(cmd.CommandType(), raw)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	if hash(cmd) != hash(back) {
		// Validate the command as given, too, only to name what is wrong with it.
		if err := cmd.Validate(); err != nil {
			return nil, fmt.Errorf("envelope: %w", err)
		}
		return nil, fmt.Errorf("envelope: %s does not decode to the same command", cmd.CommandType())
	}
	fields[KeyType], _ = json.Marshal(cmd.CommandType())
	fields[KeyID], _ = json.Marshal(h.ID)
	if h.CorrelationID != "" {
		fields[KeyMetadata], _ = json.Marshal(map[string]string{KeyCorrelationID: h.CorrelationID})
	}
	if !h.NotAfter.IsZero() {
		fields[KeyNotAfter], _ = json.Marshal(h.NotAfter.UTC().Format(time.RFC3339Nano))
	}
	if h.IDToken != "" {
		fields[KeyAuth], _ = json.Marshal(map[string]string{KeyIDToken: h.IDToken})
	}
	body, err := json.Marshal(fields)
	if err == nil {
		body, err = eventstore.ASCIIJSON(body)
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: encode envelope: %w", err)
	}
	return body, nil
}
