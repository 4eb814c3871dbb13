// Package oidctest is an OpenID Connect issuer for tests: an httptest server on 127.0.0.1
// that serves discovery (/.well-known/openid-configuration) and a JWKS, and mints ID
// tokens with chosen claims, key id, algorithm and times. Its keys can be rotated, the
// JWKS fetches are counted, and it can be taken down, so that tests can check what a
// verifier does with each.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Algorithms the issuer signs with.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// key is one signing key.
type key struct {
	kid  string
	alg  string
	priv crypto.Signer
}

// Issuer is a running test issuer.
type Issuer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    map[string]key // served, by algorithm
	serial  int
	fetches atomic.Int64
	down    atomic.Bool
}

// New starts an issuer on 127.0.0.1 with one RS256 and one ES256 key; it stops when the
// test ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	iss := &Issuer{keys: map[string]key{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", iss.discovery)
	mux.HandleFunc("/jwks", iss.jwks)
	iss.srv = httptest.NewUnstartedServer(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	iss.srv.Listener = ln
	iss.srv.Start()
	t.Cleanup(iss.srv.Close)
	iss.Rotate(t, RS256)
	iss.Rotate(t, ES256)
	return iss
}

// URL is the issuer identifier, the "iss" of its tokens.
func (i *Issuer) URL() string { return i.srv.URL }

// JWKSFetches is how often the JWKS was fetched successfully.
func (i *Issuer) JWKSFetches() int { return int(i.fetches.Load()) }

// SetDown makes discovery and the JWKS answer 503 (down) or serve again.
func (i *Issuer) SetDown(down bool) { i.down.Store(down) }

// KeyID returns the key id of the current key for alg.
func (i *Issuer) KeyID(alg string) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[alg].kid
}

// Rotate replaces the key for alg (RS256 or ES256) with a new one under a new key id,
// which it returns; the JWKS stops serving the old key at once.
func (i *Issuer) Rotate(t testing.TB, alg string) string {
	t.Helper()
	k := newKey(t, alg)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.serial++
	k.kid = fmt.Sprintf("%s-%d", strings.ToLower(alg), i.serial)
	i.keys[alg] = k
	return k.kid
}

// Token is what Mint puts in a token. Zero fields take defaults.
type Token struct {
	// Issuer is "iss"; default the issuer's URL.
	Issuer string
	// Subject is "sub"; default "repo:org/api:ref:refs/heads/main".
	Subject string
	// Audience is "aud"; default "buildledger".
	Audience string
	// Alg is RS256 (the default) or ES256.
	Alg string
	// KeyID is the "kid" header; default the current key's. With Unserved, the key id of
	// a key the JWKS does not serve.
	KeyID string
	// Unserved signs with a fresh key the JWKS never served.
	Unserved bool
	// IssuedAt, NotBefore and Expiry are "iat", "nbf" and "exp"; defaults: a minute ago,
	// none, in five minutes. NoExpiry leaves "exp" out.
	IssuedAt, NotBefore, Expiry time.Time
	// NoExpiry leaves "exp" out.
	NoExpiry bool
	// Claims are more claims, e.g. "repository"; they override the ones above.
	Claims map[string]any
}

// GitHubClaims are the claims of a GitHub Actions token that a verifier records.
func GitHubClaims() map[string]any {
	return map[string]any{
		"repository": "org/api", "ref": "refs/heads/main", "workflow": "deploy",
		"run_id": "4242", "actor": "octocat",
	}
}

// Mint returns a signed compact ID token.
func (i *Issuer) Mint(t testing.TB, tok Token) string {
	t.Helper()
	if tok.Alg == "" {
		tok.Alg = RS256
	}
	i.mu.Lock()
	k, ok := i.keys[tok.Alg]
	i.mu.Unlock()
	if !ok {
		t.Fatalf("oidctest: no %s key", tok.Alg)
	}
	if tok.Unserved {
		k = newKey(t, tok.Alg)
		k.kid = "unserved"
	}
	if tok.KeyID != "" {
		k.kid = tok.KeyID
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(i.payload(t, tok))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Unsigned returns a token with the header {"alg":"none"} and no signature, carrying
// the claims Mint would sign.
func (i *Issuer) Unsigned(t testing.TB, tok Token) string {
	t.Helper()
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(i.payload(t, tok)) + "."
}

func (i *Issuer) payload(t testing.TB, tok Token) []byte {
	now := time.Now()
	claims := map[string]any{
		"iss": or(tok.Issuer, i.URL()),
		"sub": or(tok.Subject, "repo:org/api:ref:refs/heads/main"),
		"aud": or(tok.Audience, "buildledger"),
		"iat": orTime(tok.IssuedAt, now.Add(-time.Minute)).Unix(),
	}
	if !tok.NoExpiry {
		claims["exp"] = orTime(tok.Expiry, now.Add(5*time.Minute)).Unix()
	}
	if !tok.NotBefore.IsZero() {
		claims["nbf"] = tok.NotBefore.Unix()
	}
	for k, v := range tok.Claims {
		claims[k] = v
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (i *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	if i.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                i.URL(),
		"jwks_uri":                              i.URL() + "/jwks",
		"authorization_endpoint":                i.URL() + "/authorize",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{RS256, ES256},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	if i.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	i.mu.Lock()
	var set jose.JSONWebKeySet
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"})
	}
	i.mu.Unlock()
	i.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

func newKey(t testing.TB, alg string) key {
	t.Helper()
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("oidctest: algorithm %q: want RS256 or ES256", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key{alg: alg, priv: priv}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}
