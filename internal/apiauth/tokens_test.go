package apiauth_test

import (
	"strings"
	"testing"

	"buildledger/internal/apiauth"
)

const (
	ciToken      = "ci-0123456789abcdef"
	auditorToken = "auditor-0123456789abcdef"
)

func TestParseTokens_GivenAFile_ThenTheGoodOnesLoadAndEveryProblemIsNamedWithoutTheToken(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    int
		wantErr []string
	}{
		{"given names and tokens with comments and blank lines then each loads", "# readers\nci:" + ciToken + "\n\n auditor : " + auditorToken + " \n", 2, nil},
		{"given an empty file then no token", "", 0, nil},
		{"given a line without a colon then refused", "ci " + ciToken + "\n", 0, []string{"line 1: want name:token"}},
		{"given a short token then refused", "ci:tiny-tok\n", 0, []string{"line 1: the token of \"ci\" is shorter than 16 bytes"}},
		{"given a name twice then refused", "ci:" + ciToken + "\nci:" + auditorToken + "\n", 0, []string{"line 2: name \"ci\" appears twice"}},
		{"given one token under two names then refused", "ci:" + ciToken + "\nother:" + ciToken + "\n", 0, []string{"line 2: the token of \"other\" is also another name's"}},
		{"given a name with a slash then refused", "c/i:" + ciToken + "\n", 0, []string{"line 1: name \"c/i\""}},
		{"given a token with a space then refused", "ci:" + ciToken + " x\n", 0, []string{"line 1: the token of \"ci\" holds a space"}},
		{"given two bad lines then both are named", "a\nb\n", 0, []string{"line 1", "line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			toks, err := apiauth.ParseTokens(strings.NewReader(tt.file))
			if checkParsed(t, "ParseTokens", tt.file, err, tt.wantErr) {
				if toks.Len() != tt.want {
					t.Fatalf("loaded %d tokens, want %d", toks.Len(), tt.want)
				}
				return
			}
			for _, secret := range []string{ciToken, auditorToken, "tiny-tok"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q quotes a token", err)
				}
			}
		})
	}
}

func TestTokens_GivenLoadedTokens_WhenMatched_ThenOnlyAnExactTokenNamesItsEntry(t *testing.T) {
	toks, err := apiauth.ParseTokens(strings.NewReader("ci:" + ciToken + "\nauditor:" + auditorToken + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		presented string
		want      string
		ok        bool
	}{
		{"given the ci token then ci", ciToken, "ci", true},
		{"given the auditor token then auditor", auditorToken, "auditor", true},
		{"given a prefix of a token then none", ciToken[:10], "", false},
		{"given a token with one more byte then none", ciToken + "x", "", false},
		{"given a token in another case then none", strings.ToUpper(ciToken), "", false},
		{"given nothing then none", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := toks.Match(tt.presented)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Match = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
