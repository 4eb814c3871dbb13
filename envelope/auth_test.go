package envelope_test

import (
	"errors"
	"strings"
	"testing"

	"buildledger/domain"
	"buildledger/envelope"
)

const someToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQ"

func TestMarshal_GivenIDToken_ThenDecodeReturnsItAndTheHashIsTheCommandsAlone(t *testing.T) {
	cmd := domain.Lock{Env: "prod", User: "alice"}
	with, err := envelope.Marshal(cmd, envelope.Header{ID: "c1", IDToken: someToken})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(with), `"auth":{"idToken":"`+someToken+`"}`) {
		t.Errorf("body %s has no auth.idToken", with)
	}
	without, err := envelope.Marshal(cmd, envelope.Header{ID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(without), envelope.KeyAuth) {
		t.Errorf("body without a token has an auth key: %s", without)
	}
	d1, err := envelope.Decode(envelope.Message{Body: with}, 0)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := envelope.Decode(envelope.Message{Body: without}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d1.IDToken != someToken || d2.IDToken != "" {
		t.Errorf("tokens %q and %q, want %q and none", d1.IDToken, d2.IDToken, someToken)
	}
	if want, _ := domain.CommandHash(cmd); d1.BodyHash != want || d2.BodyHash != want {
		t.Errorf("hashes %s and %s, want the command's %s with or without a token", d1.BodyHash, d2.BodyHash, want)
	}
}

func TestDecode_GivenBadAuth_ThenInvalidWithTheProblemAndNeverTheToken(t *testing.T) {
	long := strings.Repeat("a", envelope.MaxIDTokenBytes+1)
	tests := []struct {
		name, auth, problem string
	}{
		{"given auth that is not an object then refused", `"` + someToken + `"`, "auth: must be an object"},
		{"given an unknown auth key then refused", `{"idToken":"` + someToken + `","password":"x"}`, "auth.password: unknown field"},
		{"given a token that is not a string then refused", `{"idToken":42}`, "auth.idToken: must be a string"},
		{"given a token over the bound then refused", `{"idToken":"` + long + `"}`, "auth.idToken: is 16385 bytes, at most 16384"},
		{"given an auth key in another case then refused", `{"IdToken":"` + someToken + `"}`, "auth.IdToken: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"type":"Lock","id":"c1","auth":` + tt.auth + `,"env":"prod","user":"alice"}`
			_, err := envelope.Decode(envelope.Message{Body: []byte(body)}, 0)
			var inv *envelope.InvalidError
			if !errors.As(err, &inv) || !strings.Contains(inv.Reason, tt.problem) {
				t.Fatalf("Decode = %v, want an invalid message saying %q", err, tt.problem)
			}
			if inv.CommandID != "c1" {
				t.Errorf("command id %q, want c1 so that the outcome is recorded", inv.CommandID)
			}
			if strings.Contains(err.Error(), "c2lnbmF0dXJl") || strings.Contains(err.Error(), long[:100]) {
				t.Errorf("error quotes the token: %v", err)
			}
		})
	}
}

func TestMarshal_GivenTokenWithWhiteSpaceOrTooLong_ThenRefused(t *testing.T) {
	cmd := domain.Lock{Env: "prod", User: "alice"}
	for _, tok := range []string{"a b", strings.Repeat("a", envelope.MaxIDTokenBytes+1)} {
		if _, err := envelope.Marshal(cmd, envelope.Header{ID: "c1", IDToken: tok}); err == nil {
			t.Errorf("token of %d bytes: no error", len(tok))
		}
	}
}
