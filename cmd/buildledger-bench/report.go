package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Figure is one measurement and its raw baseline.
type Figure struct {
	// Name says what was measured, e.g. "Append, 16 streams".
	Name string `json:"name"`
	// Unit is the unit of Ours and Raw, e.g. "events/s" or "ms".
	Unit string `json:"unit"`
	// Ours is the figure of buildledger's code.
	Ours float64 `json:"ours"`
	// Raw is the figure of the raw baseline.
	Raw float64 `json:"raw"`
	// Ratio is Ours / Raw; 0 when Raw is 0.
	Ratio float64 `json:"ratio"`
	// Goal is the ratio aimed for; 0 means the figure is informational and has none.
	Goal float64 `json:"goal"`
	// LowerIsBetter makes Goal a ceiling (times, memory) instead of a floor (rates).
	LowerIsBetter bool `json:"lowerIsBetter,omitempty"`
	// Met reports whether Ratio reaches Goal; always false without a goal.
	Met bool `json:"met"`
	// Notes explain the figure: sizes, what the baseline is, caveats.
	Notes string `json:"notes,omitempty"`
	// Extra holds related numbers (latency percentiles, per-round rates, memory).
	Extra map[string]float64 `json:"extra,omitempty"`
}

// newFigure returns a figure with Ratio and Met worked out.
func newFigure(name, unit string, ours, raw, goal float64, lowerIsBetter bool) Figure {
	f := Figure{Name: name, Unit: unit, Ours: ours, Raw: raw, Goal: goal, LowerIsBetter: lowerIsBetter}
	f.judge()
	return f
}

// judge works out Ratio and Met from Ours, Raw and Goal.
func (f *Figure) judge() {
	f.Ratio = 0
	if f.Raw != 0 && !math.IsNaN(f.Raw) && !math.IsNaN(f.Ours) {
		f.Ratio = f.Ours / f.Raw
	}
	switch {
	case f.Goal <= 0 || f.Raw == 0:
		f.Met = false
	case f.LowerIsBetter:
		f.Met = f.Ratio <= f.Goal
	default:
		f.Met = f.Ratio >= f.Goal
	}
}

// Markdown returns the report as one markdown table, preceded by a line naming the date,
// the machine and the run's duration, and followed by the work per command of the figures
// that count it.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "buildledger bench, %s, %s", r.Date, r.Machine)
	if r.Duration != "" {
		fmt.Fprintf(&b, ", took %s", r.Duration)
	}
	b.WriteString("\n\n")
	b.WriteString("| Figure | Ours | Raw | Ratio | Goal | Met | Notes |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | :---: | --- |\n")
	for _, f := range r.Figures {
		goal, met := "—", "—"
		if f.Goal > 0 {
			op := "≥"
			if f.LowerIsBetter {
				op = "≤"
			}
			goal = op + " " + formatRatio(f.Goal)
			met = "yes"
			if !f.Met {
				met = "**no**"
			}
		}
		ratio := "—"
		if f.Raw != 0 {
			ratio = formatRatio(f.Ratio)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n",
			cell(f.Name), formatValue(f.Ours, f.Unit), formatValue(f.Raw, f.Unit), ratio, goal, met, cell(f.Notes))
	}
	for _, w := range r.Work {
		b.WriteString("\n")
		b.WriteString(w.Markdown())
	}
	return b.String()
}

// WriteJSON writes the report as indented JSON to path, creating its folder.
func (r Report) WriteJSON(path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("bench: write report: %w", err)
		}
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: write report: %w", err)
	}
	return nil
}

func formatRatio(v float64) string {
	return strconv.FormatFloat(v, 'f', 2, 64) + "x"
}

// formatValue prints a value with three significant digits at most below 1000 and whole
// numbers with thousands separators above, followed by its unit.
func formatValue(v float64, unit string) string {
	var s string
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		s = "n/a"
	case a >= 1000:
		s = thousands(int64(math.Round(v)))
	case a >= 100:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	if unit == "" {
		return s
	}
	return s + " " + unit
}

func thousands(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// cell keeps text from breaking the table.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
