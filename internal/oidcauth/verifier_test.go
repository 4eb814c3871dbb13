package oidcauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"buildledger/eventstore"
	"buildledger/internal/oidcauth"
	"buildledger/internal/oidctest"
)

func newVerifier(t *testing.T, iss *oidctest.Issuer, change ...func(*oidcauth.Config)) *oidcauth.Verifier {
	t.Helper()
	cfg := oidcauth.Config{Issuers: []string{iss.URL()}, Audience: "buildledger", MinRefreshInterval: -1}
	for _, c := range change {
		c(&cfg)
	}
	v, err := oidcauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify_GivenValidRS256AndES256Tokens_ThenTheClaimsThatMatter(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(t, iss)
	for _, alg := range []string{oidctest.RS256, oidctest.ES256} {
		raw := iss.Mint(t, oidctest.Token{Alg: alg, Claims: oidctest.GitHubClaims()})
		got, err := v.Verify(t.Context(), raw)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		want := eventstore.Identity{Issuer: iss.URL(), Subject: "repo:org/api:ref:refs/heads/main", Repository: "org/api",
			Ref: "refs/heads/main", Workflow: "deploy", RunID: "4242", Actor: "octocat"}
		if got != want {
			t.Errorf("%s: identity %+v, want %+v", alg, got, want)
		}
	}
}

func TestVerify_GivenGitLabClaims_ThenMappedOntoTheSameFields(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(t, iss)
	raw := iss.Mint(t, oidctest.Token{Claims: map[string]any{"project_path": "grp/proj", "ref": "main", "pipeline_id": "991", "user_login": "ann"}})
	got, err := v.Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.Repository != "grp/proj" || got.RunID != "991" || got.Actor != "ann" || got.Ref != "main" {
		t.Errorf("identity %+v", got)
	}
}

func TestVerify_GivenATokenFailingOneCheck_ThenRefusedNamingTheCheck(t *testing.T) {
	iss := oidctest.New(t)
	other := oidctest.New(t)
	v := newVerifier(t, iss)
	now := time.Now()
	valid := iss.Mint(t, oidctest.Token{})
	parts := strings.Split(valid, ".")
	tests := []struct {
		name  string
		token string
		check string
	}{
		{"given an expired token then expired", iss.Mint(t, oidctest.Token{Expiry: now.Add(-2 * time.Minute), IssuedAt: now.Add(-10 * time.Minute)}), oidcauth.CheckExpired},
		{"given a token without exp then expired", iss.Mint(t, oidctest.Token{NoExpiry: true}), oidcauth.CheckExpired},
		{"given a token valid only from later then not yet valid", iss.Mint(t, oidctest.Token{NotBefore: now.Add(5 * time.Minute)}), oidcauth.CheckNotYetValid},
		{"given a token issued in the future then not yet valid", iss.Mint(t, oidctest.Token{IssuedAt: now.Add(5 * time.Minute), Expiry: now.Add(10 * time.Minute)}), oidcauth.CheckNotYetValid},
		{"given another audience then audience", iss.Mint(t, oidctest.Token{Audience: "someone-else"}), oidcauth.CheckAudience},
		{"given an untrusted issuer then issuer", other.Mint(t, oidctest.Token{}), oidcauth.CheckIssuer},
		{"given a token claiming our issuer signed by another issuer's key then signature", other.Mint(t, oidctest.Token{Issuer: iss.URL()}), oidcauth.CheckSignature},
		{"given a tampered signature then signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), oidcauth.CheckSignature},
		{"given tampered claims then signature", parts[0] + "." + tamper(t, parts[1]) + "." + parts[2], oidcauth.CheckSignature},
		{"given claims that are not base64url JSON then malformed", parts[0] + "." + parts[1] + "e30." + parts[2], oidcauth.CheckMalformed},
		{"given our kid but another key then signature", iss.Mint(t, oidctest.Token{Unserved: true, KeyID: iss.KeyID(oidctest.RS256)}), oidcauth.CheckSignature},
		{"given alg none then alg", iss.Unsigned(t, oidctest.Token{}), oidcauth.CheckAlgorithm},
		{"given an unknown key id then key id", iss.Mint(t, oidctest.Token{Unserved: true}), oidcauth.CheckKeyID},
		{"given garbage then malformed", "not-a-token", oidcauth.CheckMalformed},
		{"given a header that is not JSON then malformed", "e30x.e30.e30", oidcauth.CheckMalformed},
		{"given two parts then malformed", parts[0] + "." + parts[1], oidcauth.CheckMalformed},
		{"given claims without an issuer then malformed", parts[0] + ".e30." + parts[2], oidcauth.CheckMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tt.token)
			var ce *oidcauth.CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("Verify = %v, want a *CheckError", err)
			}
			if ce.Check != tt.check {
				t.Errorf("check %q (%v), want %q", ce.Check, err, tt.check)
			}
			if ce.Code() != eventstore.RejectionUnauthenticated {
				t.Errorf("code %q", ce.Code())
			}
			if sig := signature(tt.token); len(sig) > 8 && strings.Contains(err.Error(), sig) {
				t.Errorf("error quotes the token's signature: %v", err)
			}
		})
	}
}

