package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
)

// This file repeats, step by step, what the Google Cloud Functions Go
// buildpack does with an uploaded source that has a go.mod and no vendor
// directory. It follows GoogleCloudPlatform/buildpacks at commit
// 21f28de8c499445ef1098016bfce35b16415e4b1 (2026-08-22):
//
//   cmd/go/functions_framework/lib/lib.go              BuildFn, createMainGoMod,
//       moduleAndPackageNames, frameworkSpecifiedVersion, createMainGoFile,
//       extractPackageNameInDir
//   cmd/go/functions_framework/converter/get_package/main.go   extract
//   cmd/go/functions_framework/lib/template_declarative.go     mainTextTemplateDeclarative
//   cmd/go/functions_framework/lib/template_v1_1.go            mainTextTemplateV1_1
//   cmd/go/build/lib/lib.go, pkg/golang/golang.go PerformBuild  the `go build`
//
// The buildpack's own text is not copied into this repository: the two
// templates below are written here to generate the same program (same
// imports, same registration, same reserved URLs, same port rule). With
// BUILDPACKS_SRC set to a checkout of that repository the check uses the
// buildpack's own template constants and runs its own get_package
// converter instead, so the two can be compared.

const (
	// lib.go constants.
	ffModule          = "github.com/GoogleCloudPlatform/functions-framework-go"
	ffFunctionsPkg    = ffModule + "/functions"
	ffInjectedVersion = "v1.9.2"
	appModule         = "functions.local/app"
	fnSourceDir       = "serverless_function_source_code"
)

// fnInfo has the fields lib.go's templates are executed with.
type fnInfo struct {
	Source  string
	Target  string
	Package string
	Imports map[string]struct{}
}

// declarativeMain generates the program of mainTextTemplateDeclarative: a
// blank import of the function package, whose init registers the functions
// by name, and funcframework.Start, which serves $FUNCTION_TARGET at "/".
const declarativeMain = `// Code generated as the Cloud Functions Go buildpack's declarative main.
package main

import (
	"log"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "{{.Package}}"
)

func main() {
	// Reserved URLs never reach the function.
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)
	port := "8080"
	if p := os.Getenv("PORT"); p != "" {
		port = p
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("Function failed to start: %v\n", err)
	}
}
`

// signatureMain generates the program of mainTextTemplateV1_1, used when
// the root package does not import the framework's functions package: it
// names the entry point as an exported-or-not identifier of the package
// (userfunction.<FUNCTION_TARGET>) and registers it at "/" by its type.
const signatureMain = `// Code generated as the Cloud Functions Go buildpack's v1.1 main.
package main

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	userfunction "{{.Package}}"
)

func main() {
	ctx := context.Background()
	var err error
	switch fn := any(userfunction.{{.Target}}).(type) {
	case func(http.ResponseWriter, *http.Request):
		err = funcframework.RegisterHTTPFunctionContext(ctx, "/", fn)
	case func(context.Context, cloudevents.Event) error:
		err = funcframework.RegisterCloudEventFunctionContext(ctx, "/", fn)
	default:
		err = funcframework.RegisterEventFunctionContext(ctx, "/", fn)
	}
	if err != nil {
		log.Fatalf("Function failed to register: %v\n", err)
	}
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)
	port := "8080"
	if p := os.Getenv("PORT"); p != "" {
		port = p
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("Function failed to start: %v\n", err)
	}
}
`

// parsedPackage is get_package's JSON answer.
type parsedPackage struct {
	Name    string              `json:"name"`
	Imports map[string]struct{} `json:"imports"`
}

