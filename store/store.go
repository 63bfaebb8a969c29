// Package store keeps the video calls' state in Firestore: appointments
// (read only), the 100ms room of each appointment, and the call, session
// and recording documents that 100ms webhook events build up (docs/data-model.md).
// It knows nothing of HTTP.
package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Collection names, as the mobile app reads them (docs/data-model.md).
const (
	colAppointments = "appointments"
	colCalls        = "calls"
	colSessions     = "sessions"
	colRecordings   = "recordings"
	colTranscripts  = "transcripts"
	colFailures     = "failures"
	colRooms        = "hmsRooms"
	colEvents       = "hmsEvents"
	// Bookkeeping documents, outside the app's view, that let the merge
	// rules read a little without reading the documents every event writes:
	// one per call, with its sessions, its peers' facts and its recording
	// control (session.go, peer.go, recordingcontrol.go), and one per
	// status rank of a stream, recording or transcript (rank.go).
	colCallBooks = "hmsCalls"
	colRanks     = "hmsRanks"
	// The app's: users/{uid}/fcmTokens/{token}, its devices' registration
	// tokens, which these functions read and prune (notify.go).
	colUsers     = "users"
	colFCMTokens = "fcmTokens"
)

// txAttempts bounds transaction retries; the caller's deadline bounds them too.
const txAttempts = 10

// The store's errors: what a caller may decide on, with errors.Is. Every
// error the store returns wraps Firestore's as an *Error, whose Is sees
// these; nothing above the store needs to know Firestore speaks gRPC.
var (
	// ErrUnavailable means Firestore failed or did not answer in time in
	// a way that a later retry may not meet (unreachable, overloaded,
	// aborted under contention, the caller's deadline).
	ErrUnavailable = errors.New("storage unavailable")
	// ErrNotFound means the requested document does not exist.
	ErrNotFound = errors.New("not found")
	// ErrMalformedAppointment means an appointment document lacks a required
	// field or holds one of the wrong type.
	ErrMalformedAppointment = errors.New("malformed appointment")
	// ErrUnstorableEvent means an event can never be stored, however often
	// it is delivered: its body is not UTF-8, its id cannot name a
	// document, or its timestamp is outside Firestore's years 1 to 9999.
	ErrUnstorableEvent = errors.New("event cannot be stored")
	// ErrConflict means a record names another owner than the caller's:
	// a 100ms room recorded for another appointment, which is never taken
	// over nor used for this one.
	ErrConflict = errors.New("recorded for another appointment")
)

// Store is a Firestore client for the video-call documents. It is safe for
// concurrent use; make one per function instance.
type Store struct {
	fs *firestore.Client

	// rooms remembers hmsRooms/{roomId} → appointment id; the mapping
	// never changes once written, so it never needs invalidating.
	rooms sync.Map
	// seen answers redeliveries without a Firestore round trip.
	seen seenEvents

	// waitingRole is the 100ms role of the waiting room (SetWaitingRole),
	// "" when there is none: a change from it to another role admits a peer.
	waitingRole string
	// notifyOff: no notification is claimed (SetNotify).
	notifyOff bool
	// now is the clock notifyWindow is measured by; time.Now when nil.
	now func() time.Time

	// txLocks stripes the read-then-write locks (see lock.go); each
	// is a one-slot semaphore so that waiting can honour a context.
	txLocks [64]chan struct{}
}

// Open connects to projectID's default database, or to the emulator named by
// FIRESTORE_EMULATOR_HOST (the client library reads it).
func Open(ctx context.Context, projectID string) (*Store, error) {
	if projectID == "" {
		return nil, wrapf(errors.New("empty project id"), "open")
	}
	fs, err := firestore.NewClient(ctx, projectID)
	if err != nil {
		return nil, wrapf(err, "open firestore client")
	}
	st := &Store{fs: fs}
	for i := range st.txLocks {
		st.txLocks[i] = make(chan struct{}, 1)
	}
	return st, nil
}

// SetWaitingRole names the waiting room's 100ms role (WAITING_ROOM_ROLE),
// before the Store is used: the merge rules of admittedAt and the visit's
// waiting time need it.
func (s *Store) SetWaitingRole(role string) { s.waitingRole = role }

// Close releases the client's connections.
func (s *Store) Close() error {
	if err := s.fs.Close(); err != nil {
		return wrapf(err, "close firestore client")
	}
	return nil
}

// Error is what the store returns for a failed Firestore call: it names the
// operation and unwraps to the cause; errors.Is also sees ErrUnavailable
// when the cause is worth retrying later, and ErrNotFound for a document
// Firestore says does not exist.
type Error struct {
	Op  string // what the store was doing, e.g. "read appointment a1"
	Err error  // the cause
}

// Error says "store: <op>: <cause>".
func (e *Error) Error() string { return "store: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause, so that errors.Is sees the store's sentinels
// and context errors.
func (e *Error) Unwrap() error { return e.Err }

// Is classifies Firestore's status codes into the store's own errors.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnavailable:
		return unavailable(e.Err)
	case ErrNotFound:
		return isNotFound(e.Err)
	}
	return false
}

// unavailable reports whether err is a failure a later retry may not meet.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.ResourceExhausted, codes.Canceled:
		return true
	}
	return false
}

// wrapf is the store's one error constructor: err (nil stays nil) as an
// *Error whose Op says what the store was doing.
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &Error{Op: fmt.Sprintf(format, args...), Err: err}
}

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }
