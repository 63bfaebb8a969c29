package firestorerules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/telemed/videocalls/internal/emulatortest"
)

// A project of its own, so that no other test's data or rules meet these.
const project = "demo-rules"

func TestMain(m *testing.M) { emulatortest.Main(m) }

// Who acts. The uids are the appointments' doctorId/clientId/guestIds below.
const (
	doctorA    = "doctor-a"
	clientA    = "client-a"
	doctorB    = "doctor-b"
	clientB    = "client-b"
	guest      = "guest-g"     // in A's guestIds (an interpreter, say), not in B's
	otherGuest = "guest-other" // in A's and B's guestIds; never acts
	stranger   = "stranger"    // signed in, in no appointment
	noUser     = ""            // no Authorization header at all
)

var actors = []string{doctorA, clientA, guest, stranger, noUser}

// at is a fixed time for the timestamps of the seed.
var at = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func actorName(uid string) string {
	if uid == noUser {
		return "no-user"
	}
	return uid
}

// seed is what the functions and the app would have written, by path.
var seed = map[string]map[string]any{
	"appointments/A": {"doctorId": doctorA, "clientId": clientA, "guestIds": []string{otherGuest, guest}},
	"appointments/B": {"doctorId": doctorB, "clientId": clientB, "guestIds": []string{otherGuest}},
	// D's call still names A's participants (say the app moved the
	// appointment to another doctor): the appointment decides, not the call.
	"appointments/D": {"doctorId": doctorB, "clientId": clientB},
	// A's doctor and client again, with guestIds absent (N), empty (E), and
	// not a list: a string (S) and a map (M), each naming the guest. None
	// lets the guest in; none keeps the doctor and the client out.
	"appointments/N": {"doctorId": doctorA, "clientId": clientA},
	"appointments/E": {"doctorId": doctorA, "clientId": clientA, "guestIds": []string{}},
	"appointments/S": {"doctorId": doctorA, "clientId": clientA, "guestIds": guest},
	"appointments/M": {"doctorId": doctorA, "clientId": clientA, "guestIds": map[string]any{guest: true}},

	"calls/A": {"appointmentId": "A", "doctorId": doctorA, "clientId": clientA, "roomId": "room-a", "status": "live",
		"waitingSince": at.Add(2 * time.Minute)},
	// B's call names the guest (a call document the functions got wrong,
	// say): the appointment decides, not the call.
	"calls/B": {"appointmentId": "B", "doctorId": doctorB, "clientId": clientB, "roomId": "room-b", "status": "live", "guestIds": []string{guest},
		"waitingSince": at},
	"calls/D": {"appointmentId": "D", "doctorId": doctorA, "clientId": clientA, "roomId": "room-d", "status": "idle"},
	"calls/N": {"appointmentId": "N", "doctorId": doctorA, "clientId": clientA, "roomId": "room-n", "status": "live",
		"waitingSince": at.Add(time.Minute)},
	"calls/E": {"appointmentId": "E", "doctorId": doctorA, "clientId": clientA, "roomId": "room-e", "status": "live"},
	"calls/S": {"appointmentId": "S", "doctorId": doctorA, "clientId": clientA, "roomId": "room-s", "status": "live"},
	"calls/M": {"appointmentId": "M", "doctorId": doctorA, "clientId": clientA, "roomId": "room-m", "status": "live"},
	// A call whose appointment is gone: nobody reads it.
	"calls/X": {"appointmentId": "X", "doctorId": doctorA, "clientId": clientA, "roomId": "room-x"},

	"calls/A/sessions/s-a":        {"roomId": "room-a", "status": "open"},
	"calls/A/recordings/sfu-s-a":  {"kind": "sfu", "status": "success"},
	"calls/A/transcripts/t-a":     {"status": "success"},
	"calls/A/failures/f-a":        {"kind": "join", "error": "boom"},
	"calls/A/notes/n-a":           {"text": "a subcollection the rules do not name"},
	"calls/B/sessions/s-b":        {"roomId": "room-b", "status": "open"},
	"calls/B/recordings/sfu-s-b":  {"kind": "sfu", "status": "success"},
	"calls/B/transcripts/t-b":     {"status": "success"},
	"calls/B/failures/f-b":        {"kind": "join", "error": "boom"},
	"calls/A/sessions/s-a/deep/x": {"note": "below a session: not named either"},
	"calls/N/sessions/s-n":        {"roomId": "room-n", "status": "open"},
	"calls/N/transcripts/t-n":     {"status": "success"},
	"calls/E/sessions/s-e":        {"roomId": "room-e", "status": "open"},
	"calls/S/sessions/s-s":        {"roomId": "room-s", "status": "open"},
	"calls/S/recordings/sfu-s-s":  {"kind": "sfu", "status": "success"},
	"calls/M/sessions/s-m":        {"roomId": "room-m", "status": "open"},
	"calls/M/failures/f-m":        {"kind": "join", "error": "boom"},

	"hmsRooms/room-a":      {"appointmentId": "A", "roomName": "appointment-A"},
	"hmsEvents/e-1":        {"raw": `{"type":"session.open.success"}`, "appointmentId": "A", "roomId": "room-a"},
	"hmsPeers/s-a:p-1":     {"appointmentId": "A"},
	"hmsCalls/A":           {"appointmentId": "A"},
	"hmsStreams/A:beam:1":  {"appointmentId": "A"},
	"hmsRanks/A:beam:1":    {"appointmentId": "A"},
	"hmsSomethingLater/z1": {"appointmentId": "A"}, // an hms* collection added later

	// The audit trail (docs/security.md), as the functions write it: entries about
	// each actor, the one a client might most want to read or erase.
	"auditLog/u-doctor": {"at": at, "action": "token", "outcome": "granted", "uid": doctorA, "role": "doctor",
		"appointmentId": "A", "roomId": "room-a", "requestId": "req-1", "appCheck": "verified", "ip": "203.0.113.1",
		"details": map[string]any{"role": "host", "jti": "j-1", "expiresAt": at.Add(4 * time.Hour)}},
	"auditLog/u-client": {"at": at.Add(time.Second), "action": "recordingUrl", "outcome": "refused", "reason": "not a participant",
		"uid": clientA, "role": "none", "appointmentId": "B", "requestId": "req-2", "appCheck": "missing", "ip": "203.0.113.2"},
	"auditLog/u-guest": {"at": at.Add(2 * time.Second), "action": "consent", "outcome": "granted", "uid": guest, "role": "guest",
		"appointmentId": "A", "roomId": "room-a", "requestId": "req-3", "appCheck": "verified", "ip": "203.0.113.3",
		"details": map[string]any{"value": true}},
	"auditLog/u-stranger": {"at": at.Add(3 * time.Second), "action": "token", "outcome": "refused", "reason": "not a participant",
		"uid": stranger, "role": "none", "appointmentId": "A", "requestId": "req-4", "appCheck": "invalid", "ip": "198.51.100.9"},
	"auditLog/u-system": {"at": at.Add(4 * time.Second), "action": "sweep.close", "outcome": "granted", "uid": "system", "role": "system",
		"appointmentId": "A", "roomId": "room-a", "requestId": "req-5", "appCheck": "missing", "ip": ""},
}

