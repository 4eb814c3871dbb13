package apiauth

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// MinTokenBytes is the shortest static token accepted: a guessable token is refused at load.
const MinTokenBytes = 16

// tokenName is what a static token may be called: its name appears in answers, logs and
// the read policy (token:<name>).
var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Tokens are static API tokens, each with a name. Only SHA-256 digests are kept, so that
// comparing takes the same time whatever the length of the token presented.
type Tokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	name   string
	digest [sha256.Size]byte
}

// ParseTokens reads static tokens, one "name:token" a line; blank lines and lines starting
// with # are skipped. Every problem is reported with its line number, never with a token.
func ParseTokens(r io.Reader) (*Tokens, error) {
	var (
		t     Tokens
		errs  []error
		names = map[string]bool{}
		seen  = map[[sha256.Size]byte]bool{}
	)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, token, ok := strings.Cut(line, ":")
		name, token = strings.TrimSpace(name), strings.TrimSpace(token)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("line %d: want name:token", n))
		case !tokenName.MatchString(name):
			errs = append(errs, fmt.Errorf("line %d: name %q: want letters, digits, '.', '_' or '-', at most 64", n, truncate(name, 64)))
		case names[name]:
			errs = append(errs, fmt.Errorf("line %d: name %q appears twice", n, name))
		case len(token) < MinTokenBytes:
			errs = append(errs, fmt.Errorf("line %d: the token of %q is shorter than %d bytes", n, name, MinTokenBytes))
		case strings.ContainsAny(token, " \t"):
			errs = append(errs, fmt.Errorf("line %d: the token of %q holds a space", n, name))
		default:
			d := sha256.Sum256([]byte(token))
			if seen[d] {
				errs = append(errs, fmt.Errorf("line %d: the token of %q is also another name's", n, name))
				continue
			}
			names[name], seen[d] = true, true
			t.entries = append(t.entries, tokenEntry{name: name, digest: d})
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("apiauth: tokens: %w", errors.Join(errs...))
	}
	return &t, nil
}

// LoadTokens reads the static tokens file at path (see ParseTokens).
func LoadTokens(path string) (*Tokens, error) {
	return loadFile(path, "tokens", ParseTokens)
}

// Len is the number of tokens.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries)
}

// Match returns the name of the token presented, comparing it in constant time with every
// entry (no early exit), so that timing tells nothing about which entry is closest.
func (t *Tokens) Match(presented string) (string, bool) {
	if t == nil {
		return "", false
	}
	d := sha256.Sum256([]byte(presented))
	found := -1
	for i := range t.entries {
		if subtle.ConstantTimeCompare(d[:], t.entries[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return t.entries[found].name, true
}

// truncate cuts s to at most n bytes, for quoting what a file says.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
