package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/bidirule"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/norm"
)

// maxNameBytes bounds names (users, repos, envs, browsers, …): they become DynamoDB keys
// and attribute names, where a clear error beats a failed write.
const maxNameBytes = 256

// nameProfile is the PRECIS profile (RFC 8264) command names are enforced with: the
// IdentifierClass with width mapping and NFC, case kept, which is RFC 8265's
// UsernameCasePreserved less its Bidi Rule (enforceName adds that). "Alice" and "alice"
// stay the two users they always were.
var nameProfile = precis.NewIdentifier(precis.FoldWidth, precis.Norm(norm.NFC))

// enforceName returns v in its PRECIS-enforced form, or why it has none. The Bidi Rule (RFC
// 5893) applies, as RFC 8265 section 3.4.4 says, only to names with right-to-left
// characters: precis.UsernameCasePreserved applies it to every name with a non-ASCII
// character (golang/go#17383), which would refuse "@scope/café" and "2024-été" but not
// "@scope/cafe".
func enforceName(v string) (string, error) {
	enforced, err := nameProfile.String(v)
	if err != nil {
		return "", err
	}
	if bidirule.DirectionString(enforced) == bidi.RightToLeft && !bidirule.ValidString(enforced) {
		return "", bidirule.ErrInvalid
	}
	return enforced, nil
}

// nameProblem returns why v is not a usable command name, or "" if it is: the stored-name
// rules, then the PRECIS identifier rules, then one script per name. Names that are part of
// a stream id must not contain "/" (slashOK false), or the id would be ambiguous.
func nameProblem(v string, slashOK bool) string {
	if p := storedNameProblem(v, slashOK); p != "" {
		return p
	}
	return identifierProblem(v)
}

// optionalNameProblem is nameProblem for a name that may be left empty.
func optionalNameProblem(v string) string {
	if v == "" {
		return ""
	}
	return nameProblem(v, true)
}

// pkgProblem returns why v is not a usable package name in a command: a name without "/",
// or a scoped npm name "@scope/name" with exactly one "/".
func pkgProblem(v string) string { return scopedProblem(v, nameProblem) }

// storedNameProblem returns why v cannot be a component of a stored stream id, or "". These
// are the rules names were held to before the identifier rules, and streams written under
// them are stored forever: loading checks only these, and they must never be tightened.
func storedNameProblem(v string, slashOK bool) string {
	switch {
	case v == "":
		return "must not be empty"
	case len(v) > maxNameBytes:
		return fmt.Sprintf("must be at most %d bytes", maxNameBytes)
	case !utf8.ValidString(v):
		return "must be valid UTF-8"
	case strings.TrimSpace(v) != v:
		// "api" and "api " would otherwise be two streams that look the same.
		return "must not start or end with white space"
	case strings.ContainsFunc(v, unicode.IsControl):
		return "must not contain control characters"
	case !slashOK && strings.Contains(v, "/"):
		return `must not contain "/"`
	}
	return ""
}

// storedPkgProblem is pkgProblem under the stored-name rules.
func storedPkgProblem(v string) string { return scopedProblem(v, storedNameProblem) }

// scopedProblem returns why v is not a package name whose parts pass name: a name without
// "/", or a scoped npm name "@scope/name" with exactly one "/".
func scopedProblem(v string, name func(v string, slashOK bool) string) string {
	if !strings.Contains(v, "/") {
		return name(v, false)
	}
	if p := name(v, true); p != "" {
		return p
	}
	scope, rest, _ := strings.Cut(v, "/")
	if len(scope) < 2 || scope[0] != '@' || rest == "" || strings.Contains(rest, "/") {
		return `may contain "/" only as a scoped name "@scope/name"`
	}
	return ""
}

// identifierProblem returns why v, a name that passes the stored-name rules, is not an
// identifier in its PRECIS-enforced form written in one script, or "". Look-alikes of a
// name (an invisible character added, another normalization form, a Cyrillic "о" for a
// Latin "o") would otherwise name other streams that look the same.
func identifierProblem(v string) string {
	enforced, err := enforceName(v)
	switch {
	case err != nil:
		return disallowedProblem(v, err)
	case enforced != v:
		return fmt.Sprintf("must be in normalized form %q", enforced)
	}
	return mixedScriptProblem(v)
}

// disallowedProblem explains err, the failure to enforce nameProfile on v, by the first
// character PRECIS disallows in v, or else by the rule that failed.
func disallowedProblem(v string, err error) string {
	for _, r := range v {
		if _, rerr := nameProfile.String(string(r)); rerr != nil {
			return fmt.Sprintf("must not contain %U (%s)", r, runeKind(r))
		}
	}
	if errors.Is(err, bidirule.ErrInvalid) {
		return "must follow the Bidi Rule of RFC 5893 for right-to-left text"
	}
	return fmt.Sprintf("is not a PRECIS identifier (%v)", err)
}

