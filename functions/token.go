package functions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// tokenRequest is the callable's "data".
type tokenRequest struct {
	AppointmentID string `json:"appointmentId"`
}

func (r *tokenRequest) appointment() string       { return r.AppointmentID }
func (r *tokenRequest) check(*request) *callError { return nil }

// tokenResult is the callable's "result".
type tokenResult struct {
	Token     string `json:"token"`
	RoomID    string `json:"roomId"`
	Role      string `json:"role"`
	UserID    string `json:"userId"`
	ExpiresAt string `json:"expiresAt"`
}

// errJoinToken is the answer when the token cannot be minted: the
// settings passed their check at start, so this is ours to fix.
func errJoinToken(err error) *callError {
	return fail(statusInternal, reasonInternal, "The join token could not be made.", err)
}

func (a *app) tokenHandler() http.HandlerFunc {
	return a.callable("hmsToken", "token", a.tokenSettingsErr, onAppointment(a, a.issueToken))
}

// issueToken reads as the handler's steps, after callable has checked the
// protocol and the caller's ID token and onAppointment has read the
// appointment (while the revocation check runs): not removed by the
// doctor (calls/{id}.removed, read with the appointment) → the role and the join
// window → the room (recorded, or made by
// 100ms and recorded with the audit entry; re-enabled if hmsEndCall locked
// it) → the token. The entry names the token's jti and expiry, chosen
// before the token is minted, never the token.
func (a *app) issueToken(ctx, reads context.Context, o opened, _ *tokenRequest) (any, error) {
	st, appt, uid := o.st, o.appt, o.uid
	if o.who != partDoctor && appt.Call.Removed[uid] {
		// The doctor removed them (hmsRemove): no token until allowed back.
		return nil, fail(statusPermissionDenied, reasonRemoved, "The doctor has removed you from this call.", nil)
	}
	role := a.joinRole(appt, uid, o.who)
	now := a.now()
	if cerr := a.checkJoinable(appt, now); cerr != nil {
		return nil, cerr
	}
	if cerr := checkRecordingConsent(appt, uid); cerr != nil {
		return nil, cerr
	}
	g, err := o.grant()
	if err != nil {
		return nil, err
	}
	client, err := a.hmsClient()
	if err != nil {
		return nil, err
	}

	p, expiresAt, err := a.joinParams(o.audit, appt, uid, role, now)
	if err != nil {
		return nil, err
	}
	room, err := a.roomOf(ctx, reads, g, st, client, appt)
	if err != nil {
		return nil, err
	}
	o.audit.room(room.ID)
	if err := a.syncParticipants(ctx, g, st, appt, o.who); err != nil {
		return nil, err
	}
	if appt.RoomLocked {
		if err := a.unlockRoom(ctx, g, st, client, appt.ID, room.ID); err != nil {
			return nil, err
		}
	}
	o.log.annotate(slog.String("roomId", capLog(room.ID, maxLoggedID)), slog.String("role", role.String()))

	p.RoomID = room.ID
	token, _, err := hms.JoinToken(a.cfg.credentials, p)
	if err != nil {
		return nil, errJoinToken(err)
	}
	return &tokenResult{
		Token:     token,
		RoomID:    room.ID,
		Role:      role.String(),
		UserID:    uid,
		ExpiresAt: expiresAt.UTC().Format(time.RFC3339),
	}, nil
}

// joinParams are the token's claims but its room, and its expiry: the
// token's TTL, cut at the appointment's end plus JOIN_LATE. The audit
// entry names the role, the jti and the expiry, never the token.
func (a *app) joinParams(ra *requestAudit, appt store.Appointment, uid string, role hms.Role, now time.Time) (hms.JoinParams, time.Time, error) {
	p := hms.JoinParams{UserID: uid, Role: role, TTL: a.cfg.tokenTTL, Now: now, ID: uuid.NewString()}
	if !appt.EndAt.IsZero() {
		p.NotAfter = appt.EndAt.Add(a.cfg.joinLate)
	}
	expiresAt, err := hms.JoinExpiry(p)
	if err != nil {
		return p, time.Time{}, errJoinToken(err)
	}
	ra.detail("role", role.String())
	ra.detail("jti", p.ID)
	ra.detail("expiresAt", expiresAt)
	return p, expiresAt, nil
}