// target is one document and the collection it is listed from, with who may
// read it. No client may write anything in this repository's rules
// (appointment writes are the app's to add), so writes are denied to all.
type target struct {
	doc     string   // document path
	readers []string // uids allowed get and list
}

var (
	participantsA = []string{doctorA, clientA, guest}
	doctorClientA = []string{doctorA, clientA}
)

var targets = []target{
	{"calls/A", participantsA},
	{"calls/B", nil},           // A's participants read B's call: denied (the guest too, though the call names it)
	{"calls/D", nil},           // the call names doctor-a, the appointment does not
	{"calls/X", nil},           // no appointment
	{"calls/N", doctorClientA}, // no guestIds: as before guests existed
	{"calls/E", doctorClientA}, // guestIds empty
	{"calls/S", doctorClientA}, // guestIds a string naming the guest: not a list, opens nothing
	{"calls/M", doctorClientA}, // guestIds a map whose key is the guest: not a list, opens nothing
	{"calls/A/sessions/s-a", participantsA},
	{"calls/A/recordings/sfu-s-a", participantsA},
	{"calls/A/transcripts/t-a", participantsA},
	{"calls/A/failures/f-a", participantsA},
	{"calls/N/sessions/s-n", doctorClientA},
	{"calls/N/transcripts/t-n", doctorClientA},
	{"calls/E/sessions/s-e", doctorClientA},
	{"calls/S/sessions/s-s", doctorClientA},
	{"calls/S/recordings/sfu-s-s", doctorClientA},
	{"calls/M/sessions/s-m", doctorClientA},
	{"calls/M/failures/f-m", doctorClientA},
	{"calls/A/notes/n-a", nil},
	{"calls/A/sessions/s-a/deep/x", nil},
	{"calls/B/sessions/s-b", nil},
	{"calls/B/recordings/sfu-s-b", nil},
	{"calls/B/transcripts/t-b", nil},
	{"calls/B/failures/f-b", nil},
	{"hmsRooms/room-a", nil},
	{"hmsEvents/e-1", nil},
	{"hmsPeers/s-a:p-1", nil},
	{"hmsCalls/A", nil},
	{"hmsStreams/A:beam:1", nil},
	{"hmsRanks/A:beam:1", nil},
	{"hmsSomethingLater/z1", nil},
	// Nobody reads or writes the audit trail: not the doctor, client or
	// guest an entry is about, not anyone else.
	{"auditLog/u-doctor", nil},
	{"auditLog/u-client", nil},
	{"auditLog/u-guest", nil},
	{"auditLog/u-stranger", nil},
	{"auditLog/u-system", nil},
	// A guest reads the call, not the appointment (the app's to open).
	{"appointments/A", doctorClientA},
	{"appointments/B", nil},
	{"appointments/N", doctorClientA},
	{"appointments/S", doctorClientA},
	{"appointments/M", doctorClientA},
}

