package store

import (
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
)

// TestLeafUpdates checks that a bookkeeping document's update writes the
// leaves a merge-set would, and nothing above them.
func TestLeafUpdates(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	got := map[string]any{}
	for _, u := range leafUpdates(nil, map[string]any{
		"expireAt": at,
		"sessions": map[string]any{"s.1": map[string]any{"status": "open", "startedAt": at}},
		"empty":    map[string]any{},
	}) {
		got[strings.Join(u.FieldPath, "|")] = u.Value
	}
	want := map[string]any{
		"expireAt":               at,
		"sessions|s.1|status":    "open",
		"sessions|s.1|startedAt": at,
		"empty":                  map[string]any{},
	}
	var d []string
	diff(want, got, "updates", &d)
	if len(d) > 0 {
		t.Errorf("%v", d)
	}
	// Paths must not share a backing array (append on a common prefix).
	ups := leafUpdates(firestore.FieldPath{"a"}, map[string]any{"x": 1, "y": 2, "z": 3})
	paths := make([]string, len(ups))
	for i, u := range ups {
		paths[i] = strings.Join(u.FieldPath, ".")
	}
	slices.Sort(paths)
	if !slices.Equal(paths, []string{"a.x", "a.y", "a.z"}) {
		t.Errorf("paths = %v", paths)
	}
}
