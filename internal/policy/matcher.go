package policy

import (
	"fmt"
	"sort"
	"strings"

	"buildledger/eventstore"
	"buildledger/internal/glob"
)

// Caller is who sends a command, as the policy sees it.
type Caller struct {
	// SenderID is the principal the transport vouched for (SQS's SenderId); empty when
	// unknown.
	SenderID string
	// Identity is the verified identity of the command's ID token; zero without one.
	Identity eventstore.Identity
}

// claimKinds are the matcher kinds that match one claim of the caller's identity, by
// the claim they read.
var claimKinds = map[string]func(eventstore.Identity) string{
	"issuer":     func(i eventstore.Identity) string { return i.Issuer },
	"subject":    func(i eventstore.Identity) string { return i.Subject },
	"repository": func(i eventstore.Identity) string { return i.Repository },
	"ref":        func(i eventstore.Identity) string { return i.Ref },
	"workflow":   func(i eventstore.Identity) string { return i.Workflow },
	"actor":      func(i eventstore.Identity) string { return i.Actor },
}

// Matcher kinds besides the claim kinds.
const (
	kindEveryone  = "*"
	kindPrincipal = "principal"
	kindGroup     = "group"
)

// matcherKinds returns every kind a matcher may have, for error messages.
func matcherKinds() string {
	kinds := []string{kindPrincipal, kindGroup}
	for k := range claimKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return `"*" or ` + strings.Join(kinds, ":, ") + ":"
}

// matcher is one parsed entry of an allow list or a group: "*", "principal:<glob>",
// "<claim>:<glob>" or "group:<name>".
type matcher struct {
	// text is the matcher as the file spells it.
	text string
	// kind is "*", "principal", "group" or a claim kind.
	kind string
	// pattern is the glob (or the group name) after the kind.
	pattern string
}

// parseMatcher parses s. An unknown kind (a typo such as "sub:") is an error naming it.
func parseMatcher(s string) (matcher, error) {
	if s == kindEveryone {
		return matcher{text: s, kind: kindEveryone}, nil
	}
	kind, pattern, ok := strings.Cut(s, ":")
	if !ok {
		return matcher{}, fmt.Errorf("matcher %q has no kind: want %s", s, matcherKinds())
	}
	if _, claim := claimKinds[kind]; !claim && kind != kindPrincipal && kind != kindGroup {
		return matcher{}, fmt.Errorf("matcher %q: unknown kind %q: want %s", s, kind, matcherKinds())
	}
	if pattern == "" {
		return matcher{}, fmt.Errorf("matcher %q: empty pattern", s)
	}
	return matcher{text: s, kind: kind, pattern: pattern}, nil
}

// match reports whether c matches m, groups resolved through groups (already checked to
// exist and not to nest). A claim or sender the caller does not have never matches,
// whatever the pattern: "subject:*" means "any verified token".
func (m matcher) match(c Caller, groups map[string][]matcher) bool {
	switch m.kind {
	case kindEveryone:
		return true
	case kindPrincipal:
		return c.SenderID != "" && glob.Match(m.pattern, c.SenderID)
	case kindGroup:
		for _, member := range groups[m.pattern] {
			if member.match(c, groups) {
				return true
			}
		}
		return false
	}
	v := claimKinds[m.kind](c.Identity)
	return v != "" && glob.Match(m.pattern, v)
}

// describe names the caller for a refusal: the identity's subject and actor, else the
// sender principal, else "an anonymous sender".
func (c Caller) describe() string {
	var parts []string
	if c.Identity.Subject != "" {
		parts = append(parts, "subject "+c.Identity.Subject)
	}
	if c.Identity.Actor != "" {
		parts = append(parts, "actor "+c.Identity.Actor)
	}
	if c.SenderID != "" {
		parts = append(parts, "sender "+c.SenderID)
	}
	if len(parts) == 0 {
		return "an anonymous sender (no ID token, no sender principal)"
	}
	return strings.Join(parts, ", ")
}