// Lists of a top-level collection are refused to everyone, even when every
// document in it would be readable one by one: the rules engine must prove
// the rule from the query, and the calls rule depends on each id (get()).
// Unfiltered lists of appointments and calls are refused for the same
// reason; the filtered queries (one's own appointments, the doctor's
// queue) are in TestQueries.
var listOnlyRefused = map[string]bool{"calls": true, "appointments": true}

func TestRules(t *testing.T) {
	c := setup(t)
	for _, tg := range targets {
		coll, docID := splitDoc(tg.doc)
		for _, uid := range actors {
			may := slices.Contains(tg.readers, uid)
			name := tg.doc + "/" + actorName(uid)
			t.Run(name+"/get", func(t *testing.T) {
				res := c.do(t, uid, http.MethodGet, docURL(tg.doc), nil)
				if may {
					res.wantOK(t)
					res.wantDocs(t, tg.doc)
				} else {
					res.wantDenied(t)
				}
			})
			t.Run(name+"/list", func(t *testing.T) {
				res := c.do(t, uid, http.MethodGet, docURL(coll), nil)
				if may && !listOnlyRefused[coll] {
					res.wantOK(t)
					res.wantDocs(t, tg.doc)
				} else {
					res.wantDenied(t)
				}
			})
			t.Run(name+"/create", func(t *testing.T) {
				parent, id := splitDoc(coll + "/new-" + docID)
				u := docURL(parent) + "?documentId=" + url.QueryEscape(id)
				c.do(t, uid, http.MethodPost, u, fields(map[string]any{"roomId": "mine"})).wantDenied(t)
			})
			t.Run(name+"/update", func(t *testing.T) {
				u := docURL(tg.doc) + "?updateMask.fieldPaths=roomId&currentDocument.exists=true"
				c.do(t, uid, http.MethodPatch, u, fields(map[string]any{"roomId": "mine"})).wantDenied(t)
			})
			t.Run(name+"/delete", func(t *testing.T) {
				c.do(t, uid, http.MethodDelete, docURL(tg.doc), nil).wantDenied(t)
			})
		}
	}
	// Every write above was refused, so the seed is intact: in particular
	// the roomId hmsToken trusts.
	for path, want := range seed {
		res := c.do(t, "owner", http.MethodGet, docURL(path), nil)
		res.wantOK(t)
		var doc struct {
			Fields map[string]any `json:"fields"`
		}
		if err := json.Unmarshal(res.body, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(doc.Fields) != len(want) {
			t.Errorf("%s has %d fields after the denied writes, want %d", path, len(doc.Fields), len(want))
		}
		for k, v := range want {
			got, wantV := plain(t, doc.Fields[k]), plain(t, roundTrip(t, value(v)))
			if !reflect.DeepEqual(got, wantV) {
				t.Errorf("%s.%s = %#v after the denied writes, want %#v", path, k, got, wantV)
			}
		}
	}
	// And nothing was created beside it: the creates above would have made
	// new-* documents.
	for _, coll := range []string{"auditLog", "calls", "appointments"} {
		res := c.do(t, "owner", http.MethodGet, docURL(coll)+"?pageSize=300", nil)
		res.wantOK(t)
		if bytes.Contains(res.body, []byte("/new-")) {
			t.Errorf("a denied create left a document in %s: %s", coll, res.body)
		}
	}
}

// TestClientWritesOwnRoomID is the attack the rules exist for: the client of
// an appointment points its call at another room (hmsToken trusts roomId).
// Every way of writing it is refused: update, overwrite, delete and recreate,
// a create beside it, and a batch commit.
func TestClientWritesOwnRoomID(t *testing.T) {
	c := setup(t)
	for _, uid := range []string{clientA, doctorA, guest} {
		t.Run(actorName(uid)+"/update", func(t *testing.T) {
			u := docURL("calls/A") + "?updateMask.fieldPaths=roomId"
			c.do(t, uid, http.MethodPatch, u, fields(map[string]any{"roomId": "room-evil"})).wantDenied(t)
		})
		t.Run(actorName(uid)+"/overwrite", func(t *testing.T) {
			c.do(t, uid, http.MethodPatch, docURL("calls/A"), fields(seedWith("calls/A", "roomId", "room-evil"))).wantDenied(t)
		})
		t.Run(actorName(uid)+"/delete", func(t *testing.T) {
			c.do(t, uid, http.MethodDelete, docURL("calls/A"), nil).wantDenied(t)
		})
		t.Run(actorName(uid)+"/create-new-call", func(t *testing.T) {
			u := docURL("calls") + "?documentId=A2"
			c.do(t, uid, http.MethodPost, u, fields(map[string]any{"roomId": "room-evil", "doctorId": doctorA, "clientId": clientA})).wantDenied(t)
		})
		t.Run(actorName(uid)+"/commit", func(t *testing.T) {
			body := map[string]any{"writes": []any{map[string]any{
				"update":     map[string]any{"name": docName("calls/A"), "fields": fields(map[string]any{"roomId": "room-evil"})["fields"]},
				"updateMask": map[string]any{"fieldPaths": []string{"roomId"}},
			}}}
			c.do(t, uid, http.MethodPost, docURL("")+":commit", body).wantDenied(t)
		})
	}
	res := c.do(t, "owner", http.MethodGet, docURL("calls/A"), nil)
	res.wantOK(t)
	if !bytes.Contains(res.body, []byte(`"room-a"`)) || bytes.Contains(res.body, []byte("room-evil")) {
		t.Errorf("calls/A after the attempts: %s", res.body)
	}
}

// TestQueries: what a query may do. The app lists its own appointments by
// filtering on its uid, and lists a call's subcollections; it reads the call
// itself by id. Queries that cannot be proven for every result are refused
// even when they would return only readable documents.
func TestQueries(t *testing.T) {
	c := setup(t)
	eq := func(field, value string) map[string]any {
		return map[string]any{"fieldFilter": map[string]any{
			"field": map[string]any{"fieldPath": field}, "op": "EQUAL",
			"value": map[string]any{"stringValue": value},
		}}
	}
	query := func(coll string, allDescendants bool, where map[string]any) map[string]any {
		q := map[string]any{"from": []any{map[string]any{"collectionId": coll, "allDescendants": allDescendants}}}
		if where != nil {
			q["where"] = where
		}
		return map[string]any{"structuredQuery": q}
	}
	queue := func(where map[string]any) map[string]any {
		q := query("calls", false, where)
		q["structuredQuery"].(map[string]any)["orderBy"] = []any{map[string]any{
			"field": map[string]any{"fieldPath": "waitingSince"}, "direction": "ASCENDING"}}
		return q
	}
	// A's doctor and client are N's, E's, S's and M's too.
	ownAppointments := []string{"appointments/A", "appointments/E", "appointments/M", "appointments/N", "appointments/S"}
	cases := []struct {
		name   string
		uid    string
		parent string // document path the query runs under; "" is the root
		query  map[string]any
		want   []string // documents returned; nil means PERMISSION_DENIED
	}{
		{"doctor lists own appointments", doctorA, "", query("appointments", false, eq("doctorId", doctorA)), ownAppointments},
		{"client lists own appointments", clientA, "", query("appointments", false, eq("clientId", clientA)), ownAppointments},
		{"stranger lists doctor's appointments", stranger, "", query("appointments", false, eq("doctorId", doctorA)), nil},
		{"client lists doctor's appointments", clientA, "", query("appointments", false, eq("doctorId", doctorA)), nil},
		{"no user lists appointments", noUser, "", query("appointments", false, eq("doctorId", doctorA)), nil},
		{"doctor lists all appointments", doctorA, "", query("appointments", false, nil), nil},
		// The doctor's queue (docs/notifications.md): their calls with
		// someone waiting, oldest wait first. Allowed to that doctor only,
		// and only with the filter on their own uid.
		{"doctor's queue", doctorA, "", queue(eq("doctorId", doctorA)), []string{"calls/N", "calls/A"}},
		{"doctor queries another doctor's queue", doctorA, "", queue(eq("doctorId", doctorB)), nil},
		{"client queries the doctor's queue", clientA, "", queue(eq("doctorId", doctorA)), nil},
		{"guest queries the doctor's queue", guest, "", queue(eq("doctorId", doctorA)), nil},
		{"stranger queries the doctor's queue", stranger, "", queue(eq("doctorId", doctorA)), nil},
		{"no user queries the doctor's queue", noUser, "", queue(eq("doctorId", doctorA)), nil},
		{"doctor queries every queue (no filter)", doctorA, "", queue(nil), nil},
		{"client queries calls by own clientId", clientA, "", query("calls", false, eq("clientId", clientA)), nil},
		{"doctor queries calls by appointmentId", doctorA, "", query("calls", false, eq("appointmentId", "A")), nil},
		// A query naming one document is checked against that document:
		// the doctor's own call passes by its doctorId, as the queue does;
		// the client's does not (list is the doctor's only).
		{"doctor queries calls by own call's id", doctorA, "", query("calls", false, map[string]any{"fieldFilter": map[string]any{
			"field": map[string]any{"fieldPath": "__name__"}, "op": "EQUAL",
			"value": map[string]any{"referenceValue": docName("calls/A")},
		}}), []string{"calls/A"}},
		{"client queries calls by own call's id", clientA, "", query("calls", false, map[string]any{"fieldFilter": map[string]any{
			"field": map[string]any{"fieldPath": "__name__"}, "op": "EQUAL",
			"value": map[string]any{"referenceValue": docName("calls/A")},
		}}), nil},
		{"doctor queries all sessions (collection group)", doctorA, "", query("sessions", true, nil), nil},
		{"doctor queries own call's sessions", doctorA, "calls/A", query("sessions", false, eq("status", "open")), []string{"calls/A/sessions/s-a"}},
		{"client queries own call's recordings", clientA, "calls/A", query("recordings", false, nil), []string{"calls/A/recordings/sfu-s-a"}},
		{"client queries B's sessions", clientA, "calls/B", query("sessions", false, nil), nil},
		{"stranger queries A's sessions", stranger, "calls/A", query("sessions", false, nil), nil},
		{"doctor queries hmsEvents of A", doctorA, "", query("hmsEvents", false, eq("appointmentId", "A")), nil},
		{"doctor queries hmsRooms of A", doctorA, "", query("hmsRooms", false, eq("appointmentId", "A")), nil},

		// A guest of A lists A's subcollections like the client; not B's
		// (where it is not listed, though B's call names it), not those of
		// an appointment whose guestIds is no list.
		{"guest queries A's sessions", guest, "calls/A", query("sessions", false, nil), []string{"calls/A/sessions/s-a"}},
		{"guest queries A's failures", guest, "calls/A", query("failures", false, eq("kind", "join")), []string{"calls/A/failures/f-a"}},
		{"guest queries B's sessions", guest, "calls/B", query("sessions", false, nil), nil},
		{"guest queries S's sessions", guest, "calls/S", query("sessions", false, nil), nil},
		{"guest queries M's sessions", guest, "calls/M", query("sessions", false, nil), nil},
		{"doctor queries M's sessions", doctorA, "calls/M", query("sessions", false, nil), []string{"calls/M/sessions/s-m"}},
		{"client queries N's transcripts", clientA, "calls/N", query("transcripts", false, nil), []string{"calls/N/transcripts/t-n"}},
		{"guest queries calls naming it", guest, "", query("calls", false, map[string]any{"fieldFilter": map[string]any{
			"field": map[string]any{"fieldPath": "guestIds"}, "op": "ARRAY_CONTAINS",
			"value": map[string]any{"stringValue": guest},
		}}), nil},
		{"guest queries appointments listing it", guest, "", query("appointments", false, map[string]any{"fieldFilter": map[string]any{
			"field": map[string]any{"fieldPath": "guestIds"}, "op": "ARRAY_CONTAINS",
			"value": map[string]any{"stringValue": guest},
		}}), nil},

		// The audit trail answers no query, however narrow: not one's own
		// entries, not an appointment's.
		{"doctor queries own audit entries", doctorA, "", query("auditLog", false, eq("uid", doctorA)), nil},
		{"client queries own audit entries", clientA, "", query("auditLog", false, eq("uid", clientA)), nil},
		{"guest queries own audit entries", guest, "", query("auditLog", false, eq("uid", guest)), nil},
		{"doctor queries A's audit entries", doctorA, "", query("auditLog", false, eq("appointmentId", "A")), nil},
		{"stranger queries the audit trail", stranger, "", query("auditLog", false, nil), nil},
		{"no user queries the audit trail", noUser, "", query("auditLog", false, nil), nil},
		{"doctor queries audit entries (collection group)", doctorA, "", query("auditLog", true, eq("uid", doctorA)), nil},
	}
	// The queue's answer is in the order of its wait, oldest first.
	ordered := map[string]bool{"doctor's queue": true}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := docURL(tc.parent)
			if tc.parent == "" {
				u = strings.TrimSuffix(u, "/")
			}
			res := c.do(t, tc.uid, http.MethodPost, u+":runQuery", tc.query)
			if tc.want == nil {
				res.wantDenied(t)
				return
			}
			res.wantOK(t)
			res.wantDocs(t, tc.want...)
			for i := 1; ordered[tc.name] && i < len(tc.want); i++ {
				if bytes.Index(res.body, []byte(docName(tc.want[i-1])+`"`)) > bytes.Index(res.body, []byte(docName(tc.want[i])+`"`)) {
					t.Errorf("%s comes after %s: %s", tc.want[i-1], tc.want[i], res.body)
				}
			}
		})
	}
}

