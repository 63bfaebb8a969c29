package functions

import (
	"fmt"
	"net/textproto"
	"strings"
	"time"

	"github.com/telemed/videocalls/hms"
)

// The settings of SPEC §1, read from the process environment.
const (
	envAccessKey     = "HMS_ACCESS_KEY"
	envSecret        = "HMS_SECRET"
	envTemplateID    = "HMS_TEMPLATE_ID"
	envWebhookSecret = "HMS_WEBHOOK_SECRET"
	envWebhookHeader = "HMS_WEBHOOK_HEADER"
	envAPIBase       = "HMS_API_BASE"
	envTokenTTL      = "HMS_TOKEN_TTL"
	envJoinEarly     = "JOIN_EARLY"
	envJoinLate      = "JOIN_LATE"
	envProject       = "GOOGLE_CLOUD_PROJECT"
	envFirestoreEmu  = "FIRESTORE_EMULATOR_HOST"
	envAuthEmu       = "FIREBASE_AUTH_EMULATOR_HOST"
	envCloudRunName  = "K_SERVICE"
	envLegacyProject = "GCLOUD_PROJECT"
	defaultHeader    = "X-Webhook-Secret"
	defaultAPIBase   = "https://api.100ms.live/v2"
	defaultJoinEarly = 15 * time.Minute
	defaultJoinLate  = 60 * time.Minute
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
	apiBase        string
	tokenTTL       time.Duration
	joinEarly      time.Duration
	joinLate       time.Duration
	emulated       bool

	problems map[string]string // variable name → what is wrong (never its value)
}

// settingError names a missing or malformed variable, never its value.
type settingError struct{ name, problem string }

func (e *settingError) Error() string {
	return fmt.Sprintf("setting %s %s", e.name, e.problem)
}

func loadConfig(getenv func(string) string) *config {
	c := &config{problems: map[string]string{}}
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }

	c.projectID = get(envProject)
	if c.projectID == "" {
		c.projectID = get(envLegacyProject)
	}
	c.credentials = hms.Credentials{AccessKey: get(envAccessKey), Secret: get(envSecret)}
	c.templateID = get(envTemplateID)
	c.webhookSecrets = hms.ParseWebhookSecrets(getenv(envWebhookSecret))
	c.webhookHeader = textproto.CanonicalMIMEHeaderKey(get(envWebhookHeader))
	if c.webhookHeader == "" {
		c.webhookHeader = defaultHeader
	}
	c.apiBase = strings.TrimRight(get(envAPIBase), "/")
	if c.apiBase == "" {
		c.apiBase = defaultAPIBase
	} else if !strings.HasPrefix(c.apiBase, "https://") && !strings.HasPrefix(c.apiBase, "http://") {
		c.problems[envAPIBase] = "must be an http(s) URL"
	}
	c.tokenTTL = c.duration(get, envTokenTTL, hms.DefaultJoinTTL, hms.MaxJoinTTL)
	c.joinEarly = c.duration(get, envJoinEarly, defaultJoinEarly, 0)
	c.joinLate = c.duration(get, envJoinLate, defaultJoinLate, 0)

	c.emulated = get(envFirestoreEmu) != "" || get(envAuthEmu) != ""
	if c.emulated && get(envCloudRunName) != "" {
		// A deployed function pointed at an emulator would accept unsigned
		// ID tokens: refuse to serve rather than run unauthenticated.
		c.problems[envAuthEmu] = "or " + envFirestoreEmu + " is set in a deployed function (K_SERVICE is set); remove the emulator variables"
	}
	return c
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
	case d == 0 && name == envTokenTTL:
		c.problems[name] = "must be positive"
	case max > 0 && d > max:
		c.problems[name] = fmt.Sprintf("must be at most %s", max)
	}
	return d
}

// check reports the first problem among the named settings: a required
// one that is empty, or any that is malformed. Order is stable so that the
// same misconfiguration always gives the same message.
func (c *config) check(required ...string) error {
	present := map[string]bool{
		envAccessKey:     c.credentials.AccessKey != "",
		envSecret:        c.credentials.Secret != "",
		envTemplateID:    c.templateID != "",
		envProject:       c.projectID != "",
		envWebhookSecret: c.webhookSecrets.Len() > 0,
	}
	for _, name := range required {
		if !present[name] {
			return &settingError{name: name, problem: "is missing"}
		}
	}
	for _, name := range []string{envAuthEmu, envAPIBase, envTokenTTL, envJoinEarly, envJoinLate} {
		if p, ok := c.problems[name]; ok {
			return &settingError{name: name, problem: p}
		}
	}
	return nil
}

// What each function needs before it can answer anything.
var (
	tokenSettings   = []string{envProject, envAccessKey, envSecret, envTemplateID}
	webhookSettings = []string{envProject, envWebhookSecret, envAccessKey, envSecret}
)
