package handlers_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"buildledger/domain"
	"buildledger/envelope"
	"buildledger/eventstore"
	"buildledger/handlers"
	"buildledger/internal/oidcauth"
	"buildledger/internal/oidctest"
)

// withIssuer makes the handler trust iss, with audience "buildledger".
func withIssuer(t *testing.T, iss *oidctest.Issuer) fixtureOption {
	t.Helper()
	v, err := oidcauth.New(oidcauth.Config{Issuers: []string{iss.URL()}, Audience: "buildledger", MinRefreshInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return func(c *handlers.CommandHandlerConfig) { c.Identities = v }
}

// signed returns the message of cmd under id carrying token, as the client builds it.
func signed(t *testing.T, id string, cmd domain.Command, token string) handlers.Envelope {
	t.Helper()
	body, err := envelope.Marshal(cmd, envelope.Header{ID: id, IDToken: token})
	if err != nil {
		t.Fatal(err)
	}
	return handlers.Envelope{Body: body, MessageID: "m-" + id, SenderID: "AIDASENDER"}
}

func TestHandle_GivenValidIDToken_ThenAcceptedWithTheClaimsAndSenderRecorded(t *testing.T) {
	iss := oidctest.New(t)
	f := newFixture(t, withIssuer(t, iss))
	token := iss.Mint(t, oidctest.Token{Claims: oidctest.GitHubClaims()})
	res, err := f.handler.Handle(t.Context(), signed(t, "c1", domain.Lock{Env: "prod", User: "alice"}, token))
	if err != nil {
		t.Fatal(err)
	}
	want := eventstore.Identity{Issuer: iss.URL(), Subject: "repo:org/api:ref:refs/heads/main", Repository: "org/api",
		Ref: "refs/heads/main", Workflow: "deploy", RunID: "4242", Actor: "octocat"}
	o, err := f.events.Outcome(t.Context(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != eventstore.OutcomeAccepted || o.Identity != want || o.SenderID != "AIDASENDER" {
		t.Errorf("outcome %+v, want accepted with identity %+v and sender AIDASENDER", o, want)
	}
	if res.Outcome != o {
		t.Errorf("result outcome %+v, stored %+v", res.Outcome, o)
	}
	recs, err := f.events.Load(t.Context(), "lock:prod", 1)
	if err != nil || len(recs) == 0 {
		t.Fatalf("events: %v, %v", recs, err)
	}
	for _, r := range recs {
		if r.Metadata.Identity != want || r.Metadata.SenderID != "AIDASENDER" {
			t.Errorf("%s@%d metadata %+v", r.Stream, r.Version, r.Metadata)
		}
	}
}

func TestHandle_GivenIDTokenFailingACheck_ThenRejectedUnauthenticatedNothingAppendedAndALaterValidOneAccepted(t *testing.T) {
	iss := oidctest.New(t)
	other := oidctest.New(t)
	f := newFixture(t, withIssuer(t, iss))
	now := time.Now()
	valid := iss.Mint(t, oidctest.Token{})
	parts := strings.Split(valid, ".")
	tests := []struct {
		name, token, check string
	}{
		{"given an expired token", iss.Mint(t, oidctest.Token{Expiry: now.Add(-5 * time.Minute), IssuedAt: now.Add(-10 * time.Minute)}), "expired"},
		{"given a token not yet valid", iss.Mint(t, oidctest.Token{NotBefore: now.Add(10 * time.Minute)}), "not yet valid"},
		{"given another audience", iss.Mint(t, oidctest.Token{Audience: "elsewhere"}), "audience"},
		{"given an untrusted issuer", other.Mint(t, oidctest.Token{}), "issuer"},
		{"given a bad signature", parts[0] + "." + parts[1] + "." + strings.ToUpper(parts[2][:4]) + parts[2][4:] + "x", "signature"},
		{"given alg none", iss.Unsigned(t, oidctest.Token{}), "alg"},
		{"given an unknown key id", iss.Mint(t, oidctest.Token{Unserved: true}), "key id"},
		{"given a malformed token", "abc.def", "malformed"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "bad-" + string(rune('a'+i))
			res, err := f.handler.Handle(t.Context(), signed(t, id, domain.Lock{Env: "prod", User: "mallory"}, tt.token))
			if err != nil {
				t.Fatalf("Handle = %v, want the rejection recorded and the message acked", err)
			}
			o := res.Outcome
			if o.Status != eventstore.OutcomeRejected || o.Code != eventstore.RejectionUnauthenticated || !strings.Contains(o.Reason, tt.check) {
				t.Errorf("outcome %+v, want rejected, code unauthenticated, a reason naming %q", o, tt.check)
			}
			if !o.Identity.IsZero() || o.SenderID != "AIDASENDER" {
				t.Errorf("outcome identity %+v sender %q: want no identity, the sender", o.Identity, o.SenderID)
			}
			if sig := parts[2]; strings.Contains(o.Reason, sig) || strings.Contains(o.Reason, tt.token) {
				t.Errorf("reason quotes the token: %s", o.Reason)
			}
			if v, err := f.events.Version(t.Context(), "lock:prod"); err != nil || v != 0 {
				t.Errorf("lock:prod at version %d (%v), want nothing appended", v, err)
			}
		})
	}
	res, err := f.handler.Handle(t.Context(), signed(t, "good", domain.Lock{Env: "prod", User: "alice"}, iss.Mint(t, oidctest.Token{})))
	if err != nil || res.Outcome.Status != eventstore.OutcomeAccepted || res.Outcome.Identity.Issuer != iss.URL() {
		t.Fatalf("valid token after the refused ones: %+v, %v", res.Outcome, err)
	}
}

func TestHandle_GivenTokenAndNoIssuerTrusted_ThenRejectedNoIssuerIsTrusted(t *testing.T) {
	iss := oidctest.New(t)
	f := newFixture(t)
	res, err := f.handler.Handle(t.Context(), signed(t, "c1", domain.Lock{Env: "prod", User: "alice"}, iss.Mint(t, oidctest.Token{})))
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Outcome; o.Code != eventstore.RejectionUnauthenticated || !strings.Contains(o.Reason, "no issuer is trusted") {
		t.Errorf("outcome %+v", o)
	}
	// Without a token, the command is decided as before.
	res, err = f.handler.Handle(t.Context(), signed(t, "c2", domain.Lock{Env: "prod", User: "alice"}, ""))
	if err != nil || res.Outcome.Status != eventstore.OutcomeAccepted || res.Outcome.SenderID != "AIDASENDER" {
		t.Fatalf("command without a token: %+v, %v", res.Outcome, err)
	}
}

func TestHandle_GivenIssuerDown_ThenTransientErrorNothingStoredAndAcceptedOnceItIsBack(t *testing.T) {
	iss := oidctest.New(t)
	f := newFixture(t, withIssuer(t, iss))
	iss.SetDown(true)
	msg := signed(t, "c1", domain.Lock{Env: "prod", User: "alice"}, iss.Mint(t, oidctest.Token{}))
	_, err := f.handler.Handle(t.Context(), msg)
	var ue *oidcauth.UnavailableError
	if !errors.As(err, &ue) || handlers.IsDeadLetter(err) {
		t.Fatalf("Handle = %v, want a transient *UnavailableError", err)
	}
	if _, err := f.events.Outcome(t.Context(), "c1"); !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatalf("an outcome was stored while the issuer was down: %v", err)
	}
	iss.SetDown(false)
	if res, err := f.handler.Handle(t.Context(), msg); err != nil || res.Outcome.Status != eventstore.OutcomeAccepted {
		t.Fatalf("redelivery once the issuer is back: %+v, %v", res.Outcome, err)
	}
}

func TestHandle_GivenKeyRotationAtTheIssuer_ThenTokensOfTheNewKeyAcceptedWithoutARestart(t *testing.T) {
	iss := oidctest.New(t)
	f := newFixture(t, withIssuer(t, iss))
	if res, err := f.handler.Handle(t.Context(), signed(t, "c1", domain.Lock{Env: "a", User: "alice"}, iss.Mint(t, oidctest.Token{}))); err != nil || res.Outcome.Status != eventstore.OutcomeAccepted {
		t.Fatalf("before rotation: %+v, %v", res.Outcome, err)
	}
	iss.Rotate(t, oidctest.RS256)
	if res, err := f.handler.Handle(t.Context(), signed(t, "c2", domain.Lock{Env: "b", User: "alice"}, iss.Mint(t, oidctest.Token{}))); err != nil || res.Outcome.Status != eventstore.OutcomeAccepted {
		t.Fatalf("after rotation: %+v, %v", res.Outcome, err)
	}
	if n := iss.JWKSFetches(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (once at start, once for the new key)", n)
	}
}

func TestHandle_GivenTokensAcceptedAndRefused_ThenNoStoredOutcomeOrEventHoldsTheSignature(t *testing.T) {
	iss := oidctest.New(t)
	f := newFixture(t, withIssuer(t, iss))
	good := iss.Mint(t, oidctest.Token{Claims: oidctest.GitHubClaims()})
	expired := iss.Mint(t, oidctest.Token{Expiry: time.Now().Add(-time.Hour), IssuedAt: time.Now().Add(-2 * time.Hour)})
	ctx := context.Background()
	for id, tok := range map[string]string{"g": good, "e": expired} {
		if _, err := f.handler.Handle(ctx, signed(t, id, domain.Lock{Env: "prod", User: "alice"}, tok)); err != nil {
			t.Fatal(err)
		}
	}
	// An invalid message carrying a token: the outcome holds the reason, never the token.
	bad, _ := envelope.Marshal(domain.Lock{Env: "prod", User: "alice"}, envelope.Header{ID: "i", IDToken: good})
	bad = []byte(strings.Replace(string(bad), `"user":"alice"`, `"user":"alice","extra":1`, 1))
	if _, err := f.handler.Handle(ctx, handlers.Envelope{Body: bad}); !handlers.IsDeadLetter(err) {
		t.Fatalf("invalid message: %v", err)
	}
	var stored strings.Builder
	page, err := f.events.ReadAll(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page.Records {
		stored.WriteString(string(r.Body) + r.Metadata.CorrelationID + r.Metadata.CausationID + r.Metadata.SenderID + r.Metadata.Identity.Subject)
	}
	for _, id := range []string{"g", "e", "i"} {
		o, err := f.events.Outcome(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		stored.WriteString(o.Reason + o.BodyHash + o.Stream + o.Identity.Subject + o.SenderID)
	}
	for _, tok := range []string{good, expired} {
		if sig := tok[strings.LastIndex(tok, ".")+1:]; strings.Contains(stored.String(), sig) {
			t.Errorf("a stored item holds a token's signature")
		}
	}
}
