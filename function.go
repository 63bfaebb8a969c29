// Package videocalls is the root of the deployable source, the package the
// Cloud Functions Go buildpack builds.
package videocalls

import (
	// The buildpack parses this package's imports (its get_package
	// converter) and generates the declarative main, which serves the
	// function registered under FUNCTION_TARGET, only when this package
	// imports the framework's functions package itself. Without it, it
	// generates register(userfunction.<FUNCTION_TARGET>) and the build
	// fails with "undefined: userfunction.hmsToken". See
	// GoogleCloudPlatform/buildpacks cmd/go/functions_framework/lib/lib.go,
	// createMainGoFile; scripts/buildpack-check reproduces that build.
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"

	// Its init registers every entry point with functions.HTTP.
	_ "github.com/telemed/videocalls/functions"
)
