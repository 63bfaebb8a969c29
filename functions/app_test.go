package functions

import "log/slog"

// newApp reads settings through getenv, where an empty value counts as
// absent; newAppLookup is the form that tells blank from absent.
func newApp(getenv func(string) string, logger *slog.Logger) *app {
	return newAppLookup(func(k string) (string, bool) {
		v := getenv(k)
		return v, v != ""
	}, logger)
}