// runeKind names the kind of a disallowed character for people, who cannot see most of them.
func runeKind(r rune) string {
	switch {
	case unicode.Is(unicode.Cf, r):
		return "an invisible formatting character"
	case unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp):
		return "a space"
	}
	return "a character not allowed in names"
}

// namedScripts are the scripts a letter can belong to, in a fixed order; Common and
// Inherited (digits, punctuation, combining marks) belong to every script and are left out.
var namedScripts = func() []string {
	var names []string
	for name := range unicode.Scripts {
		if name != "Common" && name != "Inherited" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}()

// mixedScripts are the combinations of scripts UTS #39 allows in one "highly restrictive"
// identifier: Japanese, Chinese with Bopomofo and Korean, each with Latin.
var mixedScripts = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// mixedScriptProblem returns why v mixes scripts, or "": its characters belong to one script
// besides Common and Inherited, or to scripts of one of mixedScripts.
func mixedScriptProblem(v string) string {
	var scripts []string // in order of first use
	for _, r := range v {
		if s := scriptOf(r); s != "" && !slices.Contains(scripts, s) {
			scripts = append(scripts, s)
		}
	}
	if len(scripts) < 2 {
		return ""
	}
	for _, allowed := range mixedScripts {
		if !slices.ContainsFunc(scripts, func(s string) bool { return !slices.Contains(allowed, s) }) {
			return ""
		}
	}
	last := len(scripts) - 1
	return fmt.Sprintf("mixes %s and %s letters", strings.Join(scripts[:last], ", "), scripts[last])
}

// scriptOf returns the Unicode script of r, or "" for Common, Inherited and unassigned.
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return "Latin"
		}
		return ""
	}
	for _, name := range namedScripts {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	return ""
}

// Normalize returns c with each of its names replaced by its PRECIS-enforced form (NFC,
// narrow width, case kept) where enforcement succeeds; a name it cannot enforce is left for
// Validate to refuse, and free text (meta, message, details) is left as it is. Senders call
// it so that a name typed in NFD arrives in NFC; the worker validates strictly and never
// normalizes. A pointer to a command comes back as the normalized command value; a command
// of another package comes back unchanged.
func Normalize(c Command) Command {
	switch d := deref(c).(type) {
	case nil:
		return nil
	case CreateBuild:
		d.User, d.Repo, d.Tag, d.Browsers = normalName(d.User), normalName(d.Repo), normalName(d.Tag), normalNames(d.Browsers)
		return d
	case UpdateBuild:
		d.User, d.Repo, d.Browser, d.Status = normalName(d.User), normalName(d.Repo), normalName(d.Browser), normalName(d.Status)
		return d
	case StartStatus:
		d.Pkg, d.Env, d.Version = normalName(d.Pkg), normalName(d.Env), normalName(d.Version)
		d.PreviousVersion, d.Locales = normalName(d.PreviousVersion), normalNames(d.Locales)
		return d
	case RecordStatusEvent:
		d.Pkg, d.Env, d.Version, d.Locale = normalName(d.Pkg), normalName(d.Env), normalName(d.Version), normalName(d.Locale)
		return d
	case CompleteLocale:
		d.Pkg, d.Env, d.Version, d.Locale = normalName(d.Pkg), normalName(d.Env), normalName(d.Version), normalName(d.Locale)
		return d
	case Lock:
		d.Env, d.User = normalName(d.Env), normalName(d.User)
		return d
	case Release:
		d.Env, d.User = normalName(d.Env), normalName(d.User)
		return d
	case Renew:
		d.Env, d.User = normalName(d.Env), normalName(d.User)
		return d
	case ExpireLock:
		d.Env = normalName(d.Env)
		return d
	case LeaveQueue:
		d.Env, d.User = normalName(d.Env), normalName(d.User)
		return d
	case AddFreeze:
		d.Env, d.User = normalName(d.Env), normalName(d.User)
		return d
	case RemoveFreeze:
		d.Env, d.User = normalName(d.Env), normalName(d.User)
		return d
	case StartJob:
		d.Jobname, d.User, d.Version = normalName(d.Jobname), normalName(d.User), normalName(d.Version)
		return d
	case EndJob:
		d.Jobname, d.Version, d.User = normalName(d.Jobname), normalName(d.Version), normalName(d.User)
		return d
	}
	return c
}

// normalName returns v in its PRECIS-enforced form, or v itself when it has none.
func normalName(v string) string {
	if !utf8.ValidString(v) {
		return v
	}
	if enforced, err := enforceName(v); err == nil {
		return enforced
	}
	return v
}

// normalNames returns a new slice of the normalized names, nil for nil.
func normalNames(vs []string) []string {
	if vs == nil {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = normalName(v)
	}
	return out
}
