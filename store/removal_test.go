package store

import (
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// docData is ref's fields, nil when it does not exist.
func docData(tb testing.TB, ref *firestore.DocumentRef) map[string]any {
	tb.Helper()
	snap, err := ref.Get(ctxT(tb))
	if err != nil && !snap.Exists() {
		return nil
	}
	return snap.Data()
}

// TestRemovalEnforcedOncePerPeer: after RecordRemoval, a join of the
// removed user is claimed for enforcement in its own commit, once per peer
// id: not by a redelivery (same event id, on this instance or another),
// not by a replay with a new event id; a second peer id of that user is
// claimed too; the doctor's join never; after AllowBack, nothing. The
// call and its book carry the same removal, and the admission is dropped;
// each claim's commit holds one system entry remove.enforce.
// Planted bugs caught: dropping the claim (k) claims the replay again;
// checking the call's removed in place of the book's reads nothing there.
func TestRemovalEnforcedOncePerPeer(t *testing.T) {
	s := newStore(t, "demo-removal")
	seed(t, s, "appt-r", "room-r")
	ctx := ctxT(t)
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	if err := s.RecordAdmission(ctx, "appt-r", "client-uid", "doc-uid", at, nil); err != nil {
		t.Fatal(err)
	}
	entry := &Audit{Action: "remove", Outcome: AuditGranted, UID: "doc-uid", Role: "doctor", AppointmentID: "appt-r"}
	if err := s.RecordRemoval(ctx, "appt-r", "client-uid", "doc-uid", at, entry); err != nil {
		t.Fatal(err)
	}
	// A repeat keeps the first record (and writes its own entry).
	if err := s.RecordRemoval(ctx, "appt-r", "client-uid", "someone", at.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	call, book := docData(t, s.callRef("appt-r")), docData(t, s.callBookRef("appt-r"))
	for name, d := range map[string]map[string]any{"call": call, "book": book} {
		r := removedOf(d)["client-uid"]
		if r == nil || r["by"] != "doc-uid" || !timeAt(r, "at").Equal(at) {
			t.Errorf("%s removed = %v", name, d["removed"])
		}
	}
	if mapAt(call, "admitted")["client-uid"] != nil {
		t.Errorf("admission kept after the removal: %v", call["admitted"])
	}
	if docData(t, s.fs.Collection(colAudit).Doc(entry.ID)) == nil {
		t.Errorf("the removal's entry is missing")
	}

	join := func(id, pid, uid string) []byte {
		return event(id, "peer.join.success", at, "room-r", map[string]any{"session_id": "sess-r", "peer_id": pid,
			"user_id": uid, "role": "guest", "joined_at": at.Format(time.RFC3339Nano)})
	}
	enforced := func(res ApplyResult) []string {
		var out []string
		for _, e := range res.Enforce {
			out = append(out, e.PeerID+"/"+e.UserID)
		}
		return out
	}
	others := instances(t, "demo-removal", 2)
	first := join("ev-j1", "p-1", "client-uid")
	if got := enforced(apply(t, s, first)); len(got) != 1 || got[0] != "p-1/client-uid" {
		t.Fatalf("first join: enforce %v", got)
	}
	for i, inst := range []*Store{s, others[0], others[1]} {
		if res := apply(t, inst, first); !res.Duplicate || len(res.Enforce) != 0 {
			t.Errorf("redelivery %d: %+v", i, res)
		}
	}
	if res := apply(t, s, join("ev-j1-replay", "p-1", "client-uid")); res.Duplicate || len(res.Enforce) != 0 {
		t.Errorf("replay with a new id: %+v", res)
	}
	if got := enforced(apply(t, others[0], join("ev-j2", "p-2", "client-uid"))); len(got) != 1 || got[0] != "p-2/client-uid" {
		t.Errorf("second rejoin: enforce %v", got)
	}
	if res := apply(t, s, join("ev-jd", "p-doc", "doc-uid")); len(res.Enforce) != 0 {
		t.Errorf("the doctor's join claimed: %+v", res)
	}
	entries, err := s.fs.Collection(colAudit).Where("action", "==", ActionRemoveEnforce).Documents(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	perPeer := map[string]int{}
	for _, e := range entries {
		d := e.Data()
		if d["uid"] != SystemUID || d["appointmentId"] != "appt-r" || d["roomId"] != "room-r" {
			t.Errorf("remove.enforce entry: %v", d)
		}
		perPeer[strAt(mapAt(d, "details"), "peerId")]++
	}
	if len(perPeer) != 2 || perPeer["p-1"] != 1 || perPeer["p-2"] != 1 {
		t.Errorf("remove.enforce entries per peer: %v; want one each for p-1 and p-2", perPeer)
	}
	peers := mapAt(docData(t, s.callBookRef("appt-r")), "peers")
	if k, _ := mapAt(peers, "p-1")["k"].(bool); !k {
		t.Errorf("p-1's fact has no claim: %v", peers["p-1"])
	}

	if err := s.AllowBack(ctx, "appt-r", "client-uid", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AllowBack(ctx, "appt-r", "client-uid", nil); err != nil { // harmless to repeat
		t.Fatal(err)
	}
	if d := docData(t, s.callRef("appt-r")); removedOf(d)["client-uid"] != nil || removedOf(docData(t, s.callBookRef("appt-r")))["client-uid"] != nil {
		t.Errorf("removal kept after AllowBack: %v", d["removed"])
	}
	if res := apply(t, s, join("ev-j3", "p-3", "client-uid")); len(res.Enforce) != 0 {
		t.Errorf("a join after AllowBack claimed: %+v", res)
	}
	if err := s.RecordWait(ctx, "appt-r", "client-uid", nil); err != nil {
		t.Fatal(err)
	}
}

// TestJoinReadsOnlyTheBook: a join's plan reads one document, the call's
// book, whose removed map is what the enforcement check reads: the check
// for a removed user costs a join no read of its own.
func TestJoinReadsOnlyTheBook(t *testing.T) {
	s := newStore(t, "demo-removal-reads")
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	ev, err := hms.ParseEvent(event("ev-x", "peer.join.success", at, "room-x", map[string]any{"session_id": "sess-x",
		"peer_id": "p-x", "user_id": "client-uid", "role": "guest"}))
	if err != nil {
		t.Fatal(err)
	}
	p := s.plan(ev, "appt-x")
	if p.read == nil || p.read.Path != s.callBookRef("appt-x").Path || p.orElse != nil || len(p.creates) != 0 {
		t.Fatalf("a join's plan reads %v (orElse %v, creates %d); want the book alone", p.read, p.orElse, len(p.creates))
	}
	book := map[string]any{"removed": map[string]any{"client-uid": map[string]any{"at": at, "by": "doc-uid"}}}
	fields, merges := p.step(book)
	if len(*p.claims) != 1 {
		t.Fatalf("the step over a book that names the user removed claims %v", *p.claims)
	}
	for _, w := range merges {
		if w.ref.Path == s.callBookRef("appt-x").Path {
			t.Errorf("the step merges into the book it read")
		}
	}
	deepMerge(book, fields)
	if p.step(book); len(*p.claims) != 0 {
		t.Errorf("the step over the claimed book claims again: %v", *p.claims)
	}
}

// TestRemovalClaimRace: replays of one removed user's join under new
// event ids, delivered at once to three instances, claim the peer once:
// the claim's commit holds only if the book is unchanged, so every other
// delivery reads the claim and claims nothing.
func TestRemovalClaimRace(t *testing.T) {
	s := newStore(t, "demo-removal-race")
	seed(t, s, "appt-rr", "room-rr")
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	if err := s.RecordRemoval(ctxT(t), "appt-rr", "client-uid", "doc-uid", at, nil); err != nil {
		t.Fatal(err)
	}
	insts := append(instances(t, "demo-removal-race", 2), s)
	raws := make([][]byte, 9)
	for i := range raws {
		raws[i] = event(fmt.Sprintf("ev-race-%d", i), "peer.join.success", at, "room-rr", map[string]any{"session_id": "sess-rr",
			"peer_id": "p-race", "user_id": "client-uid", "role": "guest", "joined_at": at.Format(time.RFC3339Nano)})
	}
	claims := 0
	for _, res := range applyRacing(t, insts, raws) {
		claims += len(res.Enforce)
	}
	if claims != 1 {
		t.Errorf("%d claims of one peer from 9 racing replays; want 1", claims)
	}
}
