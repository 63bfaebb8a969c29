package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"
)

// TestSweepSummaryReadsTheAnswer: every field this tool reads of hmsSweep's
// answer is one the function writes, by the same JSON name and Go type, so
// that a renamed or retyped field of the answer fails here instead of
// reading as zero in a load report. The function's type is read from its
// source: importing package functions would register and configure every
// function in this tool. Planted bug it catches: "stillLive" spelt
// "stilllive" on either side.
func TestSweepSummaryReadsTheAnswer(t *testing.T) {
	written := answerFields(t, "../../functions/sweep.go", "sweepSummary")
	rt := reflect.TypeOf(sweepSummary{})
	for i := range rt.NumField() {
		f := rt.Field(i)
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		typ, ok := written[name]
		switch {
		case !ok:
			t.Errorf("this tool reads %q, which hmsSweep's answer does not have", name)
		case typ != f.Type.String():
			t.Errorf("%q is %s in hmsSweep's answer, %s here", name, typ, f.Type)
		}
	}
}

// answerFields maps the JSON names of a struct type declared in file to
// their Go types, as written there.
func answerFields(t *testing.T, file, typeName string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != typeName {
			return true
		}
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			if field.Tag == nil {
				continue
			}
			tag := reflect.StructTag(strings.Trim(field.Tag.Value, "`"))
			out[strings.Split(tag.Get("json"), ",")[0]] = types(field.Type)
		}
		return false
	})
	if len(out) == 0 {
		t.Fatalf("no struct %s with JSON names in %s", typeName, file)
	}
	return out
}

func types(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.ArrayType:
		return "[]" + types(x.Elt)
	case *ast.MapType:
		return "map[" + types(x.Key) + "]" + types(x.Value)
	case *ast.StarExpr:
		return "*" + types(x.X)
	}
	return "?"
}
