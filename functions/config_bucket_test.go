package functions

import (
	"strings"
	"testing"
	"time"
)

// TestRecordingBucketSettings: RECORDING_BUCKET, RECORDING_LINK_TTL and
// RECORDING_RETENTION_DAYS are read, defaulted and refused as README,
// Configuration says, each by the functions that read it (hmsRecordingUrl,
// hmsSweep) and by no other.
func TestRecordingBucketSettings(t *testing.T) {
	base := map[string]string{envProject: "p", envAccessKey: "k", envSecret: "s", envTemplateID: "t", envWebhookSecret: "w"}
	load := func(over map[string]string) *config {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range over {
			env[k] = v
		}
		return loadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}
	c := load(nil)
	if c.bucket != "" || c.linkTTL != 15*time.Minute || c.retentionDays != 0 {
		t.Errorf("defaults: bucket %q, linkTTL %s, retention %d", c.bucket, c.linkTTL, c.retentionDays)
	}
	c = load(map[string]string{envBucket: "clinic-recordings", envLinkTTL: "10m", envRetentionDays: "2190"})
	if c.bucket != "clinic-recordings" || c.linkTTL != 10*time.Minute || c.retentionDays != 2190 || c.checkAll()["hmsSweep"] != nil {
		t.Errorf("parsed: bucket %q, linkTTL %s, retention %d, %v", c.bucket, c.linkTTL, c.retentionDays, c.checkAll())
	}
	for _, tc := range []struct {
		name  string
		over  map[string]string
		bad   string // the variable named
		funcs []string
	}{
		{"bucket as a URL", map[string]string{envBucket: "gs://clinic"}, envBucket, []string{"hmsRecordingUrl", "hmsSweep"}},
		{"bucket with capitals", map[string]string{envBucket: "Clinic"}, envBucket, []string{"hmsRecordingUrl", "hmsSweep"}},
		{"link TTL over an hour", map[string]string{envLinkTTL: "2h"}, envLinkTTL, []string{"hmsRecordingUrl"}},
		{"link TTL zero", map[string]string{envLinkTTL: "0s"}, envLinkTTL, []string{"hmsRecordingUrl"}},
		{"link TTL not a duration", map[string]string{envLinkTTL: "soon"}, envLinkTTL, []string{"hmsRecordingUrl"}},
		{"retention zero", map[string]string{envBucket: "clinic-recordings", envRetentionDays: "0"}, envRetentionDays, []string{"hmsSweep"}},
		{"retention in years", map[string]string{envBucket: "clinic-recordings", envRetentionDays: "6y"}, envRetentionDays, []string{"hmsSweep"}},
		{"retention without a bucket", map[string]string{envRetentionDays: "30"}, envRetentionDays, []string{"hmsSweep"}},
		{"storage emulator deployed", map[string]string{envStorageEmu: "127.0.0.1:1", envCloudRunName: "hmssweep"}, envStorageEmu, []string{"hmsRecordingUrl", "hmsSweep"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := load(tc.over)
			if tc.bad == envRetentionDays && c.retentionDays != 0 {
				t.Errorf("a refused retention is kept: %d", c.retentionDays)
			}
			probs := c.checkAll()
			for name := range functionSettings {
				err := probs[name]
				want := false
				for _, f := range tc.funcs {
					want = want || f == name
				}
				switch {
				case want && (err == nil || !strings.Contains(err.Error(), tc.bad)):
					t.Errorf("%s: %v; want it to name %s", name, err, tc.bad)
				case !want && err != nil:
					t.Errorf("%s refuses another function's setting: %v", name, err)
				}
			}
		})
	}
}
