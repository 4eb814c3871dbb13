package main

import (
	"testing"
	"time"
)

func TestParseInstant_GivenWhatPeopleWrite_ThenTheTimeTheyMean(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, berlin)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-12-07T10:00:00Z", time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)},
		{"2026-12-07T11:30:00+01:00", time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)},
		{"2026-12-07 10:15", time.Date(2026, 12, 7, 10, 15, 0, 0, berlin)},
		{"2026-12-07 10:15:30", time.Date(2026, 12, 7, 10, 15, 30, 0, berlin)},
		{"2026-12-07T10:15:30", time.Date(2026, 12, 7, 10, 15, 30, 0, berlin)},
		{"2026-12-06", time.Date(2026, 12, 6, 0, 0, 0, 0, berlin)},
		{"90m", now.Add(-90 * time.Minute)},
		{"now", now},
		{"1796621569206", time.UnixMilli(1796621569206)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseInstant(tt.in, now)
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "yesterday", "-2h", "2026-13-01"} {
		if got, err := parseInstant(bad, now); err == nil {
			t.Errorf("%q: got %s, want an error", bad, got)
		}
	}
}
