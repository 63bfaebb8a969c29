package store

import (
	"math"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// plan decides, for each event type, which documents it changes and
// whether that needs a read (a transaction) or not (blind writes). The
// frequent events (peer joins and leaves, recording successes, peer
// failures, room end) are blind; the rest are rare or touch a document few
// writers share. The merge rule of every field is in rules.go.
func (s *Store) plan(ev *hms.Event, appt string) plan {
	if appt == "" {
		return plan{} // unknown room: the raw event only
	}
	sid := ev.SessionID
	if sid != "" && !validID(sid) {
		return plan{}
	}
	at := norm(ev.Timestamp)
	switch d := ev.Data.(type) {
	case *hms.SessionOpen:
		if sid == "" {
			return plan{}
		}
		return plan{tx: s.sessionStep(appt, sid, d.RoomID, false, tm(d.SessionStartedAt), at)}
	case *hms.SessionClose:
		if sid == "" {
			return plan{}
		}
		return plan{tx: s.sessionStep(appt, sid, d.RoomID, true, tm(d.SessionStartedAt), at)}

	case *hms.PeerJoin:
		f := peerFacts{sid: sid, pid: d.PeerID, roomID: d.RoomID, userID: d.UserID, userName: d.UserName,
			joinedAt: orElse(tm(d.JoinedAt), at), role: d.Role, roleKey: roleKey{at, rankJoin, ev.ID}}
		if !f.ok() {
			return plan{}
		}
		return plan{
			merges:  []write{{s.sessionRef(appt, sid), f.blindSession()}},
			guard:   &write{s.peerGuardRef(sid, f.pid), f.newGuard(time.Now())},
			onGuard: s.peerStep(appt, f),
		}
	case *hms.PeerLeave:
		f := peerFacts{sid: sid, pid: d.PeerID, roomID: d.RoomID, userID: d.UserID, userName: d.UserName,
			leftAt: orElse(tm(d.LeftAt), at), leaveReason: d.Reason, duration: seconds(d.Duration)}
		if !f.ok() {
			return plan{}
		}
		if f.duration == nil {
			// leftAt − joinedAt needs the join: read it.
			return plan{tx: s.peerStep(appt, f)}
		}
		return plan{merges: []write{{s.sessionRef(appt, sid), f.blindSession()}}}
	case *hms.RoleChange:
		f := peerFacts{sid: sid, pid: d.PeerID, roomID: d.RoomID, userID: d.UserID, userName: d.UserName,
			joinedAt: tm(d.JoinedAt), role: d.Role, roleKey: roleKey{at, rankRoleChange, ev.ID}}
		if !f.ok() {
			return plan{}
		}
		return plan{tx: s.peerStep(appt, f)}

	case *hms.PeerJoinFailed:
		return plan{merges: []write{{s.callRef(appt), peerFailure(ev.ID, "join", d.PeerRef, d.ErrorMessage, orElse(tm(d.JoinedAt), at))}}}
	case *hms.PeerLeaveFailed:
		return plan{merges: []write{{s.callRef(appt), peerFailure(ev.ID, "leave", d.PeerRef, d.ErrorMessage, orElse(tm(d.LeftAt), at))}}}

	case *hms.RoomEnd:
		if sid == "" {
			return plan{}
		}
		return plan{merges: []write{{s.sessionRef(appt, sid), roomEnd(d, at)}}}

	case *hms.Recording:
		if sid == "" {
			return plan{}
		}
		r := map[string]any{}
		setInt(r, "durationSec", seconds(d.Duration))
		setInt(r, "sizeBytes", d.Size)
		setStr(r, "location", d.Location)
		setStr(r, "url", d.URL)
		return plan{merges: []write{{s.recordingRef(appt, "sfu-"+sid), recordingSuccess("sfu", sid, at, r)}}}
	case *hms.RecordingFailure:
		if sid == "" {
			return plan{}
		}
		return plan{tx: s.streamStep(appt, nil, &recFailure{"sfu", "sfu-" + sid, sid, d.Error, at})}
	case *hms.BeamRecording:
		if !validID(d.BeamID) {
			return plan{}
		}
		r := map[string]any{}
		setInt(r, "durationSec", seconds(d.Duration))
		setStr(r, "location", d.Location)
		setStr(r, "url", d.Location)
		setTime(r, "startedAt", tm(d.StartedAt))
		setTime(r, "stoppedAt", tm(d.StoppedAt))
		return plan{merges: []write{{s.recordingRef(appt, "browser-"+d.BeamID), recordingSuccess("browser", sid, orElse(tm(d.CreatedAt), at), r)}}}
	case *hms.HLSRecording:
		if !validID(d.BeamID) {
			return plan{}
		}
		r := map[string]any{}
		setInt(r, "durationSec", seconds(d.Duration))
		setStr(r, "playlistUrl", d.VODPlaylistLocation)
		setTime(r, "startedAt", tm(d.StartedAt))
		setTime(r, "stoppedAt", tm(d.StoppedAt))
		if l := layers(d.SingleFiles); l != nil {
			r["layers"] = l
		}
		if t := thumbnails(d.Thumbnails); t != nil {
			r["thumbnails"] = t
		}
		return plan{merges: []write{{s.recordingRef(appt, "hls-"+d.BeamID), recordingSuccess("hls", sid, orElse(tm(d.CreatedAt), at), r)}}}

	case *hms.BeamStarted:
		return s.streamPlan(appt, streamFacts{kind: "beam", beamID: d.BeamID, sid: sid, status: streamStarted,
			startedAt: orElse(tm(d.StateTimestamp), at)}, nil)
	case *hms.BeamStopped:
		return s.streamPlan(appt, streamFacts{kind: "beam", beamID: d.BeamID, sid: sid, status: streamStopped,
			stoppedAt: orElse(tm(d.StateTimestamp), at)}, nil)
	case *hms.BeamFailed:
		return s.streamPlan(appt, streamFacts{kind: "beam", beamID: d.BeamID, sid: sid, status: streamFailed,
			err: firstOf(d.ErrorMessage, d.StateMessage, d.ErrorType)},
			&recFailure{"browser", "browser-" + d.BeamID, sid, firstOf(d.ErrorMessage, d.StateMessage, d.ErrorType), at})
	case *hms.HLSStarted:
		return s.streamPlan(appt, streamFacts{kind: "hls", beamID: d.BeamID, sid: sid, status: streamStarted,
			startedAt: firstTime(tm(d.StartedAt), tm(d.StateTimestamp), at), url: d.URL, urlFromStart: true}, nil)
	case *hms.HLSStopped:
		return s.streamPlan(appt, streamFacts{kind: "hls", beamID: d.BeamID, sid: sid, status: streamStopped,
			startedAt: tm(d.StartedAt), stoppedAt: firstTime(tm(d.StoppedAt), tm(d.StateTimestamp), at), url: d.URL}, nil)
	case *hms.HLSFailed:
		return s.streamPlan(appt, streamFacts{kind: "hls", beamID: d.BeamID, sid: sid, status: streamFailed,
			err: firstOf(d.ErrorMessage, d.StateMessage, d.ErrorType)},
			&recFailure{"hls", "hls-" + d.BeamID, sid, firstOf(d.ErrorMessage, d.StateMessage, d.ErrorType), at})
	}
	return plan{} // a type this version does not know: raw only
}

func (s *Store) streamPlan(appt string, f streamFacts, rf *recFailure) plan {
	if !validID(f.beamID) {
		return plan{}
	}
	return plan{tx: s.streamStep(appt, &f, rf)}
}

func (s *Store) callRef(appt string) *firestore.DocumentRef {
	return s.fs.Collection(colCalls).Doc(appt)
}

func (s *Store) sessionRef(appt, sid string) *firestore.DocumentRef {
	return s.callRef(appt).Collection(colSessions).Doc(sid)
}

func (s *Store) recordingRef(appt, id string) *firestore.DocumentRef {
	return s.callRef(appt).Collection(colRecordings).Doc(id)
}

// norm makes a time what Firestore will store (UTC, microseconds), so that
// values compared in one order equal values read back in another.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func tm(t hms.Time) time.Time { return norm(t.Time) }

func orElse(t, fallback time.Time) time.Time {
	if t.IsZero() {
		return fallback
	}
	return t
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// seconds rounds a 100ms duration to whole seconds (SPEC: an integer).
func seconds(d *float64) *int64 {
	if d == nil || math.IsNaN(*d) || math.IsInf(*d, 0) {
		return nil
	}
	n := int64(math.Round(*d))
	return &n
}

// durationSec is to − from in whole seconds, never negative: 100ms stamps
// some events to the second, so an end can precede a start by a fraction.
func durationSec(from, to time.Time) int64 {
	return int64(max(to.Sub(from), 0).Round(time.Second) / time.Second)
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

func layers(files []hms.RecordingFile) []any {
	var out []any
	for _, f := range files {
		m := map[string]any{}
		setStr(m, "layer", f.Layer)
		setStr(m, "location", f.Location)
		setStr(m, "url", f.PresignedURL)
		out = append(out, m)
	}
	return out
}

func thumbnails(ts []hms.Thumbnail) []any {
	var out []any
	for _, t := range ts {
		m := map[string]any{"width": t.Width, "height": t.Height, "offset": t.Offset}
		setStr(m, "location", t.Location)
		setStr(m, "url", t.URL)
		out = append(out, m)
	}
	return out
}
