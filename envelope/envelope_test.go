package envelope_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"buildledger/domain"
	"buildledger/envelope"
)

func TestCheckID_GivenIDs_ThenTheRulesBothSidesApply(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		problem string
	}{
		{"given a uuid then usable", "6b0c3e2a-1f7e-4c1b-9d55-0f6f1b7a2c10", ""},
		{"given 128 bytes then usable", strings.Repeat("x", envelope.MaxIDBytes), ""},
		{"given nothing then empty", "", "must not be empty"},
		{"given 129 bytes then too long", strings.Repeat("x", envelope.MaxIDBytes+1), "must be at most 128 bytes"},
		{"given a space then refused", "has space", "must not contain white space or control characters"},
		{"given a control character then refused", "bad\aid", "must not contain white space or control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := envelope.CheckID(tt.id)
			var idErr *envelope.IDError
			switch {
			case tt.problem == "" && err != nil:
				t.Fatalf("CheckID = %v, want nil", err)
			case tt.problem != "" && (!errors.As(err, &idErr) || idErr.Problem != tt.problem):
				t.Fatalf("CheckID = %v, want the problem %q", err, tt.problem)
			}
		})
	}
}

func TestMarshal_GivenCommandAndHeader_ThenDecodeReturnsBoth(t *testing.T) {
	cmd := domain.Lock{Env: "prod", User: "alice", Meta: "déploiement 🚀"}
	notAfter := time.Date(2026, 12, 1, 15, 4, 5, 0, time.UTC)
	body, err := envelope.Marshal(cmd, envelope.Header{ID: "c1", CorrelationID: "deploy-7", NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range body {
		if b >= 0x80 {
			t.Fatalf("body %s is not plain ASCII", body)
		}
	}
	d, err := envelope.Decode(envelope.Message{Body: body, MessageID: "sqs-1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "c1" || d.Type != "Lock" || d.CorrelationID != "deploy-7" || !d.NotAfter.Equal(notAfter) || d.Command != cmd {
		t.Errorf("decoded %+v, want the command and header sent", d)
	}
	if want, _ := domain.CommandHash(cmd); d.BodyHash != want {
		t.Errorf("hash %s, want %s", d.BodyHash, want)
	}
}

func TestMarshal_GivenInvalidCommandOrID_ThenErrorAndNoBody(t *testing.T) {
	if _, err := envelope.Marshal(domain.Lock{Env: "prod"}, envelope.Header{ID: "c1"}); !errors.Is(err, domain.ErrInvalidCommand) {
		t.Errorf("invalid command: error %v, want one matching domain.ErrInvalidCommand", err)
	}
	var idErr *envelope.IDError
	if _, err := envelope.Marshal(domain.Lock{Env: "prod", User: "alice"}, envelope.Header{ID: "has space"}); !errors.As(err, &idErr) {
		t.Errorf("bad id: error %v, want an *envelope.IDError", err)
	}
}

// Every command type must be sendable: none of its fields may use a key the envelope
// keeps for itself.
func TestGivenEveryCommandType_ThenNoFieldUsesAnEnvelopeKey(t *testing.T) {
	for _, typ := range domain.CommandTypes() {
		for _, field := range domain.CommandFields(typ) {
			if slices.Contains(envelope.Reserved(), field) {
				t.Errorf("%s has a field %q, which the envelope reserves", typ, field)
			}
		}
	}
}
