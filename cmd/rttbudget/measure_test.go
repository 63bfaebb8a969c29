package main

import (
	"testing"
	"time"

	"github.com/telemed/videocalls/internal/delayproxy"
)

func TestShortName(t *testing.T) {
	for in, want := range map[string]string{
		"/google.firestore.v1.Firestore/BatchGetDocuments":                        "BatchGetDocuments",
		"POST /identitytoolkit.googleapis.com/v1/projects/demo-x/accounts:lookup": "POST accounts:lookup",
		"GET /v2/sessions/6564a09aa2ad2e4f1e0d00ac":                               "GET sessions/{id}",
		"POST /v2/rooms/": "POST rooms",
	} {
		if got := shortName(in); got != want {
			t.Errorf("shortName(%q) = %q, want %q", in, got, want)
		}
	}
}

// Calls in flight together share a level; a call sent after another was
// answered comes after it: catches a chain that lists calls by start time.
func TestChain(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	calls := []delayproxy.Call{
		{Name: "Auth POST accounts:lookup", Start: at(0), End: at(20)},
		{Name: "Firestore BatchGetDocuments", Start: at(1), End: at(21)},
		{Name: "Firestore Commit", Start: at(22), End: at(42)},
	}
	if got, want := chain(calls), "Auth POST accounts:lookup + Firestore BatchGetDocuments → Firestore Commit"; got != want {
		t.Errorf("chain = %q, want %q", got, want)
	}
	if got := chain(nil); got != "none" {
		t.Errorf("chain(nil) = %q, want none", got)
	}
}
