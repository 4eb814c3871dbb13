package eventstore_test

import (
	"encoding/json"
	"testing"

	"buildledger/eventstore"
)

func TestASCIIJSON(t *testing.T) {
	cases := []struct {
		name, value string
	}{
		{"given plain ASCII then it is unchanged", "deploy 42"},
		{"given U+FFFF, which SQS refuses, then it is escaped", "a\uffffb"},
		{"given an emoji then it is escaped as a surrogate pair", "ship it 🚀"},
		{"given accented and CJK letters then they are escaped", "café 東京"},
		{"given U+2028 then it is escaped", "line\u2028sep"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := json.Marshal(map[string]string{"meta": tc.value})
			if err != nil {
				t.Fatal(err)
			}
			got, err := eventstore.ASCIIJSON(doc)
			if err != nil {
				t.Fatalf("ASCIIJSON: %v", err)
			}
			for i, b := range got {
				if b >= 0x80 {
					t.Fatalf("byte %d of %q is not ASCII", i, got)
				}
			}
			var back map[string]string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("escaped %q does not decode: %v", got, err)
			}
			if back["meta"] != tc.value {
				t.Errorf("round trip: got %q, want %q", back["meta"], tc.value)
			}
		})
	}
	if _, err := eventstore.ASCIIJSON([]byte("{\"a\":\"\xff\"}")); err == nil {
		t.Error("invalid UTF-8: no error")
	}
}
