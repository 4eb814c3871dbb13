package main

import (
	"testing"
	"time"

	"buildledger/domain"
)

func TestAnswerOf_GivenTheEventsOfALockAttempt_ThenGrantedOrQueuedForThatUser(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	end := at.Add(10 * time.Minute)
	claimEnd := at.Add(domain.ClaimWindow)
	tests := []struct {
		name    string
		events  []domain.Event
		granted bool
		queued  bool
		token   int64
		lease   time.Duration
		claimed bool
	}{
		{
			name:    "given a free env, when bob locks, then granted with the Locked token and lease",
			events:  []domain.Event{domain.Locked{Env: "prod", User: "bob", Token: 3, LeaseMs: 600000, ExpiresAt: &end, At: at}},
			granted: true, token: 3, lease: 10 * time.Minute,
		},
		{
			name: "given the lock passed to bob, when his attempt claims it, then granted with his lease and claimed",
			events: []domain.Event{
				domain.Released{Env: "prod", User: "alice", Token: 1},
				domain.Locked{Env: "prod", User: "bob", Token: 5, LeaseMs: domain.ClaimWindow.Milliseconds(), ExpiresAt: &claimEnd, Claim: true},
				domain.LockRefreshed{Env: "prod", User: "bob", Token: 5, LeaseMs: 600000, ExpiresAt: &end, Claimed: true},
			},
			granted: true, token: 5, lease: 10 * time.Minute, claimed: true,
		},
		{
			name:   "given alice holds it, when bob attempts with the queue, then queued",
			events: []domain.Event{domain.LockQueued{Env: "prod", User: "bob", Holder: "alice", Position: 2, Waiting: 3}},
			queued: true,
		},
		{
			name: "given the lock passed to carol, when bob attempts, then queued, not granted",
			events: []domain.Event{
				domain.LockExpired{Env: "prod", User: "alice", Token: 1},
				domain.Locked{Env: "prod", User: "carol", Token: 7, Claim: true},
				domain.LockQueued{Env: "prod", User: "bob", Holder: "carol", Position: 1, Waiting: 1},
			},
			queued: true,
		},
		{
			name:    "given bob holds it, when he locks again, then granted with the same token",
			events:  []domain.Event{domain.LockRefreshed{Env: "prod", User: "bob", Token: 4}},
			granted: true, token: 4,
		},
		{
			name:   "given events about others only, then neither",
			events: []domain.Event{domain.Locked{Env: "prod", User: "alice", Token: 2}},
		},
		{name: "given no events, then neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := answerOf("bob", tt.events)
			if a.Granted != tt.granted || a.Queued != tt.queued || a.Token != tt.token || a.Lease != tt.lease || a.Claimed != tt.claimed {
				t.Fatalf("answer %+v; want granted %t, queued %t, token %d, lease %s, claimed %t", a, tt.granted, tt.queued, tt.token, tt.lease, tt.claimed)
			}
		})
	}
}

func TestPlaceLines_GivenAQueuedAttempt_ThenDaPlayasLineExactlyAndThenThePlace(t *testing.T) {
	got := placeLines("production", domain.LockQueued{User: "bob", Holder: "alice", Position: 2, Waiting: 3})
	want := "Still locked at env production by alice\nWaiting in line for env production: position 2 of 3"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestGrantLine_GivenAGrant_ThenItNamesTheTokenAndLease(t *testing.T) {
	tests := []struct {
		a    lockAnswer
		want string
	}{
		{lockAnswer{Granted: true, Token: 7}, "Locked env production for alice (fencing token 7, no lease)"},
		{lockAnswer{Granted: true, Token: 9, Lease: 10 * time.Minute, Claimed: true},
			"Locked env production for alice (fencing token 9, lease 10m0s, passed on from the queue)"},
	}
	for _, tt := range tests {
		if got := grantLine("production", "alice", tt.a); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
