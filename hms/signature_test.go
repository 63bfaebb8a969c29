package hms

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// sign is 100ms's signature as its HIPAA guide computes it in Python:
// hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest().
func sign(body, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func TestValidSignature(t *testing.T) {
	body := `{"id":"e1","type":"session.open.success"}`
	keys := [][]byte{[]byte("old-key"), []byte("new-key")}
	good := sign(body, "new-key")
	for _, tc := range []struct {
		name, sig string
		body      string
		want      bool
	}{
		{"signed with the second key of a rotation", good, body, true},
		{"signed with the first", sign(body, "old-key"), body, true},
		{"upper-case hex", strings.ToUpper(good), body, true},
		{"another key", sign(body, "other"), body, false},
		{"body changed by one byte", good, body + " ", false},
		{"missing", "", body, false},
		{"not hex", "zz" + good[2:], body, false},
		{"truncated", good[:62], body, false},
		{"the secret itself", "new-key", body, false},
	} {
		if got := ValidSignature([]byte(tc.body), tc.sig, keys); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if ValidSignature([]byte(body), good, nil) {
		t.Error("no keys: a signature was accepted")
	}
}
