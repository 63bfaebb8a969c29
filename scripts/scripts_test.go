// Package scripts holds the tests of the repository's bash scripts:
// scripts/deploy's commands, the .env parser they share, shellcheck, and
// scripts/dev end to end.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// script returns the absolute path of a script in this folder.
func script(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runScript runs a script with env added to a clean copy of the
// environment (no settings of the developer's own) and returns its stdout,
// stderr and error.
func runScript(t *testing.T, env []string, name string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(script(t, name), args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// cleanEnv is the environment without any variable the scripts read.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "HMS_"), strings.HasSuffix(name, "_EMULATOR_HOST"),
			name == "GOOGLE_CLOUD_PROJECT", name == "FUNCTION_REGION", name == "PORT",
			name == "HOST", name == "JOIN_EARLY", name == "JOIN_LATE", name == "K_SERVICE":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const deployEnv = `# settings
GOOGLE_CLOUD_PROJECT=my-clinic-prod
HMS_ACCESS_KEY=ak_123
HMS_SECRET="s3cr3t 'quoted' # not a comment"
HMS_TEMPLATE_ID=tmpl-1   # the template
HMS_WEBHOOK_SECRET=wh-one,wh-two
HMS_WEBHOOK_HEADER=X-Clinic-Hook
HMS_API_BASE=
JOIN_EARLY=10m
FIRESTORE_EMULATOR_HOST=127.0.0.1:8180
FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099
PORT=8080
`

var tempYAML = regexp.MustCompile(`/[^ ]*videocalls-deploy\.[^/ ]+/env\.yaml`)

func TestDeployPrint(t *testing.T) {
	envFile := writeFile(t, filepath.Join(t.TempDir(), "prod.env"), deployEnv)
	out, stderr, err := runScript(t, nil, "deploy", "--print", "--env-file", envFile)
	if err != nil {
		t.Fatalf("deploy --print: %v\n%s", err, stderr)
	}
	out = tempYAML.ReplaceAllString(out, "ENV.yaml")
	want := []string{
		"#   HMS_ACCESS_KEY: 'ak_123'",
		"#   HMS_SECRET: <hidden>",
		"#   HMS_TEMPLATE_ID: 'tmpl-1'",
		"#   HMS_WEBHOOK_SECRET: <hidden>",
		"#   HMS_WEBHOOK_HEADER: 'X-Clinic-Hook'",
		"#   JOIN_EARLY: '10m'",
		"#   GOOGLE_CLOUD_PROJECT: 'my-clinic-prod'",
		"gcloud functions deploy hms-token --gen2 --runtime=go126 --trigger-http --allow-unauthenticated --entry-point=hmsToken --source=. --region=us-central1 --project=my-clinic-prod --env-vars-file=ENV.yaml",
		"gcloud functions deploy hmss-webhook --gen2 --runtime=go126 --trigger-http --allow-unauthenticated --entry-point=hmssWebhook --source=. --region=us-central1 --project=my-clinic-prod --env-vars-file=ENV.yaml",
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want)+1 {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want)+1, out)
	}
	for i, w := range want {
		if lines[i+1] != w {
			t.Errorf("line %d:\n got %s\nwant %s", i+2, lines[i+1], w)
		}
	}
	for _, leak := range []string{"s3cr3t", "wh-one", "EMULATOR", "PORT"} {
		if strings.Contains(out, leak) {
			t.Errorf("--print output contains %q:\n%s", leak, out)
		}
	}
}

func TestDeployPrintVariants(t *testing.T) {
	envFile := writeFile(t, filepath.Join(t.TempDir(), "prod.env"), deployEnv)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"secrets from Secret Manager, Cloud Run, one function",
			[]string{"--secrets", "--run", "--only", "hmssWebhook", "--region", "europe-west1", "--project", "other-proj-1"},
			[]string{"gcloud run deploy hmss-webhook --source=. --function=hmssWebhook --base-image=go126 --region=europe-west1 --project=other-proj-1 --allow-unauthenticated --env-vars-file=ENV.yaml --set-secrets=HMS_SECRET=hms-secret:latest,HMS_WEBHOOK_SECRET=hms-webhook-secret:latest"}},
		{"extra gcloud flags", []string{"--only=hmsToken", "--", "--quiet", "--memory=256Mi"},
			[]string{"--env-vars-file=ENV.yaml --quiet --memory=256Mi"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, err := runScript(t, nil, "deploy", append([]string{"--print", "--env-file", envFile}, c.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			out = tempYAML.ReplaceAllString(out, "ENV.yaml")
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(strings.Join(c.args, " "), "--secrets") && strings.Contains(out, "HMS_SECRET: ") {
				t.Errorf("--secrets still puts HMS_SECRET in the env-vars file:\n%s", out)
			}
			if strings.Count(out, "gcloud ") != 1 {
				t.Errorf("want one command:\n%s", out)
			}
		})
	}
}

func TestDeployRefuses(t *testing.T) {
	dir := t.TempDir()
	envFile := writeFile(t, filepath.Join(dir, "prod.env"), deployEnv)
	demo := writeFile(t, filepath.Join(dir, "demo.env"), "GOOGLE_CLOUD_PROJECT=demo-videocalls\n")
	noProject := writeFile(t, filepath.Join(dir, "none.env"), "HMS_ACCESS_KEY=x\n")
	cases := map[string][]string{
		"demo project":  {"--print", "--env-file", demo},
		"no project":    {"--print", "--env-file", noProject},
		"missing file":  {"--print", "--env-file", filepath.Join(dir, "absent.env")},
		"bad --only":    {"--print", "--env-file", envFile, "--only", "hmsTokens"},
		"bad region":    {"--print", "--env-file", envFile, "--region", "US Central"},
		"unknown flag":  {"--print", "--env-file", envFile, "--force"},
		"missing value": {"--print", "--env-file"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			out, stderr, err := runScript(t, nil, "deploy", args...)
			if err == nil {
				t.Fatalf("succeeded:\n%s", out)
			}
			if !strings.Contains(stderr, "error: ") {
				t.Errorf("no clear error:\n%s", stderr)
			}
		})
	}
}

