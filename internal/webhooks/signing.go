package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Headers of every delivery.
const (
	// HeaderDelivery is the delivery id: the same for every attempt to deliver one event
	// to one subscription, so that receivers can drop the duplicates at-least-once brings.
	HeaderDelivery = "Buildledger-Delivery"
	// HeaderTimestamp is the time of the attempt, in Unix seconds.
	HeaderTimestamp = "Buildledger-Timestamp"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with the subscription's
	// secret, of the timestamp, ".", and the body.
	HeaderSignature = "Buildledger-Signature"
)

// signaturePrefix names the algorithm in HeaderSignature.
const signaturePrefix = "sha256="

// ErrBadSignature means a delivery's signature does not verify, or its timestamp is too old.
var ErrBadSignature = errors.New("webhooks: bad signature")

// DeliveryID is the delivery id of the event keyed key to the subscription name.
func DeliveryID(name, key string) string { return name + "/" + key }

// Sign returns the HeaderSignature value of body sent at timestamp (HeaderTimestamp's value).
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks, as a receiver does, that signature is body's at timestamp under secret, in
// constant time, and that timestamp is within tolerance of now (0: any age), against replays.
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if !hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature)) {
		return fmt.Errorf("%w: the signature does not match", ErrBadSignature)
	}
	if tolerance > 0 {
		sec, err := strconv.ParseInt(timestamp, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: timestamp %q", ErrBadSignature, timestamp)
		}
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("%w: timestamp %s is %v away from now", ErrBadSignature, timestamp, d)
		}
	}
	return nil
}
