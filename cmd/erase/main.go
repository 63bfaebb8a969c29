// Command erase answers an erasure request for one consultation
// (docs/recordings.md, "Erasure"): it deletes the consultation's
// recordings and transcripts from the clinic's bucket (RECORDING_BUCKET),
// its raw events (hmsEvents) and the user names copied from them onto its
// sessions, and records calls/{id}.erasure; calls/{id} keeps its status
// and visit, and the audit trail stays, with a system "erase" entry. It
// refuses an appointment under legal hold. scripts/erase runs it after
// loading .env.
//
// It works on the Firestore emulator named by FIRESTORE_EMULATOR_HOST
// when that is set (and the storage emulator of STORAGE_EMULATOR_HOST),
// else on the project with Application Default Credentials. It never
// prints a name, a token or a link: objects as bucket/path, and counts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/telemed/videocalls/bucket"
	"github.com/telemed/videocalls/internal/cli"
	"github.com/telemed/videocalls/store"
)

const usage = `usage: scripts/erase --appointment ID --reason TEXT [--dry-run] [--by WHO] [--project ID]

Erases one consultation, as an erasure request asks (docs/recordings.md):
  - its recordings and transcripts in the clinic's bucket (RECORDING_BUCKET;
    files elsewhere, in 100ms's storage, are listed, not deleted), their
    documents marked deletedAt, deletedBy "erasure", their links dropped;
  - its raw webhook events (hmsEvents of the appointment and of its room);
  - the user names copied from events onto its sessions (peers' userName).
It keeps calls/{ID} with its status and visit, and records there
erasure {at, by, reason, deleted: {files, events, names}}; it keeps the
audit trail (the law keeps it) and adds a system "erase" entry.
It refuses an appointment whose appointments/{ID} has legalHold: true
(exit status 1, and a refused "erase" entry).
--dry-run lists what would go (objects as bucket/path, and counts) and
deletes nothing. Nothing printed names a person, a token or a link.

Works on the emulators when FIRESTORE_EMULATOR_HOST (and
STORAGE_EMULATOR_HOST) are set, else on the project's Firestore and Cloud
Storage with Application Default Credentials (the account needs to write
Firestore, roles/datastore.user, and to delete the bucket's objects).
Exit status: 0 when erased (or listed), 1 when refused or failed, 2 on a
bad flag.

flags:
`

type options struct {
	appointment, reason, by string
	dryRun                  bool
	bucket                  string // RECORDING_BUCKET, "" for none
	target                  cli.Target
}

// errUsage marks an error in the flags: exit status 2.
var errUsage = errors.New("usage")

// errHeld refuses an appointment under legal hold.
var errHeld = errors.New("the appointment is under legal hold (appointments/{id}.legalHold is true): nothing was erased; the hold must be lifted first")

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
		fmt.Fprintln(stderr, "erase:", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
		if errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, "erase: see scripts/erase -h")
			return 2
		}
		return 1
	}
	fmt.Fprintln(stderr, "erase:", o.target)
	if err := erase(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "erase:", cli.Explain(err, o.target, "hmsEvents"))
		return 1
	}
	return 0
}

// plan is what an erasure deletes.
type plan struct {
	docs      []store.StoredDoc // not yet deleted, with objects in the bucket
	objects   [][]string        // per doc
	elsewhere int               // files of the call outside the bucket
	events    []string
	names     int
}

func (p plan) files() int {
	n := 0
	for _, o := range p.objects {
		n += len(o)
	}
	return n
}

