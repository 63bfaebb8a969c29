package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/procstat"
	"github.com/telemed/videocalls/internal/rig"
)

// The rows, in the order of the report.
const (
	rowTokenWarm       = "hmsToken, warm (room recorded)"
	rowTokenFirst      = "hmsToken, first call of an appointment (creates the room)"
	rowJoin            = "webhook peer.join.success (the peer's first event)"
	rowLeaveDuration   = "webhook peer.leave.success with duration (after its join)"
	rowFirstEvent      = "webhook first event of a room on an instance (session.open.success)"
	rowJoinNotify      = "webhook peer.join.success of the doctor, the client away (claims and sends ready to 1 device)"
	rowRole            = "webhook role.change.success"
	rowLeaveNoDuration = "webhook peer.leave.success without duration"
	rowClose           = "webhook session.close.success (then reconciliation)"
	rowRedeliverSame   = "redelivery, same instance (answered from memory)"
	rowRedeliverOther  = "redelivery, other instance (peer.join.success; room known there)"
	rowAdmit           = "hmsAdmit (the client, before the session)"
	rowRemove          = "hmsRemove remove (the client)"
	rowJoinRemoved     = "webhook peer.join.success of a removed user (a token minted before)"
)

// floor is, per row, the Firestore and Auth round trips that must be asked
// one after the other, and why (the 100ms calls are counted apart).
var floors = []struct {
	row   string
	floor int
	why   string
}{
	{rowTokenWarm, 2, "revocation check (GetUser) ∥ appointment read, once the signature is checked locally; then the audit entry, written before the answer"},
	{rowTokenFirst, 2, "(GetUser ∥ appointment+call read) → 100ms create → record the room with the audit entry"},
	{rowJoin, 2, "read the call's book (the peer facts), then commit on condition (facts, session peer, inCall, visit)"},
	{rowLeaveDuration, 2, "read the call's book, then commit on condition"},
	{rowFirstEvent, 3, "room → appointment lookup (hmsRooms), then the book's read and the commit"},
	{rowJoinNotify, 4, "read the call's book → commit on condition with the claim → the recipient's devices (read only once the claim is won) → FCM → the outcome with the notify entry"},
	{rowRole, 2, "read the call's book, then commit on condition"},
	{rowLeaveNoDuration, 2, "read the call's book, then commit on condition"},
	{rowClose, 2, "read ∥ 100ms session, then one commit of event, attendance and the reconciled mark"},
	{rowRedeliverSame, 0, "the instance remembers the id"},
	{rowRedeliverOther, 1, "the commit (or read) that finds the event stored"},
	{rowAdmit, 3, "(GetUser ∥ appointment+call read) → read the call's book (its admissions and peers, for waitingSince) → commit the admission on condition with the audit entry; then 100ms lists the user's peers and moves each waiting one"},
	{rowRemove, 3, "(GetUser ∥ appointment+call read) → read the call's book → commit the removal on condition with the audit entry; then 100ms lists the user's peers and removes each"},
	{rowJoinRemoved, 2, "read the call's book (the peer facts and removed: no read of its own) → commit on condition with the claim and the remove.enforce entry; then 100ms remove-peers"},
}

func run(ctx context.Context, o options) error {
	w, err := rig.Setup(ctx, rig.Options{RTT: o.rtt, HMSRTT: o.hmsRTT, Server: o.server, Servers: 2, KeepLogs: o.keepLogs,
		// hmsAdmit needs a waiting room; the sessions' events name the
		// client's role as guest, so nobody waits in them.
		Env: []string{"WAITING_ROOM_ROLE=waiting-room"}})
	if err != nil {
		return err
	}
	defer w.Close()
	if o.keepLogs {
		fmt.Fprintf(os.Stderr, "rttbudget: servers' logs in %s\n", w.LogDir)
	}
	// The tool's own Firestore client talks to the emulator directly: the
	// appointments it writes are set-up, not measured.
	fs, err := firestore.NewClient(ctx, rig.Project)
	if err != nil {
		return setupErr("firestore client: %w", err)
	}
	defer fs.Close()
	runID := rig.RandomHex(4)
	var u users
	if u.doctorUID, u.doctorToken, err = rig.SignUp(w.AuthHost, "doctor-"+runID+"@example.com"); err != nil {
		return setupErr("sign up: %w", err)
	}
	if u.clientUID, u.clientToken, err = rig.SignUp(w.AuthHost, "client-"+runID+"@example.com"); err != nil {
		return setupErr("sign up: %w", err)
	}
	// The client's phone, registered as the app does: the doctor's join
	// tells it (rowJoinNotify).
	if _, err := fs.Doc("users/"+u.clientUID+"/fcmTokens/phone-"+runID).Set(ctx, map[string]any{"platform": "android"}); err != nil {
		return setupErr("register the client's device: %w", err)
	}
	m := &measurer{w: w, client: &http.Client{Timeout: 60 * time.Second}, samples: map[string][]sample{}}
	for i := range o.warmup + o.n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m.record = i >= o.warmup
		if err := m.appointment(ctx, fs, u, fmt.Sprintf("rtt-%s-%03d", runID, i)); err != nil {
			return err
		}
	}
	fmt.Print(report(o, m.samples))
	return nil
}

// report is the markdown table: per row the p50 latency, its ratio to
// the RTT, the round trips counted (the p50 sample's; a range when the
// samples differ), the floor, and the calls of the p50 sample.
func report(o options, samples map[string][]sample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "RTT %s to Firestore and Auth, %s to 100ms and FCM (fakes); %d appointments after %d warm-up; load average %s; %s\n\n",
		o.rtt, o.hmsRTT, o.n, o.warmup, procstat.LoadAvg(), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	b.WriteString("| request | p50 | p50 / RTT | round trips counted | p50 − counted × RTT | floor | calls in sequence (p50 sample) |\n")
	b.WriteString("|---|---:|---:|---:|---:|---|---|\n")
	for _, f := range floors {
		ss := samples[f.row]
		if len(ss) == 0 {
			continue
		}
		slices.SortFunc(ss, func(a, b sample) int { return int(a.elapsed - b.elapsed) })
		mid := ss[(len(ss)-1)/2]
		lo, hi := mid.depth, mid.depth
		for _, s := range ss {
			lo, hi = min(lo, s.depth), max(hi, s.depth)
		}
		counted := fmt.Sprint(mid.depth)
		if lo != hi {
			counted = fmt.Sprintf("%d (%d–%d)", mid.depth, lo, hi)
		}
		if mid.hms > 0 {
			counted += fmt.Sprintf(" + %d to 100ms", mid.hms)
		}
		if mid.fcm > 0 {
			counted += fmt.Sprintf(" + %d to FCM", mid.fcm)
		}
		mark := ""
		if mid.depth > f.floor {
			mark = " ⚠"
		}
		rest := mid.elapsed - time.Duration(mid.depth)*o.rtt
		fmt.Fprintf(&b, "| %s | %.1f ms | %.2f | %s%s | %.1f ms | %d: %s | %s |\n", f.row, ms(mid.elapsed),
			float64(mid.elapsed)/float64(o.rtt), counted, mark, ms(rest), f.floor, f.why, mid.chain)
	}
	b.WriteString("\nRound trips counted: the longest chain of Firestore and Auth calls each sent after the one before was answered " +
		"(internal/delayproxy); ⚠: more than the floor. p50 − counted × RTT is what is not round trips: " +
		"the emulators' and the server's work, and the machine's load.\n")
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
