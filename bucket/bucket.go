// Package bucket is the clinic's own Cloud Storage bucket, where 100ms
// writes recordings and transcripts in a HIPAA workspace (docs/recordings.md):
// it names a file's object, signs a V4 link to it, and deletes it. It
// wraps cloud.google.com/go/storage and imports nothing of ours.
package bucket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/storage"
)

// MaxLinkTTL is the longest link Sign makes; V4 allows 7 days, the
// clinic's setting allows far less (RECORDING_LINK_TTL).
const MaxLinkTTL = 7 * 24 * time.Hour

// ErrSign is wrapped by a link that could not be signed (no signing
// identity, or IAM refused signBlob).
var ErrSign = errors.New("sign a link")

// Key is a service account's signing identity, read from a key file
// (locally and in tests). Deployed, there is none: the storage client
// signs through the IAM Credentials signBlob API as the function's own
// service account.
type Key struct {
	Email      string
	PrivateKey []byte // PEM
}

// LoadKey reads a service-account key file (GOOGLE_APPLICATION_CREDENTIALS);
// a file of another kind (a user's application-default credentials) gives
// nil and no error: the client then finds the signer itself.
func LoadKey(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the credentials file: %w", err)
	}
	var f struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("the credentials file is not JSON: %w", err)
	}
	if f.Type != "service_account" {
		return nil, nil
	}
	if f.ClientEmail == "" || f.PrivateKey == "" {
		return nil, errors.New("the service-account key file lacks client_email or private_key")
	}
	return &Key{Email: f.ClientEmail, PrivateKey: []byte(f.PrivateKey)}, nil
}

// Bucket is one bucket through one storage client.
type Bucket struct {
	name   string
	client *storage.Client
	key    *Key
}

// Open makes a client for bucket name (STORAGE_EMULATOR_HOST, when set,
// points it at an emulator, as the storage package reads it); key signs
// links when not nil.
func Open(ctx context.Context, name string, key *Key) (*Bucket, error) {
	c, err := storage.NewClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("storage client: %w", err)
	}
	return &Bucket{name: name, client: c, key: key}, nil
}

// Close releases the client.
func (b *Bucket) Close() error { return b.client.Close() }

// Name is the bucket's name.
func (b *Bucket) Name() string { return b.name }

// Object returns the object a stored location names when it is in this
// bucket (gs://NAME/OBJECT, as 100ms reports a file it wrote to a Google
// Cloud Storage bucket), and false for any other location.
func (b *Bucket) Object(location string) (string, bool) {
	return ObjectIn(b.name, location)
}

// ObjectIn is Object for a bucket named name.
func ObjectIn(name, location string) (string, bool) {
	if name == "" {
		return "", false
	}
	rest, ok := strings.CutPrefix(location, "gs://"+name+"/")
	if !ok || rest == "" {
		return "", false
	}
	return rest, true
}

// Path names an object for people and the audit trail: bucket/object,
// never a link.
func (b *Bucket) Path(object string) string { return b.name + "/" + object }

// Sign returns a V4 signed GET link (GOOG4-RSA-SHA256) to object, valid
// for ttl from now, and when it expires. With a key it signs locally;
// without, the storage client finds the function's service account and
// signs through IAM signBlob (bucket.go SignedURL, detectDefaultGoogleAccessID).
func (b *Bucket) Sign(object string, ttl time.Duration, now time.Time) (string, time.Time, error) {
	if ttl <= 0 || ttl > MaxLinkTTL {
		return "", time.Time{}, fmt.Errorf("%w: lifetime %s is not within (0, %s]", ErrSign, ttl, MaxLinkTTL)
	}
	expires := now.Add(ttl)
	opts := &storage.SignedURLOptions{Scheme: storage.SigningSchemeV4, Method: "GET", Expires: expires}
	if b.key != nil {
		opts.GoogleAccessID, opts.PrivateKey = b.key.Email, b.key.PrivateKey
	}
	u, err := b.client.Bucket(b.name).SignedURL(object, opts)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w for %s: %w", ErrSign, b.Path(object), err)
	}
	return u, expires, nil
}

// Delete deletes object; one already gone counts as deleted (another run,
// or an erasure, was first), so that deleting is safe to repeat.
func (b *Bucket) Delete(ctx context.Context, object string) error {
	err := b.client.Bucket(b.name).Object(object).Delete(ctx)
	if err == nil || errors.Is(err, storage.ErrObjectNotExist) {
		return nil
	}
	return fmt.Errorf("delete %s: %w", b.Path(object), err)
}

// ValidName reports whether name can be a Cloud Storage bucket's name:
// 3 to 63 characters (222 with dots, each part at most 63) of lowercase
// letters, digits, -, _ and ., starting and ending with a letter or digit.
func ValidName(name string) bool {
	if len(name) < 3 || len(name) > 222 || (!strings.Contains(name, ".") && len(name) > 63) {
		return false
	}
	alnum := func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return false
	}
	for _, part := range strings.Split(name, ".") {
		if part == "" || len(part) > 63 {
			return false
		}
		for i := 0; i < len(part); i++ {
			if c := part[i]; !alnum(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}
