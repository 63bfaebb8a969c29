// Command report prints the visits that ended in a range, one row per call
// (docs/visit.md, "The report"): who, when, for how long the doctor and the
// client were in the room and together, how long the client waited, and
// whether it was recorded, transcribed, and ended by the doctor. The
// figures are calls/{id}.visit, kept by the webhook. scripts/report runs it
// after loading .env; it reads the emulator or a real project as
// internal/cli says, and streams: memory does not grow with the range.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/telemed/videocalls/internal/cli"
	"github.com/telemed/videocalls/internal/csvsafe"
	"github.com/telemed/videocalls/store"
)

const usage = `usage: scripts/report --since DATE --until DATE [--doctor UID] [--csv] [--project ID]

Prints one row per call that ended in [--since, --until) (DATE is
YYYY-MM-DD, UTC, or an RFC 3339 time): appointmentId, doctorId, clientId,
startedAt, endedAt, sessionCount, doctorMin, clientMin, togetherMin,
waitMin, recorded, transcribed, endedBy. Minutes have one decimal; a call
whose visit was never kept shows them empty. --csv writes RFC 4180 CSV with
a header row, which a spreadsheet opens as it is: a value that would run as a
formula (it starts with =, +, -, @, a tab or a carriage return) or that
starts with ' is written after a '. Progress goes to stderr every 1,000 calls.

Reads the Firestore emulator when FIRESTORE_EMULATOR_HOST is set, else the
project's Firestore with Application Default Credentials.

flags:
`

// columns of the report, in order.
var columns = []string{"appointmentId", "doctorId", "clientId", "startedAt", "endedAt", "sessionCount",
	"doctorMin", "clientMin", "togetherMin", "waitMin", "recorded", "transcribed", "endedBy"}

type options struct {
	filter store.ReportFilter
	csv    bool
	target cli.Target
}

var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	o, err := parseArgs(args, lookup, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "report:", err)
		fmt.Fprintln(stderr, "report: see scripts/report -h")
		return 2
	}
	fmt.Fprintln(stderr, "report:", o.target)
	st, err := store.Open(ctx, o.target.Project)
	if err != nil {
		fmt.Fprintln(stderr, "report:", cli.Explain(err, o.target, "calls"))
		return 1
	}
	defer st.Close()
	n, err := write(ctx, st, o, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "report:", cli.Explain(err, o.target, "calls"))
		return 1
	}
	fmt.Fprintf(stderr, "report: %d calls ended in the range\n", n)
	return 0
}

// write streams the rows to out, as CSV or aligned text.
func write(ctx context.Context, st *store.Store, o options, out, progress io.Writer) (int, error) {
	bw := bufio.NewWriter(out)
	var emit func([]string) error
	var flush func() error
	if o.csv {
		// Ids and uids come from the app's appointments: none may run
		// as a formula in the spreadsheet that opens the report.
		w := csvsafe.NewWriter(bw)
		emit, flush = w.Write, w.Flush
	} else {
		// Aligned per page of rows, so that a long range streams.
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		emit = func(row []string) error { _, err := fmt.Fprintln(tw, strings.Join(row, "\t")); return err }
		flush = tw.Flush
	}
	if err := emit(columns); err != nil {
		return 0, err
	}
	n := 0
	err := st.EndedCalls(ctx, o.filter, func(r store.VisitRow) error {
		n++
		if n%1000 == 0 {
			fmt.Fprintf(progress, "report: %d calls...\n", n)
			if err := flush(); err != nil {
				return err
			}
		}
		return emit(row(r))
	})
	if ferr := flush(); err == nil {
		err = ferr
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return n, err
}

func row(r store.VisitRow) []string {
	minutes := func(sec int64) string {
		if !r.HasVisit {
			return ""
		}
		return strconv.FormatFloat(float64(sec)/60, 'f', 1, 64)
	}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	return []string{r.AppointmentID, r.DoctorID, r.ClientID, stamp(r.StartedAt), stamp(r.EndedAt),
		strconv.FormatInt(r.SessionCount, 10), minutes(r.DoctorSec), minutes(r.ClientSec), minutes(r.TogetherSec),
		minutes(r.WaitSec), strconv.FormatBool(r.Recorded), strconv.FormatBool(r.Transcribed), r.EndedBy}
}

func parseArgs(args []string, lookup func(string) (string, bool), help io.Writer) (options, error) {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o options
	var since, until, project string
	fs.StringVar(&since, "since", "", "first `DATE` (inclusive; YYYY-MM-DD UTC, or RFC 3339)")
	fs.StringVar(&until, "until", "", "last `DATE` (exclusive)")
	fs.StringVar(&o.filter.DoctorID, "doctor", "", "only this doctor's calls (Firebase `UID`)")
	fs.BoolVar(&o.csv, "csv", false, "print CSV (RFC 4180) instead of aligned text")
	fs.StringVar(&project, "project", "", "Firebase/GCP project `ID` (default: GOOGLE_CLOUD_PROJECT; demo-videocalls for the emulator)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(help, usage)
			fs.SetOutput(help)
			fs.PrintDefaults()
			return o, err
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: the range is --since DATE --until DATE", fs.Arg(0))
	}
	if since == "" || until == "" {
		return o, errors.New("--since and --until are both required")
	}
	var err error
	if o.filter.Since, err = cli.ParseTime(since); err != nil {
		return o, fmt.Errorf("--since: %v", err)
	}
	if o.filter.Until, err = cli.ParseTime(until); err != nil {
		return o, fmt.Errorf("--until: %v", err)
	}
	if !o.filter.Until.After(o.filter.Since) {
		return o, fmt.Errorf("--until %s is not after --since %s (--until is exclusive)", until, since)
	}
	if o.target, err = cli.ResolveTarget(project, lookup); err != nil {
		return o, err
	}
	return o, nil
}
