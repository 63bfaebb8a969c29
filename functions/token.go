package functions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"firebase.google.com/go/v4/auth"
	"firebase.google.com/go/v4/errorutils"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// tokenRequest is the callable's "data".
type tokenRequest struct {
	AppointmentID string `json:"appointmentId"`
}

// tokenResult is the callable's "result".
type tokenResult struct {
	Token     string `json:"token"`
	RoomID    string `json:"roomId"`
	Role      string `json:"role"`
	UserID    string `json:"userId"`
	ExpiresAt string `json:"expiresAt"`
}

// firestoreTimeout bounds every Firestore step of a request, so that a
// Firestore that does not answer becomes a retryable 503, not a hang.
const firestoreTimeout = 8 * time.Second

func (a *app) tokenHandler() http.HandlerFunc {
	return withRequestLog(a.logger, "hmsToken", a.projectID, func(w http.ResponseWriter, r *http.Request) {
		corsHeaders(w, r)
		if r.Method == http.MethodOptions {
			answerPreflight(w)
			return
		}
		result, err := a.issueToken(r.Context(), w, r)
		if err != nil {
			noteError(r.Context(), err)
			writeCallError(w, err)
			return
		}
		writeResult(w, result)
	})
}

// issueToken reads as the handler's steps: decode → authenticate →
// authorise → act.
func (a *app) issueToken(ctx context.Context, w http.ResponseWriter, r *http.Request) (*tokenResult, *callError) {
	if err := a.tokenSettingsErr; err != nil {
		return nil, fail(statusInternal, "The video service is not configured: "+err.Error()+".", err)
	}
	var req tokenRequest
	if err := decodeCallable(w, r, &req); err != nil {
		return nil, err
	}
	req.AppointmentID = strings.TrimSpace(req.AppointmentID)
	if req.AppointmentID == "" {
		return nil, fail(statusInvalidArgument, `"appointmentId" is required.`, nil)
	}
	annotate(ctx, slog.String("appointmentId", req.AppointmentID))

	uid, cerr := a.authenticate(ctx, r)
	if cerr != nil {
		return nil, cerr
	}
	annotate(ctx, slog.String("uid", uid))

	st, err := a.firestore(ctx)
	if err != nil {
		return nil, fail(statusUnavailable, "The appointment store is unavailable; try again.", err)
	}
	fsCtx, cancel := context.WithTimeout(ctx, firestoreTimeout)
	defer cancel()
	appt, err := st.Appointment(fsCtx, req.AppointmentID)
	if err != nil {
		return nil, storeError(err)
	}

	role, cerr := roleOf(appt, uid)
	if cerr != nil {
		return nil, cerr
	}
	now := a.now()
	if cerr := a.checkJoinable(appt, now); cerr != nil {
		return nil, cerr
	}

	room, cerr := a.ensureRoom(fsCtx, st, appt)
	if cerr != nil {
		return nil, cerr
	}
	annotate(ctx, slog.String("roomId", room.ID), slog.String("role", role.String()))

	p := hms.JoinParams{RoomID: room.ID, UserID: uid, Role: role, TTL: a.cfg.tokenTTL, Now: now}
	if !appt.EndAt.IsZero() {
		p.NotAfter = appt.EndAt.Add(a.cfg.joinLate)
	}
	token, expiresAt, err := hms.JoinToken(a.cfg.credentials, p)
	if err != nil {
		return nil, fail(statusInternal, "The join token could not be made.", err)
	}
	return &tokenResult{
		Token:     token,
		RoomID:    room.ID,
		Role:      role.String(),
		UserID:    uid,
		ExpiresAt: expiresAt.UTC().Format(time.RFC3339),
	}, nil
}

// authenticate verifies the caller's Firebase ID token, including that it
// was not revoked and its user is not disabled.
func (a *app) authenticate(ctx context.Context, r *http.Request) (string, *callError) {
	scheme, idToken, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(idToken) == "" {
		return "", fail(statusUnauthenticated, "Sign in first: the request has no Firebase ID token.", nil)
	}
	client, err := a.authClient(ctx)
	if err != nil {
		return "", fail(statusInternal, "Sign-in could not be checked.", err)
	}
	tok, err := client.VerifyIDTokenAndCheckRevoked(ctx, strings.TrimSpace(idToken))
	if err != nil {
		// Only a failure to reach Google is worth a retry; anything else
		// about the token means the caller must sign in again.
		if auth.IsCertificateFetchFailed(err) || errorutils.IsUnavailable(err) ||
			errorutils.IsDeadlineExceeded(err) || errorutils.IsInternal(err) || errors.Is(err, context.DeadlineExceeded) {
			return "", fail(statusUnavailable, "Sign-in could not be checked right now; try again.", err)
		}
		return "", fail(statusUnauthenticated, "Your sign-in is invalid or has expired; sign in again.", err)
	}
	return tok.UID, nil
}

