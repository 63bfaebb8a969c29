package hms

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// RecordingURL returns a fresh presigned download URL for a recording asset
// and when it stops working (zero when 100ms does not say). The URL is a
// bearer credential for the file: hand it to the user, never log it.
func (c *Client) RecordingURL(ctx context.Context, assetID string) (url string, expiresAt time.Time, err error) {
	seg, err := pathSegment("recording asset id", assetID)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("recording url: %w", err)
	}
	var out struct {
		URL    string  `json:"url"`
		Expiry float64 `json:"expiry"` // seconds of validity
	}
	requested := c.opts.now()
	if err := c.do(ctx, http.MethodGet, "/recording-assets/"+seg+"/presigned-url", nil, &out); err != nil {
		return "", time.Time{}, fmt.Errorf("recording url %s: %w", assetID, err)
	}
	if out.URL == "" {
		return "", time.Time{}, fmt.Errorf("recording url %s: %w: answer has no url", assetID, ErrUnavailable)
	}
	if out.Expiry > 0 && out.Expiry < float64(365*24*time.Hour/time.Second) {
		// Counted from the request, not the answer, so it is never late.
		expiresAt = requested.Add(time.Duration(out.Expiry * float64(time.Second))).UTC()
	}
	return out.URL, expiresAt, nil
}
