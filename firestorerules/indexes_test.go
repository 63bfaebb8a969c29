package firestorerules

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The file firebase deploy reads, in firebase-tools' shape.
type indexFile struct {
	Indexes []struct {
		CollectionGroup string `json:"collectionGroup"`
		QueryScope      string `json:"queryScope"`
		Fields          []struct {
			FieldPath string `json:"fieldPath"`
			Order     string `json:"order"`
		} `json:"fields"`
	} `json:"indexes"`
	FieldOverrides []struct {
		CollectionGroup string            `json:"collectionGroup"`
		FieldPath       string            `json:"fieldPath"`
		TTL             *bool             `json:"ttl"`
		Indexes         []json.RawMessage `json:"indexes"`
	} `json:"fieldOverrides"`
}

func repoFile(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func readIndexes(t *testing.T) (indexFile, []byte) {
	t.Helper()
	raw, err := os.ReadFile(repoFile(t, "firestore.indexes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f indexFile
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields() // a misspelt key is silently ignored by firebase-tools
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("firestore.indexes.json: %v", err)
	}
	return f, raw
}

// TestIndexEntries: docs/security.md's single-field exemptions (never queried, and
// each indexed write would cost: raw is up to 512 KiB; receivedAt, expireAt,
// timestamp grow monotonically, which caps a collection at about 500
// writes/s; the maps streams and peers grow with every event) and the
// composite index hmsSweep's query (status ==, updatedAt <) needs.
func TestIndexEntries(t *testing.T) {
	f, _ := readIndexes(t)

	exempt := map[string]bool{}
	ttl := map[string]bool{}
	for _, o := range f.FieldOverrides {
		key := o.CollectionGroup + "." + o.FieldPath
		if exempt[key] {
			t.Errorf("%s overridden twice", key)
		}
		if o.Indexes == nil {
			t.Errorf("%s: \"indexes\" missing (firebase-tools requires it; [] exempts the field)", key)
		}
		exempt[key] = len(o.Indexes) == 0
		ttl[key] = o.TTL != nil && *o.TTL
	}
	for _, key := range []string{
		"hmsEvents.raw", "hmsEvents.receivedAt", "hmsEvents.expireAt", "hmsEvents.timestamp",
		"hmsPeers.expireAt", "hmsCalls.expireAt", "hmsStreams.expireAt", "hmsRanks.expireAt",
		"calls.streams", "sessions.peers", "hmsCalls.peers", "hmsCalls.sessions",
	} {
		if !exempt[key] {
			t.Errorf("%s is not exempted from single-field indexing (want \"indexes\": [])", key)
		}
	}
	// The TTL policies the README promises, on the collections the store
	// writes expireAt to.
	for _, key := range []string{"hmsEvents.expireAt", "hmsPeers.expireAt", "hmsRanks.expireAt"} {
		if !ttl[key] {
			t.Errorf("%s has no TTL policy (want \"ttl\": true)", key)
		}
	}

	var sweep bool
	for _, ix := range f.Indexes {
		var fields []string
		for _, fl := range ix.Fields {
			fields = append(fields, fl.FieldPath+" "+fl.Order)
		}
		if ix.CollectionGroup == "calls" && ix.QueryScope == "COLLECTION" &&
			slices.Equal(fields, []string{"status ASCENDING", "updatedAt ASCENDING"}) {
			sweep = true
		}
	}
	if !sweep {
		t.Errorf("no index calls (COLLECTION): status ASCENDING, updatedAt ASCENDING for hmsSweep; have %+v", f.Indexes)
	}
}

// TestIndexFileFirebaseTools runs firebase-tools' own validation (the one
// `firebase deploy --only firestore:indexes` runs before calling the API)
// on the file, offline, from node_modules (npm ci, as scripts/test does).
func TestIndexFileFirebaseTools(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (needed to validate with firebase-tools): %v", err)
	}
	root := repoFile(t, "")
	if _, err := os.Stat(filepath.Join(root, "node_modules", "firebase-tools", "lib", "firestore", "api.js")); err != nil {
		t.Fatalf("firebase-tools missing from node_modules: run npm ci in %s: %v", root, err)
	}
	const script = `
const {FirestoreApi} = require("firebase-tools/lib/firestore/api");
const api = new FirestoreApi();
const file = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
api.validateSpec(api.upgradeOldSpec(file));
console.log("valid");
`
	validate := func(path string) (string, error) {
		cmd := exec.Command(node, "-e", script, path)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := validate(repoFile(t, "firestore.indexes.json")); err != nil || out != "valid" {
		t.Fatalf("firebase-tools refuses firestore.indexes.json: %v: %s", err, out)
	}

	// The validator does refuse a wrong file (an order firebase-tools does
	// not know), so "valid" above means something.
	_, raw := readIndexes(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(raw), `"ASCENDING"`, `"ASC"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := validate(bad); err == nil {
		t.Fatalf("firebase-tools accepted an index with order \"ASC\": %s", out)
	}
}

// TestAuditIndexes: what scripts/audit's queries (store.AuditTrail) need
// on auditLog (docs/security.md): equality on appointmentId or on uid, then a
// range and the order on at, each a composite index; `at` alone uses its
// automatic single-field index, so it must not be exempted. details is a
// map nobody queries, exempted. No TTL: the trail is kept (README,
// retention), so no auditLog field may carry a TTL policy.
func TestAuditIndexes(t *testing.T) {
	f, _ := readIndexes(t)
	want := map[string]bool{
		"appointmentId ASCENDING,at ASCENDING": false,
		"uid ASCENDING,at ASCENDING":           false,
	}
	for _, ix := range f.Indexes {
		if ix.CollectionGroup != "auditLog" {
			continue
		}
		var fields []string
		for _, fl := range ix.Fields {
			fields = append(fields, fl.FieldPath+" "+fl.Order)
		}
		key := strings.Join(fields, ",")
		if _, ok := want[key]; ok && ix.QueryScope == "COLLECTION" {
			want[key] = true
		}
	}
	for key, ok := range want {
		if !ok {
			t.Errorf("no auditLog (COLLECTION) index %s for scripts/audit; have %+v", key, f.Indexes)
		}
	}
	var details bool
	for _, o := range f.FieldOverrides {
		if o.CollectionGroup != "auditLog" {
			continue
		}
		if o.TTL != nil && *o.TTL {
			t.Errorf("auditLog.%s has a TTL policy: the audit trail is never deleted by Firestore", o.FieldPath)
		}
		switch o.FieldPath {
		case "details":
			details = o.Indexes != nil && len(o.Indexes) == 0
		case "at", "appointmentId", "uid":
			if len(o.Indexes) == 0 {
				t.Errorf("auditLog.%s is exempted from indexing: scripts/audit's queries need it", o.FieldPath)
			}
		}
	}
	if !details {
		t.Error("auditLog.details is not exempted from single-field indexing (want \"indexes\": [])")
	}
}