// TestOwnerBypassesRules pins what the other packages' tests rely on: the
// Go clients' "Bearer owner" is let past the rules.
func TestOwnerBypassesRules(t *testing.T) {
	c := setup(t)
	c.do(t, "owner", http.MethodGet, docURL("hmsEvents/e-1"), nil).wantOK(t)
	c.do(t, "owner", http.MethodPatch, docURL("calls/B")+"?updateMask.fieldPaths=status",
		fields(map[string]any{"status": "ended"})).wantOK(t)
}

// TestRulesInEveryProject: the emulator the tests start enforces
// firestore.rules for every project id, with no PUT of securityRules, so the
// other packages' tests (each in its own project) run under the rules too.
func TestRulesInEveryProject(t *testing.T) {
	host := emulatortest.MustFirestore(t)
	if emulatortest.FirestoreProcess() == nil {
		// Skipping would count the rules of every project as tested.
		t.Fatal("this test needs the emulator the tests start, with the rules loaded for every project: unset FIRESTORE_EMULATOR_HOST")
	}
	other := &client{host: host, http: &http.Client{Timeout: 60 * time.Second}}
	u := "/v1/projects/demo-rules-unloaded/databases/(default)/documents/hmsEvents/e-1"
	res := other.do(t, "owner", http.MethodPatch, u, fields(map[string]any{"raw": "{}"}))
	res.wantOK(t)
	for _, uid := range []string{noUser, stranger} {
		other.do(t, uid, http.MethodGet, u, nil).wantDenied(t)
	}
}

