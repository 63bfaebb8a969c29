// Package functions is the HTTP surface of the video-call backend: the
// hmsToken callable and the hmssWebhook endpoint, registered with the
// functions framework and wired to the hms and store packages.
package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/auth"
	"firebase.google.com/go/v4/messaging"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/telemed/videocalls/bucket"
	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

func init() {
	a := newAppLookup(os.LookupEnv, newLogger(os.Stdout))
	// Settings are read once at start, and every problem of the functions
	// this instance serves is logged there at once (both when run locally).
	target := os.Getenv("FUNCTION_TARGET")
	a.logSettingsProblems(func(function string) bool { return target == "" || target == function })
	functions.HTTP("hmsToken", a.tokenHandler())
	functions.HTTP("hmssWebhook", a.webhookHandler())
	functions.HTTP("hmsEndCall", a.endCallHandler())
	functions.HTTP("hmsRecordingUrl", a.recordingURLHandler())
	functions.HTTP("hmsSweep", a.sweepHandler())
	functions.HTTP("hmsAdmit", a.admitHandler())
	functions.HTTP("hmsConsent", a.consentHandler())
	functions.HTTP("hmsRecording", a.recordingHandler())
	functions.HTTP("hmsRemove", a.removeHandler())
}

// app holds one instance's settings and clients. Clients are made on first
// use, not at start, so that a cold start stays small, and then shared by
// every request of the instance.
type app struct {
	cfg    *config
	logger *slog.Logger
	now    func() time.Time
	// newAuditID names each audit entry's document (store.NewAuditID);
	// a test names one Firestore refuses, to see the trail fail closed.
	newAuditID func() string
	// authTimeout bounds each token check on its own (deadlines.go), so
	// that a slow Auth answers UNAVAILABLE in time instead of eating the
	// request; defaultAuthTimeout unless a test shortens it.
	authTimeout time.Duration

	// What stops each function from serving, if anything: settings do not
	// change during an instance's life, so they are checked once.
	tokenSettingsErr, webhookSettingsErr error

	mu       sync.Mutex
	store    *store.Store
	fbApp    *firebase.App
	auth     idTokenVerifier
	hms      *hms.Client
	fcm      *messaging.Client
	bkt      *bucket.Bucket
	appCheck lazyAppCheck
}

// newAppLookup reads settings through lookup, which tells a variable
// present but blank from one absent (os.LookupEnv).
func newAppLookup(lookup func(string) (string, bool), logger *slog.Logger) *app {
	cfg := loadConfig(lookup)
	return &app{
		cfg: cfg, logger: logger, now: time.Now, newAuditID: store.NewAuditID, authTimeout: defaultAuthTimeout,
		tokenSettingsErr:   cfg.check("hmsToken"),
		webhookSettingsErr: cfg.check("hmssWebhook"),
	}
}

// logSettingsProblems logs, in one line, every settings problem of the
// functions served, so that one deploy's log shows all there is to fix.
func (a *app) logSettingsProblems(served func(function string) bool) {
	var attrs []any
	var names []string
	for function, err := range a.cfg.checkAll() {
		if served(function) {
			names = append(names, function)
			attrs = append(attrs, slog.String(function, err.Error()))
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	a.logger.Error("misconfigured: "+strings.Join(names, ", ")+" will answer every request with 500 until the settings are fixed",
		slog.Group("settingsProblems", attrs...))
}

func (a *app) projectID() string { return a.cfg.projectID }

func (a *app) firestore(ctx context.Context) (*store.Store, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.store == nil {
		s, err := store.Open(ctx, a.cfg.projectID)
		if err != nil {
			return nil, fmt.Errorf("open firestore: %w", err)
		}
		s.SetWaitingRole(a.cfg.waitingRole.String())
		s.SetNotify(a.cfg.notify)
		a.store = s
	}
	return a.store, nil
}

// firebaseApp is the instance's Admin SDK app; a.mu must be held.
func (a *app) firebaseApp(ctx context.Context) (*firebase.App, error) {
	if a.fbApp == nil {
		fb, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: a.cfg.projectID})
		if err != nil {
			return nil, fmt.Errorf("firebase app: %w", err)
		}
		a.fbApp = fb
	}
	return a.fbApp, nil
}

// idTokenVerifier is the part of the Admin SDK's auth.Client the sign-in
// check uses: the production branch of authenticate (revocation checked
// beside the handler) never runs against the Auth emulator, so its test
// puts a double here.
type idTokenVerifier interface {
	VerifyIDToken(ctx context.Context, idToken string) (*auth.Token, error)
	VerifyIDTokenAndCheckRevoked(ctx context.Context, idToken string) (*auth.Token, error)
}

func (a *app) authClient(ctx context.Context) (idTokenVerifier, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.auth == nil {
		fb, err := a.firebaseApp(ctx)
		if err != nil {
			return nil, err
		}
		c, err := fb.Auth(ctx)
		if err != nil {
			return nil, fmt.Errorf("firebase auth client: %w", err)
		}
		a.auth = c
	}
	return a.auth, nil
}

// appCheckClient is the Admin SDK's App Check client. Making it fetches
// Google's JWKS, which may take long or fail: the caller waits at most
// until ctx ends, and a failed fetch is tried again by a later request.
func (a *app) appCheckClient(ctx context.Context) (appCheckVerifier, error) {
	return a.appCheck.get(ctx, func() (appCheckVerifier, error) {
		a.mu.Lock()
		fb, err := a.firebaseApp(context.Background())
		a.mu.Unlock()
		if err != nil {
			return nil, err
		}
		// Background, not the request's context: the client outlives the
		// request that happened to make it.
		c, err := fb.AppCheck(context.Background())
		if err != nil {
			return nil, fmt.Errorf("firebase app check client: %w", err)
		}
		return c, nil
	})
}

// errVideoMisconfigured is wrapped by hmsClient's failure: the 100ms
// settings cannot make a client (callErrorOf answers it INTERNAL).
var errVideoMisconfigured = errors.New("100ms client")

func (a *app) hmsClient() (*hms.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.hms == nil {
		c, err := hms.NewClient(a.cfg.apiBase, a.cfg.credentials)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errVideoMisconfigured, err)
		}
		a.hms = c
	}
	return a.hms, nil
}
