package hms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// DefaultBaseURL is 100ms's REST API.
const DefaultBaseURL = "https://api.100ms.live/v2"

// Client calls 100ms's REST API with a cached management token. Every call
// honours its context's deadline: 5xx, 429 and network errors are retried
// with jittered exponential backoff while the deadline allows (honouring
// Retry-After), a 401/403 is retried once with a freshly minted token, and
// other 4xx are returned at once. A Client is safe for concurrent use; build
// one per process and share it.
type Client struct {
	base   string
	opts   clientOptions
	tokens *managementTokens
}

// NewClient returns a Client for the API at baseURL (DefaultBaseURL when
// empty). It fails with ErrInvalidArgument for a base URL that is not
// http(s) or for options out of range, and ErrMissingCredentials for empty
// credentials.
func NewClient(baseURL string, c Credentials, opts ...ClientOption) (*Client, error) {
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("new 100ms client: %w", err)
	}
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("new 100ms client: %w: base URL must be http(s)://host[/path]", ErrInvalidArgument)
	}
	o := defaultClientOptions()
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.maxAttempts < 1 || o.baseDelay < 0 || o.maxDelay < o.baseDelay:
		return nil, fmt.Errorf("new 100ms client: %w: retry needs attempts ≥ 1 and 0 ≤ base ≤ max", ErrInvalidArgument)
	case o.managementTTL < time.Minute || o.managementTTL > 7*24*time.Hour:
		return nil, fmt.Errorf("new 100ms client: %w: management TTL must be between 1m and 168h", ErrInvalidArgument)
	}
	return &Client{
		base:   strings.TrimRight(baseURL, "/"),
		opts:   o,
		tokens: &managementTokens{creds: c, ttl: o.managementTTL, now: o.now},
	}, nil
}

// pathSegment escapes one id for a URL path and refuses the ids that would
// change the path's meaning once cleaned.
func pathSegment(what, id string) (string, error) {
	if id == "" || id == "." || id == ".." {
		return "", fmt.Errorf("%w: %s %q", ErrInvalidArgument, what, id)
	}
	return url.PathEscape(id), nil
}

// do sends one API call and decodes a 2xx JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.callTimeout)
		defer cancel()
	}
	refreshed := false
	for attempt := 0; ; {
		token, err := c.tokens.get()
		if err != nil {
			return err
		}
		wait, err := c.once(ctx, method, path, token, payload, out)
		if err == nil {
			return nil
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) && (apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden) && !refreshed {
			// Our token may have been revoked or our clock may be off: one
			// more try with a token minted now, never a loop.
			c.tokens.invalidate(token)
			refreshed = true
			continue
		}
		if !retryable(err) || ctx.Err() != nil {
			return err
		}
		attempt++
		if attempt >= c.opts.maxAttempts {
			return fmt.Errorf("%w (after %d attempts)", err, attempt)
		}
		if wait <= 0 {
			wait = backoff(attempt-1, c.opts.baseDelay, c.opts.maxDelay)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return fmt.Errorf("%w (after %d attempts; the next would pass the deadline: %w)", err, attempt, context.DeadlineExceeded)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (after %d attempts: %w)", err, attempt, ctx.Err())
		case <-timer.C:
		}
	}
}

// retryable says whether an error from once is worth another try: network
// trouble and 5xx/429, not an unreadable 2xx or a 4xx.
func retryable(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return retryableStatus(apiErr.Status)
	}
	var ne *networkError
	return errors.As(err, &ne)
}

// networkError marks a failure to get an answer at all.
type networkError struct{ err error }

func (e *networkError) Error() string { return e.err.Error() }
func (e *networkError) Unwrap() error { return e.err }

// once sends one request. On a retryable error it also returns how long
// 100ms asked us to wait (Retry-After), or 0.
func (c *Client) once(ctx context.Context, method, path, token string, payload []byte, out any) (time.Duration, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, fmt.Errorf("%w: build request: %w", ErrInvalidArgument, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.opts.httpClient.Do(req)
	if err != nil {
		// url.Error names the method and URL, which hold no token.
		return 0, fmt.Errorf("%w: %w", ErrUnavailable, &networkError{err})
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.maxBody+1))
	if err != nil {
		return 0, fmt.Errorf("%w: read answer: %w", ErrUnavailable, &networkError{err})
	}
	if int64(len(data)) > c.opts.maxBody {
		return 0, fmt.Errorf("%w: answer %d is longer than %d bytes", ErrUnavailable, resp.StatusCode, c.opts.maxBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &APIError{Status: resp.StatusCode, Message: c.errorMessage(data, token)}
		return retryAfter(resp.Header, time.Now()), apiErr
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return 0, fmt.Errorf("%w: unreadable answer %d: %s", ErrUnavailable, resp.StatusCode, describeJSONError(err))
		}
	}
	return 0, nil
}

// errorMessage extracts 100ms's explanation from an error body: its
// "message" field when JSON, else the start of the text, printable only,
// with no token or secret even if 100ms echoed one.
func (c *Client) errorMessage(data []byte, token string) string {
	var body struct {
		Message string `json:"message"`
		Error   any    `json:"error"`
	}
	msg := ""
	if json.Unmarshal(data, &body) == nil {
		msg = body.Message
		if s, ok := body.Error.(string); ok && msg == "" {
			msg = s
		}
	} else {
		msg = string(data)
	}
	for _, s := range []string{token, c.tokens.creds.Secret} {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	msg = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, msg)
	msg = strings.TrimSpace(msg)
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "") + "..."
	}
	return msg
}

// pageSize is how many items a list call asks 100ms for per page (the most
// the sessions list allows), and maxPages bounds how many pages one call
// reads, so that a list that never ends cannot hold a call forever.
const (
	pageSize = 100
	maxPages = 100
)

// cursorPage is the paginated answer of 100ms's older list endpoints
// (sessions, recording assets): the next page starts at "last".
type cursorPage[T any] struct {
	Limit int    `json:"limit"`
	Data  []T    `json:"data"`
	Last  string `json:"last"`
}

// listAll reads every page of a cursor-paginated list. Items are
// deduplicated by id because the docs do not say whether "start" is
// inclusive.
func listAll[T any](ctx context.Context, c *Client, path string, q url.Values, id func(T) string) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	start := ""
	for range maxPages {
		q.Set("limit", fmt.Sprint(pageSize))
		if start != "" {
			q.Set("start", start)
		}
		var page cursorPage[T]
		if err := c.do(ctx, http.MethodGet, path+"?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		for _, item := range page.Data {
			if k := id(item); !seen[k] {
				seen[k] = true
				all = append(all, item)
			}
		}
		limit := page.Limit
		if limit <= 0 {
			limit = pageSize
		}
		if len(page.Data) < limit || page.Last == "" || page.Last == start {
			return all, nil
		}
		start = page.Last
	}
	return nil, fmt.Errorf("list %s: more than %d pages", path, maxPages)
}
