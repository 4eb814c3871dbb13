package main

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestRunExitCode_GivenHowTheCommandEnded_ThenRunsExitCode(t *testing.T) {
	tests := []struct {
		name string
		end  commandEnd
		lost bool
		want int
	}{
		{"given the command succeeded and the lock held, then 0", commandEnd{}, false, 0},
		{"given the command succeeded but the lock was lost, then 1", commandEnd{}, true, 1},
		{"given the command exited 7, then 7", commandEnd{Code: 7}, false, 7},
		{"given the command exited 7 and the lock was lost, then still 7", commandEnd{Code: 7}, true, 7},
		{"given SIGTERM ended the command, then 143", commandEnd{Signal: syscall.SIGTERM}, false, 143},
		{"given SIGINT ended the command and the lock was lost, then 130", commandEnd{Signal: syscall.SIGINT}, true, 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runExitCode(tt.end, tt.lost); got != tt.want {
				t.Fatalf("exit %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEndOf_GivenRealProcesses_ThenExitCodesAndSignalsAreTold(t *testing.T) {
	tests := []struct {
		script string
		want   commandEnd
	}{
		{"exit 0", commandEnd{}},
		{"exit 3", commandEnd{Code: 3}},
		{"kill -TERM $$", commandEnd{Signal: syscall.SIGTERM}},
	}
	for _, tt := range tests {
		c := exec.Command("sh", "-c", tt.script)
		_ = c.Run()
		if got := endOf(c.ProcessState); got != tt.want {
			t.Errorf("%q: %+v, want %+v", tt.script, got, tt.want)
		}
	}
}

func TestHeartbeatInterval_GivenALeaseAndAHeartbeat_ThenHowOftenToRenew(t *testing.T) {
	tests := []struct {
		name    string
		lease   time.Duration
		every   time.Duration
		want    time.Duration
		wantErr bool
	}{
		{"given a 5m lease and no heartbeat, then every third of it", 5 * time.Minute, 0, 100 * time.Second, false},
		{"given a 3s lease, then every second", 3 * time.Second, 0, time.Second, false},
		{"given a heartbeat shorter than the lease, then it", time.Minute, 10 * time.Second, 10 * time.Second, false},
		{"given a heartbeat as long as the lease, then an error", time.Minute, time.Minute, 0, true},
		{"given a negative heartbeat, then an error", time.Minute, -time.Second, 0, true},
		{"given no lease, then an error", 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := heartbeatInterval(tt.lease, tt.every)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %s, %v; want %s, error %t", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
