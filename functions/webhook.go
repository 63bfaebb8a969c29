package functions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

const (
	// maxWebhookBody keeps the raw event, stored as is, well inside
	// Firestore's 1 MiB document limit.
	maxWebhookBody = 512 << 10
	// webhookStoreTimeout leaves time to answer 503 before 100ms gives up
	// on the delivery, so that it retries.
	webhookStoreTimeout = 8 * time.Second
	// reconcileTimeout bounds the call to 100ms after a session closes; it
	// must never hold the webhook's answer for long.
	reconcileTimeout = 3 * time.Second
)

type webhookAnswer struct {
	Status  string `json:"status"`
	EventID string `json:"eventId,omitempty"`
	Error   string `json:"error,omitempty"`
}

func (a *app) webhookHandler() http.HandlerFunc {
	return withRequestLog(a.logger, "hmssWebhook", a.projectID, func(w http.ResponseWriter, r *http.Request) {
		code, answer := a.receiveEvent(r.Context(), w, r)
		writeJSON(w, code, answer)
	})
}

// receiveEvent checks, in this order and before anything is parsed or
// stored: method, secret header, size; then it parses and stores the event
// in one atomic write, and only then answers 200.
func (a *app) receiveEvent(ctx context.Context, w http.ResponseWriter, r *http.Request) (int, webhookAnswer) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return http.StatusMethodNotAllowed, webhookAnswer{Status: "refused", Error: "method must be POST"}
	}
	if err := a.webhookSettingsErr; err != nil {
		noteError(ctx, err)
		return http.StatusInternalServerError, webhookAnswer{Status: "misconfigured", Error: err.Error()}
	}
	if !a.cfg.webhookSecrets.Match(r.Header.Get(a.cfg.webhookHeader)) {
		return http.StatusUnauthorized, webhookAnswer{Status: "refused", Error: "missing or wrong " + a.cfg.webhookHeader + " header"}
	}
	if r.ContentLength > maxWebhookBody {
		return http.StatusRequestEntityTooLarge, webhookAnswer{Status: "refused", Error: fmt.Sprintf("body is larger than %d bytes", maxWebhookBody)}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return http.StatusRequestEntityTooLarge, webhookAnswer{Status: "refused", Error: fmt.Sprintf("body is larger than %d bytes", maxWebhookBody)}
		}
		noteError(ctx, err)
		return http.StatusBadRequest, webhookAnswer{Status: "refused", Error: "body could not be read"}
	}

	ev, err := hms.ParseEvent(raw)
	if err != nil {
		noteError(ctx, err)
		return http.StatusBadRequest, webhookAnswer{Status: "refused", Error: err.Error()}
	}
	annotate(ctx, slog.String("eventId", ev.ID), slog.String("eventType", string(ev.Type)),
		slog.String("roomId", ev.RoomID), slog.String("sessionId", ev.SessionID))
	if len(ev.DataProblems) > 0 {
		annotate(ctx, slog.Any("dataProblems", ev.DataProblems))
	}

	st, err := a.firestore(ctx)
	if err != nil {
		noteError(ctx, err)
		return http.StatusServiceUnavailable, webhookAnswer{Status: "retry", EventID: ev.ID, Error: "storage unavailable"}
	}
	storeCtx, cancel := context.WithTimeout(ctx, webhookStoreTimeout)
	res, err := st.ApplyEvent(storeCtx, ev, raw)
	cancel()
	if errors.Is(err, store.ErrUnstorableEvent) {
		// 400 at once: a 503 would have 100ms retry in vain.
		noteError(ctx, err)
		return http.StatusBadRequest, webhookAnswer{Status: "refused", EventID: ev.ID, Error: err.Error()}
	}
	if err != nil {
		// Whatever else went wrong, the event is not stored: 503 makes 100ms
		// deliver it again, and the write is idempotent.
		noteError(ctx, err)
		return http.StatusServiceUnavailable, webhookAnswer{Status: "retry", EventID: ev.ID, Error: "storage unavailable"}
	}
	if res.AppointmentID != "" {
		annotate(ctx, slog.String("appointmentId", res.AppointmentID))
	}
	// Reconcile on a redelivered close too: a close whose first delivery
	// timed out may still have been committed, and then its retry is a
	// duplicate; reconciliation never overwrites, so running it twice is safe.
	if ev.Type == hms.SessionCloseSuccess && res.AppointmentID != "" && ev.SessionID != "" {
		a.reconcile(ctx, st, res.AppointmentID, ev.SessionID)
	}
	if res.Duplicate {
		annotate(ctx, slog.Bool("duplicate", true))
		return http.StatusOK, webhookAnswer{Status: "duplicate", EventID: ev.ID}
	}
	return http.StatusOK, webhookAnswer{Status: "stored", EventID: ev.ID}
}

// reconcile fills in attendance that lost peer events left out, from 100ms's
// own record of the session. It runs after the event is durably stored and
// never fails the webhook: a miss here only leaves what events recorded.
func (a *app) reconcile(ctx context.Context, st *store.Store, appointmentID, sessionID string) {
	ctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
	defer cancel()
	err := func() error {
		client, err := a.hmsClient()
		if err != nil {
			return err
		}
		sess, err := client.GetSession(ctx, sessionID)
		if err != nil {
			return fmt.Errorf("get session %s: %w", sessionID, err)
		}
		peers := make([]store.PeerRecord, 0, len(sess.Peers))
		for _, p := range sess.Peers {
			peers = append(peers, store.PeerRecord{
				PeerID: p.ID, UserID: p.UserID, UserName: p.Name, Role: p.Role,
				JoinedAt: p.JoinedAt, LeftAt: p.LeftAt,
			})
		}
		return st.ReconcileSession(ctx, appointmentID, sessionID, peers)
	}()
	if err != nil {
		annotate(ctx, slog.String("reconcile", "failed"), slog.String("reconcileError", err.Error()))
		return
	}
	annotate(ctx, slog.String("reconcile", "done"))
}
