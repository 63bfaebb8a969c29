package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
)

// Push notifications (docs/notifications.md; SPEC §19): the webhook tells
// the doctor a patient is waiting, and a participant that the doctor is
// ready. Whether to tell anyone is decided here, in the commit of the peer
// event that makes it true, from the call's book that commit reads anyway
// (no extra read): the claim notified.{key} is written to the book with
// the event, on condition that the book did not change (commitRead), so
// that each notification is claimed once per (appointment, session, kind,
// recipient) however the events are ordered, duplicated or replayed, and
// on every instance. The caller sends what was claimed (ApplyResult.Notify)
// and records the outcome (RecordNotification). A claim whose send never
// happened (the instance died between the commit and the send) is not
// sent again: at most once, never twice.

// Notification kinds.
const (
	// NotifyWaiting goes to the doctor: a client or guest waits in the
	// waiting room and the doctor is not in the room.
	NotifyWaiting = "waiting"
	// NotifyReady goes to a participant: the doctor joined while they are
	// not in the room.
	NotifyReady = "ready"
)

// ActionNotify is the system's audit action of a send.
const ActionNotify = "notify"

// notifyWindow: an event older than this (by its own timestamp) claims no
// notification. A join delivered late (a replay after an outage) says
// nothing about now, and "your doctor is ready" an hour late is wrong.
const notifyWindow = 10 * time.Minute

// Notification is one claimed notification, to send.
type Notification struct {
	Key, Kind, AppointmentID, SessionID string
	// To is the recipient's uid; ToRole theirs in the appointment
	// (doctor, client or guest).
	To, ToRole string
}

// notificationKey names a claim: the kind, and a hash of the appointment,
// session and recipient, so that no two triples share a key whatever
// their ids hold.
func notificationKey(appt, sid, kind, uid string) string {
	return kind + "-" + bookID(appt, sid, kind, uid)[:32]
}

// SetNotify turns the claims on or off (NOTIFY), before the Store is
// used: off, the webhook claims nothing and nothing is sent.
func (s *Store) SetNotify(on bool) { s.notifyOff = !on }

// notifications is what the commit of pe (already merged into pr) claims:
// the book's notified fields and the call's, and the notifications to
// send. stored is the book as read, holding the claims made before.
func (s *Store) notifications(appt string, pr presence, stored map[string]any, pe peerEvent) (book, call map[string]any, out []Notification) {
	sid := pe.fact.sessionID
	if s.notifyOff || pe.at.IsZero() || s.clock().Sub(pe.at) > notifyWindow ||
		pr.doctorID == "" || pr.sessions[sid].status == sessionClose {
		return nil, nil, nil
	}
	claimed := mapAt(stored, "notified")
	in := pr.present(sid)
	_, doctorIn := in[pr.doctorID]
	claim := func(kind, uid, role string) {
		key := notificationKey(appt, sid, kind, uid)
		if _, done := claimed[key]; done || !safeID(uid) {
			return
		}
		if book == nil {
			book, call = map[string]any{}, map[string]any{}
		}
		book[key] = pe.at
		call[key] = map[string]any{"kind": kind, "to": uid, "sessionId": sid, "status": "claimed", "claimedAt": pe.at}
		out = append(out, Notification{Key: key, Kind: kind, AppointmentID: appt, SessionID: sid, To: uid, ToRole: role})
	}
	if !doctorIn && len(pr.waiting(in, s.waitingRole)) > 0 {
		claim(NotifyWaiting, pr.doctorID, "doctor")
	}
	if pe.isJoin && pe.fact.userID == pr.doctorID && doctorIn {
		removed := removedOf(stored)
		for _, p := range pr.participants() {
			if _, there := in[p.uid]; !there && removed[p.uid] == nil {
				claim(NotifyReady, p.uid, p.role)
			}
		}
	}
	// A participant's leave that reaches us after the doctor's join but
	// happened before it: they were away when the doctor joined, which
	// the join, seeing them still in, could not know. Ready is due now,
	// as it was then (the key keeps it once).
	if left := pe.fact.leftAt; doctorIn && !pe.isJoin && !left.IsZero() && left.Before(in[pr.doctorID].f.joined()) {
		removed := removedOf(stored)
		for _, p := range pr.participants() {
			if _, there := in[p.uid]; p.uid == pe.fact.userID && !there && removed[p.uid] == nil {
				claim(NotifyReady, p.uid, p.role)
			}
		}
	}
	if book == nil {
		return nil, nil, nil
	}
	return map[string]any{"notified": book}, map[string]any{"notified": call}, out
}

