package hms

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The limits 100ms puts on the webhook history (analytics list and
// replay): a start within the last 30 days, an end within 14 days of the
// start. A caller that keeps a "since" mark clamps it to these.
const (
	WebhookHistory   = 30 * 24 * time.Hour
	WebhookMaxWindow = 14 * 24 * time.Hour
)

// maxReplay is the most webhooks 100ms replays per request.
const maxReplay = 50000

// WebhookDelivery is one entry of 100ms's webhook delivery history.
type WebhookDelivery struct {
	// EventID is 100ms's id of the delivery record.
	EventID string
	// EventName is the record's own kind (for a failure,
	// reporter.webhook.delivery.failed); OriginalEventName is the event that
	// was being delivered (peer.join.success, ...).
	EventName, OriginalEventName string
	RoomID                       string
	Timestamp                    time.Time
	// ErrorReason is why delivery failed (timeout, ...); empty on success.
	ErrorReason string
	// EventData is the part of the event's data 100ms keeps (session, peer
	// and user ids), as sent.
	EventData json.RawMessage
}

type webhookDeliveryJSON struct {
	EventID        string `json:"event_id"`
	EventName      string `json:"event_name"`
	RoomID         string `json:"room_id"`
	EventTimestamp Time   `json:"event_timestamp"`
	Payload        struct {
		EventData         json.RawMessage `json:"event_data"`
		OriginalEventName string          `json:"original_event_name"`
		ErrorReason       string          `json:"error_reason"`
	} `json:"payload"`
}

// checkWebhookWindow refuses a window 100ms would refuse; zero bounds are
// left to 100ms's defaults (24 hours ago; now).
func (c *Client) checkWebhookWindow(start, end time.Time) error {
	now := c.opts.now()
	switch {
	case !start.IsZero() && start.Before(now.Add(-WebhookHistory)):
		return fmt.Errorf("%w: start %s is more than 30 days ago", ErrInvalidArgument, start.UTC().Format(time.RFC3339))
	case !start.IsZero() && !end.IsZero() && !end.After(start):
		return fmt.Errorf("%w: end %s is not after start %s", ErrInvalidArgument, end.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	case !start.IsZero() && !end.IsZero() && end.Sub(start) > WebhookMaxWindow:
		return fmt.Errorf("%w: window %s is longer than 14 days", ErrInvalidArgument, end.Sub(start))
	case start.IsZero() && !end.IsZero() && !end.After(now.Add(-24*time.Hour)):
		return fmt.Errorf("%w: end %s is before the default start (24 hours ago)", ErrInvalidArgument, end.UTC().Format(time.RFC3339))
	}
	return nil
}

// wholeSeconds rounds a window outward to the whole seconds 100ms's
// RFC 3339 bounds carry, so that it never shrinks.
func wholeSeconds(start, end time.Time) (time.Time, time.Time) {
	start = start.UTC().Truncate(time.Second)
	if e := end.UTC().Truncate(time.Second); e.Before(end) {
		end = e.Add(time.Second)
	} else {
		end = e
	}
	return start, end
}

// FailedWebhooks lists the webhook deliveries 100ms gave up on between start
// and end (GET /analytics/webhooks?status=failed, every page, at most
// 50,000: what one replay can cover). A zero start means 100ms's default, 24
// hours ago; a zero end, now. The window must start within the last 30
// days and span at most 14 (ErrInvalidArgument otherwise, before sending).
func (c *Client) FailedWebhooks(ctx context.Context, start, end time.Time) ([]WebhookDelivery, error) {
	return c.failedWebhooks(ctx, start, end, 0)
}

// FirstFailedWebhooks is FailedWebhooks cut to its first page of at most
// limit deliveries (1 to 100), and whether 100ms has more: enough to decide
// whether a replay is needed, in one request, whatever the outage left.
func (c *Client) FirstFailedWebhooks(ctx context.Context, start, end time.Time, limit int) ([]WebhookDelivery, bool, error) {
	if limit < 1 || limit > 100 {
		return nil, false, fmt.Errorf("failed webhooks: %w: limit %d is not 1 to 100", ErrInvalidArgument, limit)
	}
	out, err := c.failedWebhooks(ctx, start, end, limit)
	if errors.Is(err, errMorePages) {
		return out, true, nil
	}
	return out, false, err
}

// errMorePages stops failedWebhooks after its first page.
var errMorePages = errors.New("more pages")

// failedWebhooks reads every page, or with onePage > 0 the first page of
// that size (errMorePages when 100ms has more).
func (c *Client) failedWebhooks(ctx context.Context, start, end time.Time, onePage int) ([]WebhookDelivery, error) {
	// Checked as given and as sent: rounding may widen it past a limit.
	ws, we := wholeSeconds(start, end)
	if err := cmp.Or(c.checkWebhookWindow(start, end), c.checkWebhookWindow(ws, we)); err != nil {
		return nil, fmt.Errorf("failed webhooks: %w", err)
	}
	start, end = ws, we
	q := url.Values{"status": {"failed"}, "limit": {"100"}}
	if onePage > 0 {
		q.Set("limit", strconv.Itoa(onePage))
	}
	if !start.IsZero() {
		q.Set("start_time", start.Format(time.RFC3339))
	}
	if !end.IsZero() {
		q.Set("end_time", end.Format(time.RFC3339))
	}
	var out []WebhookDelivery
	for page := 1; ; page++ {
		q.Set("page", strconv.Itoa(page))
		var ans struct {
			Events     []webhookDeliveryJSON `json:"events"`
			Pagination struct {
				HasNext bool `json:"has_next"`
			} `json:"pagination"`
		}
		if err := c.do(ctx, http.MethodGet, "/analytics/webhooks?"+q.Encode(), nil, &ans); err != nil {
			return nil, fmt.Errorf("failed webhooks (page %d): %w", page, err)
		}
		for _, e := range ans.Events {
			out = append(out, WebhookDelivery{
				EventID: e.EventID, EventName: e.EventName, OriginalEventName: e.Payload.OriginalEventName,
				RoomID: e.RoomID, Timestamp: e.EventTimestamp.Time, ErrorReason: e.Payload.ErrorReason,
				EventData: e.Payload.EventData,
			})
		}
		if !ans.Pagination.HasNext || len(ans.Events) == 0 {
			return out, nil
		}
		if onePage > 0 {
			return out, errMorePages
		}
		if len(out) >= maxReplay {
			return nil, fmt.Errorf("failed webhooks: more than %d in the window; narrow it", maxReplay)
		}
	}
}

// Replay is 100ms's answer to a replay request.
type Replay struct {
	WorkflowID string
	// Status is "started", or "already_running" when an identical replay is
	// still going (100ms reuses it).
	Status, Message string
}

// ReplayWebhooks asks 100ms to deliver again the webhooks of a window (POST
// /analytics/webhooks/replay): each is re-sent to the configured webhook URL
// with "is_replay": true, at 10 events per second, at most 50,000 per
// request. status is "failed" (100ms's default when empty), "success" or
// "all"; roomID, when set, limits it to one room. The window follows the
// rules of FailedWebhooks. The answer comes when the replay is queued, not
// when it is done.
func (c *Client) ReplayWebhooks(ctx context.Context, start, end time.Time, roomID, status string) (Replay, error) {
	switch status {
	case "", "failed", "success", "all":
	default:
		return Replay{}, fmt.Errorf("replay webhooks: %w: status %q is not failed, success or all", ErrInvalidArgument, status)
	}
	// Checked as given and as sent: rounding may widen it past a limit.
	ws, we := wholeSeconds(start, end)
	if err := cmp.Or(c.checkWebhookWindow(start, end), c.checkWebhookWindow(ws, we)); err != nil {
		return Replay{}, fmt.Errorf("replay webhooks: %w", err)
	}
	start, end = ws, we
	in := struct {
		StartTime string `json:"start_time,omitempty"`
		EndTime   string `json:"end_time,omitempty"`
		RoomID    string `json:"room_id,omitempty"`
		Status    string `json:"status,omitempty"`
	}{RoomID: roomID, Status: status}
	if !start.IsZero() {
		in.StartTime = start.Format(time.RFC3339)
	}
	if !end.IsZero() {
		in.EndTime = end.Format(time.RFC3339)
	}
	var out struct {
		WorkflowID string `json:"workflow_id"`
		Status     string `json:"status"`
		Message    string `json:"message"`
	}
	if err := c.do(ctx, http.MethodPost, "/analytics/webhooks/replay", in, &out); err != nil {
		return Replay{}, fmt.Errorf("replay webhooks: %w", err)
	}
	return Replay{WorkflowID: out.WorkflowID, Status: out.Status, Message: out.Message}, nil
}
