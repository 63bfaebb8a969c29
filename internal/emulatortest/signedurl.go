package emulatortest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ServiceAccountKey makes a fresh RSA service-account key file for email in
// dir, as the IAM console downloads one (type, client_email, private_key),
// and returns its path and the key's public half, which checks the links
// it signs.
func ServiceAccountKey(dir, email string) (string, *rsa.PublicKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", nil, err
	}
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": AuthProject, "private_key_id": "emulatortest",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token",
	})
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "service-account.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", nil, err
	}
	return path, &key.PublicKey, nil
}

// SignedURL is what a V4 signed link says, once its signature checks.
type SignedURL struct {
	// Path is the link's path unescaped: /bucket/object (path style).
	Path string
	// AccessID is the signer (X-Goog-Credential's email).
	AccessID string
	// Date is X-Goog-Date; Expires is X-Goog-Expires.
	Date    time.Time
	Expires time.Duration
}

// VerifySignedURL checks a GET link signed with Cloud Storage's V4 process
// (GOOG4-RSA-SHA256) against pub, rebuilt from Google's description of it
// (cloud.google.com/storage/docs/access-control/signing-urls-manually:
// the canonical request, its SHA-256 in the string to sign, an RSA
// PKCS#1 v1.5 signature over that string's SHA-256), not from the
// client's code. The host header signed is the link's host name (without
// its port, as the Go client signs an emulator's link).
func VerifySignedURL(link string, pub *rsa.PublicKey) (SignedURL, error) {
	u, err := url.Parse(link)
	if err != nil {
		return SignedURL{}, err
	}
	q := u.Query()
	for _, k := range []string{"X-Goog-Algorithm", "X-Goog-Credential", "X-Goog-Date", "X-Goog-Expires", "X-Goog-SignedHeaders", "X-Goog-Signature"} {
		if len(q[k]) != 1 {
			return SignedURL{}, fmt.Errorf("the link has %d %s", len(q[k]), k)
		}
	}
	if q.Get("X-Goog-Algorithm") != "GOOG4-RSA-SHA256" {
		return SignedURL{}, fmt.Errorf("algorithm %q", q.Get("X-Goog-Algorithm"))
	}
	if q.Get("X-Goog-SignedHeaders") != "host" {
		return SignedURL{}, fmt.Errorf("signed headers %q; want host", q.Get("X-Goog-SignedHeaders"))
	}
	sig, err := hex.DecodeString(q.Get("X-Goog-Signature"))
	if err != nil {
		return SignedURL{}, fmt.Errorf("signature not hex: %w", err)
	}
	names := make([]string, 0, len(q))
	for k := range q {
		if k != "X-Goog-Signature" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var query []string
	for _, k := range names {
		for _, v := range q[k] {
			query = append(query, encode(k, false)+"="+encode(v, false))
		}
	}
	canonical := strings.Join([]string{
		"GET",
		encode(u.Path, true),
		strings.Join(query, "&"),
		"host:" + u.Hostname() + "\n",
		"host",
		"UNSIGNED-PAYLOAD",
	}, "\n")
	date := q.Get("X-Goog-Date")
	email, scope, ok := strings.Cut(q.Get("X-Goog-Credential"), "/")
	if !ok {
		return SignedURL{}, errors.New("credential without a scope")
	}
	hash := sha256.Sum256([]byte(canonical))
	toSign := "GOOG4-RSA-SHA256\n" + date + "\n" + scope + "\n" + hex.EncodeToString(hash[:])
	digest := sha256.Sum256([]byte(toSign))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return SignedURL{}, fmt.Errorf("signature does not verify: %w", err)
	}
	at, err := time.Parse("20060102T150405Z", date)
	if err != nil {
		return SignedURL{}, fmt.Errorf("X-Goog-Date: %w", err)
	}
	if !strings.HasPrefix(scope, at.Format("20060102")+"/") || !strings.HasSuffix(scope, "/storage/goog4_request") {
		return SignedURL{}, fmt.Errorf("credential scope %q", scope)
	}
	secs, err := strconv.Atoi(q.Get("X-Goog-Expires"))
	if err != nil {
		return SignedURL{}, fmt.Errorf("X-Goog-Expires: %w", err)
	}
	return SignedURL{Path: u.Path, AccessID: email, Date: at, Expires: time.Duration(secs) * time.Second}, nil
}

// encode percent-encodes s as RFC 3986 says (unreserved characters kept),
// keeping / when path is true.
func encode(s string, path bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		case c == '/' && path:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
