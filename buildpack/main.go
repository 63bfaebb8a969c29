// Command buildpack is the kind of main the Google Cloud Functions Go
// buildpack generates for this source: it imports the package at the module
// root, whose init registers the functions declaratively, and starts the
// functions framework on $PORT, serving the function named by
// FUNCTION_TARGET at "/". The test in check/ builds and starts it for each function,
// proving the repository deploys as laid out.
package main

import (
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/telemed/videocalls"
)

func main() {
	port := "8080"
	if p := os.Getenv("PORT"); p != "" {
		port = p
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("funcframework.Start: %v", err)
	}
}