// getPackage is converter/get_package: every .go file of the directory
// (test files and files excluded by build tags too: no filter is passed),
// parsed up to the imports; one package name; the union of the imports.
func getPackage(ctx context.Context, dir string) (*parsedPackage, error) {
	if src := os.Getenv("BUILDPACKS_SRC"); src != "" {
		// As extractPackageNameInDir runs it: go run <converter> -dir <source>.
		script := filepath.Join(src, "cmd/go/functions_framework/converter/get_package/main.go")
		out, err := runGo(ctx, os.TempDir(), nil, "run", script, "-dir", dir)
		if err != nil {
			return nil, fmt.Errorf("buildpack's get_package: %w", err)
		}
		var p parsedPackage
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			return nil, fmt.Errorf("get_package answer %q: %w", out, err)
		}
		return &p, nil
	}
	fset := token.NewFileSet()
	//lint:ignore SA1019 the buildpack calls ParseDir; its semantics (no build tags) are the point
	pkgs, err := parser.ParseDir(fset, dir, nil, parser.ImportsOnly)
	if err != nil {
		return nil, fmt.Errorf("parsing the function source: %w", err)
	}
	name := ""
	for k := range pkgs {
		if name != "" && k != name {
			return nil, fmt.Errorf("multiple packages in user code directory: %s != %s", name, k)
		}
		name = k
	}
	if name == "" {
		return nil, fmt.Errorf("unable to find Go package in %s", dir)
	}
	imports := map[string]struct{}{}
	for _, f := range pkgs[name].Files {
		for _, im := range f.Imports {
			imports[strings.Trim(im.Path.Value, `"`)] = struct{}{}
		}
	}
	return &parsedPackage{Name: name, Imports: imports}, nil
}

// templateFor is createMainGoFile's choice: declarative when the root
// package imports the framework's functions package itself, otherwise the
// v1.1 template (the v0 one serves framework versions before v1.1.0, which
// go.mod does not allow here).
func templateFor(fn fnInfo, version string) (*template.Template, string, error) {
	if _, ok := fn.Imports[ffFunctionsPkg]; ok {
		t, err := loadTemplate("template_declarative.go", "mainTextTemplateDeclarative", declarativeMain)
		return t, "declarative", err
	}
	if semverLess(version, "v1.1.0") {
		return nil, "", fmt.Errorf("functions framework %s would get the buildpack's v0 template, which this check does not reproduce", version)
	}
	t, err := loadTemplate("template_v1_1.go", "mainTextTemplateV1_1", signatureMain)
	return t, "v1.1", err
}

// loadTemplate parses ours, or with BUILDPACKS_SRC the buildpack's constant.
func loadTemplate(file, constName, ours string) (*template.Template, error) {
	text := ours
	if src := os.Getenv("BUILDPACKS_SRC"); src != "" {
		var err error
		if text, err = stringConst(filepath.Join(src, "cmd/go/functions_framework/lib", file), constName); err != nil {
			return nil, err
		}
	}
	t, err := template.New(constName).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parsing template %s: %w", constName, err)
	}
	return t, nil
}

