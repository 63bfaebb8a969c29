// Package store keeps the video calls' state in Firestore: appointments
// (read only), the 100ms room of each appointment, and the call, session
// and recording documents that 100ms webhook events build up (SPEC §2).
// It knows nothing of HTTP.
package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Collection names, as the mobile app reads them (SPEC §2).
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
	// one per peer (peer.go), per call (session.go), and per status rank of
	// a stream, recording or transcript (rank.go).
	colPeers     = "hmsPeers"
	colCallBooks = "hmsCalls"
	colRanks     = "hmsRanks"
)

// txAttempts bounds transaction retries; the caller's deadline bounds them too.
const txAttempts = 10

var (
	// ErrNotFound means the requested document does not exist.
	ErrNotFound = errors.New("not found")
	// ErrMalformedAppointment means an appointment document lacks a required
	// field or holds one of the wrong type.
	ErrMalformedAppointment = errors.New("malformed appointment")
	// ErrUnstorableEvent means an event can never be stored, however often
	// it is delivered: its body is not UTF-8, its id cannot name a
	// document, or its timestamp is outside Firestore's years 1 to 9999.
	ErrUnstorableEvent = errors.New("event cannot be stored")
	// ErrRoomTaken means 100ms returned, for an appointment, a room that
	// is recorded for another appointment; it is never taken over.
	ErrRoomTaken = errors.New("room belongs to another appointment")
)

// Store is a Firestore client for the video-call documents. It is safe for
// concurrent use; make one per function instance.
type Store struct {
	fs *firestore.Client

	// callRooms caches appointment id → the room recorded in calls/{id}:
	// once recorded a room is never replaced, so a warm EnsureRoom needs
	// no read.
	callRooms sync.Map
	// rooms caches hmsRooms/{roomId} → appointment id; the mapping never
	// changes once written, so the cache never needs invalidating.
	rooms sync.Map
	// seen answers redeliveries without a Firestore round trip.
	seen seenEvents

	// txLocks stripes the read-then-write locks (see lock.go); each
	// is a one-slot semaphore so that waiting can honour a context.
	txLocks [64]chan struct{}
}

// Open connects to projectID's default database, or to the emulator named by
// FIRESTORE_EMULATOR_HOST (the client library reads it).
func Open(ctx context.Context, projectID string) (*Store, error) {
	if projectID == "" {
		return nil, errors.New("store: open: empty project id")
	}
	fs, err := firestore.NewClient(ctx, projectID)
	if err != nil {
		return nil, wrap("open firestore client", err)
	}
	st := &Store{fs: fs}
	for i := range st.txLocks {
		st.txLocks[i] = make(chan struct{}, 1)
	}
	return st, nil
}

// Close releases the client's connections.
func (s *Store) Close() error {
	if err := s.fs.Close(); err != nil {
		return wrap("close firestore client", err)
	}
	return nil
}

// Error is what the store returns for a failed Firestore call: it names the
// operation, unwraps to the cause, and carries the cause's gRPC status so
// that callers can tell "unavailable, retry" (Unavailable, DeadlineExceeded)
// from the rest with status.Code. A context error becomes the matching
// status, so a deadline spent waiting on Firestore reads as DeadlineExceeded.
type Error struct {
	Op  string // what the store was doing, e.g. "read appointment a1"
	Err error  // the cause
}

// Error says "store: <op>: <cause>".
func (e *Error) Error() string { return "store: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause, so that errors.Is sees ErrNotFound and context errors.
func (e *Error) Unwrap() error { return e.Err }

// GRPCStatus lets status.FromError and status.Code see the cause's status.
func (e *Error) GRPCStatus() *status.Status {
	if st, ok := status.FromError(e.Err); ok {
		return status.New(st.Code(), e.Error())
	}
	switch {
	case errors.Is(e.Err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, e.Error())
	case errors.Is(e.Err, context.Canceled):
		return status.New(codes.Canceled, e.Error())
	case errors.Is(e.Err, ErrNotFound):
		return status.New(codes.NotFound, e.Error())
	case errors.Is(e.Err, ErrMalformedAppointment):
		return status.New(codes.FailedPrecondition, e.Error())
	}
	return status.New(codes.Unknown, e.Error())
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Err: err}
}

func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &Error{Op: fmt.Sprintf(format, args...), Err: err}
}

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }
