package hms

import (
	"fmt"
	"sync"
	"time"
)

// DefaultManagementTTL is the lifetime of a management token, as 100ms's own
// server SDK mints them.
const DefaultManagementTTL = 24 * time.Hour

// managementTokens caches the management token of one Client. One mutex
// guards it: minting takes microseconds, so goroutines that arrive while the
// token is being minted simply wait and then share it, and one mint serves
// any number of callers.
type managementTokens struct {
	creds Credentials
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	token   string
	renewAt time.Time
	mints   int // how many tokens were minted; read by tests
}

// renewMargin is how long before exp a token is replaced. It must exceed
// the longest call plus clock skew, so that 100ms never sees it expire
// mid-call (100ms's Node SDK renews only after expiry and eats a 401).
func renewMargin(ttl time.Duration) time.Duration {
	return min(ttl/4, time.Hour)
}

// get returns a management token valid for at least renewMargin.
func (m *managementTokens) get() (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.token != "" && now.Before(m.renewAt) {
		return m.token, nil
	}
	exp := now.Add(m.ttl)
	claims, err := newTokenClaims(m.creds.AccessKey, tokenTypeManagement, "", now, exp)
	if err != nil {
		return "", fmt.Errorf("management token: %w", err)
	}
	token, err := signHS256([]byte(m.creds.Secret), &claims)
	if err != nil {
		return "", fmt.Errorf("management token: %w", err)
	}
	m.token, m.renewAt = token, exp.Add(-renewMargin(m.ttl))
	m.mints++
	return token, nil
}

// invalidate drops the cached token if it is still the one 100ms refused,
// so that many goroutines refused at once cause one new mint, not many.
func (m *managementTokens) invalidate(refused string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.token == refused {
		m.token = ""
	}
}
