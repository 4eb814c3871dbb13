package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// file is the policy file's format. JSON is read as the YAML it also is.
type file struct {
	// Groups name lists of matchers that allow lists refer to as "group:<name>".
	Groups map[string][]string `yaml:"groups"`
	// Rules are the rules; a command is allowed when one rule allows each of its actions.
	Rules []ruleFile `yaml:"rules"`
}

// ruleFile is one rule as the file spells it.
type ruleFile struct {
	// Name names the rule in refusals and in policy check; default "rule N" (1-based).
	Name string `yaml:"name"`
	// Actions are the actions, or globs of actions ("build.*", "*"), the rule allows.
	Actions []string `yaml:"actions"`
	// Names are globs of the names the rule covers: the environment of lock actions, the
	// job name of job actions, "user/repo" of build actions, "pkg/env" of status actions.
	Names []string `yaml:"names"`
	// Allow are the matchers of the callers the rule allows; one is enough.
	Allow []string `yaml:"allow"`
	// User, "actor" (or "claim(actor)"), requires the command's user to be the token's
	// actor.
	User string `yaml:"user"`
}

// Load reads and parses the policy file at path.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy: %s: %w", path, err)
	}
	return p, nil
}

// Parse parses a policy file's contents (YAML or JSON). Every problem is reported, joined:
// unknown keys, unknown actions, unknown matcher kinds, undefined or nested groups, rules
// without actions, names or allow list, and user conditions on actions without a user.
func Parse(data []byte) (*Policy, error) {
	p, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}

// parse is Parse without the package prefix, which Load puts before the file's path.
func parse(data []byte) (*Policy, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	p := &Policy{hash: hashOf(data), groups: map[string][]matcher{}}
	var errs []error
	errs = append(errs, p.parseGroups(f.Groups)...)
	if len(f.Rules) == 0 {
		errs = append(errs, errors.New("rules: none (a policy without rules refuses every command)"))
	}
	for i, rf := range f.Rules {
		r, problems := p.parseRule(i, rf)
		errs = append(errs, problems...)
		p.rules = append(p.rules, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// hashOf is the short hash that identifies a policy file's contents in outcomes and logs.
func hashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])[:16]
}

func (p *Policy) parseGroups(groups map[string][]string) []error {
	var errs []error
	names := make([]string, 0, len(groups))
	for name := range groups {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if len(groups[name]) == 0 {
			errs = append(errs, fmt.Errorf("group %q: no members", name))
		}
		for _, s := range groups[name] {
			m, err := parseMatcher(s)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("group %q: %w", name, err))
				continue
			case m.kind == kindGroup:
				errs = append(errs, fmt.Errorf("group %q: matcher %q: groups do not nest; list the members", name, s))
				continue
			}
			p.groups[name] = append(p.groups[name], m)
		}
		p.groupNames = append(p.groupNames, name)
	}
	return errs
}

func (p *Policy) parseRule(i int, rf ruleFile) (rule, []error) {
	r := rule{name: rf.Name, names: rf.Names}
	if r.name == "" {
		r.name = fmt.Sprintf("rule %d", i+1)
	}
	var errs []error
	problem := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("rule %q: "+format, append([]any{r.name}, args...)...))
	}
	if len(rf.Actions) == 0 {
		problem("actions: none")
	}
	for _, a := range rf.Actions {
		expanded, err := expandActions(a)
		if err != nil {
			problem("actions: %v", err)
		}
		for _, e := range expanded {
			if !slices.Contains(r.actions, e) {
				r.actions = append(r.actions, e)
			}
		}
	}
	if len(rf.Names) == 0 {
		problem(`names: none (use ["*"] for every name)`)
	}
	for _, n := range rf.Names {
		if n == "" {
			problem("names: an empty pattern")
		}
	}
	if len(rf.Allow) == 0 {
		problem("allow: none")
	}
	for _, s := range rf.Allow {
		m, err := parseMatcher(s)
		switch {
		case err != nil:
			problem("allow: %v", err)
			continue
		case m.kind == kindGroup && p.groups[m.pattern] == nil && !slices.Contains(p.groupNames, m.pattern):
			problem("allow: matcher %q: no group %q is defined", s, m.pattern)
			continue
		}
		r.allow = append(r.allow, m)
	}
	switch rf.User {
	case "":
	case "actor", "claim(actor)":
		r.userIsActor = true
		for _, a := range r.actions {
			if !isUserAction(a) {
				problem("user: %s applies only to actions whose commands carry the acting user (%s), not %q",
					rf.User, strings.Join(userActions, ", "), a)
			}
		}
	default:
		problem(`user: %q: want "actor" (the command's user must be the ID token's actor)`, rf.User)
	}
	return r, errs
}
