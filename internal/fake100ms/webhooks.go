package fake100ms

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// The webhooks the fake sends on its own, after answering the REST call
// that caused them, as 100ms does: role.change.success after an
// update-a-peer, peer.leave.success for each peer remove-peers removed,
// beam.* and transcription.* around a room recording. Their
// envelope and data follow configure-webhooks--webhook.md; their retries
// follow configure-webhooks--overview.md.

// fakeAccountID and fakeAppID are the account_id and app_id of every
// event, like the customer_id of the fake's rooms.
const (
	fakeAccountID = "fake-customer"
	fakeAppID     = "fake-app"
)

// defaultRetryDelays are 100ms's waits before retrying a webhook not
// answered 200: "First at 1 second after the original attempt. Second at
// 3 seconds after the first retry attempt. Third at 10 seconds after the
// second retry attempt." (configure-webhooks--overview.md).
var defaultRetryDelays = []time.Duration{time.Second, 3 * time.Second, 10 * time.Second}

// hook is one event to send, with what the delivery history lists of it.
type hook struct {
	id, typ, roomID string
	body            []byte
	refs            map[string]any // session_id, peer_id, user_id when the data has them
}

// outgoing is a hook queued for the webhook configured when it was queued.
type outgoing struct {
	hook
	url    string
	header http.Header
}

// webhook builds one event in the page's "Event payload" envelope
// (version 2.0, id, account_id, app_id, template_id, timestamp to the
// second, type, data). Every event gets a fresh id, as 100ms's do: the
// webhook dedupes on it. s.mu held.
func (s *Server) webhook(typ, roomID string, at time.Time, data map[string]any) hook {
	h := hook{id: newUUID(), typ: typ, roomID: roomID, refs: map[string]any{}}
	env := map[string]any{"version": "2.0", "id": h.id, "account_id": fakeAccountID, "app_id": fakeAppID,
		"timestamp": at.UTC().Format(time.RFC3339), "type": typ, "data": data}
	if room := s.rooms[roomID]; room != nil && room.TemplateID != "" {
		env["template_id"] = room.TemplateID
	}
	for _, k := range []string{"session_id", "peer_id", "user_id"} {
		if v, ok := data[k]; ok {
			h.refs[k] = v
		}
	}
	h.body, _ = json.Marshal(env)
	return h
}

// send queues hooks for the webhook set by SetWebhook, in order, behind
// those queued before; with no webhook set they are dropped, as 100ms
// sends nothing without one. Call it after answering and without s.mu.
func (s *Server) send(hooks []hook) {
	if len(hooks) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webhookURL == "" || s.ctx.Err() != nil {
		return
	}
	for _, h := range hooks {
		s.outbox = append(s.outbox, outgoing{hook: h, url: s.webhookURL, header: s.webhookHeader.Clone()})
	}
	s.pendingHooks += len(hooks)
	if !s.sending {
		s.sending = true
		s.wg.Add(1)
		go s.sendQueued()
	}
}

// sendQueued delivers the queue one event at a time, so that a sink sees
// the events of one call in the order 100ms documents them, and records
// each outcome in the delivery history (GET /analytics/webhooks), where a
// failed one can be replayed.
func (s *Server) sendQueued() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if len(s.outbox) == 0 {
			s.sending = false
			s.mu.Unlock()
			return
		}
		o := s.outbox[0]
		s.outbox = s.outbox[1:]
		delays := s.retryDelays
		s.mu.Unlock()

		reason := s.deliverWithRetries(o, delays)
		s.mu.Lock()
		s.deliveries = append(s.deliveries, &delivery{eventID: o.id, eventName: o.typ, roomID: o.roomID,
			at: time.Now().UTC(), failed: reason != "", reason: reason, body: o.body, data: o.refs})
		s.pendingHooks--
		s.mu.Unlock()
	}
}

// deliverWithRetries tries once, then once after each delay; "" when the
// webhook took the event, else why the last try failed.
func (s *Server) deliverWithRetries(o outgoing, delays []time.Duration) string {
	for attempt := 0; ; attempt++ {
		reason := s.post(o.url, o.header, o.body)
		if reason == "" || attempt >= len(delays) {
			return reason
		}
		t := time.NewTimer(delays[attempt])
		select {
		case <-s.ctx.Done():
			t.Stop()
			return reason
		case <-t.C:
		}
	}
}

// post sends one webhook body; "" when the endpoint took it (2xx), else an
// error_reason for the delivery history ("timeout" as the history's
// sample says, or what else went wrong).
func (s *Server) post(url string, header http.Header, body []byte) string {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "invalid webhook url"
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "timeout"
		}
		return "connection error"
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Sprintf("status code %d", resp.StatusCode)
	}
	return ""
}

// SetWebhookRetryDelays sets the waits before each retry of a webhook the
// fake sends on its own that was not answered 2xx: 100ms's 1 s, 3 s and
// 10 s unless set; none: tried once. Replays are never retried.
func (s *Server) SetWebhookRetryDelays(delays ...time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryDelays = append([]time.Duration(nil), delays...)
}

// WaitWebhooks waits until every webhook the fake has queued on its own
// has been answered, or given up after its retries, or ctx ends: a test
// then reads its sink without sleeping. Replays have WaitReplays.
func (s *Server) WaitWebhooks(ctx context.Context) error {
	for {
		s.mu.Lock()
		n := s.pendingHooks
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fake 100ms: %d webhooks still being delivered: %w", n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// newUUID makes a random (version 4) UUID, the form of 100ms's event and
// peer ids.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// stampNano writes a time as 100ms's active-room and event data samples
// do, to the nanosecond.
func stampNano(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// sessionStarted is when a session began: its CreatedAt, else its first
// join.
func sessionStarted(sess *Session) time.Time {
	started := sess.CreatedAt
	if started.IsZero() {
		for _, p := range sess.Peers {
			if started.IsZero() || p.JoinedAt.Before(started) {
				started = p.JoinedAt
			}
		}
	}
	return started
}
