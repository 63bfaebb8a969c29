package main

import (
	"reflect"
	"testing"
)

func TestAliasPaths(t *testing.T) {
	got, err := aliasPaths("demo-videocalls", "europe-west1")
	if err != nil {
		t.Fatal(err)
	}
	want := []alias{
		{"hmsToken", "/demo-videocalls/europe-west1/hmsToken"},
		{"hmsToken", "/demo-videocalls/europe-west1/hms-token"},
		{"hmssWebhook", "/demo-videocalls/europe-west1/hmssWebhook"},
		{"hmssWebhook", "/demo-videocalls/europe-west1/hmss-webhook"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("aliasPaths = %v, want %v", got, want)
	}
	if _, err := aliasPaths("", "us-central1"); err == nil {
		t.Fatal("no project: want an error")
	}
}
