package functions

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// The caller's part in an appointment, decided from the appointment alone,
// and onAppointment, the opening every appointment callable shares.

// part is the caller's part in an appointment.
type part string

const (
	partDoctor part = "doctor"
	partClient part = "client"
	partGuest  part = "guest" // one of guestIds: an interpreter, a caregiver
)

// appointmentRequest is the data of a callable that acts on one
// appointment: the id it names, and the checks of its own fields, made
// before anything is read (they may normalise the fields, and name them in
// the request's audit entry and log line).
type appointmentRequest interface {
	appointment() string
	check(rq *request) *callError
}

// opened is what an appointment callable acts on once it has opened: the
// request (the caller, its log line and audit entry, its grant), the
// instance's store, and the appointment with the caller's part.
type opened struct {
	*request
	st   *store.Store
	appt store.Appointment
	who  part
}

// appointmentHandler is an appointment callable after its opening. reads
// bounds the opening's read and the handler's own Firestore reads together
// (readDeadline); ctx is the request's, for its 100ms calls and writes.
type appointmentHandler[R any] func(ctx, reads context.Context, o opened, req *R) (any, error)

// onAppointment opens every appointment callable the same way: decode →
// the appointment id (from here on the request is in the audit trail) →
// the request's own checks → the appointment and the caller's part in it,
// read while the revocation check runs. Then h.
func onAppointment[R any, P interface {
	*R
	appointmentRequest
}](a *app, h appointmentHandler[R]) callableHandler {
	return func(ctx context.Context, rq *request, data json.RawMessage) (any, error) {
		var req R
		if err := decodeData(data, &req); err != nil {
			return nil, err
		}
		id, cerr := requiredAppointmentID(rq, P(&req).appointment())
		if cerr != nil {
			return nil, cerr
		}
		if cerr := P(&req).check(rq); cerr != nil {
			return nil, cerr
		}
		reads, cancel := readDeadline(ctx)
		defer cancel()
		st, appt, who, err := a.participantOf(reads, rq, id)
		if err != nil {
			return nil, err
		}
		return h(ctx, reads, opened{request: rq, st: st, appt: appt, who: who}, &req)
	}
}

// requiredAppointmentID trims the request's appointmentId, refuses a
// missing or blank one, and names it, capped, on the request's log line
// and in its audit entry: from here on the request is audited.
func requiredAppointmentID(rq *request, id string) (string, *callError) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", fail(statusInvalidArgument, reasonNoAppointmentID, `"appointmentId" is required.`, nil)
	}
	rq.log.annotate(slog.String("appointmentId", capLog(id, maxLoggedID)))
	rq.audit.appointment(id)
	return id, nil
}

// notParticipant is the one answer for an appointment that does not exist
// and one the caller has no part in, so that ids cannot be probed.
func notParticipant(cause error) *callError {
	return fail(statusPermissionDenied, reasonNotParticipant, "You are not a participant of this appointment, or it does not exist.", cause)
}

// participantOf is the read of onAppointment's opening: the
// instance's store, and the appointment with the caller's part in it
// (participant), read within ctx's deadline while the revocation check
// runs. The part and the room go to the request's audit entry.
func (a *app) participantOf(ctx context.Context, rq *request, appointmentID string) (*store.Store, store.Appointment, part, error) {
	st, err := a.firestore(ctx)
	if err != nil {
		return nil, store.Appointment{}, "", fail(statusUnavailable, reasonStoreUnavailable, "The appointment store is unavailable; try again.", err)
	}
	appt, p, err := participant(ctx, st, appointmentID, rq.uid)
	if p != "" {
		rq.audit.role(string(p))
	}
	if err != nil {
		return nil, store.Appointment{}, "", err
	}
	rq.audit.room(appt.Room.ID)
	return st, appt, p, nil
}

// participant reads the appointment and the caller's part in it. Whatever
// is wrong with an appointment (it is missing, malformed, cancelled) is
// told only to its participants: anyone else gets notParticipant. The part
// comes back with the refusal of a malformed appointment, for the audit
// entry.
func participant(ctx context.Context, st *store.Store, appointmentID, uid string) (store.Appointment, part, error) {
	appt, err := st.AppointmentAndCall(ctx, appointmentID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Appointment{}, "", notParticipant(err)
	case errors.Is(err, store.ErrMalformedAppointment):
		// The store fills in the uids it could read: a participant named
		// in a valid field learns the record is broken, nobody else does.
		if p, ok := partOf(appt, uid); ok {
			return store.Appointment{}, p, fail(statusFailedPrecondition, reasonMalformed, "This appointment's record is incomplete; contact support.", err)
		}
		return store.Appointment{}, "", notParticipant(err)
	case err != nil:
		return store.Appointment{}, "", err
	}
	p, ok := partOf(appt, uid)
	if !ok {
		return store.Appointment{}, "", notParticipant(nil)
	}
	return appt, p, nil
}

// partOf decides the caller's part from the appointment alone: whatever
// the request says, only its doctor hosts, and only its client and its
// guestIds join as guests.
func partOf(appt store.Appointment, uid string) (part, bool) {
	switch {
	case uid == "":
		return "", false
	case uid == appt.DoctorID:
		return partDoctor, true
	case uid == appt.ClientID:
		return partClient, true
	case slices.Contains(appt.GuestIDs, uid):
		return partGuest, true
	}
	return "", false
}

// joinRole is the 100ms role of a part: the doctor hosts; the others are
// guests, or wait in the waiting room until the doctor admits them.
func (a *app) joinRole(appt store.Appointment, uid string, p part) hms.Role {
	switch {
	case p == partDoctor:
		return hms.RoleHost
	case a.cfg.waitingRole.Valid() && !appt.Call.Admitted[uid]:
		return a.cfg.waitingRole
	}
	return hms.RoleGuest
}
