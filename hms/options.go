package hms

import (
	"net/http"
	"time"
)

// ClientOption configures a Client.
type ClientOption func(*clientOptions)

type clientOptions struct {
	httpClient    *http.Client
	maxAttempts   int
	baseDelay     time.Duration
	maxDelay      time.Duration
	managementTTL time.Duration
	callTimeout   time.Duration
	maxBody       int64
	now           func() time.Time
}

func defaultClientOptions() clientOptions {
	return clientOptions{
		httpClient:    &http.Client{Timeout: 30 * time.Second},
		maxAttempts:   4,
		baseDelay:     200 * time.Millisecond,
		maxDelay:      2 * time.Second,
		managementTTL: DefaultManagementTTL,
		callTimeout:   30 * time.Second,
		maxBody:       1 << 20,
		now:           time.Now,
	}
}

// WithRetry sets how often a call is tried (maxAttempts counts the first
// try) on 5xx, 429 and network errors, and the exponential backoff between
// tries: a random wait in [0, min(max, base·2^n)].
func WithRetry(maxAttempts int, base, max time.Duration) ClientOption {
	return func(o *clientOptions) { o.maxAttempts, o.baseDelay, o.maxDelay = maxAttempts, base, max }
}

// WithManagementTTL sets the lifetime of the management tokens the Client
// mints (default DefaultManagementTTL); they are renewed a quarter of it,
// at most an hour, before they expire.
func WithManagementTTL(d time.Duration) ClientOption {
	return func(o *clientOptions) { o.managementTTL = d }
}

// withClock replaces time.Now for the management token cache; for tests.
func withClock(now func() time.Time) ClientOption {
	return func(o *clientOptions) { o.now = now }
}
