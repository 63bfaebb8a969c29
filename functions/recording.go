package functions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// Recording only with everyone's consent (docs/visit.md): hmsConsent
// records each participant's answer; hmsRecording, the doctor's, starts the
// room's recording through 100ms only when everyone who must has said yes,
// and stops it; a withdrawal stops a recording under way.

type consentRequest struct {
	AppointmentID string `json:"appointmentId"`
	Recording     *bool  `json:"recording"`
}

func (r *consentRequest) appointment() string { return r.AppointmentID }

func (r *consentRequest) check(*request) *callError {
	if r.Recording == nil {
		return fail(statusInvalidArgument, reasonNoConsentValue, `"recording" (true or false) is required.`, nil)
	}
	return nil
}

type recordingRequest struct {
	AppointmentID string `json:"appointmentId"`
	Action        string `json:"action"`
}

func (r *recordingRequest) appointment() string { return r.AppointmentID }

// check names the action in the audit entry: recording.start or .stop.
func (r *recordingRequest) check(rq *request) *callError {
	switch r.Action {
	case "start", "stop":
		rq.audit.action("recording." + r.Action)
		return nil
	}
	return fail(statusInvalidArgument, reasonBadAction, `"action" must be "start" or "stop".`, nil)
}

// stoppedByConsent is recordingControl.stoppedBy when a withdrawal stopped it.
const stoppedByConsent = "consent"

func (a *app) consentHandler() http.HandlerFunc {
	return a.callable("hmsConsent", "consent", a.cfg.check("hmsConsent"), onAppointment(a, a.consent))
}

func (a *app) recordingHandler() http.HandlerFunc {
	return a.callable("hmsRecording", "recording", a.cfg.check("hmsRecording"), onAppointment(a, a.recording))
}

// consent, after onAppointment's opening (any participant): consent.{uid}
// recorded with the audit entry → a withdrawal while a recording runs stops
// it (100ms, then recordingControl, with a system entry in the trail).
func (a *app) consent(ctx, reads context.Context, o opened, req *consentRequest) (any, error) {
	st, appt, uid, appointmentID := o.st, o.appt, o.uid, o.appt.ID
	o.audit.detail("recording", *req.Recording)
	g, err := o.grant()
	if err != nil {
		return nil, err
	}
	if err := g.write(ctx, func(ctx context.Context, entry *store.Audit) error {
		return st.RecordConsent(ctx, appointmentID, uid, *req.Recording, entry)
	}); err != nil {
		return nil, err
	}
	out := map[string]any{"recording": *req.Recording}
	if *req.Recording || !appt.Call.RecordingOn() {
		return out, nil
	}
	// A recording is under way and someone in it no longer agrees: stop
	// it, as the system, and say so.
	room, recorded, err := st.RecordedRoom(reads, appt)
	if err != nil || !recorded {
		return nil, err
	}
	stopped, err := a.stopRecording(ctx, st, appointmentID, room.ID, stoppedByConsent, g.system(store.Audit{
		Action: "recording.stop", Outcome: store.AuditGranted, UID: store.SystemUID, Role: store.SystemUID,
		AppointmentID: appointmentID, RoomID: room.ID,
		Details: map[string]any{"withdrawnBy": uid},
	}))
	if err != nil {
		return nil, err
	}
	if stopped {
		out["recordingStopped"] = true
	}
	return out, nil
}

