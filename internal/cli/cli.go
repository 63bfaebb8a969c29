// Package cli is what the operators' commands that read Firestore (audit,
// report) share: where to read (the emulator or a real project), the time
// arguments, and the advice added to the errors a user meets.
package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// EmulatorProject is the project scripts/dev runs the emulators with.
const EmulatorProject = "demo-videocalls"

// Target is the Firestore a command reads.
type Target struct {
	Project  string
	Emulator string // FIRESTORE_EMULATOR_HOST; "" for the real project
}

// ResolveTarget reads the emulator from FIRESTORE_EMULATOR_HOST and the
// project from project (a flag), else GOOGLE_CLOUD_PROJECT, else, for the
// emulator only, EmulatorProject.
func ResolveTarget(project string, lookup func(string) (string, bool)) (Target, error) {
	host, set := lookup("FIRESTORE_EMULATOR_HOST")
	if set && strings.TrimSpace(host) == "" {
		// The Firestore client would take a blank value for "no
		// emulator" and read the real project: refuse to guess.
		return Target{}, errors.New("FIRESTORE_EMULATOR_HOST is set but empty: unset it to read the real project, or name the emulator (host:port)")
	}
	t := Target{Project: strings.TrimSpace(project), Emulator: strings.TrimSpace(host)}
	if t.Project == "" {
		env, _ := lookup("GOOGLE_CLOUD_PROJECT")
		t.Project = strings.TrimSpace(env)
	}
	if t.Project == "" {
		if t.Emulator == "" {
			return Target{}, errors.New("no project: pass --project ID or set GOOGLE_CLOUD_PROJECT (environment or .env); FIRESTORE_EMULATOR_HOST is not set, so this would read a real project")
		}
		t.Project = EmulatorProject
	}
	return t, nil
}

// String says what is read, for the first line on stderr.
func (t Target) String() string {
	if t.Emulator != "" {
		return fmt.Sprintf("project %s, Firestore emulator at %s", t.Project, t.Emulator)
	}
	return fmt.Sprintf("project %s, Firestore with Application Default Credentials", t.Project)
}

// ParseTime reads a time argument: a date (YYYY-MM-DD, midnight UTC) or an
// RFC 3339 time.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (YYYY-MM-DD, UTC) nor an RFC 3339 time (2026-12-02T10:30:00Z)", s)
	}
	return t.UTC(), nil
}

// Explain adds what to do to the errors a user meets; collection names the
// collection whose index may be missing.
func Explain(err error, t Target, collection string) string {
	msg := err.Error()
	code := status.Code(err) // sees through the store's *Error
	switch {
	case strings.Contains(msg, "could not find default credentials"):
		return msg + "\n(no Application Default Credentials: run `gcloud auth application-default login`, " +
			"or set GOOGLE_APPLICATION_CREDENTIALS; for the emulator, set FIRESTORE_EMULATOR_HOST)"
	case code == codes.PermissionDenied || code == codes.Unauthenticated:
		return msg + fmt.Sprintf("\n(these credentials may not read Firestore in project %s: grant e.g. roles/datastore.viewer)", t.Project)
	case code == codes.FailedPrecondition && strings.Contains(strings.ToLower(msg), "index"):
		return msg + fmt.Sprintf("\n(a %s index is missing in project %s: deploy firestore.indexes.json "+
			"with scripts/deploy --only firestore --project %s; a new index takes minutes to build)", collection, t.Project, t.Project)
	case t.Emulator != "" && (code == codes.Unavailable || errors.Is(err, context.DeadlineExceeded)):
		return msg + fmt.Sprintf("\n(is the Firestore emulator running at %s? scripts/dev starts one)", t.Emulator)
	}
	return msg
}
