package termout

import (
	"bytes"
	"os"
	"testing"

	"github.com/creack/pty"
)

func TestResolve_GivenAFormatAndATerminalOrNot_ThenTheFormatPrinted(t *testing.T) {
	tests := []struct {
		name     string
		format   Format
		terminal bool
		want     Format
	}{
		{"given auto, when stdout is a terminal, then a table", FormatAuto, true, FormatTable},
		{"given auto, when stdout is a pipe, then JSON", FormatAuto, false, FormatJSON},
		{"given json, when stdout is a terminal, then JSON", FormatJSON, true, FormatJSON},
		{"given table, when stdout is a pipe, then a table", FormatTable, false, FormatTable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Resolve(tt.format, tt.terminal); got != tt.want {
				t.Errorf("Resolve(%q, %v) = %q, want %q", tt.format, tt.terminal, got, tt.want)
			}
		})
	}
}

func TestColored_GivenFormatTerminalAndNoColor_ThenColourOnlyForATableOnATerminalWithoutNoColor(t *testing.T) {
	tests := []struct {
		name     string
		format   Format
		terminal bool
		noColor  string
		want     bool
	}{
		{"given a table on a terminal, then coloured", FormatTable, true, "", true},
		{"given a table on a terminal, when NO_COLOR is set, then plain", FormatTable, true, "1", false},
		{"given a table into a pipe, then plain", FormatTable, false, "", false},
		{"given JSON on a terminal, then plain", FormatJSON, true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Colored(tt.format, tt.terminal, tt.noColor); got != tt.want {
				t.Errorf("Colored(%q, %v, %q) = %v, want %v", tt.format, tt.terminal, tt.noColor, got, tt.want)
			}
		})
	}
}

func TestParseFormat_GivenWhatAUserTyped_ThenTheFormatOrAnError(t *testing.T) {
	tests := []struct {
		name, given string
		want        Format
		wantErr     bool
	}{
		{"given nothing, then auto", "", FormatAuto, false},
		{"given auto, then auto", "auto", FormatAuto, false},
		{"given json, then json", "json", FormatJSON, false},
		{"given table, then table", "table", FormatTable, false},
		{"given yaml, then an error", "yaml", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFormat(tt.given)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ParseFormat(%q) = %q, %v; want %q, error %v", tt.given, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestIsTerminal_GivenAPseudoTerminalAPipeOrABuffer_ThenOnlyThePseudoTerminalIsOne(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if !IsTerminal(tty) {
		t.Error("a pseudo-terminal is not a terminal")
	}
	if IsTerminal(w) {
		t.Error("a pipe is a terminal")
	}
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
}