// semverLess compares vMAJOR.MINOR.PATCH prefixes, enough for the one
// ">= 1.1.0" constraint lib.go checks.
func semverLess(a, b string) bool {
	parse := func(v string) [3]int {
		var n [3]int
		v = strings.TrimPrefix(v, "v")
		if i := strings.IndexAny(v, "-+"); i >= 0 {
			v = v[:i]
		}
		for i, part := range strings.SplitN(v, ".", 3) {
			fmt.Sscan(part, &n[i])
		}
		return n
	}
	x, y := parse(a), parse(b)
	for i := range x {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// build is the result of buildSource: one binary per distinct generated
// main (the declarative main is the same for every entry point).
type build struct {
	Template string            // "declarative" or "v1.1"
	Package  string            // what main imports
	Bins     map[string]string // entry point → binary
	Mains    map[string]string // entry point → generated main.go text
}

// buildSource builds repo's upload set for each target as the buildpack
// would deploy it, under work. The build log of a failure is in the error.
func buildSource(ctx context.Context, repo, work string, targets []string) (*build, error) {
	files, err := uploadSet(repo)
	if err != nil {
		return nil, err
	}
	// The uploaded source is the application root; BuildFn moves its
	// contents, except serverless_function_source_code and .google*, into
	// serverless_function_source_code.
	appRoot := filepath.Join(work, "workspace")
	fnSource := filepath.Join(appRoot, fnSourceDir)
	for _, f := range files {
		top := strings.SplitN(f, "/", 2)[0]
		dst := filepath.Join(fnSource, filepath.FromSlash(f))
		if top == fnSourceDir || strings.HasPrefix(top, ".google") {
			dst = filepath.Join(appRoot, filepath.FromSlash(f))
		}
		if err := copyFile(filepath.Join(repo, filepath.FromSlash(f)), dst); err != nil {
			return nil, err
		}
	}
	pkg, err := getPackage(ctx, fnSource)
	if err != nil {
		return nil, fmt.Errorf("error extracting package name: %w", err)
	}
	if _, err := os.Stat(filepath.Join(fnSource, "go.mod")); err != nil {
		return nil, fmt.Errorf("the upload has no go.mod (the buildpack's GOPATH path is not reproduced): %w", err)
	}
	if _, err := os.Stat(filepath.Join(fnSource, "vendor")); err == nil {
		return nil, errors.New("the upload has a vendor directory (createMainGoModVendored is not reproduced)")
	}
	// createMainGoMod.
	if _, err := os.Stat(filepath.Join(fnSource, "go.sum")); err != nil {
		if _, err := runGo(ctx, fnSource, nil, "mod", "tidy"); err != nil {
			return nil, fmt.Errorf("go.sum not found, go mod tidy: %w", err)
		}
	}
	mod, err := runGo(ctx, fnSource, nil, "list", "-m")
	if err != nil {
		return nil, fmt.Errorf("go list -m: %w", err)
	}
	mod = strings.TrimSpace(mod)
	if first, _, _ := strings.Cut(mod, "/"); !strings.Contains(first, ".") {
		return nil, fmt.Errorf("the module path in the function's go.mod must contain a dot in the first path element, found: %s", mod)
	}
	// moduleAndPackageNames looks for a directory named after the package
	// in the application root, where after the move only
	// serverless_function_source_code is left.
	fnPackage := mod
	if _, err := os.Stat(filepath.Join(appRoot, pkg.Name)); err == nil {
		fnPackage = mod + "/" + pkg.Name
	}
	version, err := runGo(ctx, fnSource, nil, "list", "-m", "-f", "{{.Version}}", ffModule)
	version = strings.TrimSpace(version)
	if err != nil {
		if !strings.Contains(err.Error(), "not a known dependency") {
			return nil, fmt.Errorf("checking for the functions framework in go.mod: %w", err)
		}
		if _, err := runGo(ctx, fnSource, nil, "mod", "edit", "-require", ffModule+"@"+ffInjectedVersion); err != nil {
			return nil, err
		}
		version = ffInjectedVersion
	}
	mainDir := filepath.Join(fnSource, appModule)
	if err := os.MkdirAll(mainDir, 0o755); err != nil {
		return nil, err
	}
	b := &build{Package: fnPackage, Bins: map[string]string{}, Mains: map[string]string{}}
	for _, target := range targets {
		fn := fnInfo{Source: fnSource, Target: target, Package: fnPackage, Imports: pkg.Imports}
		tmpl, name, err := templateFor(fn, version)
		if err != nil {
			return nil, err
		}
		b.Template = name
		var text bytes.Buffer
		if err := tmpl.Execute(&text, fn); err != nil {
			return nil, fmt.Errorf("executing template: %w", err)
		}
		b.Mains[target] = text.String()
	}
	// The buildpack builds each deployed function separately; identical
	// mains give identical binaries, so each distinct main is built once.
	built := map[string]string{}
	for i, target := range targets {
		main := b.Mains[target]
		if bin, ok := built[main]; ok {
			b.Bins[target] = bin
			continue
		}
		if err := os.WriteFile(filepath.Join(mainDir, "main.go"), []byte(main), 0o644); err != nil {
			return nil, err
		}
		// "Generate a go.sum entry": go mod tidy after main.go is written.
		if _, err := runGo(ctx, fnSource, nil, "mod", "tidy"); err != nil {
			return b, fmt.Errorf("FUNCTION_TARGET=%s: go mod tidy: %w", target, err)
		}
		// go/build: GOOGLE_BUILDABLE is the main package directory, run
		// in the function source.
		bin := filepath.Join(work, fmt.Sprintf("main-%d", i))
		if _, err := runGo(ctx, fnSource, nil, "build", "-o", bin, mainDir); err != nil {
			return b, fmt.Errorf("FUNCTION_TARGET=%s (%s template): go build: %w", target, b.Template, err)
		}
		built[main] = bin
		b.Bins[target] = bin
	}
	return b, nil
}

// runGo runs the go command in dir with modules resolved from go.mod
// (GOFLAGS=-mod=mod; GOPROXY as in the environment, as CI has it) and
// returns its standard output; a failure carries its combined output.
func runGo(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GO111MODULE=on")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("go %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copying the upload: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("copying the upload: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return out.Close()
}
