// Command local serves both functions on one port for local development, as
// scripts/dev runs it: at /hmsToken and /hmssWebhook (the functions
// framework's paths for the declarative names) and at
// /<project>/<region>/hmsToken and /<project>/<region>/hmssWebhook, the
// paths Firebase's client SDKs call when pointed at the Functions emulator
// (Flutter's useFunctionsEmulator, the web SDK's connectFunctionsEmulator).
//
// Settings come from the environment (SPEC §1): HOST (default 127.0.0.1),
// PORT (default 8080), GOOGLE_CLOUD_PROJECT, FUNCTION_REGION (default
// us-central1), and the functions' own variables.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/telemed/videocalls/functions"
)

// defaultRegion is the region Firebase's client SDKs assume when none is
// given, and the region scripts/deploy uses by default.
const defaultRegion = "us-central1"

func main() {
	log.SetFlags(0)
	log.SetPrefix("local: ")
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	// With FUNCTION_TARGET set the framework would serve that one function
	// at "/" only; locally both are served at their paths.
	if t := os.Getenv("FUNCTION_TARGET"); t != "" {
		log.Printf("ignoring FUNCTION_TARGET=%s: serving both functions", t)
		os.Unsetenv("FUNCTION_TARGET")
	}
	host := envOr("HOST", "127.0.0.1")
	port := envOr("PORT", "8080")
	paths, err := aliasPaths(os.Getenv("GOOGLE_CLOUD_PROJECT"), envOr("FUNCTION_REGION", defaultRegion))
	if err != nil {
		return err
	}
	handlers := map[string]http.HandlerFunc{"hmsToken": functions.HmsToken, "hmssWebhook": functions.HmssWebhook}
	for _, a := range paths {
		if err := funcframework.RegisterHTTPFunctionContext(ctx, a.path, handlers[a.function]); err != nil {
			return fmt.Errorf("register %s at %s: %w", a.function, a.path, err)
		}
	}
	log.Printf("listening on http://%s:%s", host, port)
	return funcframework.StartHostPort(host, port)
}

// alias is an extra path a function is served at.
type alias struct{ function, path string }

// aliasPaths returns the emulator-style paths of both functions, under
// their entry-point names and under the lowercase names scripts/deploy gives
// them, so that the app can call the same name locally and deployed.
func aliasPaths(project, region string) ([]alias, error) {
	if project == "" {
		return nil, errors.New("GOOGLE_CLOUD_PROJECT is not set (scripts/dev sets demo-videocalls)")
	}
	var out []alias
	for _, fn := range []struct{ entry, deployed string }{{"hmsToken", "hms-token"}, {"hmssWebhook", "hmss-webhook"}} {
		out = append(out,
			alias{fn.entry, "/" + project + "/" + region + "/" + fn.entry},
			alias{fn.entry, "/" + project + "/" + region + "/" + fn.deployed})
	}
	return out, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
