package envelope

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"buildledger/domain"
)

// KeyAuth holds an object that proves who sent the command; it is not part of the
// command, so it never changes the command's hash:
//
//	{"type":"Lock","id":"…","auth":{"idToken":"<OIDC ID token>"},"env":"prod","user":"alice"}
const KeyAuth = "auth"

// KeyIDToken is the one key of the auth object: an OIDC ID token (a compact JWT) that the
// worker verifies. The token is a credential: it is never stored, logged or echoed in a
// reason.
const KeyIDToken = "idToken"

// authKeys are the keys the auth object may have.
var authKeys = []string{KeyIDToken}

// MaxIDTokenBytes bounds an ID token. CI platforms' tokens are 1–3 KiB; the bound keeps a
// hostile body from making the worker parse and verify megabytes.
const MaxIDTokenBytes = 16 << 10

// decodeAuth takes the auth object out of fields and returns its ID token, or a problem.
// No problem quotes the token.
func decodeAuth(fields map[string]json.RawMessage) (idToken, problem string) {
	raw, ok := take(fields, KeyAuth)
	if !ok {
		return "", ""
	}
	auth, err := domain.ObjectMembers(raw)
	if err != nil {
		return "", "auth: must be an object with the key " + KeyIDToken
	}
	for k := range auth {
		if !slices.Contains(authKeys, k) {
			return "", fmt.Sprintf("auth.%s: unknown field (auth may have %s)", Truncate(k, 64), strings.Join(authKeys, ", "))
		}
	}
	raw, ok = take(auth, KeyIDToken)
	if !ok {
		return "", ""
	}
	if err := json.Unmarshal(raw, &idToken); err != nil {
		return "", "auth.idToken: must be a string"
	}
	if len(idToken) > MaxIDTokenBytes {
		return "", fmt.Sprintf("auth.idToken: is %d bytes, at most %d are accepted", len(idToken), MaxIDTokenBytes)
	}
	return idToken, ""
}

// checkIDToken returns nil when token may be sent: at most MaxIDTokenBytes, no white
// space or control characters (a compact JWT has none).
func checkIDToken(token string) error {
	if len(token) > MaxIDTokenBytes {
		return fmt.Errorf("envelope: ID token is %d bytes, at most %d are accepted", len(token), MaxIDTokenBytes)
	}
	if strings.ContainsFunc(token, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return fmt.Errorf("envelope: ID token must not contain white space or control characters")
	}
	return nil
}
