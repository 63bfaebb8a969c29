package store

import (
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// Recordings, calls/{a}/recordings/{recordingId} (SPEC §2): sfu-<sessionId>
// for SFU recordings, <kind>-<beamId> for browser and HLS ones, so that a
// success and a failure of one recording meet in one document. Merge rules:
//   - status: success beats failed. A success writes it blind (nothing
//     beats it); a failure reads the document in a transaction (rare, and
//     the document is its recording's own) and writes "failed" only when
//     no success is stored.
//   - kind, sessionId: the same in every event of the recording.
//   - location, url, playlistUrl, durationSec, sizeBytes, layers,
//     thumbnails, startedAt, stoppedAt: from the success only.
//   - createdAt: the success's created_at (else its event time); a failure's
//     event time only while no success is stored.
//   - error: from the failure, kept even when a success also arrives.
// beam.failure and hls.failure cannot say whether the failed job was
// recording or streaming, so they record a failed browser/hls recording as
// well as the failed stream.

// recordingSuccess is the blind merge of a recording's success event.
func recordingSuccess(kind, sid string, createdAt time.Time, fields map[string]any) map[string]any {
	fields["kind"] = kind
	fields["status"] = "success"
	setStr(fields, "sessionId", sid)
	setTime(fields, "createdAt", createdAt)
	return fields
}

// recFailure is a recording failure, applied after reading the recording.
type recFailure struct {
	kind, id, sid, err string
	at                 time.Time
}

func (r *recFailure) merge(stored map[string]any) map[string]any {
	m := map[string]any{"kind": r.kind}
	setStr(m, "sessionId", r.sid)
	setStr(m, "error", r.err)
	if strAt(stored, "status") != "success" {
		m["status"] = "failed"
		setTime(m, "createdAt", r.at)
	}
	return m
}

// peerFailure is the blind merge of peer.join.failure / peer.leave.failure
// into calls/{a}.peerFailures.{eventId}: one entry per event, written by
// that event only, so no rule is needed beyond exactly-once.
func peerFailure(eventID, kind string, p hms.PeerRef, msg string, at time.Time) map[string]any {
	f := map[string]any{"kind": kind}
	setStr(f, "peerId", p.PeerID)
	setStr(f, "userId", p.UserID)
	setStr(f, "role", p.Role)
	setStr(f, "error", msg)
	setTime(f, "at", at)
	return map[string]any{
		"peerFailures": map[string]any{eventID: f},
		"updatedAt":    firestore.ServerTimestamp,
	}
}

// roomEnd is the blind merge of room.end.success into its session's roomEnd:
// written by that event only (100ms ends a session's room once).
func roomEnd(d *hms.RoomEnd, at time.Time) map[string]any {
	e := map[string]any{"lockRoom": d.LockRoom, "at": at}
	setStr(e, "reason", d.Reason)
	setStr(e, "source", d.Source)
	setStr(e, "userId", d.UserID)
	sess := map[string]any{"roomEnd": e}
	setStr(sess, "roomId", d.RoomID)
	return sess
}
