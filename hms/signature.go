package hms

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignatureHeader is the header in which 100ms signs every webhook of a
// HIPAA workspace (reference/100ms-current/hipaa--HIPAA-workspace.md).
const SignatureHeader = "X-100ms-Signature"

// ValidSignature reports whether signature, the value of SignatureHeader,
// is the hex HMAC-SHA256 of body under one of keys (several during a
// rotation). Every key is tried, and each comparison takes constant time,
// so the answer's timing says nothing of which key, or how much of a
// guess, matched.
func ValidSignature(body []byte, signature string, keys [][]byte) bool {
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	ok := false
	for _, k := range keys {
		mac := hmac.New(sha256.New, k)
		mac.Write(body)
		if hmac.Equal(mac.Sum(nil), got) {
			ok = true
		}
	}
	return ok
}
