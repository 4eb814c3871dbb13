package apiauth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"buildledger/internal/glob"
)

// Policy is a read policy: for each kind, who may read it. A kind no rule names is read by
// nobody; a caller must be authenticated before the policy is asked.
type Policy struct {
	rules []rule
}

type rule struct {
	kinds []Kind // nil for every kind
	allow []matcher
}

// policyFile is the file's shape, YAML or JSON.
type policyFile struct {
	Rules []struct {
		Kinds []string `yaml:"kinds"`
		Allow []string `yaml:"allow"`
	} `yaml:"rules"`
}

// Prefixes of matchers; a claim matcher compares a glob with a claim of a verified ID
// token, token: with the name of a static token.
const (
	matchToken      = "token"
	matchIssuer     = "issuer"
	matchSubject    = "subject"
	matchRepository = "repository"
	matchRef        = "ref"
	matchActor      = "actor"
)

var matcherKinds = []string{matchToken, matchIssuer, matchSubject, matchRepository, matchRef, matchActor}

// matcher is one entry of a rule's allow list.
type matcher struct {
	any  bool   // "*": every authenticated caller
	on   string // one of matcherKinds
	glob string
}

// ParsePolicy reads a read policy, YAML or JSON:
//
//	rules:
//	  - kinds: [repo, build, status]
//	    allow: ["*"]
//	  - kinds: [locks, jobs]
//	    allow: ["token:deployer", "repository:org/*"]
//
// A kind is one of Kinds, or "*" for every kind. A matcher is "*" (every authenticated
// caller), token:<name>, or a claim of an ID token: issuer:, subject:, repository:, ref:,
// actor:, each followed by a glob in which * stands for any run of characters ("/"
// included). Unknown fields, kinds and matchers are refused, all of them at once.
func ParsePolicy(r io.Reader) (*Policy, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("apiauth: read policy: %w", err)
	}
	var f policyFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("apiauth: read policy: %w", err)
	}
	var (
		p    Policy
		errs []error
	)
	if len(f.Rules) == 0 {
		errs = append(errs, errors.New("no rules: nobody could read anything (leave the policy out to let every authenticated caller read everything)"))
	}
	for i, fr := range f.Rules {
		var ru rule
		if len(fr.Kinds) == 0 {
			errs = append(errs, fmt.Errorf("rule %d: no kinds", i+1))
		}
		if len(fr.Allow) == 0 {
			errs = append(errs, fmt.Errorf("rule %d: allow is empty", i+1))
		}
		every := false
		for _, k := range fr.Kinds {
			switch {
			case k == "*":
				every = true
			case slices.Contains(Kinds, Kind(k)):
				ru.kinds = append(ru.kinds, Kind(k))
			default:
				errs = append(errs, fmt.Errorf("rule %d: unknown kind %q (want one of %s, or *)", i+1, k, kindList()))
			}
		}
		if every {
			ru.kinds = nil
		}
		for _, a := range fr.Allow {
			m, err := parseMatcher(a)
			if err != nil {
				errs = append(errs, fmt.Errorf("rule %d: %w", i+1, err))
				continue
			}
			ru.allow = append(ru.allow, m)
		}
		p.rules = append(p.rules, ru)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("apiauth: read policy: %w", errors.Join(errs...))
	}
	return &p, nil
}

// LoadPolicy reads the read policy file at path (see ParsePolicy).
func LoadPolicy(path string) (*Policy, error) {
	return loadFile(path, "read policy", ParsePolicy)
}

func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func parseMatcher(s string) (matcher, error) {
	if s == "*" {
		return matcher{any: true}, nil
	}
	on, glob, ok := strings.Cut(s, ":")
	if !ok || !slices.Contains(matcherKinds, on) {
		return matcher{}, fmt.Errorf("matcher %q: want *, or one of %s followed by : and a glob", s, strings.Join(matcherKinds, ":, ")+":")
	}
	if glob == "" {
		return matcher{}, fmt.Errorf("matcher %q: the glob is empty", s)
	}
	return matcher{on: on, glob: glob}, nil
}

// Allows reports whether the policy lets c read k.
func (p *Policy) Allows(k Kind, c Caller) bool {
	for _, ru := range p.rules {
		if ru.kinds != nil && !slices.Contains(ru.kinds, k) {
			continue
		}
		for _, m := range ru.allow {
			if m.matches(c) {
				return true
			}
		}
	}
	return false
}

func (m matcher) matches(c Caller) bool {
	if m.any {
		return true
	}
	var value string
	switch m.on {
	case matchToken:
		value = c.Token
	case matchIssuer:
		value = c.Identity.Issuer
	case matchSubject:
		value = c.Identity.Subject
	case matchRepository:
		value = c.Identity.Repository
	case matchRef:
		value = c.Identity.Ref
	case matchActor:
		value = c.Identity.Actor
	}
	// A claim the caller does not have matches nothing, not even "*".
	return value != "" && glob.Match(m.glob, value)
}
