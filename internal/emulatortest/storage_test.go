package emulatortest

import (
	"os"
	"strings"
	"testing"
)

// TestFakeGCSServerVersionIsTheScripts': the version the tests name in
// their error is the one scripts/test installs.
func TestFakeGCSServerVersionIsTheScripts(t *testing.T) {
	b, err := os.ReadFile("../../scripts/lib/common.sh")
	if err != nil {
		t.Fatal(err)
	}
	if want := "fake_gcs_server_version=" + FakeGCSServerVersion + "\n"; !strings.Contains(string(b), want) {
		t.Errorf("scripts/lib/common.sh lacks %q", want)
	}
}
