// Command audit prints the audit trail (docs/security.md: auditLog, one entry per
// callable request that names an appointment, and per system action) in
// time order, as aligned text or as CSV. scripts/audit runs it after
// loading .env.
//
// It reads the Firestore emulator named by FIRESTORE_EMULATOR_HOST when
// that is set, else the project's Firestore with Application Default
// Credentials (gcloud auth application-default login, or a service
// account). The project is --project, else GOOGLE_CLOUD_PROJECT, else, for
// the emulator only, demo-videocalls (scripts/dev's).
//
// The queries are those of store.AuditTrail, served by the auditLog
// indexes of firestore.indexes.json (scripts/deploy deploys them).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/telemed/videocalls/internal/cli"
	"github.com/telemed/videocalls/internal/csvsafe"
	"github.com/telemed/videocalls/store"
)

const usage = `usage: scripts/audit [--appointment ID] [--uid UID] [--since T] [--until T] [--csv] [--project ID]

Prints the audit trail (auditLog, docs/security.md) in time order: one aligned line
per entry, or CSV (RFC 4180, with a header row) with --csv, where a value
that a spreadsheet would run as a formula (it starts with =, +, -, @, a tab or
a carriage return) or that starts with ' is written after a '. Filters combine:
--appointment and --uid keep that appointment's or that user's entries
("system" is the functions' own actions); --since T keeps entries at or
after T, --until T entries before T (exclusive), so that
--since 2026-12-01 --until 2026-12-02 is the 1st of December, UTC.
T is a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 time
(2026-12-02T10:30:00Z, 2026-12-02T11:30:00+01:00).

Reads the Firestore emulator when FIRESTORE_EMULATOR_HOST is set (with
scripts/dev running: FIRESTORE_EMULATOR_HOST=127.0.0.1:8180 scripts/audit),
else the project's Firestore with Application Default Credentials (gcloud
auth application-default login; the account needs to read Firestore, e.g.
roles/datastore.viewer). The project is --project, else GOOGLE_CLOUD_PROJECT
(from the environment or .env), else demo-videocalls for the emulator.
Exit status: 0 when the trail was printed (even empty), 1 when Firestore
failed, 2 on a bad flag.

flags:
`

type options struct {
	filter   store.AuditFilter
	csv      bool
	project  string
	emulator string // FIRESTORE_EMULATOR_HOST, "" for the real project
}

// errUsage marks an error in the flags: exit status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, os.LookupEnv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "audit:", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
		if errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, "audit: see scripts/audit -h")
			return 2
		}
		return 1
	}
	fmt.Fprintln(stderr, "audit:", o.target())
	st, err := store.Open(ctx, o.project)
	if err != nil {
		fmt.Fprintln(stderr, "audit:", cli.Explain(err, o.target(), "auditLog"))
		return 1
	}
	defer st.Close()

	bw := bufio.NewWriter(stdout)
	var p printer
	if o.csv {
		p = newCSVPrinter(bw)
	} else {
		p = newTextPrinter(bw)
	}
	n := 0
	err = st.AuditTrail(ctx, o.filter, func(e store.AuditEntry) error {
		n++
		return p.entry(e)
	})
	if ferr := p.flush(); err == nil {
		err = ferr
	}
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write: %w", ferr)
	}
	if err != nil {
		if n > 0 {
			fmt.Fprintf(stderr, "audit: stopped after %d %s, the trail is incomplete:\n", n, plural(n, "entry", "entries"))
		}
		fmt.Fprintln(stderr, "audit:", cli.Explain(err, o.target(), "auditLog"))
		return 1
	}
	fmt.Fprintf(stderr, "audit: %d %s\n", n, plural(n, "entry", "entries"))
	return 0
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// parseArgs reads the flags and the environment (lookup, os.LookupEnv in
// main). Errors in what was typed wrap errUsage; -h returns flag.ErrHelp
// after printing the usage to help.
func parseArgs(args []string, lookup func(string) (string, bool), help io.Writer) (options, error) {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are said once, below
	var o options
	var since, until string
	fs.StringVar(&o.filter.AppointmentID, "appointment", "", "keep the entries of this appointment `ID`")
	fs.StringVar(&o.filter.UID, "uid", "", "keep the entries of this Firebase `UID` (\"system\": the functions' own actions)")
	fs.StringVar(&since, "since", "", "keep entries at or after `T` (YYYY-MM-DD UTC, or RFC 3339)")
	fs.StringVar(&until, "until", "", "keep entries before `T` (exclusive; YYYY-MM-DD UTC, or RFC 3339)")
	fs.BoolVar(&o.csv, "csv", false, "print CSV (RFC 4180) with a header row instead of aligned text")
	fs.StringVar(&o.project, "project", "", "Firebase/GCP project `ID` (default: GOOGLE_CLOUD_PROJECT; demo-videocalls for the emulator)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(help, usage)
			fs.VisitAll(func(f *flag.Flag) {
				arg, text := flag.UnquoteUsage(f)
				if arg != "" {
					arg = " " + arg
				}
				fmt.Fprintf(help, "  --%s%s\n    \t%s\n", f.Name, arg, text)
			})
			return o, err
		}
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q: every filter is a flag (--appointment ID, --uid UID, --since T, --until T)", errUsage, fs.Arg(0))
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err == nil && f.Name != "csv" && strings.TrimSpace(f.Value.String()) == "" {
			err = fmt.Errorf("%w: --%s is empty", errUsage, f.Name)
		}
	})
	if err != nil {
		return o, err
	}
	if since != "" {
		if o.filter.Since, err = cli.ParseTime(since); err != nil {
			return o, fmt.Errorf("%w: --since: %v", errUsage, err)
		}
	}
	if until != "" {
		if o.filter.Until, err = cli.ParseTime(until); err != nil {
			return o, fmt.Errorf("%w: --until: %v", errUsage, err)
		}
	}
	if since != "" && until != "" && !o.filter.Until.After(o.filter.Since) {
		return o, fmt.Errorf("%w: --until %s is not after --since %s (--until is exclusive): no entry could match",
			errUsage, o.filter.Until.Format(time.RFC3339Nano), o.filter.Since.Format(time.RFC3339Nano))
	}

	t, err := cli.ResolveTarget(o.project, lookup)
	if err != nil {
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	o.project, o.emulator = t.Project, t.Emulator
	return o, nil
}