type participant struct{ uid, role string }

// participants are the client and the guests the book knows, in that
// order, each once, never the doctor.
func (p presence) participants() []participant {
	var out []participant
	seen := map[string]bool{p.doctorID: true}
	add := func(uid, role string) {
		if uid != "" && !seen[uid] {
			seen[uid] = true
			out = append(out, participant{uid, role})
		}
	}
	add(p.clientID, "client")
	for _, g := range p.guestIDs {
		add(g, "guest")
	}
	return out
}

func (s *Store) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// NoDevices is the outcome's error when the recipient has no registered
// device: nothing was sent, and nothing failed.
const NoDevices = "NO_DEVICES"

// NotifyOutcome is what came of one send.
type NotifyOutcome struct {
	// Devices is the number of registration tokens the recipient had;
	// Sent how many FCM accepted; Stale how many it said are gone (their
	// documents are deleted).
	Devices, Sent, Stale int
	// Error is FCM's error code of a failed send (or why there was no
	// send), empty when at least one device took it.
	Error string
}

// RecordNotification records the outcome of n's send on calls/{id}
// (notified.{key}: status sent, failed, or skipped when the recipient has
// no device, and the counts), with the system's notify entry (if any) in
// the same commit: the kind and the number of
// devices, never a token.
func (s *Store) RecordNotification(ctx context.Context, n Notification, o NotifyOutcome, audit *Audit) error {
	rec := map[string]any{"status": "sent", "devices": o.Devices, "sent": o.Sent, "at": firestore.ServerTimestamp}
	switch {
	case o.Devices == 0 && o.Error == NoDevices:
		rec["status"] = "skipped"
	case o.Sent == 0:
		rec["status"] = "failed"
	}
	setText(rec, "error", o.Error)
	return s.mergeCall(ctx, n.AppointmentID, map[string]any{"notified": map[string]any{n.Key: rec}}, audit,
		"record notification "+n.Kind)
}

// DeviceTokens lists uid's registration tokens (the ids of
// users/{uid}/fcmTokens, which the app writes), at most limit.
func (s *Store) DeviceTokens(ctx context.Context, uid string, limit int) ([]string, error) {
	if !validID(uid) {
		return nil, nil
	}
	refs, err := s.fs.Collection(colUsers).Doc(uid).Collection(colFCMTokens).Limit(limit).Select().Documents(ctx).GetAll()
	if err != nil {
		return nil, wrapf(err, "list devices of %s", uid)
	}
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.Ref.ID)
	}
	return out, nil
}

// DeleteDeviceTokens deletes uid's registration tokens FCM said are no
// longer registered, in one commit.
func (s *Store) DeleteDeviceTokens(ctx context.Context, uid string, tokens []string) error {
	if len(tokens) == 0 || !validID(uid) {
		return nil
	}
	b := s.fs.Batch() //nolint:staticcheck // SA1019: one atomic commit, no reads (see commitBlind).
	for _, t := range tokens {
		if validID(t) {
			b.Delete(s.fs.Collection(colUsers).Doc(uid).Collection(colFCMTokens).Doc(t))
		}
	}
	_, err := b.Commit(ctx)
	return wrapf(err, "delete %d stale devices of %s", len(tokens), uid)
}
