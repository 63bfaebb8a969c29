package functions

import (
	"fmt"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/telemed/videocalls/bucket"
	"github.com/telemed/videocalls/hms"
)

// The settings of README, Configuration, read from the process environment.
const (
	envAccessKey     = "HMS_ACCESS_KEY"
	envSecret        = "HMS_SECRET"
	envTemplateID    = "HMS_TEMPLATE_ID"
	envWebhookSecret = "HMS_WEBHOOK_SECRET"
	envWebhookHeader = "HMS_WEBHOOK_HEADER"
	envSigningSecret = "HMS_WEBHOOK_SIGNING_SECRET"
	envAPIBase       = "HMS_API_BASE"
	envTokenTTL      = "HMS_TOKEN_TTL"
	envJoinEarly     = "JOIN_EARLY"
	envJoinLate      = "JOIN_LATE"
	envAppCheck      = "APP_CHECK_ENFORCE"
	envSweepIdle     = "SWEEP_IDLE"
	envWaitingRole   = "WAITING_ROOM_ROLE"
	envConsent       = "RECORDING_CONSENT"
	envTranscription = "RECORDING_TRANSCRIPTION"
	envSummary       = "RECORDING_SUMMARY"
	envNotify        = "NOTIFY"
	envFCMBase       = "FCM_API_BASE"
	envBucket        = "RECORDING_BUCKET"
	envLinkTTL       = "RECORDING_LINK_TTL"
	envRetentionDays = "RECORDING_RETENTION_DAYS"
	envCredentials   = "GOOGLE_APPLICATION_CREDENTIALS"
	envStorageEmu    = "STORAGE_EMULATOR_HOST"
	envProject       = "GOOGLE_CLOUD_PROJECT"
	envFirestoreEmu  = "FIRESTORE_EMULATOR_HOST"
	envAuthEmu       = "FIREBASE_AUTH_EMULATOR_HOST"
	envCloudRunName  = "K_SERVICE"
	envLegacyProject = "GCLOUD_PROJECT"
	defaultHeader    = "X-Webhook-Secret"
	defaultAPIBase   = "https://api.100ms.live/v2"
	defaultJoinEarly = 15 * time.Minute
	defaultJoinLate  = 60 * time.Minute
	defaultSweepIdle = 30 * time.Minute
	defaultLinkTTL   = 15 * time.Minute
	maxLinkTTL       = time.Hour
	// maxRetentionDays keeps a retention cutoff a time Firestore can hold.
	maxRetentionDays  = 36500
	envWebhookAnyAuth = envWebhookSecret + " or " + envSigningSecret
)

// config is every setting, parsed once per instance. A problem with a
// setting is kept, not fatal: the function still starts so that a deploy
// does not crash-loop, and answers with a 500 that names the variable.
type config struct {
	projectID      string
	credentials    hms.Credentials
	templateID     string
	webhookSecrets hms.WebhookSecrets
	webhookHeader  string
	// signingSecrets are the HMAC keys of x-100ms-signature (HIPAA
	// workspaces), several during a rotation; none means no signature check.
	signingSecrets  [][]byte
	apiBase         string
	tokenTTL        time.Duration
	joinEarly       time.Duration
	joinLate        time.Duration
	appCheckEnforce bool
	sweepIdle       time.Duration
	// waitingRole is the 100ms role of the waiting room; zero: none.
	waitingRole hms.Role
	// consentRequired: hmsRecording starts only with everyone's consent.
	consentRequired bool
	// transcribe, summarise: what hmsRecording asks 100ms for besides the
	// recording.
	transcribe, summarise bool
	// notify: the webhook's push notifications (NOTIFY, on by default);
	// fcmBase: FCM's v1 base URL when FCM_API_BASE names a fake one with
	// the emulators, "" for FCM itself (the Admin SDK's default).
	notify   bool
	fcmBase  string
	emulated bool
	// bucket: RECORDING_BUCKET, the clinic's bucket 100ms writes to, ""
	// for none; linkTTL: how long a link we sign to its files lives;
	// retentionDays: its files older than this are deleted by hmsSweep
	// (0: kept until erased); keyFile: GOOGLE_APPLICATION_CREDENTIALS,
	// whose service-account key signs links locally (deployed: none, and
	// the storage client signs through IAM signBlob).
	bucket        string
	linkTTL       time.Duration
	retentionDays int
	keyFile       string
	// authEmulated: the Admin SDK talks to the Auth emulator, where
	// VerifyIDToken itself reads the user (auth.go verifyIDToken).
	authEmulated bool

	problems map[string]string // variable name → what is wrong (never its value)
}

// settingsError names every missing or malformed variable of one function,
// never a value.
type settingsError struct{ problems []string }

func (e *settingsError) Error() string {
	return "settings: " + strings.Join(e.problems, "; ")
}

