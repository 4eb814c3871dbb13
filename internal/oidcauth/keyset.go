package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxJWKSBytes bounds a key set document.
const maxJWKSBytes = 1 << 20

// keySet is one issuer's JSON Web Key Set, cached, and fetched again when a token names a
// key id it does not hold: that is how an issuer's key rotation reaches a running worker.
// It is go-oidc's KeySet; unlike go-oidc's RemoteKeySet it tells an unknown key id from a
// bad signature from an issuer that cannot be reached, and it does not fetch again for a
// signature that fails under a key it holds.
type keySet struct {
	url        string
	client     *http.Client
	algs       []jose.SignatureAlgorithm
	minRefresh time.Duration

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // when keys were fetched; zero before the first fetch
	// fetching serialises fetches: a caller that waited for another's fetch uses its keys.
	fetching sync.Mutex
}

// outcomeKey is the context key of the *sigOutcome a verification collects: go-oidc
// flattens a KeySet's error to text, and the check that failed must survive.
type outcomeKey struct{}

// sigOutcome is what VerifySignature found.
type sigOutcome struct {
	verified bool
	err      error
}

// VerifySignature implements go-oidc's KeySet.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.verify(ctx, jwt)
	if out, ok := ctx.Value(outcomeKey{}).(*sigOutcome); ok {
		out.verified, out.err = err == nil, err
	}
	return payload, err
}

func (k *keySet) verify(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSigned(jwt, k.algs)
	if err != nil {
		return nil, refuse(CheckMalformed, "the token is not a signed JWT: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, refuse(CheckMalformed, "the token has %d signatures, want 1", len(jws.Signatures))
	}
	kid := jws.Signatures[0].Header.KeyID
	candidates := k.matching(kid)
	if len(candidates) == 0 {
		if err := k.refresh(ctx); err != nil {
			return nil, err
		}
		if candidates = k.matching(kid); len(candidates) == 0 {
			return nil, refuse(CheckKeyID, "the issuer has no key %q", truncate(kid, 64))
		}
	}
	for _, key := range candidates {
		if payload, err := jws.Verify(&key); err == nil {
			return payload, nil
		}
	}
	return nil, refuse(CheckSignature, "the signature does not verify with the issuer's key %q", truncate(kid, 64))
}

// matching returns the cached keys a token with key id kid may be signed with: the key
// of that id, or every key for a token without one.
func (k *keySet) matching(kid string) []jose.JSONWebKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []jose.JSONWebKey
	for _, key := range k.keys {
		if kid == "" || key.KeyID == kid {
			out = append(out, key)
		}
	}
	return out
}

// refresh fetches the key set again, at most once per minRefresh: a caller that comes
// sooner waits for the next allowed fetch, and callers that wait behind a fetch use its
// keys instead of fetching again.
func (k *keySet) refresh(ctx context.Context) error {
	asked := time.Now()
	k.fetching.Lock()
	defer k.fetching.Unlock()
	k.mu.Lock()
	last := k.fetched
	k.mu.Unlock()
	if last.After(asked) {
		return nil // fetched while this caller waited
	}
	if wait := time.Until(last.Add(k.minRefresh)); !last.IsZero() && wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return &UnavailableError{Issuer: k.url, Err: ctx.Err()}
		}
	}
	keys, err := k.fetch(ctx)
	if err != nil {
		return &UnavailableError{Issuer: k.url, Err: err}
	}
	k.mu.Lock()
	k.keys, k.fetched = keys, time.Now()
	k.mu.Unlock()
	return nil
}

func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch keys: %s", resp.Status)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode keys: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range doc.Keys {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(raw); err != nil {
			// A key of a type go-jose does not know is skipped, as RFC 7517 asks.
			if errors.Is(err, jose.ErrUnsupportedKeyType) {
				continue
			}
			return nil, fmt.Errorf("decode key: %w", err)
		}
		if key.IsPublic() && (key.Use == "" || key.Use == "sig") {
			keys = append(keys, key)
		}
	}
	return keys, nil
}
