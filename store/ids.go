package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"unicode/utf8"

	"cloud.google.com/go/firestore"
)

// maxEventIDBytes bounds every id taken from an event (docs/webhook.md): well
// inside Firestore's 1,500-byte limits once prefixed ("browser-<beamId>")
// or nested in a field path ("peers.<peerId>.joinedAt").
const maxEventIDBytes = 256

// validID reports whether id can name a Firestore document: a path segment
// with no slash, not "." or "..", not of the reserved __x__ form, and
// within the 1500-byte limit. Appointment ids are the app's and are held
// to this only.
func validID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 1500 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] == '/' {
			return false
		}
	}
	return !reservedName(id)
}

// reservedName reports whether name has Firestore's reserved __x__ form,
// refused both as a document id and as a field name.
func reservedName(name string) bool {
	return len(name) >= 4 && name[:2] == "__" && name[len(name)-2:] == "__"
}

// safeID reports whether an id taken from an event (event, session, peer,
// beam, recording, transcription) can name a document and a map key
// whatever prefix or path it is put in. An event whose ids fail this is
// stored raw only: no delivery of it could ever be applied.
func safeID(id string) bool {
	return len(id) <= maxEventIDBytes && utf8.ValidString(id) && validID(id)
}

// bookID is the id of a bookkeeping document keyed by several ids: a hash,
// so that it is a valid id of fixed length whatever the ids hold (slashes,
// separators, 256 bytes each), and so that ("a:b", "c") and ("a", "b:c")
// never meet. The first part is always the appointment, which scopes it.
func bookID(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Document references, one place for every path this package writes.

func (s *Store) callRef(appt string) *firestore.DocumentRef {
	return s.fs.Collection(colCalls).Doc(appt)
}

func (s *Store) sessionRef(appt, sid string) *firestore.DocumentRef {
	return s.callRef(appt).Collection(colSessions).Doc(sid)
}

func (s *Store) recordingRef(appt, id string) *firestore.DocumentRef {
	return s.callRef(appt).Collection(colRecordings).Doc(id)
}

func (s *Store) transcriptRef(appt, id string) *firestore.DocumentRef {
	return s.callRef(appt).Collection(colTranscripts).Doc(id)
}

func (s *Store) failureRef(appt, eventID string) *firestore.DocumentRef {
	return s.callRef(appt).Collection(colFailures).Doc(eventID)
}

func (s *Store) eventRef(id string) *firestore.DocumentRef {
	return s.fs.Collection(colEvents).Doc(id)
}

func (s *Store) roomRef(roomID string) *firestore.DocumentRef {
	return s.fs.Collection(colRooms).Doc(roomID)
}

func (s *Store) callBookRef(appt string) *firestore.DocumentRef {
	return s.fs.Collection(colCallBooks).Doc(appt)
}
