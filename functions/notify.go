package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/telemed/videocalls/store"
)

// Push notifications (docs/notifications.md; SPEC §19). The store claims
// each in the commit of the event that makes it due (store/notify.go);
// the webhook sends what its delivery claimed, through FCM's v1 API with
// the Admin SDK, and records the outcome with the system's notify entry.

// maxDevices bounds the devices one recipient is sent to: a person has a
// phone or two; FCM's SendEach takes at most 500 messages.
const maxDevices = 20

// The texts of each kind, fixed: no name, no email, no uid of anyone.
// The app shows them as they are, or builds its own from data.kind.
var notificationText = map[string]struct{ title, body string }{
	store.NotifyWaiting: {"A patient is waiting", "Someone is in the waiting room of your video visit."},
	store.NotifyReady:   {"Your doctor is ready", "Open the app to join your video visit."},
}

// message is what FCM is asked to deliver to one device: the fixed texts,
// and data of the kind and the appointment's id only.
func message(n store.Notification, token string) *messaging.Message {
	text := notificationText[n.Kind]
	return &messaging.Message{
		Token:        token,
		Notification: &messaging.Notification{Title: text.title, Body: text.body},
		Data:         map[string]string{"kind": n.Kind, "appointmentId": n.AppointmentID},
		// Both are time-sensitive: delivered now, or not worth much.
		Android: &messaging.AndroidConfig{Priority: "high"},
		APNS:    &messaging.APNSConfig{Headers: map[string]string{"apns-priority": "10"}},
	}
}

// messagingClient is the instance's FCM client: the Admin SDK's, on FCM
// itself with the function's credentials, or with the emulators at
// FCM_API_BASE (a fake FCM), without credentials. The client takes its
// endpoint from option.WithEndpoint (firebase-admin-go messaging.NewClient).
func (a *app) messagingClient(ctx context.Context) (*messaging.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fcm != nil {
		return a.fcm, nil
	}
	var fb *firebase.App
	var err error
	if a.cfg.fcmBase != "" {
		fb, err = firebase.NewApp(ctx, &firebase.Config{ProjectID: a.cfg.projectID},
			option.WithEndpoint(a.cfg.fcmBase), option.WithoutAuthentication())
	} else {
		fb, err = a.firebaseApp(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("firebase app for messaging: %w", err)
	}
	c, err := fb.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("messaging client: %w", err)
	}
	a.fcm = c
	return c, nil
}

// sendNotifications sends what this delivery claimed, each to every
// device of its recipient, before the answer (Cloud Functions may freeze
// the CPU once it is sent), within notifyTimeout; it never fails the
// delivery, since the event is stored and a retry would claim nothing.
func (a *app) sendNotifications(ctx context.Context, st *store.Store, requestID string, due []store.Notification, rl *requestLog) {
	if len(due) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	for _, n := range due {
		o, err := a.send(ctx, st, n)
		switch {
		case errors.Is(err, errStaleKept):
			// Its code only: a Firestore error may quote the document's
			// path, which is the token.
			rl.annotate(slog.String("notifyCleanupError", grpcstatus.Code(errors.Unwrap(err)).String()))
			rl.noteWarning()
			err = nil
		case err != nil:
			o.Error = firstNonEmpty(o.Error, "UNSENT")
			rl.annotate(slog.String("notifyError", capLog(err.Error(), maxLoggedError)))
			rl.noteWarning()
		}
		// A recipient without a device is told nothing: the outcome is kept
		// on the call, but the trail records sends (and failed attempts).
		var entry *store.Audit
		if o.Devices > 0 || err != nil {
			entry = &store.Audit{Action: store.ActionNotify, Outcome: store.AuditGranted, UID: store.SystemUID, Role: store.SystemUID,
				AppointmentID: n.AppointmentID, RequestID: requestID,
				Details: map[string]any{"kind": n.Kind, "to": n.To, "toRole": n.ToRole, "sessionId": n.SessionID,
					"devices": o.Devices, "sent": o.Sent}}
			if o.Error != "" {
				entry.Details["error"] = o.Error
			}
		}
		wctx, cancelWrite := writeDeadline(ctx)
		err = st.RecordNotification(wctx, n, o, entry)
		cancelWrite()
		if err != nil {
			rl.annotate(slog.String("notifyRecordError", capLog(err.Error(), maxLoggedError)))
			rl.noteSevere()
		}
		rl.annotate(slog.Group("notify", slog.String("kind", n.Kind), slog.Int("devices", o.Devices), slog.Int("sent", o.Sent),
			slog.Int("stale", o.Stale)))
	}
}