// recording, after onAppointment's opening: the doctor → stop, or start: a
// live call and, unless RECORDING_CONSENT=off, everyone's consent → a claim
// of the recording (with the audit entry), which one caller wins → the
// winner asks 100ms. The audit entry is written with the claim or the stop,
// before 100ms is asked.
func (a *app) recording(ctx, reads context.Context, o opened, req *recordingRequest) (any, error) {
	st, appt, uid, appointmentID := o.st, o.appt, o.uid, o.appt.ID
	if o.who != partDoctor {
		return nil, fail(statusPermissionDenied, reasonHostOnly, "Only the doctor can start or stop the recording.", nil)
	}
	room, recorded, err := st.RecordedRoom(reads, appt)
	if err != nil {
		return nil, err
	}
	if req.Action == "stop" {
		return a.recordingStop(ctx, o, room.ID, recorded)
	}
	if cerr := a.startable(appt, recorded); cerr != nil {
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
	var claim store.RecordingStart
	if err := g.write(ctx, func(ctx context.Context, entry *store.Audit) error {
		claim, err = st.ClaimRecording(ctx, appointmentID, uid, a.now(), entry)
		return err
	}); err != nil {
		return nil, err
	}
	if !claim.Claimed {
		return recordingAnswer(claim.State, claim.ID), nil // the one under way
	}
	return a.recordingStart(ctx, client, st, appointmentID, room.ID, uid, claim.Gen)
}

// startable refuses a start while nobody is in the call, or, unless
// RECORDING_CONSENT=off, while someone who must agree has not.
func (a *app) startable(appt store.Appointment, recorded bool) *callError {
	if !recorded || !appt.Call.Live {
		return notLive(nil)
	}
	if !a.cfg.consentRequired {
		return nil
	}
	if missing := missingConsent(appt); len(missing) > 0 {
		return fail(statusFailedPrecondition, reasonConsentMissing, "Everyone in the call must agree to recording first.", nil).
			with("missing", missing)
	}
	return nil
}

// recordingStop stops the room's recording, if the call has a room; a
// stop is harmless to repeat.
func (a *app) recordingStop(ctx context.Context, o opened, roomID string, recorded bool) (any, error) {
	g, err := o.grant()
	if err != nil {
		return nil, err
	}
	if recorded {
		o.audit.room(roomID)
		if _, err := a.stopRecording(ctx, o.st, o.appt.ID, roomID, o.uid, g); err != nil {
			return nil, err
		}
	}
	return recordingAnswer(store.RecordingStopped, ""), nil
}

// recordingStart asks 100ms to record the room for the claim of
// generation gen and records what it answered; a recording 100ms already
// runs is that one. When nothing started, the claim is given up, so that
// a retry can start.
func (a *app) recordingStart(ctx context.Context, client *hms.Client, st *store.Store, appointmentID, roomID, uid string, gen int64) (any, error) {
	hmsCtx, cancelHMS := hmsDeadline(ctx)
	defer cancelHMS()
	started, err := client.StartRoomRecording(hmsCtx, roomID, hms.RoomRecordingParams{Transcription: a.cfg.transcribe, Summary: a.cfg.summarise})
	running := errors.Is(err, hms.ErrAlreadyRecording)
	// Past a client that went away: what 100ms answered is recorded.
	wctx, cancelWrite := writeDeadline(ctx)
	defer cancelWrite()
	if err != nil && !running {
		if _, serr := st.StopRecording(wctx, appointmentID, uid, a.now(), nil); serr != nil {
			return nil, fmt.Errorf("start recording in room %s: %w (and giving up the claim: %v)", roomID, err, serr)
		}
		return nil, fmt.Errorf("start recording in room %s: %w", roomID, err)
	}
	if err := st.RecordingStarted(wctx, appointmentID, gen, started.ID, running); err != nil {
		return nil, err
	}
	state := store.RecordingStarting
	if running {
		state = store.RecordingRunning
	}
	return recordingAnswer(state, started.ID), nil
}

func recordingAnswer(state, id string) map[string]any {
	out := map[string]any{"recording": state}
	if id != "" {
		out["hmsRecordingId"] = id
	}
	return out
}

// stopRecording records the stop with g's entry (the request's, or a
// system action's) and then asks 100ms to stop the room's recording;
// nothing running at 100ms is a stop done. It reports whether a recording
// hmsRecording started was under way.
func (a *app) stopRecording(ctx context.Context, st *store.Store, appointmentID, roomID, by string, g *grant) (bool, error) {
	client, err := a.hmsClient()
	if err != nil {
		return false, err
	}
	var was bool
	if err := g.write(ctx, func(ctx context.Context, entry *store.Audit) error {
		was, err = st.StopRecording(ctx, appointmentID, by, a.now(), entry)
		return err
	}); err != nil {
		return false, err
	}
	hmsCtx, cancel := hmsDeadline(ctx)
	defer cancel()
	if err := client.StopRoomRecording(hmsCtx, roomID); err != nil && !errors.Is(err, hms.ErrNotActive) {
		return was, fmt.Errorf("stop recording in room %s: %w", roomID, err)
	}
	return was, nil
}

// missingConsent lists who must still agree: the doctor, the client, and
// everyone else in the call now, each with their part.
func missingConsent(appt store.Appointment) []map[string]string {
	need := map[string]part{appt.DoctorID: partDoctor, appt.ClientID: partClient}
	for uid := range appt.Call.InCall {
		if _, ok := need[uid]; !ok {
			need[uid] = partGuest
		}
	}
	var missing []map[string]string
	for uid, p := range need {
		if !appt.Call.Consent[uid] {
			missing = append(missing, map[string]string{"uid": uid, "role": string(p)})
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i]["uid"] < missing[j]["uid"] })
	return missing
}