func (o options) target() cli.Target { return cli.Target{Project: o.project, Emulator: o.emulator} }

// printer writes entries in one format.
type printer interface {
	entry(store.AuditEntry) error
	flush() error
}

// csvHeader is the CSV's first row, and its columns.
var csvHeader = []string{"at", "action", "outcome", "reason", "uid", "role", "appointmentId", "roomId", "requestId", "appCheck", "ip", "details"}

// csvPrinter writes through csvsafe: a stranger's probe for an
// appointment id such as =HYPERLINK(...) is recorded as sent, and must not
// run as a formula in the spreadsheet that opens the export.
type csvPrinter struct {
	w      *csvsafe.Writer
	header bool // written
}

func newCSVPrinter(w io.Writer) *csvPrinter { return &csvPrinter{w: csvsafe.NewWriter(w)} }

func (p *csvPrinter) entry(e store.AuditEntry) error {
	if err := p.writeHeader(); err != nil {
		return err
	}
	details, err := detailsJSON(e.Details)
	if err != nil {
		return err
	}
	return p.write([]string{atText(e.At, time.RFC3339Nano), e.Action, e.Outcome, e.Reason, e.UID, e.Role,
		e.AppointmentID, e.RoomID, e.RequestID, e.AppCheck, e.IP, details})
}

// writeHeader writes the header row once: before the first entry, or at
// the end of an empty trail, so that the CSV always has it.
func (p *csvPrinter) writeHeader() error {
	if p.header {
		return nil
	}
	p.header = true
	return p.write(csvHeader)
}

func (p *csvPrinter) write(row []string) error { return p.w.Write(row) }

func (p *csvPrinter) flush() error {
	if err := p.writeHeader(); err != nil {
		return err
	}
	return p.w.Flush()
}

// detailsJSON is details as compact JSON, keys sorted, timestamps in
// RFC 3339 (UTC); "" when there are none.
func detailsJSON(d map[string]any) (string, error) {
	if len(d) == 0 {
		return "", nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return "", fmt.Errorf("details as JSON: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func atText(t time.Time, layout string) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(layout)
}

// The text format: fixed-width columns (so that lines align as they
// stream, without holding the trail), then key=value for the rest.
const textAtLayout = "2006-01-02T15:04:05.000000Z07:00" // Firestore keeps microseconds

var textColumns = []struct {
	name  string
	width int
}{
	{"AT", len("2006-01-02T15:04:05.000000Z")},
	{"ACTION", len("recording.start")},
	{"OUTCOME", len("granted")},
	{"ROLE", len("doctor")},
	{"UID", 28}, // a Firebase uid
	{"APPOINTMENT", 20},
}

type textPrinter struct {
	w      io.Writer
	header bool
}

func newTextPrinter(w io.Writer) *textPrinter { return &textPrinter{w: w} }

func (p *textPrinter) entry(e store.AuditEntry) error {
	if !p.header {
		p.header = true
		names := make([]string, len(textColumns))
		for i, c := range textColumns {
			names[i] = c.name
		}
		if err := p.line(names, "DETAILS"); err != nil {
			return err
		}
	}
	at := atText(e.At, textAtLayout)
	if at == "" {
		at = "(no time)"
	}
	cells := []string{at, cell(e.Action), cell(e.Outcome), cell(e.Role), cell(e.UID), cell(e.AppointmentID)}
	var rest []string
	for _, kv := range []struct{ k, v string }{
		{"reason", e.Reason}, {"room", e.RoomID}, {"request", e.RequestID}, {"appCheck", e.AppCheck}, {"ip", e.IP},
	} {
		if kv.v != "" {
			rest = append(rest, kv.k+"="+cell(kv.v))
		}
	}
	details, err := detailsJSON(e.Details)
	if err != nil {
		return err
	}
	if details != "" {
		rest = append(rest, "details="+printable(details))
	}
	return p.line(cells, strings.Join(rest, " "))
}

func (p *textPrinter) line(cells []string, rest string) error {
	var b strings.Builder
	for i, c := range cells {
		b.WriteString(c)
		if pad := textColumns[i].width - len([]rune(c)); pad > 0 {
			b.WriteString(strings.Repeat(" ", pad))
		}
		b.WriteString("  ")
	}
	b.WriteString(rest)
	_, err := io.WriteString(p.w, strings.TrimRight(b.String(), " ")+"\n")
	return err
}

func (p *textPrinter) flush() error { return nil }

// cell is a value as one token of a line: "-" when empty, quoted (Go
// syntax) when it holds a space, a quote, an '=' or anything unprintable,
// so that free text (a reason, a uid, a forwarded address) can neither
// break the line nor send the terminal control sequences.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	for _, r := range s {
		if r == ' ' || r == '"' || r == '=' || r == '\\' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// printable quotes s when it holds anything unprintable (JSON escapes the
// ASCII controls, not every other one).
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}