// client talks to the emulator's REST API.
type client struct {
	host string
	http *http.Client
}

// setup starts (or reuses) the emulator, loads firestore.rules for the
// project through the REST API, wipes it and seeds it as the Admin SDK.
func setup(t *testing.T) *client {
	t.Helper()
	host := emulatortest.MustFirestore(t)
	emulatortest.LoadRules(t, host, project)
	emulatortest.Wipe(t, project)
	c := &client{host: host, http: &http.Client{Timeout: 60 * time.Second}}
	for path, data := range seed {
		c.do(t, "owner", http.MethodPatch, docURL(path), fields(data)).wantOK(t)
	}
	return c
}

type result struct {
	path   string
	status int
	body   []byte
}

// do sends one request as uid: "owner" is the Admin SDK, noUser sends no
// Authorization header, any other uid an unsigned ID token of the project.
func (c *client) do(t *testing.T, uid, method, u string, body any) result {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+c.host+u, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	switch uid {
	case noUser:
	case "owner":
		req.Header.Set("Authorization", "Bearer owner")
	default:
		now := time.Now()
		req.Header.Set("Authorization", "Bearer "+emulatortest.UnsignedIDToken(project, uid, now.Add(-time.Minute), now.Add(time.Hour)))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, u, err)
	}
	return result{path: method + " " + u, status: resp.StatusCode, body: b}
}