func erase(ctx context.Context, o options, out io.Writer) error {
	st, err := store.Open(ctx, o.target.Project)
	if err != nil {
		return err
	}
	defer st.Close()
	var b *bucket.Bucket
	if o.bucket != "" {
		// Deleting needs no signing key.
		if b, err = bucket.Open(ctx, o.bucket, nil); err != nil {
			return err
		}
		defer b.Close()
	}
	held, err := st.LegalHold(ctx, o.appointment)
	if err != nil {
		return err
	}
	if held {
		if !o.dryRun {
			if err := st.WriteAudit(ctx, o.entry(store.AuditRefused, "LEGAL_HOLD", nil)); err != nil {
				return errors.Join(errHeld, fmt.Errorf("the refused attempt is not in the audit trail: %w", err))
			}
		}
		return errHeld
	}
	p, err := gather(ctx, st, b, o.appointment)
	if err != nil {
		return err
	}
	verb := "deleted"
	if o.dryRun {
		verb = "would delete"
	}
	for i, d := range p.docs {
		for _, obj := range p.objects[i] {
			fmt.Fprintf(out, "%s file %s (%s %s)\n", verb, b.Path(obj), strings.TrimSuffix(d.Collection, "s"), d.ID)
		}
	}
	if o.bucket == "" {
		fmt.Fprintln(out, "RECORDING_BUCKET is not set: no file is this clinic's to delete")
	}
	if p.elsewhere > 0 {
		fmt.Fprintf(out, "%d file(s) of this call are outside RECORDING_BUCKET (100ms's storage): not deleted here; ask 100ms\n", p.elsewhere)
	}
	if o.dryRun {
		fmt.Fprintf(out, "dry run: would delete %d file(s), %d raw event(s), %d user name(s) copied from events; would keep calls/%s (status, visit) and the audit trail; nothing was deleted\n",
			p.files(), len(p.events), p.names, o.appointment)
		return nil
	}
	for i, d := range p.docs {
		for _, obj := range p.objects[i] {
			if err := b.Delete(ctx, obj); err != nil {
				return fmt.Errorf("stopped; run it again to finish: %w", err)
			}
		}
		if _, err := st.MarkDeleted(ctx, d, store.DeletedByErasure, nil); err != nil {
			return fmt.Errorf("stopped; run it again to finish: %w", err)
		}
	}
	if err := st.DeleteEvents(ctx, p.events); err != nil {
		return fmt.Errorf("stopped; run it again to finish: %w", err)
	}
	names, err := st.CopiedNames(ctx, o.appointment, true)
	if err != nil {
		return fmt.Errorf("stopped; run it again to finish: %w", err)
	}
	e := store.Erasure{At: time.Now(), By: o.by, Reason: o.reason, Files: p.files(), Events: len(p.events), Names: names}
	if err := st.RecordErasure(ctx, o.appointment, e, o.entry(store.AuditGranted, "", map[string]any{
		"by": o.by, "reason": o.reason, "files": e.Files, "events": e.Events, "names": e.Names,
	})); err != nil {
		return fmt.Errorf("erased, but the record was not written; run it again to record it: %w", err)
	}
	fmt.Fprintf(out, "erased: %d file(s), %d raw event(s), %d user name(s) copied from events; calls/%s keeps its status and visit, with erasure recorded; the audit trail is kept\n",
		e.Files, e.Events, e.Names, o.appointment)
	return nil
}

// gather finds what an erasure of appointment deletes.
func gather(ctx context.Context, st *store.Store, b *bucket.Bucket, appointment string) (plan, error) {
	var p plan
	docs, err := st.CallDocs(ctx, appointment)
	if err != nil {
		return p, err
	}
	for _, d := range docs {
		var objects []string
		for _, loc := range d.Locations {
			if obj, ok := bucketObject(b, loc); ok {
				objects = append(objects, obj)
			} else {
				p.elsewhere++
			}
		}
		if d.Deleted || len(objects) == 0 {
			continue
		}
		p.docs, p.objects = append(p.docs, d), append(p.objects, objects)
	}
	if p.events, err = st.EventIDs(ctx, appointment); err != nil {
		return p, err
	}
	if p.names, err = st.CopiedNames(ctx, appointment, false); err != nil {
		return p, err
	}
	return p, nil
}

func bucketObject(b *bucket.Bucket, location string) (string, bool) {
	if b == nil {
		return "", false
	}
	return b.Object(location)
}

// entry is the system "erase" entry of the trail.
func (o options) entry(outcome, reason string, details map[string]any) *store.Audit {
	if details == nil {
		details = map[string]any{"by": o.by}
	}
	return &store.Audit{Action: "erase", Outcome: outcome, Reason: reason, UID: store.SystemUID, Role: store.SystemUID,
		AppointmentID: o.appointment, RequestID: store.NewAuditID(), Details: details}
}

// parseArgs reads the flags and the environment (lookup, os.LookupEnv in
// main). Errors in what was typed wrap errUsage; -h returns flag.ErrHelp
// after printing the usage to help.
func parseArgs(args []string, lookup func(string) (string, bool), help io.Writer) (options, error) {
	fs := flag.NewFlagSet("erase", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o options
	var project string
	fs.StringVar(&o.appointment, "appointment", "", "the appointment `ID` whose consultation is erased")
	fs.StringVar(&o.reason, "reason", "", "why (`TEXT`: the request's reference, say), recorded with the erasure")
	fs.BoolVar(&o.dryRun, "dry-run", false, "list what would go and delete nothing")
	fs.StringVar(&o.by, "by", "", "who erases (`WHO`, recorded; default: $USER)")
	fs.StringVar(&project, "project", "", "Firebase/GCP project `ID` (default: GOOGLE_CLOUD_PROJECT; demo-videocalls for the emulator)")
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
			return o, flag.ErrHelp
		}
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	o.appointment, o.reason, o.by = strings.TrimSpace(o.appointment), strings.TrimSpace(o.reason), strings.TrimSpace(o.by)
	switch {
	case o.appointment == "":
		return o, fmt.Errorf("%w: --appointment ID is required", errUsage)
	case o.reason == "":
		return o, fmt.Errorf("%w: --reason TEXT is required (it is recorded with the erasure)", errUsage)
	}
	if o.by == "" {
		o.by, _ = lookup("USER")
		if o.by = strings.TrimSpace(o.by); o.by == "" {
			o.by = "operator"
		}
	}
	bucketName, _ := lookup("RECORDING_BUCKET")
	if o.bucket = strings.TrimSpace(bucketName); o.bucket != "" && !bucket.ValidName(o.bucket) {
		return o, errors.New("RECORDING_BUCKET is not a Cloud Storage bucket name")
	}
	t, err := cli.ResolveTarget(project, lookup)
	if err != nil {
		return o, err
	}
	o.target = t
	return o, nil
}
