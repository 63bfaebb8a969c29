package hms

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Credentials are the 100ms app access key and app secret. However they are
// printed (fmt with any verb, slog, JSON), the secret is never shown.
type Credentials struct {
	AccessKey string
	Secret    string
}

// redacted is what every printed form of Credentials looks like.
func (c Credentials) redacted() string {
	secret := "<empty>"
	if c.Secret != "" {
		secret = "<redacted>"
	}
	return fmt.Sprintf("hms.Credentials{AccessKey:%q, Secret:%s}", c.AccessKey, secret)
}

// String shows the access key and hides the secret.
func (c Credentials) String() string { return c.redacted() }

// GoString hides the secret from %#v.
func (c Credentials) GoString() string { return c.redacted() }

// Format hides the secret whatever the verb: without it, %d or %x would
// print the fields themselves.
func (c Credentials) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.redacted())) }

// LogValue hides the secret from log/slog.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key", c.AccessKey), slog.String("secret", "<redacted>"))
}

// MarshalJSON hides the secret from encoding/json.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AccessKey string `json:"access_key"`
		Secret    string `json:"secret"`
	}{c.AccessKey, "<redacted>"})
}

func (c Credentials) check() error {
	if c.AccessKey == "" || c.Secret == "" {
		return ErrMissingCredentials
	}
	return nil
}