// loadConfig reads the settings through lookup, os.LookupEnv's shape, so
// that a variable present but blank can be told from one that is absent.
func loadConfig(lookup func(string) (string, bool)) *config {
	c := &config{problems: map[string]string{}}
	get := func(name string) string { v, _ := lookup(name); return strings.TrimSpace(v) }
	present := func(name string) bool { _, ok := lookup(name); return ok }

	c.projectID = get(envProject)
	if c.projectID == "" {
		c.projectID = get(envLegacyProject)
	}
	c.credentials = hms.Credentials{AccessKey: get(envAccessKey), Secret: get(envSecret)}
	c.templateID = get(envTemplateID)
	raw, _ := lookup(envWebhookSecret)
	c.webhookSecrets = hms.ParseWebhookSecrets(raw)
	c.signingSecrets = parseSecretList(get(envSigningSecret))
	c.webhookHeader = get(envWebhookHeader)
	if c.webhookHeader == "" {
		c.webhookHeader = defaultHeader
	} else if !validHeaderName(c.webhookHeader) {
		c.problems[envWebhookHeader] = "is not a valid HTTP header name"
	}
	c.webhookHeader = textproto.CanonicalMIMEHeaderKey(c.webhookHeader)
	c.apiBase = strings.TrimRight(get(envAPIBase), "/")
	if c.apiBase == "" {
		c.apiBase = defaultAPIBase
	} else if !strings.HasPrefix(c.apiBase, "https://") && !strings.HasPrefix(c.apiBase, "http://") {
		c.problems[envAPIBase] = "must be an http(s) URL"
	}
	c.tokenTTL = c.duration(get, envTokenTTL, hms.DefaultJoinTTL, hms.MaxJoinTTL)
	c.joinEarly = c.duration(get, envJoinEarly, defaultJoinEarly, 0)
	c.joinLate = c.duration(get, envJoinLate, defaultJoinLate, 0)
	c.sweepIdle = c.duration(get, envSweepIdle, defaultSweepIdle, 0)
	c.appCheckEnforce = c.boolean(get, envAppCheck)
	c.transcribe = c.boolean(get, envTranscription)
	c.summarise = c.boolean(get, envSummary)
	if name := get(envWaitingRole); name != "" {
		role, err := hms.WaitingRole(name)
		if err != nil {
			c.problems[envWaitingRole] = "is not a usable 100ms role name (letters, digits, - and _; not host or guest)"
		}
		c.waitingRole = role
	}
	switch strings.ToLower(get(envConsent)) {
	case "", "required":
		c.consentRequired = true
	case "off":
	default:
		c.problems[envConsent] = "must be required or off"
		c.consentRequired = true
	}
	switch strings.ToLower(get(envNotify)) {
	case "", "on":
		c.notify = true
	case "off":
	default:
		c.problems[envNotify] = "must be on or off"
	}
	c.fcmBase = strings.TrimRight(get(envFCMBase), "/")
	if c.fcmBase != "" && !strings.HasPrefix(c.fcmBase, "https://") && !strings.HasPrefix(c.fcmBase, "http://") {
		c.problems[envFCMBase] = "must be an http(s) URL"
	}

	c.bucket = get(envBucket)
	if c.bucket != "" && !bucket.ValidName(c.bucket) {
		c.problems[envBucket] = "is not a Cloud Storage bucket name (lowercase letters, digits, - _ and .; no gs://)"
	}
	c.linkTTL = c.duration(get, envLinkTTL, defaultLinkTTL, maxLinkTTL)
	if s := get(envRetentionDays); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n < 1 || n > maxRetentionDays:
			c.problems[envRetentionDays] = fmt.Sprintf("must be a whole number of days from 1 to %d", maxRetentionDays)
		case c.bucket == "":
			c.problems[envRetentionDays] = "needs " + envBucket + " (the files it deletes are that bucket's)"
		default:
			c.retentionDays = n
		}
	}
	c.keyFile = get(envCredentials)
	if present(envStorageEmu) && get(envCloudRunName) != "" {
		c.problems[envStorageEmu] = "is set in a deployed function (K_SERVICE is set); remove it to reach Cloud Storage"
	}

	// The Admin SDK and the Firestore client take an emulator variable as
	// set when it is present at all, even blank: so must this check, or a
	// blank FIREBASE_AUTH_EMULATOR_HOST would pass it and still make the SDK
	// skip ID-token signatures.
	for _, name := range []string{envAuthEmu, envFirestoreEmu} {
		if !present(name) {
			continue
		}
		c.emulated = true
		c.authEmulated = c.authEmulated || name == envAuthEmu
		if get(envCloudRunName) != "" {
			// A deployed function pointed at an emulator would accept
			// unsigned ID tokens: refuse to serve rather than run
			// unauthenticated.
			c.problems[name] = "is set in a deployed function (K_SERVICE is set); remove the emulator variables"
		}
	}
	if c.fcmBase != "" && !c.emulated {
		// FCM_API_BASE's client sends no credentials: with the real
		// Firestore it would be pointed at FCM itself, or at a stranger.
		c.problems[envFCMBase] = "is for the emulators only (a fake FCM); unset it to reach FCM"
	}
	return c
}

