package hms

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"time"
)

// RecordingAsset is one file of a recording (GET /recording-assets): a
// composite or track recording, a transcript, a summary, a chat log.
type RecordingAsset struct {
	ID, JobID, RoomID, SessionID string
	// Type is 100ms's asset type: room-composite, room-vod, transcript,
	// summary, chat, track, stream, ...
	Type string
	// Path is where the file is stored (the customer's bucket in a HIPAA
	// workspace).
	Path string
	// Status is completed, failed, or processing for a transcript being made.
	Status    string
	Duration  time.Duration
	Size      int64
	CreatedAt time.Time
	// Metadata is 100ms's per-type detail (output_mode of a transcript,
	// resolution of a recording), as sent.
	Metadata json.RawMessage
}

type recordingAssetJSON struct {
	ID        string          `json:"id"`
	JobID     string          `json:"job_id"`
	RoomID    string          `json:"room_id"`
	SessionID string          `json:"session_id"`
	Type      string          `json:"type"`
	Path      string          `json:"path"`
	Status    string          `json:"status"`
	Duration  float64         `json:"duration"` // seconds
	Size      int64           `json:"size"`
	CreatedAt Time            `json:"created_at"`
	Metadata  json.RawMessage `json:"metadata"`
}

func (a recordingAssetJSON) asset() RecordingAsset {
	var d time.Duration
	if a.Duration > 0 && a.Duration < float64(math.MaxInt64/int64(time.Second)) {
		d = time.Duration(a.Duration * float64(time.Second))
	}
	return RecordingAsset{
		ID: a.ID, JobID: a.JobID, RoomID: a.RoomID, SessionID: a.SessionID,
		Type: a.Type, Path: a.Path, Status: a.Status, Duration: d, Size: a.Size,
		CreatedAt: a.CreatedAt.Time, Metadata: a.Metadata,
	}
}

// ListRecordingAssets returns the recording assets of a room, and of one of
// its sessions when sessionID is not empty (GET /recording-assets, every
// page). A room id is required: without it 100ms would list the whole
// workspace.
func (c *Client) ListRecordingAssets(ctx context.Context, roomID, sessionID string) ([]RecordingAsset, error) {
	if roomID == "" {
		return nil, fmt.Errorf("list recording assets: %w: empty room id", ErrInvalidArgument)
	}
	q := url.Values{"room_id": {roomID}}
	if sessionID != "" {
		q.Set("session_id", sessionID)
	}
	list, err := listAll(ctx, c, "/recording-assets", q, func(a recordingAssetJSON) string { return a.ID })
	if err != nil {
		return nil, fmt.Errorf("list recording assets of room %s session %q: %w", roomID, sessionID, err)
	}
	out := make([]RecordingAsset, 0, len(list))
	for _, a := range list {
		if a.ID == "" {
			return nil, fmt.Errorf("list recording assets of room %s: %w: an asset has no id", roomID, ErrUnavailable)
		}
		out = append(out, a.asset())
	}
	return out, nil
}

// PresignedURL is a short-lived download link for a recording asset. URL is
// a bearer credential for the file: hand it to the user, never log it.
type PresignedURL struct {
	AssetID, Path, URL string
	// ExpiresAt is when the link stops working, counted from when it was
	// asked for so that it is never late; zero when 100ms does not say.
	ExpiresAt time.Time
}

// PresignURL asks 100ms for a fresh presigned URL of a recording asset
// (GET /recording-assets/{id}/presigned-url). validFor sets its lifetime,
// rounded up to whole seconds (presign_duration); zero leaves 100ms's
// default (3 days for S3 and GCS buckets, 9 hours for OSS).
func (c *Client) PresignURL(ctx context.Context, assetID string, validFor time.Duration) (PresignedURL, error) {
	seg, err := pathSegment("recording asset id", assetID)
	if err != nil {
		return PresignedURL{}, fmt.Errorf("presign recording asset: %w", err)
	}
	if validFor < 0 {
		return PresignedURL{}, fmt.Errorf("presign recording asset %s: %w: negative duration", assetID, ErrInvalidArgument)
	}
	path := "/recording-assets/" + seg + "/presigned-url"
	if validFor > 0 {
		secs := int64((validFor + time.Second - 1) / time.Second)
		path += "?" + url.Values{"presign_duration": {fmt.Sprint(secs)}}.Encode()
	}
	var out struct {
		ID     string  `json:"id"`
		Path   string  `json:"path"`
		URL    string  `json:"url"`
		Expiry float64 `json:"expiry"` // seconds of validity
	}
	requested := c.opts.now()
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return PresignedURL{}, fmt.Errorf("presign recording asset %s: %w", assetID, err)
	}
	if out.URL == "" {
		return PresignedURL{}, fmt.Errorf("presign recording asset %s: %w: answer has no url", assetID, ErrUnavailable)
	}
	p := PresignedURL{AssetID: out.ID, Path: out.Path, URL: out.URL}
	if p.AssetID == "" {
		p.AssetID = assetID
	}
	if out.Expiry > 0 && out.Expiry < float64(365*24*time.Hour/time.Second) {
		p.ExpiresAt = requested.Add(time.Duration(out.Expiry * float64(time.Second))).UTC()
	}
	return p, nil
}

// RecordingURL is PresignURL with 100ms's default lifetime, returning the
// URL and when it stops working.
func (c *Client) RecordingURL(ctx context.Context, assetID string) (url string, expiresAt time.Time, err error) {
	p, err := c.PresignURL(ctx, assetID, 0)
	if err != nil {
		return "", time.Time{}, err
	}
	return p.URL, p.ExpiresAt, nil
}
