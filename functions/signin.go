package functions

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"firebase.google.com/go/v4/auth"
	"firebase.google.com/go/v4/errorutils"
)

// The sign-in check every callable makes before its handler runs.

// authenticate verifies the caller's Firebase ID token within its own
// deadline and returns the uid it names, and signedIn, which waits for the
// check that the token was not revoked and its user is not disabled.
// https.ts checkAuthToken takes the token from "Authorization: Bearer ..."
// (/^Bearer (.*)$/i); these callables all need a signed-in caller, so a
// missing one is refused here rather than by each handler.
//
// The signature and claims are checked here, locally (Google's keys are
// cached); the revocation check asks Auth for the user, a round trip, so it
// runs while the handler reads the appointment: one round trip instead of
// two in sequence. Nothing is answered, and nothing is written, before it
// holds (serveCallable, and request.grant). The Auth emulator is asked for
// the user by VerifyIDToken itself, so there the one call does both.
func (a *app) authenticate(ctx context.Context, r *http.Request) (uid string, signedIn func() *callError, cerr *callError) {
	scheme, idToken, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	idToken = strings.TrimSpace(idToken)
	if !ok || !strings.EqualFold(scheme, "Bearer") || idToken == "" {
		return "", nil, fail(statusUnauthenticated, reasonNoIDToken, "Sign in first: the request has no Firebase ID token.", nil)
	}
	client, err := a.authClient(ctx)
	if err != nil {
		return "", nil, fail(statusInternal, reasonMisconfigured, "Sign-in could not be checked: the backend's Firebase settings need attention.", err)
	}
	verifyCtx, cancel := a.authDeadline(ctx)
	tok, err := client.VerifyIDToken(verifyCtx, idToken)
	if err != nil {
		cancel()
		return "", nil, idTokenError(err)
	}
	if a.cfg.authEmulated {
		cancel()
		return tok.UID, func() *callError { return nil }, nil
	}
	done := make(chan *callError, 1)
	go func() {
		defer cancel()
		if _, err := client.VerifyIDTokenAndCheckRevoked(verifyCtx, idToken); err != nil {
			done <- idTokenError(err)
			return
		}
		done <- nil
	}()
	var once sync.Once
	var verdict *callError
	return tok.UID, func() *callError {
		once.Do(func() { verdict = <-done })
		return verdict
	}, nil
}

// authViewerRole is the role whose firebaseauth.users.get permission
// VerifyIDTokenAndCheckRevoked needs: it reads the user (GetUser) to check
// revocation and the disabled flag.
const authViewerRole = "Firebase Authentication Viewer (roles/firebaseauth.viewer)"

// idTokenError tells an ID token that is itself bad (401: sign in again)
// from a failure to check it (503: try again; 500: our permissions), by the
// Admin SDK's own error codes (firebase-admin-go auth/token_verifier.go
// verifyContent/verifyTimestamps/verifySignature, auth/auth.go
// checkRevokedOrDisabled, auth/user_mgt.go getUser).
func idTokenError(err error) *callError {
	switch {
	case auth.IsIDTokenExpired(err):
		return fail(statusUnauthenticated, reasonIDTokenExpired, "Your sign-in has expired; sign in again.", err)
	case auth.IsIDTokenRevoked(err):
		return fail(statusUnauthenticated, reasonIDTokenRevoked, "Your sign-in was revoked; sign in again.", err)
	case auth.IsUserDisabled(err):
		return fail(statusUnauthenticated, reasonUserDisabled, "This account is disabled.", err)
	case auth.IsUserNotFound(err):
		return fail(statusUnauthenticated, reasonUserNotFound, "This account no longer exists; sign in again.", err)
	case auth.IsIDTokenInvalid(err), auth.IsTenantIDMismatch(err):
		return fail(statusUnauthenticated, reasonIDTokenInvalid, "Your sign-in is invalid; sign in again.", err)
	case auth.IsInsufficientPermission(err), errorutils.IsPermissionDenied(err), errorutils.IsUnauthenticated(err):
		return fail(statusInternal, reasonAuthPermission, "Sign-in could not be checked: the function's service account lacks the "+authViewerRole+" role.", err)
	case auth.IsProjectNotFound(err), auth.IsConfigurationNotFound(err), auth.IsTenantNotFound(err):
		return fail(statusInternal, reasonMisconfigured, "Sign-in could not be checked: the backend's Firebase project settings need attention.", err)
	default:
		// Certificates not fetched, Auth unreachable, slow or failing
		// (CERTIFICATE_FETCH_FAILED, network errors, 5xx, the deadline).
		return fail(statusUnavailable, reasonAuthUnavailable, "Sign-in could not be checked right now; try again.", err)
	}
}