func (r result) wantOK(t *testing.T) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: %d %s, want 200", r.path, r.status, r.body)
	}
	// runQuery answers 200 and may put a failure inside its stream.
	var elems []map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &elems); err != nil {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(r.body, &one); err != nil {
			t.Fatalf("%s: answer is not JSON: %s", r.path, r.body)
		}
		elems = append(elems, one)
	}
	for _, e := range elems {
		if _, ok := e["error"]; ok {
			t.Fatalf("%s: 200 with an error: %s", r.path, r.body)
		}
	}
}

func (r result) wantDenied(t *testing.T) {
	t.Helper()
	var e struct {
		Error struct {
			Code   int    `json:"code"`
			Status string `json:"status"`
		} `json:"error"`
	}
	body := bytes.TrimSpace(r.body)
	// runQuery answers an array of results, whose first holds the error.
	if bytes.HasPrefix(body, []byte("[")) {
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err == nil && len(arr) > 0 {
			body = arr[0]
		}
	}
	_ = json.Unmarshal(body, &e)
	if r.status != http.StatusForbidden || e.Error.Status != "PERMISSION_DENIED" {
		t.Fatalf("%s: %d %s, want 403 PERMISSION_DENIED", r.path, r.status, r.body)
	}
}

// wantDocs checks that the answer (a document, a list or a query's stream)
// holds exactly the documents paths.
func (r result) wantDocs(t *testing.T, paths ...string) {
	t.Helper()
	var got []string
	var collect func(v any)
	collect = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if doc, ok := v["document"]; ok {
				collect(doc)
				return
			}
			if docs, ok := v["documents"]; ok {
				collect(docs)
				return
			}
			if name, ok := v["name"].(string); ok {
				got = append(got, strings.TrimPrefix(name, docName("")+"/"))
			}
		case []any:
			for _, e := range v {
				collect(e)
			}
		}
	}
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s: %v: %s", r.path, err, r.body)
	}
	collect(v)
	slices.Sort(got)
	want := slices.Clone(paths)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s returned %v, want %v", r.path, got, want)
	}
}

