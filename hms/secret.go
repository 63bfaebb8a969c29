package hms

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"
)

// WebhookSecrets are the values the webhook's secret header may carry:
// several during a rotation. 100ms does not sign webhooks, so this header
// is the only proof that a request comes from 100ms.
type WebhookSecrets struct {
	// digests rather than the secrets: comparing fixed-length SHA-256
	// digests keeps the comparison's time independent of the lengths too.
	digests [][sha256.Size]byte
}

// ParseWebhookSecrets reads a comma-separated list of secrets, trimming
// spaces and dropping empty entries; an empty list matches nothing.
func ParseWebhookSecrets(commaSeparated string) WebhookSecrets {
	var s WebhookSecrets
	for part := range strings.SplitSeq(commaSeparated, ",") {
		if part = strings.TrimSpace(part); part != "" {
			s.digests = append(s.digests, sha256.Sum256([]byte(part)))
		}
	}
	return s
}

// Len is how many secrets are configured.
func (s WebhookSecrets) Len() int { return len(s.digests) }

// Match reports whether got equals one of the secrets. It compares against
// every secret in constant time, with no early exit, so the answer's timing
// reveals neither which secret matched nor how much of one did; an empty
// got never matches.
func (s WebhookSecrets) Match(got string) bool {
	g := sha256.Sum256([]byte(got))
	match := 0
	for i := range s.digests {
		match |= subtle.ConstantTimeCompare(g[:], s.digests[i][:])
	}
	return match == 1 && got != ""
}

// String never shows the secrets, only how many there are.
func (s WebhookSecrets) String() string {
	return "hms.WebhookSecrets{" + strings.Repeat("<redacted>,", len(s.digests)) + "}"
}

// Format makes every fmt verb, %#v included, print String.
func (s WebhookSecrets) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, s.String()) }