func TestVerify_GivenTimesWithinTheClockSkew_ThenAccepted(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(t, iss, func(c *oidcauth.Config) { c.ClockSkew = time.Minute })
	now := time.Now()
	raw := iss.Mint(t, oidctest.Token{Expiry: now.Add(-30 * time.Second), NotBefore: now.Add(30 * time.Second), IssuedAt: now.Add(30 * time.Second)})
	if _, err := v.Verify(t.Context(), raw); err != nil {
		t.Fatalf("token 30 s off within a minute of skew: %v", err)
	}
}

func TestVerify_GivenNoIssuerTrusted_ThenEveryTokenRefused(t *testing.T) {
	iss := oidctest.New(t)
	v, err := oidcauth.New(oidcauth.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(t.Context(), iss.Mint(t, oidctest.Token{}))
	var ce *oidcauth.CheckError
	if !errors.As(err, &ce) || ce.Check != oidcauth.CheckIssuer || !strings.Contains(ce.Reason, "no issuer is trusted") {
		t.Fatalf("Verify = %v, want the issuer check saying no issuer is trusted", err)
	}
}

func TestVerify_GivenKeyRotationAtTheIssuer_ThenTheNewKeyIsFetchedOnItsFirstToken(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(t, iss)
	if _, err := v.Verify(t.Context(), iss.Mint(t, oidctest.Token{})); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := v.Verify(t.Context(), iss.Mint(t, oidctest.Token{})); err != nil {
			t.Fatal(err)
		}
	}
	if n := iss.JWKSFetches(); n != 1 {
		t.Fatalf("JWKS fetched %d times for tokens of one key, want once (cached)", n)
	}
	iss.Rotate(t, oidctest.RS256)
	if _, err := v.Verify(t.Context(), iss.Mint(t, oidctest.Token{})); err != nil {
		t.Fatalf("token of the rotated key: %v", err)
	}
	if n := iss.JWKSFetches(); n != 2 {
		t.Errorf("JWKS fetched %d times after a rotation, want 2", n)
	}
	// A bad signature under a known key never fetches again.
	bad := iss.Mint(t, oidctest.Token{Unserved: true, KeyID: iss.KeyID(oidctest.RS256)})
	if _, err := v.Verify(t.Context(), bad); err == nil {
		t.Fatal("bad signature accepted")
	}
	if n := iss.JWKSFetches(); n != 2 {
		t.Errorf("JWKS fetched %d times after a bad signature under a known key, want still 2", n)
	}
}

func TestVerify_GivenConcurrentTokensOfANewKey_ThenOneFetchServesThemAll(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(t, iss, func(c *oidcauth.Config) { c.MinRefreshInterval = time.Hour })
	raw := iss.Mint(t, oidctest.Token{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := v.Verify(t.Context(), raw); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := iss.JWKSFetches(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1", n)
	}
}

func TestVerify_GivenIssuerDown_ThenUnavailableNotRefused(t *testing.T) {
	t.Run("given discovery down then unavailable, and verified once it is back", func(t *testing.T) {
		iss := oidctest.New(t)
		v := newVerifier(t, iss)
		iss.SetDown(true)
		raw := iss.Mint(t, oidctest.Token{})
		_, err := v.Verify(t.Context(), raw)
		var ue *oidcauth.UnavailableError
		var ce *oidcauth.CheckError
		if !errors.As(err, &ue) || errors.As(err, &ce) {
			t.Fatalf("Verify = %v, want an *UnavailableError", err)
		}
		iss.SetDown(false)
		if _, err := v.Verify(t.Context(), raw); err != nil {
			t.Fatalf("after the issuer came back: %v", err)
		}
	})
	t.Run("given the JWKS down when a new key id comes then unavailable", func(t *testing.T) {
		iss := oidctest.New(t)
		v := newVerifier(t, iss)
		if _, err := v.Verify(t.Context(), iss.Mint(t, oidctest.Token{})); err != nil {
			t.Fatal(err)
		}
		iss.Rotate(t, oidctest.RS256)
		iss.SetDown(true)
		_, err := v.Verify(t.Context(), iss.Mint(t, oidctest.Token{}))
		var ue *oidcauth.UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("Verify = %v, want an *UnavailableError", err)
		}
	})
	t.Run("given a context that ends then unavailable", func(t *testing.T) {
		iss := oidctest.New(t)
		v := newVerifier(t, iss)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := v.Verify(ctx, iss.Mint(t, oidctest.Token{}))
		var ue *oidcauth.UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("Verify = %v, want an *UnavailableError", err)
		}
	})
}

func TestConfig_GivenBadSettings_ThenEveryProblemReported(t *testing.T) {
	_, err := oidcauth.New(oidcauth.Config{
		Issuers:    []string{"http://token.example.com", "not a url"},
		Algorithms: []string{"none", "HS256"},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"must be an https URL", "not an absolute URL", "Audience is required", `"none" is never accepted`, `"HS256" is not one of`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// tamper changes the subject of encoded claims.
func tamper(t *testing.T, part string) string {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(b), `"sub":"repo:org/api`, `"sub":"repo:org/evil`, 1)))
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func signature(tok string) string {
	if i := strings.LastIndex(tok, "."); i >= 0 {
		return tok[i+1:]
	}
	return ""
}
