package store

import (
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// eventTTL is how long hmsEvents documents, and the bookkeeping documents
// events make, live (expireAt, for a Firestore TTL policy).
const eventTTL = 90 * 24 * time.Hour

// eventDoc is hmsEvents/{id}: created once, never changed.
func eventDoc(ev *hms.Event, raw []byte, appt string, now time.Time) map[string]any {
	d := map[string]any{
		"raw":        string(raw),
		"type":       string(ev.Type),
		"timestamp":  ev.Timestamp,
		"receivedAt": firestore.ServerTimestamp,
		// Local clock: a TTL a few seconds off matters to no one.
		"expireAt": now.Add(eventTTL),
		"applied":  true,
	}
	if ev.Replay {
		d["replay"] = true
	}
	setStr(d, "roomId", ev.RoomID)
	setStr(d, "sessionId", ev.SessionID)
	setStr(d, "appointmentId", appt)
	return d
}

// expiry is the expireAt of a bookkeeping document written now.
func expiry() map[string]any { return map[string]any{"expireAt": time.Now().Add(eventTTL)} }
