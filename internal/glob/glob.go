// Package glob matches names and claims against patterns in which '*' stands for any run of
// characters, written once for the command access policy (internal/policy) and the read
// policy (internal/apiauth).
package glob

// Match reports whether s matches pattern, where '*' matches any run of characters ('/' and
// ':' included, so that "repo:acme/*" covers every ref of every acme repo) and every other
// character matches itself. Matching is case-sensitive: claims and names are.
func Match(pattern, s string) bool {
	// The classic greedy algorithm with one backtrack point: linear in practice, never
	// exponential, whatever the pattern.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
