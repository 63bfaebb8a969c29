// Package csvsafe writes CSV that a spreadsheet opens without running any
// cell as a formula: the one rule against CSV injection (OWASP, "CSV
// Injection") that the operators' exports, scripts/audit --csv and
// scripts/report --csv, share (docs/security.md, "Reading it").
//
// A cell that starts with '=', '+', '-', '@', a tab or a carriage return is
// one a spreadsheet may run as a formula (=HYPERLINK(...) sends the reader's
// data to whoever wrote it), so it gets a leading single quote, which makes
// the spreadsheet show it as text. A cell that already starts with a single
// quote gets one too, so that the rule can be undone: a cell that starts
// with ' is its value with one ' in front, whatever the value was.
// encoding/csv still does the quoting (RFC 4180), after the prefix. The
// order matters: with RFC 4180's CRLF line ends, encoding/csv drops a lone
// carriage return inside a field, so "\r=1+1" written as it is would reach
// the file as the formula "=1+1".
package csvsafe

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
)

// formulaStart holds the first characters OWASP lists as the start of a
// formula, and the quote itself (see the package comment: the rule must be
// reversible, or an audit export could not be read back as it was stored).
const formulaStart = "=+-@\t\r'"

// Cell is s as a spreadsheet must see it: s itself, or s after a single
// quote when s starts with a character of formulaStart.
func Cell(s string) string {
	if s != "" && strings.IndexByte(formulaStart, s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// Writer writes rows of Cells as RFC 4180 CSV (CRLF line ends, quoted where
// needed). Every cell goes through Cell, the tool's own (a header, a date, a
// number) as well as stored text: one rule for every column, so that a
// column added later cannot be forgotten (docs/decisions.md says why
// numbers are not exempt).
type Writer struct {
	w   *csv.Writer
	row []string // reused between rows
}

// NewWriter writes to w, buffered: Flush ends each batch.
func NewWriter(w io.Writer) *Writer {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // RFC 4180
	return &Writer{w: cw}
}

// Write writes one row; row itself is not changed.
func (w *Writer) Write(row []string) error {
	w.row = w.row[:0]
	for _, c := range row {
		w.row = append(w.row, Cell(c))
	}
	if err := w.w.Write(w.row); err != nil {
		return fmt.Errorf("write CSV row: %w", err)
	}
	return nil
}

// Flush writes what is buffered and returns the first error of any write
// since the writer was made.
func (w *Writer) Flush() error {
	w.w.Flush()
	if err := w.w.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}
