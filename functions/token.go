package functions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"firebase.google.com/go/v4/auth"
	"firebase.google.com/go/v4/errorutils"
	"github.com/google/uuid"

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
	return a.callable("hmsToken", "token", a.tokenSettingsErr, a.issueToken)
}

// issueToken reads as the handler's steps, after callable has checked the
// protocol and the caller's ID token: decode → authorise (the appointment,
// read while the revocation check runs) → the room (recorded, or made by
// 100ms and recorded with the audit entry; re-enabled if hmsEndCall locked
// it) → the token. The entry names the token's jti and expiry, chosen
// before the token is minted, never the token.
func (a *app) issueToken(ctx context.Context, uid string, data json.RawMessage) (any, error) {
	var req tokenRequest
	if err := decodeData(data, &req); err != nil {
		return nil, err
	}
	appointmentID, cerr := requiredAppointmentID(ctx, req.AppointmentID)
	if cerr != nil {
		return nil, cerr
	}
	fsCtx, cancel := context.WithTimeout(ctx, firestoreTimeout)
	defer cancel()
	st, appt, role, err := a.participantOf(fsCtx, appointmentID, uid)
	if err != nil {
		return nil, err
	}
	now := a.now()
	if cerr := a.checkJoinable(appt, now); cerr != nil {
		return nil, cerr
	}
	if err := confirmSignIn(ctx); err != nil {
		return nil, err
	}
	client, err := a.hmsClient()
	if err != nil {
		return nil, fail(statusInternal, reasonMisconfigured, "The video service is not configured.", err)
	}

	p := hms.JoinParams{UserID: uid, Role: role, TTL: a.cfg.tokenTTL, Now: now, ID: uuid.NewString()}
	if !appt.EndAt.IsZero() {
		p.NotAfter = appt.EndAt.Add(a.cfg.joinLate)
	}
	expiresAt, err := hms.JoinExpiry(p)
	if err != nil {
		return nil, fail(statusInternal, reasonInternal, "The join token could not be made.", err)
	}
	ra := auditOf(ctx)
	ra.detail("role", role.String())
	ra.detail("jti", p.ID)
	ra.detail("expiresAt", expiresAt)

	room, err := a.roomOf(ctx, fsCtx, st, client, appt)
	if err != nil {
		return nil, err
	}
	ra.room(room.ID)
	if appt.RoomLocked {
		if err := a.unlockRoom(ctx, st, client, appt.ID, room.ID); err != nil {
			return nil, err
		}
	}
	annotate(ctx, slog.String("roomId", capLog(room.ID, maxLoggedID)), slog.String("role", role.String()))

	p.RoomID = room.ID
	token, _, err := hms.JoinToken(a.cfg.credentials, p)
	if err != nil {
		return nil, fail(statusInternal, reasonInternal, "The join token could not be made.", err)
	}
	return &tokenResult{
		Token:     token,
		RoomID:    room.ID,
		Role:      role.String(),
		UserID:    uid,
		ExpiresAt: expiresAt.UTC().Format(time.RFC3339),
	}, nil
}

// roomOf is the appointment's room: the one recorded, or else one 100ms
// makes, recorded together with the request's audit entry. 100ms makes one
// room per name, so racing first calls get the same one (RecordRoom
// settles any race that is left); making it grants nothing to anyone, so
// it may come before the entry. Each step has a deadline of its own: a
// slow 100ms must not leave the store no time to record the room it made.
func (a *app) roomOf(ctx, fsCtx context.Context, st *store.Store, client *hms.Client, appt store.Appointment) (store.Room, error) {
	room, recorded, err := st.RecordedRoom(fsCtx, appt)
	if err != nil || recorded {
		return room, err
	}
	hmsCtx, cancelHMS := context.WithTimeout(ctx, hmsTimeout)
	created, err := client.CreateRoom(hmsCtx, hms.CreateRoomParams{
		Name: roomName(a.cfg.projectID, appt.ID), Description: "Appointment " + appt.ID, TemplateID: a.cfg.templateID,
	})
	cancelHMS()
	if err != nil {
		return store.Room{}, fmt.Errorf("create room for appointment %s: %w", appt.ID, err)
	}
	ra := auditOf(ctx)
	entry := ra.granted()
	wctx, cancelWrite := context.WithTimeout(ctx, firestoreTimeout)
	defer cancelWrite()
	room, err = st.RecordRoom(wctx, appt, store.Room{ID: created.ID, Name: created.Name, TemplateID: created.TemplateID}, entry)
	switch {
	case errors.Is(err, store.ErrConflict):
		return store.Room{}, err
	case err != nil && entry != nil:
		return store.Room{}, auditUnavailable(err)
	case err != nil:
		return store.Room{}, err
	}
	if entry != nil {
		ra.wrote()
	}
	return room, nil
}

