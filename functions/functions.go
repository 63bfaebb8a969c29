// Package functions is the HTTP surface of the video-call backend: the
// hmsToken callable and the hmssWebhook endpoint, registered with the
// functions framework and wired to the hms and store packages.
package functions

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/auth"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

func init() {
	a := newApp(os.Getenv, newLogger(os.Stdout))
	// Settings are read once at start, and a problem is logged once there,
	// for the function this instance serves (both when run locally).
	target := os.Getenv("FUNCTION_TARGET")
	if target == "" || target == "hmsToken" {
		a.logSettingsProblem("hmsToken", a.tokenSettingsErr)
	}
	if target == "" || target == "hmssWebhook" {
		a.logSettingsProblem("hmssWebhook", a.webhookSettingsErr)
	}
	HmsToken = a.tokenHandler()
	HmssWebhook = a.webhookHandler()
	functions.HTTP("hmsToken", HmsToken)
	functions.HTTP("hmssWebhook", HmssWebhook)
}

// HmsToken is the hmsToken callable: it answers a signed-in doctor or
// client of an appointment with a 100ms join token for its room.
var HmsToken http.HandlerFunc

// HmssWebhook is the endpoint 100ms posts webhook events to.
var HmssWebhook http.HandlerFunc

// app holds one instance's settings and clients. Clients are made on first
// use, not at start, so that a cold start stays small, and then shared by
// every request of the instance.
type app struct {
	cfg    *config
	logger *slog.Logger
	now    func() time.Time

	// What stops each function from serving, if anything: settings do not
	// change during an instance's life, so they are checked once.
	tokenSettingsErr, webhookSettingsErr error

	mu    sync.Mutex
	store *store.Store
	auth  *auth.Client
	hms   *hms.Client
}

func newApp(getenv func(string) string, logger *slog.Logger) *app {
	cfg := loadConfig(getenv)
	return &app{
		cfg: cfg, logger: logger, now: time.Now,
		tokenSettingsErr:   cfg.check(tokenSettings...),
		webhookSettingsErr: cfg.check(webhookSettings...),
	}
}

func (a *app) logSettingsProblem(function string, err error) {
	if err != nil {
		a.logger.Error(function+" is misconfigured: every request will fail until it is fixed",
			slog.String("function", function), slog.String("error", err.Error()))
	}
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
		a.store = s
	}
	return a.store, nil
}

func (a *app) authClient(ctx context.Context) (*auth.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.auth == nil {
		fb, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: a.cfg.projectID})
		if err != nil {
			return nil, fmt.Errorf("firebase app: %w", err)
		}
		c, err := fb.Auth(ctx)
		if err != nil {
			return nil, fmt.Errorf("firebase auth client: %w", err)
		}
		a.auth = c
	}
	return a.auth, nil
}

func (a *app) hmsClient() (*hms.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.hms == nil {
		c, err := hms.NewClient(a.cfg.apiBase, a.cfg.credentials)
		if err != nil {
			return nil, fmt.Errorf("100ms client: %w", err)
		}
		a.hms = c
	}
	return a.hms, nil
}