// checkRecordingConsent refuses a token, while a recording hmsRecording
// started is under way, to a participant who has not agreed to it, so that
// the app asks for consent (hmsConsent) before they join, as a late joiner
// of a recorded telehealth call must. Whoever started it chose it.
func checkRecordingConsent(appt store.Appointment, uid string) *callError {
	c := appt.Call
	if !c.RecordingOn() || c.Consent[uid] || c.Recording.StartedBy == uid {
		return nil
	}
	return fail(statusFailedPrecondition, reasonConsentRequired, "This call is being recorded: agree to the recording to join it.", nil).
		with("recording", true)
}

// roomOf is the appointment's room: the one recorded, or else one 100ms
// makes, recorded together with the request's granted entry. 100ms makes
// one room per name, so racing first calls get the same one (RecordRoom
// settles any race that is left); making it grants nothing to anyone, so
// it may come before the entry. Each step has a deadline of its own
// (deadlines.go): a slow 100ms must not leave the store no time to record
// the room it made.
func (a *app) roomOf(ctx, reads context.Context, g *grant, st *store.Store, client *hms.Client, appt store.Appointment) (store.Room, error) {
	room, recorded, err := st.RecordedRoom(reads, appt)
	if err != nil || recorded {
		return room, err
	}
	hmsCtx, cancelHMS := hmsDeadline(ctx)
	created, err := client.CreateRoom(hmsCtx, hms.CreateRoomParams{
		Name: roomName(a.cfg.projectID, appt.ID), Description: "Appointment " + appt.ID, TemplateID: a.cfg.templateID,
	})
	cancelHMS()
	if err != nil {
		return store.Room{}, fmt.Errorf("create room for appointment %s: %w", appt.ID, err)
	}
	err = g.write(ctx, func(ctx context.Context, entry *store.Audit) error {
		room, err = st.RecordRoom(ctx, appt, store.Room{ID: created.ID, Name: created.Name, TemplateID: created.TemplateID}, entry)
		return err
	})
	if err != nil {
		return store.Room{}, err
	}
	return room, nil
}

// syncParticipants copies the appointment's participants to a call whose
// room was recorded before this request (a new room has them already):
// for every doctor's token, which comes before the doctor's join that may
// tell the guests the doctor is ready (docs/notifications.md), and for
// anyone's when the call names another doctor or client than the
// appointment (the queue's rule goes by calls.doctorId). The grant's entry
// rides in the same commit, so a doctor's token costs no extra round trip.
func (a *app) syncParticipants(ctx context.Context, g *grant, st *store.Store, appt store.Appointment, who part) error {
	if appt.Room.ID == "" ||
		(who != partDoctor && appt.Call.DoctorID == appt.DoctorID && appt.Call.ClientID == appt.ClientID) {
		return nil
	}
	return g.write(ctx, func(ctx context.Context, entry *store.Audit) error {
		return st.RecordParticipants(ctx, appt, entry)
	})
}

// unlockRoom re-enables the room hmsEndCall locked: a new token is the
// doctor's or the client's way back in. The grant is recorded before 100ms
// is asked.
func (a *app) unlockRoom(ctx context.Context, g *grant, st *store.Store, client *hms.Client, appointmentID, roomID string) error {
	if err := g.writeAlone(ctx, st); err != nil {
		return err
	}
	hmsCtx, cancelHMS := hmsDeadline(ctx)
	err := client.EnableRoom(hmsCtx, roomID, true)
	cancelHMS()
	if err != nil {
		return fmt.Errorf("re-enable room %s: %w", roomID, err)
	}
	wctx, cancelWrite := writeDeadline(ctx)
	defer cancelWrite()
	return st.ClearRoomLock(wctx, appointmentID)
}

// checkJoinable is asked only for a participant (docs/callables.md).
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
		// "a1" would name one room (docs/callables.md); such ids are hashed.
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '.', c == '-', c == ':', c == '_':
		default:
			return false
		}
	}
	return s != ""
}