// roleOf decides the 100ms role from the appointment alone: whatever the
// request says, only its doctor hosts and only its client joins as guest.
func roleOf(appt store.Appointment, uid string) (hms.Role, *callError) {
	switch uid {
	case appt.DoctorID:
		return hms.RoleHost, nil
	case appt.ClientID:
		return hms.RoleGuest, nil
	}
	return hms.Role{}, fail(statusPermissionDenied, "You are not the doctor or the client of this appointment.", nil)
}

func (a *app) checkJoinable(appt store.Appointment, now time.Time) *callError {
	switch strings.ToLower(strings.TrimSpace(appt.Status)) {
	case "cancelled", "canceled":
		return fail(statusFailedPrecondition, "This appointment was cancelled.", nil)
	}
	if !appt.StartAt.IsZero() && now.Before(appt.StartAt.Add(-a.cfg.joinEarly)) {
		opens := appt.StartAt.Add(-a.cfg.joinEarly).UTC().Format(time.RFC3339)
		return fail(statusFailedPrecondition, "It is too early to join this appointment; the call opens at "+opens+".", nil)
	}
	if !appt.EndAt.IsZero() && now.After(appt.EndAt.Add(a.cfg.joinLate)) {
		return fail(statusFailedPrecondition, "This appointment is over; its call can no longer be joined.", nil)
	}
	return nil
}

func (a *app) ensureRoom(ctx context.Context, st *store.Store, appt store.Appointment) (store.Room, *callError) {
	client, err := a.hmsClient()
	if err != nil {
		return store.Room{}, fail(statusInternal, "The video service is not configured.", err)
	}
	name := roomName(a.cfg.projectID, appt.ID)
	room, err := st.EnsureRoom(ctx, appt, func(ctx context.Context) (store.Room, error) {
		r, err := client.CreateRoom(ctx, hms.CreateRoomParams{
			Name:        name,
			Description: "Appointment " + appt.ID,
			TemplateID:  a.cfg.templateID,
		})
		if err != nil {
			return store.Room{}, err
		}
		return store.Room{ID: r.ID, Name: r.Name, TemplateID: r.TemplateID}, nil
	})
	switch {
	case err == nil:
		return room, nil
	case errors.Is(err, hms.ErrUnavailable):
		return store.Room{}, fail(statusUnavailable, "The video service is unavailable; try again in a moment.", err)
	case errors.Is(err, hms.ErrRefused):
		return store.Room{}, fail(statusInternal, "The video service refused to create the room; the backend's 100ms settings need attention.", err)
	case errors.Is(err, store.ErrRoomTaken):
		return store.Room{}, fail(statusInternal, "The video service returned a room that belongs to another appointment; contact support.", err)
	default:
		return store.Room{}, storeError(err)
	}
}

// storeError maps a Firestore failure to the callable status the app
// should act on.
func storeError(err error) *callError {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fail(statusNotFound, "No such appointment.", err)
	case errors.Is(err, store.ErrMalformedAppointment):
		return fail(statusFailedPrecondition, "This appointment's record is incomplete; contact support.", err)
	case isUnavailable(err):
		return fail(statusUnavailable, "The appointment store is unavailable; try again.", err)
	default:
		return fail(statusInternal, "The appointment could not be read.", err)
	}
}

// isUnavailable tells a failure worth retrying later (Firestore or the
// network down or slow) from one that will not go away by itself.
func isUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, hms.ErrUnavailable) {
		return true
	}
	switch grpcstatus.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.ResourceExhausted:
		return true
	}
	return false
}

// roomName is the 100ms room name of an appointment. It is deterministic,
// so that 100ms's create-by-name returns the same room to racing callers;
// ids with characters 100ms refuses in names are hashed.
func roomName(projectID, appointmentID string) string {
	if len(appointmentID) <= 64 && validRoomNameChars(appointmentID) {
		return projectID + "-" + appointmentID
	}
	sum := sha256.Sum256([]byte(appointmentID))
	return projectID + "-h-" + hex.EncodeToString(sum[:])[:32]
}

func validRoomNameChars(s string) bool {
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == ':', c == '_':
		default:
			return false
		}
	}
	return s != ""
}
