// Command buildpack builds this repository the way Google Cloud Functions
// builds it on deploy: the files .gcloudignore lets gcloud upload, moved
// into serverless_function_source_code, the root package's imports parsed,
// the buildpack's main template chosen by them and written to
// functions.local/app, go mod tidy, go build (see buildpack.go for the
// buildpack source this follows). Its tests start the result once per
// entry point; scripts/buildpack-check and scripts/test run them.
//
//	go run ./buildpack -o BIN   writes the binary (scripts/coldstart)
package main

import (
	"context"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

func main() {
	out := flag.String("o", "", "where to write the built binary (required)")
	repo := flag.String("src", "..", "the repository root (the directory gcloud uploads)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	work, err := os.MkdirTemp("", "buildpack-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	targets, err := registeredEntryPoints(*repo)
	if err != nil {
		log.Fatal(err)
	}
	b, err := buildSource(context.Background(), *repo, work, targets)
	if err != nil {
		log.Fatal(err)
	}
	// Every target shares one binary when the declarative main is used.
	if err := copyFile(b.Bins[targets[0]], *out); err != nil {
		log.Fatal(err)
	}
	if err := os.Chmod(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s main importing %s; wrote %s\n", b.Template, b.Package, *out)
}

// registeredEntryPoints lists the names the uploaded packages register with
// the framework (functions.HTTP / functions.CloudEvent with a constant
// name), so that a new function cannot go unchecked.
func registeredEntryPoints(repo string) ([]string, error) {
	files, err := uploadSet(repo)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if filepath.Ext(f) != ".go" {
			continue
		}
		af, err := parser.ParseFile(fset, filepath.Join(repo, filepath.FromSlash(f)), nil, 0)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", f, err)
		}
		local := ""
		for _, im := range af.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); p == ffFunctionsPkg {
				local = "functions"
				if im.Name != nil {
					local = im.Name.Name
				}
			}
		}
		if local == "" || local == "_" {
			continue
		}
		ast.Inspect(af, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HTTP" && sel.Sel.Name != "CloudEvent") {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != local {
				return true
			}
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if name, err := strconv.Unquote(lit.Value); err == nil {
					seen[name] = true
				}
			}
			return true
		})
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("no functions.HTTP or functions.CloudEvent registration found in the upload of %s", repo)
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// stringConst returns the value of the string constant name in a Go file
// (the buildpack's templates, with BUILDPACKS_SRC).
func stringConst(file, name string) (string, error) {
	af, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		return "", fmt.Errorf("reading the buildpack's template: %w", err)
	}
	for _, d := range af.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if id.Name != name || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					return strconv.Unquote(lit.Value)
				}
			}
		}
	}
	return "", fmt.Errorf("%s: no string constant %s", file, name)
}