// boolean reads a true/false setting, false when absent.
func (c *config) boolean(get func(string) string, name string) bool {
	s := get(name)
	if s == "" {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		c.problems[name] = "must be true or false"
	}
	return b
}

// parseSecretList splits a comma-separated list, trimming each entry and
// dropping empty ones.
func parseSecretList(s string) [][]byte {
	var out [][]byte
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, []byte(part))
		}
	}
	return out
}

// validHeaderName reports whether s is an RFC 9110 token, the only form a
// header name can take on the wire.
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

// duration parses a Go duration setting; max 0 means no upper bound.
func (c *config) duration(get func(string) string, name string, def, max time.Duration) time.Duration {
	s := get(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		c.problems[name] = "is not a Go duration such as 4h or 15m"
	case d < 0:
		c.problems[name] = "must not be negative"
	case d == 0 && (name == envTokenTTL || name == envSweepIdle || name == envLinkTTL):
		c.problems[name] = "must be positive"
	case max > 0 && d > max:
		c.problems[name] = fmt.Sprintf("must be at most %s", max)
	}
	return d
}

// settingsSpec is what one function reads: the settings it cannot run
// without, and the optional ones whose malformed value would make it
// misbehave. A function checks these and no others, so that a typo in a
// setting of hmsToken never stops hmssWebhook (issue 11).
type settingsSpec struct {
	required []string
	optional []string
}

// functionSettings lists each function's own settings (README, Configuration).
// hmssWebhook needs no 100ms credentials: they serve only reconciliation,
// whose failure is logged and never fails a delivery.
var functionSettings = map[string]settingsSpec{
	"hmsToken": {
		required: []string{envProject, envAccessKey, envSecret, envTemplateID},
		optional: []string{envAPIBase, envTokenTTL, envJoinEarly, envJoinLate, envAppCheck, envWaitingRole},
	},
	"hmssWebhook": {
		required: []string{envProject, envWebhookAnyAuth},
		optional: []string{envWebhookHeader, envWaitingRole, envNotify, envFCMBase},
	},
	"hmsAdmit": {
		required: []string{envProject, envAccessKey, envSecret},
		optional: []string{envAPIBase, envAppCheck, envWaitingRole},
	},
	"hmsRemove": {
		required: []string{envProject, envAccessKey, envSecret},
		optional: []string{envAPIBase, envAppCheck, envWaitingRole},
	},
	"hmsConsent": {
		required: []string{envProject, envAccessKey, envSecret},
		optional: []string{envAPIBase, envAppCheck},
	},
	"hmsRecording": {
		required: []string{envProject, envAccessKey, envSecret},
		optional: []string{envAPIBase, envAppCheck, envConsent, envTranscription, envSummary},
	},
	"hmsEndCall": {
		required: []string{envProject, envAccessKey, envSecret},
		optional: []string{envAPIBase, envAppCheck},
	},
	"hmsRecordingUrl": {
		required: []string{envProject, envAccessKey, envSecret},
		optional: []string{envAPIBase, envAppCheck, envBucket, envLinkTTL, envStorageEmu},
	},
	"hmsSweep": {
		required: []string{envProject, envAccessKey, envSecret},
		optional: []string{envAPIBase, envSweepIdle, envBucket, envRetentionDays, envStorageEmu},
	},
}

// check reports every problem among the settings of function: each
// required one that is empty, each of its own that is malformed, and an
// emulator variable in a deployment, which concerns every function. The
// order is stable, so the same misconfiguration gives the same message.
func (c *config) check(function string) error {
	spec, ok := functionSettings[function]
	if !ok {
		return &settingsError{problems: []string{"no settings are known for function " + function}}
	}
	present := map[string]bool{
		envAccessKey:      c.credentials.AccessKey != "",
		envSecret:         c.credentials.Secret != "",
		envTemplateID:     c.templateID != "",
		envProject:        c.projectID != "",
		envWebhookAnyAuth: c.webhookSecrets.Len() > 0 || len(c.signingSecrets) > 0,
	}
	var problems []string
	for _, name := range spec.required {
		if !present[name] {
			problems = append(problems, name+" is missing")
		}
	}
	for _, name := range append([]string{envAuthEmu, envFirestoreEmu}, spec.optional...) {
		if p, ok := c.problems[name]; ok {
			problems = append(problems, name+" "+p)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &settingsError{problems: problems}
}

// checkAll returns the problems of every function, by function name, for
// the start-up log.
func (c *config) checkAll() map[string]error {
	out := map[string]error{}
	names := make([]string, 0, len(functionSettings))
	for name := range functionSettings {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := c.check(name); err != nil {
			out[name] = err
		}
	}
	return out
}
