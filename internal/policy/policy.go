package policy

import (
	"fmt"
	"slices"
	"strings"

	"buildledger/internal/glob"
)

// Policy is a parsed, valid policy file. It is immutable: a reload builds a new one.
type Policy struct {
	hash       string
	groups     map[string][]matcher
	groupNames []string
	rules      []rule
}

// rule is one parsed rule.
type rule struct {
	name string
	// actions are the known actions the rule covers, globs expanded.
	actions     []string
	names       []string
	allow       []matcher
	userIsActor bool
}

// Request is what a policy decides on: a caller asking to do actions on a name, as user.
type Request struct {
	// Actions are the actions the command needs; each must be allowed.
	Actions []string
	// Name is what the command acts on: an environment, a job name, "user/repo" or
	// "pkg/env".
	Name string
	// User is the command's user field ("" when it has none).
	User string
	// Caller is who sends the command.
	Caller Caller
}

// Decision is a policy's answer to a Request.
type Decision struct {
	// Allowed is true when a rule allows each of the request's actions.
	Allowed bool
	// Action is the first action no rule allowed; empty when allowed.
	Action string
	// Reason says, for a refusal, which rule is missing or which rule's user condition
	// failed; empty when allowed.
	Reason string
	// Hash identifies the policy that decided.
	Hash string
}

// Hash returns the short sha256 of the policy file's contents, "sha256:<16 hex digits>".
func (p *Policy) Hash() string { return p.hash }

// Decide decides r. A request without actions is allowed.
func (p *Policy) Decide(r Request) Decision {
	for _, a := range r.Actions {
		if reason, ok := p.allows(a, r); !ok {
			return Decision{Action: a, Reason: reason, Hash: p.hash}
		}
	}
	return Decision{Allowed: true, Hash: p.hash}
}

// allows reports whether a rule allows action a of r, and if none does, why.
func (p *Policy) allows(a string, r Request) (string, bool) {
	var userRefusal string
	for _, ru := range p.rules {
		if !slices.Contains(ru.actions, a) || !ru.coversName(r.Name) || !ru.allowsCaller(r.Caller, p.groups) {
			continue
		}
		if !ru.userIsActor {
			return "", true
		}
		actor := r.Caller.Identity.Actor
		if actor != "" && r.User == actor {
			return "", true
		}
		if userRefusal == "" {
			userRefusal = fmt.Sprintf("rule %q allows %s on %q only as the ID token's actor (%s), not as user %q",
				ru.name, a, r.Name, orNone(actor), r.User)
		}
	}
	if userRefusal != "" {
		return userRefusal, false
	}
	return fmt.Sprintf("no rule allows %s on %q for %s (missing rule: actions [%s], names [%s], allow a matcher of this caller)",
		a, r.Name, r.Caller.describe(), a, r.Name), false
}

func (ru rule) coversName(name string) bool {
	for _, n := range ru.names {
		if glob.Match(n, name) {
			return true
		}
	}
	return false
}

func (ru rule) allowsCaller(c Caller, groups map[string][]matcher) bool {
	for _, m := range ru.allow {
		if m.match(c, groups) {
			return true
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "none: the command carried no ID token with an actor"
	}
	return s
}

// RuleSummary is what one rule allows, as policy check prints it.
type RuleSummary struct {
	// Name is the rule's name ("rule N" when the file gives none).
	Name string `json:"name"`
	// Actions are the actions the rule covers, globs expanded.
	Actions []string `json:"actions"`
	// Names are the name globs the rule covers.
	Names []string `json:"names"`
	// Allow are the rule's matchers, as written.
	Allow []string `json:"allow"`
	// User is "actor" when the command's user must be the token's actor.
	User string `json:"user,omitempty"`
}

// Summary is what a policy allows, as policy check prints it.
type Summary struct {
	// Hash is the policy's hash (Policy.Hash).
	Hash string `json:"hash"`
	// Groups are the groups' members, by group name.
	Groups map[string][]string `json:"groups,omitempty"`
	// Rules are the rules in file order.
	Rules []RuleSummary `json:"rules"`
}

// Summary returns what p allows.
func (p *Policy) Summary() Summary {
	s := Summary{Hash: p.hash}
	for _, name := range p.groupNames {
		if s.Groups == nil {
			s.Groups = map[string][]string{}
		}
		for _, m := range p.groups[name] {
			s.Groups[name] = append(s.Groups[name], m.text)
		}
	}
	for _, ru := range p.rules {
		rs := RuleSummary{Name: ru.name, Actions: ru.actions, Names: ru.names}
		for _, m := range ru.allow {
			rs.Allow = append(rs.Allow, m.text)
		}
		if ru.userIsActor {
			rs.User = "actor"
		}
		s.Rules = append(s.Rules, rs)
	}
	return s
}

// String describes the summary as a table a person reads: one line per rule, then the
// groups.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "policy %s: %d rules\n", s.Hash, len(s.Rules))
	for _, r := range s.Rules {
		fmt.Fprintf(&b, "\n%s\n  allows   %s\n  on       %s\n  for      %s\n", r.Name,
			strings.Join(r.Actions, ", "), strings.Join(r.Names, ", "), strings.Join(r.Allow, " or "))
		if r.User != "" {
			b.WriteString("  as user  the ID token's actor only\n")
		}
	}
	if len(s.Groups) > 0 {
		b.WriteString("\ngroups\n")
		names := make([]string, 0, len(s.Groups))
		for n := range s.Groups {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(&b, "  %s: %s\n", n, strings.Join(s.Groups[n], ", "))
		}
	}
	return b.String()
}