// TestDeployRunsGcloud runs the real path with a fake gcloud that records
// its arguments and the env-vars file it was given.
func TestDeployRunsGcloud(t *testing.T) {
	dir := t.TempDir()
	envFile := writeFile(t, filepath.Join(dir, "prod.env"), deployEnv)
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	record := filepath.Join(dir, "record")
	writeFile(t, filepath.Join(bin, "gcloud"), `#!/usr/bin/env bash
echo "ARGS $*" >>"$RECORD"
for a in "$@"; do
  case $a in --env-vars-file=*) f=${a#*=}; stat -c 'MODE %a' "$f" >>"$RECORD"; cat "$f" >>"$RECORD"; echo "FILE $f" >>"$RECORD" ;; esac
done
case $2 in describe) echo "https://$3.example.run.app" ;; esac
`)
	os.Chmod(filepath.Join(bin, "gcloud"), 0o755)
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "RECORD=" + record}
	out, stderr, err := runScript(t, env, "deploy", "--env-file", envFile)
	if err != nil {
		t.Fatalf("deploy: %v\n%s\n%s", err, out, stderr)
	}
	b, _ := os.ReadFile(record)
	rec := string(b)
	for _, w := range []string{
		"ARGS functions deploy hms-token --gen2 --runtime=go126",
		"ARGS functions deploy hmss-webhook --gen2 --runtime=go126",
		"MODE 600",
		`HMS_SECRET: 's3cr3t ''quoted'' # not a comment'`,
		"HMS_WEBHOOK_SECRET: 'wh-one,wh-two'",
		"GOOGLE_CLOUD_PROJECT: 'my-clinic-prod'",
	} {
		if !strings.Contains(rec, w) {
			t.Errorf("gcloud record lacks %q:\n%s", w, rec)
		}
	}
	for _, bad := range []string{"EMULATOR", "PORT:", "HMS_API_BASE"} {
		if strings.Contains(rec, bad) {
			t.Errorf("env-vars file carries %s:\n%s", bad, rec)
		}
	}
	if strings.Contains(out+stderr, "s3cr3t") || strings.Contains(out+stderr, "wh-one") {
		t.Errorf("a secret was printed:\n%s\n%s", out, stderr)
	}
	if !strings.Contains(out, "hmssWebhook: https://hmss-webhook.example.run.app") || !strings.Contains(out, "X-Clinic-Hook") {
		t.Errorf("URLs or webhook header not shown:\n%s", out)
	}
	if m := regexp.MustCompile(`FILE (\S+)`).FindStringSubmatch(rec); m == nil {
		t.Error("no env-vars file recorded")
	} else if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("env-vars file %s left behind (err %v)", m[1], err)
	}
}