func docName(path string) string {
	name := "projects/" + project + "/databases/(default)/documents"
	if path != "" {
		name += "/" + path
	}
	return name
}

func docURL(path string) string { return "/v1/" + docName(path) }

// splitDoc splits a document path into its collection path and id.
func splitDoc(path string) (string, string) {
	i := strings.LastIndex(path, "/")
	return path[:i], path[i+1:]
}

func seedWith(path, key string, value any) map[string]any {
	m := map[string]any{}
	for k, v := range seed[path] {
		m[k] = v
	}
	m[key] = value
	return m
}

// fields encodes a REST Document body.
func fields(m map[string]any) map[string]any {
	return map[string]any{"fields": valueFields(m)}
}

func valueFields(m map[string]any) map[string]any {
	f := map[string]any{}
	for k, v := range m {
		f[k] = value(v)
	}
	return f
}

// value encodes one field as a REST Value: strings, bools, times, lists
// of strings and maps; anything else as its string.
func value(v any) map[string]any {
	switch v := v.(type) {
	case string:
		return map[string]any{"stringValue": v}
	case bool:
		return map[string]any{"booleanValue": v}
	case time.Time:
		return map[string]any{"timestampValue": v.UTC().Format(time.RFC3339Nano)}
	case []string:
		vals := []any{}
		for _, s := range v {
			vals = append(vals, value(s))
		}
		return map[string]any{"arrayValue": map[string]any{"values": vals}}
	case map[string]any:
		return map[string]any{"mapValue": map[string]any{"fields": valueFields(v)}}
	}
	return map[string]any{"stringValue": fmt.Sprint(v)}
}

