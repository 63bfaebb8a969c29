package store

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrPermanent marks a failure no retry can fix, for a caller that wraps
// one of its own; IsPermanent also sees it.
var ErrPermanent = errors.New("permanent storage failure")

// IsPermanent reports whether err, through any wrapping, is a failure that
// trying again cannot fix: a stored document the store cannot use (an
// appointment of the wrong shape, a room record that names no appointment,
// an event no delivery could store, a document id made for the request
// that holds another's content), or a request Firestore refuses as it
// is (InvalidArgument: a document over 1 MiB, too many index entries, a
// reserved id; OutOfRange; DataLoss), or one it refuses this service
// account (PermissionDenied: the settings need attention). A context's end
// and Firestore's transient codes (Unavailable, DeadlineExceeded, Aborted,
// ResourceExhausted) are never permanent, whatever they wrap.
func IsPermanent(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, ErrPermanent), errors.Is(err, ErrMalformedAppointment),
		errors.Is(err, errBadRoomRecord), errors.Is(err, ErrUnstorableEvent), errors.Is(err, errTaken):
		return true
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.OutOfRange, codes.DataLoss, codes.PermissionDenied:
		return true
	}
	return false
}