func TestDotenvParsing(t *testing.T) {
	envFile := writeFile(t, filepath.Join(t.TempDir(), "test.env"), `# comment
A=1
export B = two words   # trailing comment
C="quoted # kept"  # comment
D='single $HOME'
E=abc#def

F=
not a setting
G=x=y
WINS=from-file
`)
	lib, _ := filepath.Abs("lib/common.sh")
	cmd := exec.Command("bash", "-c", `set -euo pipefail; . "$1"; load_dotenv "$2"
for k in A B C D E F G WINS; do printf '%s=[%s]\n' "$k" "${!k}"; done`, "bash", lib, envFile)
	cmd.Env = append(cleanEnv(), "WINS=from-env")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := `A=[1]
B=[two words]
C=[quoted # kept]
D=[single $HOME]
E=[abc#def]
F=[]
G=[x=y]
WINS=[from-env]`
	got := string(out)
	if !strings.Contains(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(got, ":9: not KEY=VALUE") {
		t.Errorf("the bad line was not reported:\n%s", got)
	}
}

func TestShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck not installed (apt-get install shellcheck)")
	}
	cmd := exec.Command("shellcheck", "-x", "scripts/dev", "scripts/deploy", "scripts/replay", "scripts/lib/common.sh")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}

// TestEnvExample checks that .env_example names every SPEC §1 variable with
// a comment, and that the scripts read it without complaint.
func TestEnvExample(t *testing.T) {
	b, err := os.ReadFile("../.env_example")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	assign := regexp.MustCompile(`^(# )?[A-Z_]+=`)
	for _, v := range []string{"HMS_ACCESS_KEY", "HMS_SECRET", "HMS_TEMPLATE_ID", "HMS_WEBHOOK_SECRET",
		"HMS_WEBHOOK_HEADER", "HMS_API_BASE", "HMS_TOKEN_TTL", "JOIN_EARLY", "JOIN_LATE",
		"GOOGLE_CLOUD_PROJECT", "FIRESTORE_EMULATOR_HOST", "FIREBASE_AUTH_EMULATOR_HOST"} {
		at := -1
		for i, l := range lines {
			if strings.HasPrefix(l, v+"=") || strings.HasPrefix(l, "# "+v+"=") {
				at = i
				break
			}
		}
		if at < 0 {
			t.Errorf(".env_example lacks %s", v)
			continue
		}
		// Above it, past any settings of the same group, a comment.
		i := at - 1
		for i >= 0 && assign.MatchString(lines[i]) {
			i--
		}
		if i < 0 || !strings.HasPrefix(lines[i], "#") {
			t.Errorf("%s has no comment above it", v)
		}
	}
	out, stderr, err := runScript(t, nil, "deploy", "--print", "--env-file", "../.env_example", "--project", "my-clinic-prod")
	if err != nil || strings.Contains(stderr, "not KEY=VALUE") {
		t.Fatalf("deploy --print on .env_example: %v\n%s\n%s", err, out, stderr)
	}
}