// roundTrip is v as it comes back from JSON.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// plain decodes a REST Value (as unmarshalled into any) into comparable
// Go values: timestamps as time.Time, so that their spelling does not
// matter, and an empty list whether or not "values" is there.
func plain(t *testing.T, v any) any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	switch {
	case m["stringValue"] != nil:
		return m["stringValue"]
	case m["booleanValue"] != nil:
		return m["booleanValue"]
	case m["timestampValue"] != nil:
		ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["timestampValue"]))
		if err != nil {
			t.Fatalf("timestamp %v: %v", m["timestampValue"], err)
		}
		return ts.UTC()
	case m["arrayValue"] != nil:
		out := []any{}
		arr, _ := m["arrayValue"].(map[string]any)
		vals, _ := arr["values"].([]any)
		for _, e := range vals {
			out = append(out, plain(t, e))
		}
		return out
	case m["mapValue"] != nil:
		out := map[string]any{}
		mv, _ := m["mapValue"].(map[string]any)
		fs, _ := mv["fields"].(map[string]any)
		for k, e := range fs {
			out[k] = plain(t, e)
		}
		return out
	}
	return m
}

// TestDeviceTokens: users/{uid}/fcmTokens/{token} is the app's (its rule
// is in the app's section, docs/notifications.md): the signed-in user
// writes, reads and deletes their own devices' tokens, and nobody else
// touches them: not the doctor of their appointment, not a stranger, not
// a request without a user.
func TestDeviceTokens(t *testing.T) {
	c := setup(t)
	own := "users/" + clientA + "/fcmTokens/device-token-1"
	create := func(uid, path string) result {
		parent, id := splitDoc(path)
		return c.do(t, uid, http.MethodPost, docURL(parent)+"?documentId="+url.QueryEscape(id),
			fields(map[string]any{"platform": "android"}))
	}
	create(clientA, own).wantOK(t)
	c.do(t, clientA, http.MethodGet, docURL(own), nil).wantOK(t)
	c.do(t, clientA, http.MethodGet, docURL("users/"+clientA+"/fcmTokens"), nil).wantDocs(t, own)
	for _, uid := range []string{doctorA, guest, stranger, noUser} {
		t.Run(actorName(uid), func(t *testing.T) {
			c.do(t, uid, http.MethodGet, docURL(own), nil).wantDenied(t)
			c.do(t, uid, http.MethodGet, docURL("users/"+clientA+"/fcmTokens"), nil).wantDenied(t)
			create(uid, "users/"+clientA+"/fcmTokens/planted-by-"+actorName(uid)).wantDenied(t)
			c.do(t, uid, http.MethodDelete, docURL(own), nil).wantDenied(t)
		})
	}
	// Nor anything else of the user's: the rule names fcmTokens only.
	create(clientA, "users/"+clientA+"/profile/p").wantDenied(t)
	create(clientA, "users/"+clientA).wantDenied(t)
	c.do(t, clientA, http.MethodDelete, docURL(own), nil).wantOK(t)
	if res := c.do(t, "owner", http.MethodGet, docURL(own), nil); res.status != http.StatusNotFound {
		t.Errorf("%s after its owner deleted it: %d %s, want 404", own, res.status, res.body)
	}
}
