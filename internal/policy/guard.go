package policy

// Verdict is what a Guard makes of a request.
type Verdict struct {
	// Decision is the policy's decision; zero when the mode is off.
	Decision
	// Enforced is true when a refusal rejects the command (ModeEnforce); in ModeAudit a
	// refusal is only recorded and counted.
	Enforced bool
}

// Guard applies a Source's policy in a Mode.
type Guard struct {
	mode   Mode
	source *Source
}

// NewGuard returns a Guard. With ModeOff, or a nil source, it allows everything and
// names no policy.
func NewGuard(mode Mode, source *Source) *Guard {
	if source == nil {
		mode = ModeOff
	}
	return &Guard{mode: mode, source: source}
}

// Check decides r under the policy in force.
func (g *Guard) Check(r Request) Verdict {
	if g.mode == ModeOff {
		return Verdict{Decision: Decision{Allowed: true}}
	}
	return Verdict{Decision: g.source.Policy().Decide(r), Enforced: g.mode == ModeEnforce}
}
