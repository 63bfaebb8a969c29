package store

import (
	"math"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// setStr sets a string field only when known: docs/data-model.md wants unknown fields
// absent, not empty.
func setStr(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// Free text and links copied from events are bounded (docs/data-model.md), so that no
// event can grow a document towards Firestore's 1 MiB limit; the raw event
// keeps them whole.
const (
	maxTextBytes = 1024
	maxLinkBytes = 8 << 10
)

// setText sets a free-text field (a user name, an error message, a reason)
// only when known, cut to maxTextBytes at a UTF-8 boundary.
func setText(m map[string]any, k, v string) {
	setStr(m, k, clip(v, maxTextBytes))
}

// setLink sets a URL or storage path only when known and at most
// maxLinkBytes long: a cut link is worse than none.
func setLink(m map[string]any, k, v string) {
	if len(v) <= maxLinkBytes {
		setStr(m, k, v)
	}
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// setTime sets a timestamp field only when known.
func setTime(m map[string]any, k string, t time.Time) {
	if !t.IsZero() {
		m[k] = t
	}
}

// setInt sets an integer field only when known.
func setInt(m map[string]any, k string, v *int64) {
	if v != nil {
		m[k] = *v
	}
}

// norm makes a time what Firestore will store (UTC, microseconds), so that
// values compared in one order equal values read back in another.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func tm(t hms.Time) time.Time { return norm(t.Time) }

// firstTime is the first known time of ts.
func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// firstOf is the first non-empty string of ss.
func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// seconds rounds a 100ms duration to whole seconds (SPEC: an integer).
func seconds(d *float64) *int64 {
	if d == nil || math.IsNaN(*d) || math.IsInf(*d, 0) {
		return nil
	}
	n := int64(math.Round(*d))
	return &n
}

// durationSec is to − from in whole seconds, never negative: 100ms stamps
// some events to the second, so an end can precede a start by a fraction.
func durationSec(from, to time.Time) int64 {
	return int64(max(to.Sub(from), 0).Round(time.Second) / time.Second)
}

// earlier is the earlier of two times, a zero time meaning unknown.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// later is the later of two times, a zero time meaning unknown.
func later(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

// dataOf is a snapshot's fields, empty for a missing document.
func dataOf(snap *firestore.DocumentSnapshot) map[string]any {
	if snap == nil || !snap.Exists() {
		return map[string]any{}
	}
	return snap.Data()
}

// mapAt walks nested maps; a missing or non-map step gives an empty map.
func mapAt(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		next, ok := m[k].(map[string]any)
		if !ok {
			return map[string]any{}
		}
		m = next
	}
	return m
}

func timeAt(m map[string]any, k string) time.Time {
	t, _ := m[k].(time.Time)
	return norm(t)
}

func strAt(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