// unlockRoom re-enables the room hmsEndCall locked: a new token is the
// doctor's or the client's way back in. The grant is recorded before 100ms
// is asked.
func (a *app) unlockRoom(ctx context.Context, st *store.Store, client *hms.Client, appointmentID, roomID string) error {
	if err := writeGrant(ctx, st); err != nil {
		return err
	}
	hmsCtx, cancelHMS := context.WithTimeout(ctx, hmsTimeout)
	err := client.EnableRoom(hmsCtx, roomID, true)
	cancelHMS()
	if err != nil {
		return fmt.Errorf("re-enable room %s: %w", roomID, err)
	}
	wctx, cancelWrite := context.WithTimeout(ctx, firestoreTimeout)
	defer cancelWrite()
	return st.ClearRoomLock(wctx, appointmentID)
}

// requiredAppointmentID trims the request's appointmentId, refuses a
// missing or blank one, and adds it, capped, to the request's log line.
func requiredAppointmentID(ctx context.Context, id string) (string, *callError) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", fail(statusInvalidArgument, reasonNoAppointmentID, `"appointmentId" is required.`, nil)
	}
	annotate(ctx, slog.String("appointmentId", capLog(id, maxLoggedID)))
	auditOf(ctx).appointment(id)
	return id, nil
}

// notParticipant is the one answer for an appointment that does not exist
// and one the caller has no part in, so that ids cannot be probed.
func notParticipant(cause error) *callError {
	return fail(statusPermissionDenied, reasonNotParticipant, "You are not the doctor or the client of this appointment, or it does not exist.", cause)
}

// participantOf is the opening every appointment callable shares: the
// instance's store, and the appointment with the caller's role in it
// (participant), read within ctx's deadline while the revocation check runs.
func (a *app) participantOf(ctx context.Context, appointmentID, uid string) (*store.Store, store.Appointment, hms.Role, error) {
	st, err := a.firestore(ctx)
	if err != nil {
		return nil, store.Appointment{}, hms.Role{}, fail(statusUnavailable, reasonStoreUnavailable, "The appointment store is unavailable; try again.", err)
	}
	appt, role, err := participant(ctx, st, appointmentID, uid)
	if err != nil {
		return nil, store.Appointment{}, hms.Role{}, err
	}
	auditOf(ctx).role(auditRole(role))
	auditOf(ctx).room(appt.Room.ID)
	return st, appt, role, nil
}

// participant reads the appointment and the caller's role in it. Whatever
// is wrong with an appointment (it is missing, malformed, cancelled) is
// told only to its doctor or client: anyone else gets notParticipant.
func participant(ctx context.Context, st *store.Store, appointmentID, uid string) (store.Appointment, hms.Role, error) {
	appt, err := st.Appointment(ctx, appointmentID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Appointment{}, hms.Role{}, notParticipant(err)
	case errors.Is(err, store.ErrMalformedAppointment):
		// The store fills in the uids it could read: a participant named
		// in a valid field learns the record is broken, nobody else does.
		if role, ok := roleOf(appt, uid); ok {
			auditOf(ctx).role(auditRole(role))
			return store.Appointment{}, hms.Role{}, fail(statusFailedPrecondition, reasonMalformed, "This appointment's record is incomplete; contact support.", err)
		}
		return store.Appointment{}, hms.Role{}, notParticipant(err)
	case err != nil:
		return store.Appointment{}, hms.Role{}, err
	}
	role, ok := roleOf(appt, uid)
	if !ok {
		return store.Appointment{}, hms.Role{}, notParticipant(nil)
	}
	return appt, role, nil
}

// authenticate verifies the caller's Firebase ID token within its own
// deadline and returns the uid it names, and signedIn, which waits for the
// check that the token was not revoked and its user is not disabled.
// https.ts checkAuthToken takes the token from "Authorization: Bearer ..."
// (/^Bearer (.*)$/i); these callables all need a signed-in caller, so a
// missing one is refused here rather than by each handler.
//
// The signature and claims are checked here, locally (Google's keys are
// cached); the revocation check asks Auth for the user, a round trip, so it
// runs while the handler reads the appointment: one round trip instead of
// two in sequence. Nothing is answered, and nothing is written, before it
// holds (serveCallable and confirmSignIn). The Auth emulator is asked for
// the user by VerifyIDToken itself, so there the one call does both.
func (a *app) authenticate(ctx context.Context, r *http.Request) (uid string, signedIn func() *callError, cerr *callError) {
	scheme, idToken, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	idToken = strings.TrimSpace(idToken)
	if !ok || !strings.EqualFold(scheme, "Bearer") || idToken == "" {
		return "", nil, fail(statusUnauthenticated, reasonNoIDToken, "Sign in first: the request has no Firebase ID token.", nil)
	}
	client, err := a.authClient(ctx)
	if err != nil {
		return "", nil, fail(statusInternal, reasonMisconfigured, "Sign-in could not be checked: the backend's Firebase settings need attention.", err)
	}
	verifyCtx, cancel := context.WithTimeout(ctx, a.authTimeout)
	tok, err := client.VerifyIDToken(verifyCtx, idToken)
	if err != nil {
		cancel()
		return "", nil, idTokenError(err)
	}
	if a.cfg.authEmulated {
		cancel()
		return tok.UID, func() *callError { return nil }, nil
	}
	done := make(chan *callError, 1)
	go func() {
		defer cancel()
		if _, err := client.VerifyIDTokenAndCheckRevoked(verifyCtx, idToken); err != nil {
			done <- idTokenError(err)
			return
		}
		done <- nil
	}()
	var once sync.Once
	var verdict *callError
	return tok.UID, func() *callError {
		once.Do(func() { verdict = <-done })
		return verdict
	}, nil
}

