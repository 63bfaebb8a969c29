package main

import "testing"

func TestRoute(t *testing.T) {
	for in, want := range map[string]string{
		"GET /v2/recording-assets/6564a0c0c2ad2e4f1e0dbea2/presigned-url":                   "GET /v2/recording-assets/{id}/presigned-url",
		"POST /v2/active-rooms/room0a1b2c3d4e5f/peers/4f0c0c9e-1a4b-4b2c-9d1e-0000000002a1": "POST /v2/active-rooms/{id}/peers/{id}",
		"GET /v2/analytics/webhooks?status=failed":                                          "GET /v2/analytics/webhooks",
		"POST /v2/rooms": "POST /v2/rooms",
	} {
		if got := route(in); got != want {
			t.Errorf("route(%q) = %q; want %q", in, got, want)
		}
	}
}
