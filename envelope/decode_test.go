package envelope_test

import (
	"testing"

	"buildledger/domain"
	"buildledger/envelope"
)

func TestDecode_GivenNoID_ThenMessageIDStandsInAndCorrelationDefaultsToIt(t *testing.T) {
	d, err := envelope.Decode(envelope.Message{
		Body: []byte(`{"type":"Release","env":"prod","user":"alice"}`), MessageID: "sqs-123",
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "sqs-123" || d.CorrelationID != "sqs-123" || d.Type != "Release" {
		t.Fatalf("decoded %+v", d)
	}
	if _, ok := d.Command.(domain.Release); !ok {
		t.Fatalf("command is %T, want domain.Release", d.Command)
	}
	d2, err := envelope.Decode(envelope.Message{
		Body: []byte(`{"type":"Release","id":"x","metadata":{"correlationId":"deploy-7"},"env":"prod","user":"alice"}`), CorrelationID: "transport",
	}, 0)
	if err != nil || d2.ID != "x" || d2.CorrelationID != "deploy-7" {
		t.Fatalf("decoded %+v, %v; want id x and the body's correlation id", d2, err)
	}
	if d.BodyHash != d2.BodyHash {
		t.Errorf("same command, different hashes: %s vs %s", d.BodyHash, d2.BodyHash)
	}
}