type signInKey struct{}

// confirmSignIn waits until the caller's sign-in is known to hold (not
// revoked, user not disabled): a handler calls it before anything it does
// changes the world (a 100ms room, a Firestore write).
func confirmSignIn(ctx context.Context) error {
	if signedIn, ok := ctx.Value(signInKey{}).(func() *callError); ok {
		if cerr := signedIn(); cerr != nil {
			return cerr
		}
	}
	return nil
}

// authViewerRole is the role whose firebaseauth.users.get permission
// VerifyIDTokenAndCheckRevoked needs: it reads the user (GetUser) to check
// revocation and the disabled flag.
const authViewerRole = "Firebase Authentication Viewer (roles/firebaseauth.viewer)"

// idTokenError tells an ID token that is itself bad (401: sign in again)
// from a failure to check it (503: try again; 500: our permissions), by the
// Admin SDK's own error codes (firebase-admin-go auth/token_verifier.go
// verifyContent/verifyTimestamps/verifySignature, auth/auth.go
// checkRevokedOrDisabled, auth/user_mgt.go getUser).
func idTokenError(err error) *callError {
	switch {
	case auth.IsIDTokenExpired(err):
		return fail(statusUnauthenticated, reasonIDTokenExpired, "Your sign-in has expired; sign in again.", err)
	case auth.IsIDTokenRevoked(err):
		return fail(statusUnauthenticated, reasonIDTokenRevoked, "Your sign-in was revoked; sign in again.", err)
	case auth.IsUserDisabled(err):
		return fail(statusUnauthenticated, reasonUserDisabled, "This account is disabled.", err)
	case auth.IsUserNotFound(err):
		return fail(statusUnauthenticated, reasonUserNotFound, "This account no longer exists; sign in again.", err)
	case auth.IsIDTokenInvalid(err), auth.IsTenantIDMismatch(err):
		return fail(statusUnauthenticated, reasonIDTokenInvalid, "Your sign-in is invalid; sign in again.", err)
	case auth.IsInsufficientPermission(err), errorutils.IsPermissionDenied(err), errorutils.IsUnauthenticated(err):
		return fail(statusInternal, reasonAuthPermission, "Sign-in could not be checked: the function's service account lacks the "+authViewerRole+" role.", err)
	case auth.IsProjectNotFound(err), auth.IsConfigurationNotFound(err), auth.IsTenantNotFound(err):
		return fail(statusInternal, reasonMisconfigured, "Sign-in could not be checked: the backend's Firebase project settings need attention.", err)
	default:
		// Certificates not fetched, Auth unreachable, slow or failing
		// (CERTIFICATE_FETCH_FAILED, network errors, 5xx, the deadline).
		return fail(statusUnavailable, reasonAuthUnavailable, "Sign-in could not be checked right now; try again.", err)
	}
}

// roleOf decides the 100ms role from the appointment alone: whatever the
// request says, only its doctor hosts and only its client joins as guest.
func roleOf(appt store.Appointment, uid string) (hms.Role, bool) {
	switch {
	case uid == "":
		return hms.Role{}, false
	case uid == appt.DoctorID:
		return hms.RoleHost, true
	case uid == appt.ClientID:
		return hms.RoleGuest, true
	}
	return hms.Role{}, false
}

// auditRole is the caller's part in the appointment, as the trail says it.
func auditRole(r hms.Role) string {
	if r == hms.RoleHost {
		return auditRoleDoctor
	}
	return auditRoleClient
}

// checkJoinable is asked only for a participant (SPEC §3).
func (a *app) checkJoinable(appt store.Appointment, now time.Time) *callError {
	switch strings.ToLower(strings.TrimSpace(appt.Status)) {
	case "cancelled", "canceled":
		return fail(statusFailedPrecondition, reasonCancelled, "This appointment was cancelled.", nil)
	}
	if !appt.StartAt.IsZero() && now.Before(appt.StartAt.Add(-a.cfg.joinEarly)) {
		opens := appt.StartAt.Add(-a.cfg.joinEarly).UTC().Format(time.RFC3339)
		return fail(statusFailedPrecondition, reasonTooEarly, "It is too early to join this appointment; the call opens at "+opens+".", nil).
			with("opensAt", opens)
	}
	if !appt.EndAt.IsZero() && now.After(appt.EndAt.Add(a.cfg.joinLate)) {
		return fail(statusFailedPrecondition, reasonTooLate, "This appointment is over; its call can no longer be joined.", nil)
	}
	return nil
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
		// No capitals: 100ms room names are case-insensitive, so "A1" and
		// "a1" would name one room (SPEC §3); such ids are hashed.
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '.', c == '-', c == ':', c == '_':
		default:
			return false
		}
	}
	return s != ""
}
