package policy

import "fmt"

// Mode says what the worker does with a policy's refusal.
type Mode string

// Modes.
const (
	// ModeOff does not consult the policy: every command is decided as before. The
	// default, for local use.
	ModeOff Mode = "off"
	// ModeAudit decides every command as ModeOff does, but records the policy's hash with
	// it and counts and logs what ModeEnforce would have rejected.
	ModeAudit Mode = "audit"
	// ModeEnforce rejects (code forbidden) every command the policy does not allow.
	ModeEnforce Mode = "enforce"
)

// ParseMode returns the Mode named s; "" is ModeOff.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return ModeOff, nil
	case ModeOff, ModeAudit, ModeEnforce:
		return m, nil
	}
	return "", fmt.Errorf("policy: mode %q: want off, audit or enforce", s)
}
