package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// CommandHash identifies what a command asks for: the sha256 of its type and its canonical
// JSON. It is computed from the decoded command rather than a message body, so that a resend
// with other whitespace, key order or metadata counts as the same command while any change
// to a field counts as another. The worker stores it with every outcome, and a client that
// gives up on a command stores the same hash with the expired outcome it writes.
func CommandHash(cmd Command) (string, error) {
	body, err := json.Marshal(cmd)
	if err != nil {
		return "", fmt.Errorf("domain: encode %s command: %w", cmd.CommandType(), err)
	}
	h := sha256.New()
	h.Write([]byte(cmd.CommandType()))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), nil
}
