package hms

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors; every error this package returns wraps at most one of the
// first two, so a caller can tell "try later" from "100ms said no".
var (
	// ErrUnavailable means 100ms could not be reached or did not answer
	// usefully in time (network error, 5xx, 429, deadline, unreadable
	// answer): the same request may succeed later.
	ErrUnavailable = errors.New("100ms unavailable")
	// ErrRefused means 100ms answered with a 4xx it will answer again; the
	// error is also an *APIError carrying the status.
	ErrRefused = errors.New("100ms refused the request")
	// ErrInvalidArgument means the call was refused before anything was
	// sent: an empty id, a zero Role, a negative TTL, a bad base URL.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrMissingCredentials means the access key or the secret is empty.
	ErrMissingCredentials = errors.New("100ms access key or secret missing")
	// ErrNotFound refines ErrRefused: 100ms answered 404 (no such room,
	// session or asset).
	ErrNotFound = errors.New("100ms: not found")
	// ErrNotActive refines ErrRefused for EndRoom, ActivePeers, RemoveRole
	// and StartRoomRecording: the room has no active session; and for
	// StopRoomRecording: no recording runs in it. 100ms's pages for these
	// calls document no error answers; it answers 404 for the active room
	// (or running recording) it does not have, the same as for an unknown
	// room, so the two cannot be told apart by the answer.
	ErrNotActive = errors.New("100ms: room not active")
	// ErrAlreadyRecording refines ErrRefused for StartRoomRecording: a
	// recording runs in the room already (100ms answered 409, or a 400
	// saying "already"; its start-recording page documents neither), so
	// no second one was started.
	ErrAlreadyRecording = errors.New("100ms: a recording is already running in the room")
)

// APIError is an HTTP error answer from 100ms. It matches ErrRefused for a
// 4xx other than 429 (and ErrNotFound for a 404) and ErrUnavailable for 5xx
// and 429. Message is 100ms's
// own text, truncated, with no token or secret in it.
type APIError struct {
	Status  int
	Message string
}

// Error names the status and 100ms's message.
func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("100ms answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("100ms answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Is makes errors.Is(err, ErrRefused) and errors.Is(err, ErrUnavailable)
// follow the status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnavailable:
		return retryableStatus(e.Status)
	case ErrRefused:
		return !retryableStatus(e.Status)
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	}
	return false
}

// retryableStatus says which answers are 100ms being busy or broken rather
// than a verdict on the request.
func retryableStatus(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests
}
