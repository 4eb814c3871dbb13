package oidcauth

import (
	"fmt"

	"buildledger/eventstore"
)

// Checks a token can fail, the Check of a CheckError.
const (
	// CheckMalformed: the token is not a compact JWS with JSON header and claims.
	CheckMalformed = "malformed"
	// CheckAlgorithm: the token's "alg" is not allowed ("none" never is).
	CheckAlgorithm = "alg"
	// CheckIssuer: the token's issuer is not trusted.
	CheckIssuer = "issuer"
	// CheckKeyID: the issuer's key set has no key with the token's "kid", even fetched afresh.
	CheckKeyID = "key id"
	// CheckSignature: the signature does not verify with the issuer's key.
	CheckSignature = "signature"
	// CheckAudience: the token is not meant for this installation.
	CheckAudience = "audience"
	// CheckExpired: the token's "exp" has passed (or it has none).
	CheckExpired = "expired"
	// CheckNotYetValid: the token's "nbf" or "iat" is in the future.
	CheckNotYetValid = "not yet valid"
	// CheckClaims: another claim check of the library failed.
	CheckClaims = "claims"
)

// CheckError is a token that failed a check: the command it came with is rejected with
// code eventstore.RejectionUnauthenticated. It never quotes the token.
type CheckError struct {
	// Check names the failed check, e.g. CheckExpired.
	Check string
	// Reason says what is wrong, for people.
	Reason string
}

// Error names the check.
func (e *CheckError) Error() string { return "oidcauth: " + e.Check + ": " + e.Reason }

// Code returns eventstore.RejectionUnauthenticated, the rejection code of the command.
func (e *CheckError) Code() string { return eventstore.RejectionUnauthenticated }

// UnavailableError is an issuer that could not be reached or answered nonsense while a
// token was being verified: nothing is known about the token, so the command is neither
// accepted nor rejected; it is retried later.
type UnavailableError struct {
	// Issuer is the issuer URL.
	Issuer string
	// Err is the failure.
	Err error
}

// Error names the issuer.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("oidcauth: issuer %s unavailable: %v", e.Issuer, e.Err)
}

// Unwrap returns the failure.
func (e *UnavailableError) Unwrap() error { return e.Err }

func refuse(check, format string, args ...any) *CheckError {
	return &CheckError{Check: check, Reason: fmt.Sprintf(format, args...)}
}