// send delivers n to its recipient's devices and deletes the tokens FCM
// says are gone (UNREGISTERED, or NOT_FOUND). No device is an outcome,
// not an error.
func (a *app) send(ctx context.Context, st *store.Store, n store.Notification) (store.NotifyOutcome, error) {
	var o store.NotifyOutcome
	tokens, err := st.DeviceTokens(ctx, n.To, maxDevices)
	if err != nil {
		return o, err
	}
	if o.Devices = len(tokens); len(tokens) == 0 {
		o.Error = store.NoDevices
		return o, nil
	}
	client, err := a.messagingClient(ctx)
	if err != nil {
		return o, err
	}
	msgs := make([]*messaging.Message, len(tokens))
	for i, t := range tokens {
		msgs[i] = message(n, t)
	}
	resp, err := client.SendEach(ctx, msgs)
	if err != nil {
		return o, fmt.Errorf("send %s: %w", n.Kind, err)
	}
	var stale []string
	for i, r := range resp.Responses {
		switch {
		case r.Success:
			o.Sent++
		case messaging.IsUnregistered(r.Error) || errorutils.IsNotFound(r.Error):
			stale = append(stale, tokens[i])
			o.Error = firstNonEmpty(o.Error, "UNREGISTERED")
		default:
			o.Error = firstNonEmpty(o.Error, fcmErrorCode(r.Error))
		}
	}
	o.Stale = len(stale)
	if o.Sent > 0 {
		o.Error = ""
	}
	wctx, cancel := writeDeadline(ctx)
	defer cancel()
	if err := st.DeleteDeviceTokens(wctx, n.To, stale); err != nil {
		return o, staleKept{err}
	}
	return o, nil
}

// errStaleKept: the send's outcome stands, but the tokens FCM said are
// gone could not be deleted (the next send finds them gone again).
var errStaleKept = errors.New("stale devices not deleted")

// staleKept is errStaleKept with the store's error as its cause.
type staleKept struct{ cause error }

func (e staleKept) Error() string        { return errStaleKept.Error() }
func (e staleKept) Is(target error) bool { return target == errStaleKept }
func (e staleKept) Unwrap() error        { return e.cause }

// fcmErrorCode names FCM's error (its v1 ErrorCode), as the Admin SDK
// classifies it; never the message, which may quote the token.
func fcmErrorCode(err error) string {
	for _, c := range []struct {
		is   func(error) bool
		code string
	}{
		{messaging.IsInvalidArgument, "INVALID_ARGUMENT"},
		{messaging.IsQuotaExceeded, "QUOTA_EXCEEDED"},
		{messaging.IsSenderIDMismatch, "SENDER_ID_MISMATCH"},
		{messaging.IsThirdPartyAuthError, "THIRD_PARTY_AUTH_ERROR"},
		{messaging.IsUnavailable, "UNAVAILABLE"},
		{messaging.IsInternal, "INTERNAL"},
		{errorutils.IsPermissionDenied, "PERMISSION_DENIED"},
		{errorutils.IsUnauthenticated, "UNAUTHENTICATED"},
	} {
		if c.is(err) {
			return c.code
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "TIMEOUT"
	}
	return "UNKNOWN"
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
