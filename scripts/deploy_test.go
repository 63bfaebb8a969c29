package scripts

// Tests of scripts/deploy and of the .env parser it shares with scripts/dev.
// scripts/deploy runs from a copy of the repository's deploy files in a
// temporary root, with a fake gcloud and a fake firebase on PATH that record
// every call, so nothing reaches Google Cloud.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const deployEnv = `# settings
GOOGLE_CLOUD_PROJECT=my-clinic-prod
HMS_ACCESS_KEY=ak_123
HMS_SECRET="s3cr3t 'quoted' # not a comment"
HMS_TEMPLATE_ID=tmpl-1   # the template
HMS_WEBHOOK_SECRET=wh-one,wh-two
HMS_WEBHOOK_HEADER=X-Clinic-Hook
HMS_API_BASE=
HMS_TOKEN_TTL=4h
JOIN_EARLY=10m
FIRESTORE_EMULATOR_HOST=
FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099
FCM_API_BASE=http://127.0.0.1:8080/_local/fakefcm/v1
NOTIFY=off
PORT=8080
`

// secretValues are the secret values of deployEnv and of the tests' extra
// settings: none may appear in any output.
var secretValues = []string{"s3cr3t", "wh-one", "wh-two", "sig-secret-1"}

// fakeGcloud records each call (one line, words %q-quoted) and the env-vars
// file it is given; it answers describe calls like gcloud does.
const fakeGcloud = `#!/usr/bin/env bash
{ printf 'CALL gcloud'; printf ' %q' "$@"; echo; } >>"$RECORD"
for a in "$@"; do
  case $a in --env-vars-file=*)
    f=${a#*=}
    { stat -c 'MODE %a' "$f" && sed 's/^/YAML /' "$f"; } >>"$RECORD" 2>&1 || echo "NOFILE $f" >>"$RECORD" ;;
  esac
done
case "$1 $2 $3" in
  "config get-value project") exit 0 ;;
  "iam service-accounts describe") exit 1 ;;
  "scheduler jobs describe") [ -n "${FAKE_JOB_EXISTS:-}" ]; exit ;;
  "secrets describe "*) case " ${FAKE_MISSING_SECRETS:-} " in *" $3 "*) exit 1 ;; esac; exit 0 ;;
  "functions describe "*)
    for a in "$@"; do
      case $a in
        --format=value\(serviceConfig.uri\)) echo "https://${3,,}-abc123-uc.a.run.app" ;;
        --format=value\(url,serviceConfig.uri\)) printf 'https://us-central1-my-clinic-prod.cloudfunctions.net/%s\thttps://%s-abc123-uc.a.run.app\n' "$3" "${3,,}" ;;
      esac
    done ;;
esac
exit 0
`

const fakeFirebase = `#!/usr/bin/env bash
{ printf 'CALL firebase'; printf ' %q' "$@"; printf ' CWD %s' "$PWD"; echo; } >>"$RECORD"
`

// deployRig is a temporary repository root holding scripts/deploy and what
// it reads, a bin folder with the fakes, and where they record.
type deployRig struct {
	root, bin, record, state string
}

func newDeployRig(t *testing.T) *deployRig {
	t.Helper()
	dir := t.TempDir()
	r := &deployRig{root: filepath.Join(dir, "repo"), bin: filepath.Join(dir, "bin"),
		record: filepath.Join(dir, "record"), state: filepath.Join(dir, "state")}
	for _, d := range []string{filepath.Join(r.root, "scripts", "lib"), r.bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"scripts/deploy", "scripts/lib/common.sh", ".gcloudignore"} {
		b, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r.root, f), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(r.root, "firebase.json"), `{"firestore": {"rules": "firestore.rules", "indexes": "firestore.indexes.json"}}`)
	writeFile(t, filepath.Join(r.root, "firestore.rules"), "rules_version = '2';\n")
	writeFile(t, filepath.Join(r.root, "firestore.indexes.json"), "{}\n")
	writeFile(t, filepath.Join(r.root, ".env"), deployEnv)
	for name, body := range map[string]string{"gcloud": fakeGcloud, "firebase": fakeFirebase} {
		writeFile(t, filepath.Join(r.bin, name), body)
		if err := os.Chmod(filepath.Join(r.bin, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *deployRig) env(extra ...string) []string {
	return append([]string{"PATH=" + r.bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"RECORD=" + r.record, "XDG_STATE_HOME=" + r.state}, extra...)
}

// run runs the rig's scripts/deploy with args and extra environment.
func (r *deployRig) run(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(r.root, "scripts", "deploy"), args...)
	cmd.Env = append(cleanEnv(), r.env(env...)...)
	cmd.Dir = t.TempDir() // not the root: the script must find it itself
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// calls returns what the fakes recorded, and clears it.
func (r *deployRig) calls(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(r.record)
	if os.IsNotExist(err) {
		return ""
	} else if err != nil {
		t.Fatal(err)
	}
	os.Remove(r.record)
	return string(b)
}

func (r *deployRig) yamlPath() string {
	return filepath.Join(r.state, "videocalls-deploy", "my-clinic-prod.env.yaml")
}

func noSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, v := range secretValues {
		if strings.Contains(s, v) {
			t.Errorf("%s shows the secret value %q:\n%s", what, v, s)
		}
	}
}

var allFunctions = []string{"hmsToken", "hmssWebhook", "hmsEndCall", "hmsRecordingUrl", "hmsAdmit", "hmsConsent", "hmsRecording", "hmsRemove", "hmsSweep"}

// TestDeployPrint checks the printed plan: every function under its
// entry-point name with its access, sizing and settings, the sweep's
// invoker and scheduler job, the rules deploy and the URL look-ups; that
// it runs nothing; and that the env-vars file it names stays, private.
func TestDeployPrint(t *testing.T) {
	r := newDeployRig(t)
	out, stderr, err := r.run(t, nil, "--print")
	if err != nil {
		t.Fatalf("deploy --print: %v\n%s", err, stderr)
	}
	if c := r.calls(t); c != "" {
		t.Errorf("--print ran commands:\n%s", c)
	}
	yaml := r.yamlPath()
	sa := "hms-functions@my-clinic-prod.iam.gserviceaccount.com"
	inv := "hms-sweep-invoker@my-clinic-prod.iam.gserviceaccount.com"
	sm := "--set-secrets=HMS_SECRET=hms-secret:latest,HMS_WEBHOOK_SECRET=hms-webhook-secret:latest"
	want := []string{
		"#   HMS_ACCESS_KEY: 'ak_123'\n#   HMS_TEMPLATE_ID: 'tmpl-1'\n#   HMS_WEBHOOK_HEADER: 'X-Clinic-Hook'\n#   HMS_TOKEN_TTL: '4h'\n#   JOIN_EARLY: '10m'\n#   NOTIFY: 'off'\n#   GOOGLE_CLOUD_PROJECT: 'my-clinic-prod'\n",
		"\ncd " + r.root + "\n",
		"\ngcloud functions deploy hmsToken --gen2 --runtime=go126 --trigger-http --entry-point=hmsToken --source=. --region=us-central1 --project=my-clinic-prod --allow-unauthenticated --service-account=" + sa + " --cpu=1 --memory=256Mi --concurrency=80 --max-instances=20 --timeout=60s --env-vars-file=" + yaml + " " + sm + "\n",
		"\ngcloud functions deploy hmssWebhook --gen2 --runtime=go126 --trigger-http --entry-point=hmssWebhook --source=. --region=us-central1 --project=my-clinic-prod --allow-unauthenticated --service-account=" + sa + " --cpu=1 --memory=512Mi --concurrency=80 --max-instances=20",
		"\ngcloud functions deploy hmsEndCall --gen2 --runtime=go126 --trigger-http --entry-point=hmsEndCall --source=. --region=us-central1 --project=my-clinic-prod --allow-unauthenticated ",
		"\ngcloud functions deploy hmsRecordingUrl --gen2 --runtime=go126 --trigger-http --entry-point=hmsRecordingUrl --source=. --region=us-central1 --project=my-clinic-prod --allow-unauthenticated ",
		"\ngcloud functions deploy hmsAdmit --gen2 --runtime=go126 --trigger-http --entry-point=hmsAdmit --source=. --region=us-central1 --project=my-clinic-prod --allow-unauthenticated --service-account=" + sa + " --cpu=1 --memory=256Mi --concurrency=80",
		"\ngcloud functions deploy hmsConsent --gen2 --runtime=go126 --trigger-http --entry-point=hmsConsent --source=. --region=us-central1 --project=my-clinic-prod --allow-unauthenticated ",
		"\ngcloud functions deploy hmsRecording --gen2 --runtime=go126 --trigger-http --entry-point=hmsRecording --source=. --region=us-central1 --project=my-clinic-prod --allow-unauthenticated ",
		"\ngcloud functions deploy hmsRemove --gen2 --runtime=go126 --trigger-http --entry-point=hmsRemove --source=. --region=us-central1 --project=my-clinic-prod --allow-unauthenticated --service-account=" + sa + " --cpu=1 --memory=256Mi --concurrency=80",
		"\ngcloud functions deploy hmsSweep --gen2 --runtime=go126 --trigger-http --entry-point=hmsSweep --source=. --region=us-central1 --project=my-clinic-prod --no-allow-unauthenticated --service-account=" + sa + " --cpu=1 --memory=512Mi --concurrency=1 --max-instances=1 --timeout=300s",
		"\ngcloud functions add-invoker-policy-binding hmsSweep --region=us-central1 --project=my-clinic-prod --member=serviceAccount:" + inv + "\n",
		"\nsweep_url=$(gcloud functions describe hmsSweep --region=us-central1 --project=my-clinic-prod --format='value(serviceConfig.uri)')\n",
		"then gcloud scheduler jobs update http hmsSweep --location=us-central1 --project=my-clinic-prod --schedule='*/10 * * * *' --time-zone=Etc/UTC --http-method=POST --attempt-deadline=320s --oidc-service-account-email=" + inv + ` --uri="$sweep_url" --oidc-token-audience="$sweep_url"; else gcloud scheduler jobs create http hmsSweep `,
		// The rig has no node_modules: the firebase on PATH.
		"\nfirebase deploy --only firestore:rules,firestore:indexes --project=my-clinic-prod --non-interactive\n",
		"\ngcloud projects add-iam-policy-binding my-clinic-prod --member=serviceAccount:" + sa + " --role=roles/datastore.user --condition=None --format=none\n",
		"--role=roles/firebaseauth.viewer",
		"--role=roles/firebasecloudmessaging.admin",
		" fcm.googleapis.com",
		"\ngcloud secrets add-iam-policy-binding hms-webhook-secret --project=my-clinic-prod --member=serviceAccount:" + sa + " --role=roles/secretmanager.secretAccessor",
		"https://us-central1-my-clinic-prod.cloudfunctions.net/hmsToken",
		"header X-Clinic-Hook",
	}
	for _, fn := range allFunctions {
		want = append(want, "\ngcloud functions describe "+fn+" --region=us-central1 --project=my-clinic-prod --format='value(url,serviceConfig.uri)'\n")
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("--print lacks\n%s\nin:\n%s", w, out)
		}
	}
	for _, bad := range []string{"hms-token", "hmss-webhook", "EMULATOR", "PORT", "HMS_API_BASE", "FCM_API_BASE", "fakefcm", "HMS_SECRET: ", "/tmp/videocalls-deploy."} {
		if strings.Contains(out, bad) {
			t.Errorf("--print output contains %q:\n%s", bad, out)
		}
	}
	noSecrets(t, "--print", out+stderr)
	st, err := os.Stat(yaml)
	if err != nil {
		t.Fatalf("the env-vars file the commands name is gone: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("env-vars file mode %o, want 600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(yaml)
	if got, want := string(b), "HMS_ACCESS_KEY: 'ak_123'\nHMS_TEMPLATE_ID: 'tmpl-1'\nHMS_WEBHOOK_HEADER: 'X-Clinic-Hook'\nHMS_TOKEN_TTL: '4h'\nJOIN_EARLY: '10m'\nNOTIFY: 'off'\nGOOGLE_CLOUD_PROJECT: 'my-clinic-prod'\n"; got != want {
		t.Errorf("env-vars file:\n%s\nwant:\n%s", got, want)
	}
}

// TestDeployPrintIsPasteable pastes the --print output into bash, after the
// script has exited, and checks that it makes the same calls, with the same
// env-vars file, as scripts/deploy itself.
func TestDeployPrintIsPasteable(t *testing.T) {
	r := newDeployRig(t)
	out, stderr, err := r.run(t, nil, "--print", "--schedule", "0 * * * *")
	if err != nil {
		t.Fatalf("deploy --print: %v\n%s", err, stderr)
	}
	sh := exec.Command("bash", "-euo", "pipefail")
	sh.Stdin = strings.NewReader(out)
	sh.Env = append(cleanEnv(), r.env()...)
	sh.Dir = t.TempDir()
	if b, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("pasting the printed commands: %v\n%s", err, b)
	}
	fromPaste := r.calls(t)
	if strings.Contains(fromPaste, "NOFILE") {
		t.Fatalf("a pasted command names a missing env-vars file:\n%s", fromPaste)
	}
	out, stderr, err = r.run(t, nil, "--schedule", "0 * * * *")
	if err != nil {
		t.Fatalf("deploy: %v\n%s\n%s", err, out, stderr)
	}
	// The real run also checks that the secrets exist before it starts.
	var fromRun []string
	for _, l := range strings.Split(r.calls(t), "\n") {
		if !strings.HasPrefix(l, "CALL gcloud secrets describe ") {
			fromRun = append(fromRun, l)
		}
	}
	if got, want := fromPaste, strings.Join(fromRun, "\n"); got != want {
		t.Errorf("pasted commands made other calls than scripts/deploy.\npasted:\n%s\nscripts/deploy:\n%s", got, want)
	}
	if !strings.Contains(fromPaste, `--schedule=0\ \*\ \*\ \*\ \*`) {
		t.Errorf("the schedule did not survive the paste:\n%s", fromPaste)
	}
}

// TestDeployRunsGcloud runs the real path: the order of the calls, the
// env-vars file gcloud gets, the scheduler job created then updated, the
// rules deployed from the root, and both URLs of each function printed.
func TestDeployRunsGcloud(t *testing.T) {
	r := newDeployRig(t)
	out, stderr, err := r.run(t, nil)
	if err != nil {
		t.Fatalf("deploy: %v\n%s\n%s", err, out, stderr)
	}
	rec := r.calls(t)
	var order []string
	for _, l := range strings.Split(rec, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && f[1] == "gcloud" && f[2] == "functions" && f[3] == "deploy":
			order = append(order, f[4])
		case len(f) >= 6 && f[2] == "scheduler" && f[4] != "describe":
			order = append(order, "scheduler-"+f[4])
		case len(f) >= 4 && f[3] == "add-invoker-policy-binding":
			order = append(order, "invoker")
		case len(f) >= 3 && f[1] == "firebase":
			order = append(order, "rules")
		}
	}
	if got, want := strings.Join(order, " "), "hmsToken hmssWebhook hmsEndCall hmsRecordingUrl hmsAdmit hmsConsent hmsRecording hmsRemove hmsSweep invoker scheduler-create rules"; got != want {
		t.Errorf("calls in order: %s\nwant %s\n%s", got, want, rec)
	}
	for _, w := range []string{
		"MODE 600",
		"YAML HMS_TOKEN_TTL: '4h'",
		"YAML GOOGLE_CLOUD_PROJECT: 'my-clinic-prod'",
		`CALL firebase deploy --only firestore:rules\,firestore:indexes --project=my-clinic-prod --non-interactive CWD ` + r.root,
		`--uri=https://hmssweep-abc123-uc.a.run.app --oidc-token-audience=https://hmssweep-abc123-uc.a.run.app`,
		"CALL gcloud iam service-accounts create hms-sweep-invoker",
		"CALL gcloud secrets describe hms-secret --project=my-clinic-prod",
	} {
		if !strings.Contains(rec, w) {
			t.Errorf("record lacks %q:\n%s", w, rec)
		}
	}
	for _, bad := range []string{"EMULATOR", "PORT:", "HMS_API_BASE", "HMS_SECRET:", "NOFILE"} {
		if strings.Contains(rec, bad) {
			t.Errorf("record carries %s:\n%s", bad, rec)
		}
	}
	noSecrets(t, "gcloud's arguments", rec)
	noSecrets(t, "deploy's output", out+stderr)
	for _, fn := range allFunctions {
		w := "https://us-central1-my-clinic-prod.cloudfunctions.net/" + fn + "  https://" + strings.ToLower(fn) + "-abc123-uc.a.run.app"
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %s's URLs %q:\n%s", fn, w, out)
		}
	}
	if !strings.Contains(out, "X-Clinic-Hook") {
		t.Errorf("webhook header not named:\n%s", out)
	}
	if _, err := os.Stat(r.yamlPath()); err != nil {
		t.Errorf("env-vars file gone after the deploy, so its printed commands cannot be rerun: %v", err)
	}

	// A second deploy updates the job instead of creating another.
	if out, stderr, err := r.run(t, []string{"FAKE_JOB_EXISTS=1"}); err != nil {
		t.Fatalf("second deploy: %v\n%s\n%s", err, out, stderr)
	}
	rec = r.calls(t)
	if !strings.Contains(rec, "CALL gcloud scheduler jobs update http hmsSweep") || strings.Contains(rec, "jobs create") {
		t.Errorf("existing job not updated:\n%s", rec)
	}
}

// TestDeployEnvPrecedence checks that the process environment wins over the
// env file, also for settings the file lacks, as for scripts/dev.
func TestDeployEnvPrecedence(t *testing.T) {
	r := newDeployRig(t)
	out, stderr, err := r.run(t, []string{"HMS_TOKEN_TTL=2h", "SWEEP_IDLE=45m", "JOIN_EARLY=", "UNRELATED_VAR=x"}, "--print")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	b, _ := os.ReadFile(r.yamlPath())
	yaml := string(b)
	for _, w := range []string{"HMS_TOKEN_TTL: '2h'", "SWEEP_IDLE: '45m'", "NOTIFY: 'off'"} {
		if !strings.Contains(yaml, w) || !strings.Contains(out, "#   "+w) {
			t.Errorf("env-vars file or --print lacks %s:\n%s\n%s", w, yaml, out)
		}
	}
	for _, bad := range []string{"'4h'", "JOIN_EARLY", "UNRELATED_VAR", "FCM_API_BASE"} {
		if strings.Contains(yaml, bad) {
			t.Errorf("env-vars file has %s:\n%s", bad, yaml)
		}
	}
}

// TestDeploySecrets checks Secret Manager as the default, the signing
// secret joining it, and --no-secret-manager taking the values from the env
// file without printing them.
func TestDeploySecrets(t *testing.T) {
	cases := []struct {
		name        string
		env, args   []string
		flag        string
		yamlHas     []string
		yamlHasNot  []string
		printHidden bool
	}{
		{name: "default",
			flag:       "--set-secrets=HMS_SECRET=hms-secret:latest,HMS_WEBHOOK_SECRET=hms-webhook-secret:latest",
			yamlHasNot: []string{"HMS_SECRET", "HMS_WEBHOOK_SECRET"}},
		{name: "signing secret in the environment", env: []string{"HMS_WEBHOOK_SIGNING_SECRET=sig-secret-1"},
			flag:       "--set-secrets=HMS_SECRET=hms-secret:latest,HMS_WEBHOOK_SECRET=hms-webhook-secret:latest,HMS_WEBHOOK_SIGNING_SECRET=hms-webhook-signing-secret:latest",
			yamlHasNot: []string{"HMS_WEBHOOK_SIGNING_SECRET", "sig-secret-1"}},
		{name: "--signing-secret", args: []string{"--signing-secret"},
			flag: "HMS_WEBHOOK_SIGNING_SECRET=hms-webhook-signing-secret:latest"},
		{name: "--no-secret-manager", args: []string{"--no-secret-manager"}, env: []string{"HMS_WEBHOOK_SIGNING_SECRET=sig-secret-1"},
			flag: "--clear-secrets",
			yamlHas: []string{`HMS_SECRET: 's3cr3t ''quoted'' # not a comment'`, "HMS_WEBHOOK_SECRET: 'wh-one,wh-two'",
				"HMS_WEBHOOK_SIGNING_SECRET: 'sig-secret-1'"},
			yamlHasNot:  []string{"set-secrets"},
			printHidden: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newDeployRig(t)
			out, stderr, err := r.run(t, c.env, append([]string{"--print"}, c.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			for _, fn := range allFunctions {
				line := regexp.MustCompile(`(?m)^gcloud functions deploy ` + fn + ` .*$`).FindString(out)
				if !strings.Contains(line, c.flag) {
					t.Errorf("%s deployed without %s:\n%s", fn, c.flag, line)
				}
			}
			b, _ := os.ReadFile(r.yamlPath())
			for _, w := range c.yamlHas {
				if !strings.Contains(string(b), w) {
					t.Errorf("env-vars file lacks %s", w)
				}
			}
			for _, w := range c.yamlHasNot {
				if strings.Contains(string(b), w) {
					t.Errorf("env-vars file has %s:\n%s", w, b)
				}
			}
			if c.printHidden && !strings.Contains(out, "#   HMS_SECRET: <hidden>") {
				t.Errorf("--print does not say HMS_SECRET is in the file:\n%s", out)
			}
			noSecrets(t, "--print", out+stderr)
		})
	}
}

// TestDeployMissingSetting checks that a setting the functions need stops
// the deploy before any call, naming the variable and not the other values;
// --print still prints, saying the deploy is not ready.
func TestDeployMissingSetting(t *testing.T) {
	without := func(keys ...string) string {
		var kept []string
		for _, l := range strings.Split(deployEnv, "\n") {
			drop := false
			for _, k := range keys {
				drop = drop || strings.HasPrefix(l, k+"=")
			}
			if !drop {
				kept = append(kept, l)
			}
		}
		return strings.Join(kept, "\n")
	}
	cases := []struct {
		name, env, missing string
		args               []string
	}{
		{"access key", without("HMS_ACCESS_KEY"), "HMS_ACCESS_KEY", nil},
		{"template", without("HMS_TEMPLATE_ID"), "HMS_TEMPLATE_ID", nil},
		{"secret, not from Secret Manager", without("HMS_SECRET"), "HMS_SECRET", []string{"--no-secret-manager"}},
		{"webhook secrets, not from Secret Manager", without("HMS_WEBHOOK_SECRET"), "HMS_WEBHOOK_SECRET (or HMS_WEBHOOK_SIGNING_SECRET)", []string{"--no-secret-manager"}},
		{"blank in the environment", deployEnv, "HMS_ACCESS_KEY", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newDeployRig(t)
			envFile := writeFile(t, filepath.Join(t.TempDir(), "x.env"), c.env)
			var env []string
			if c.name == "blank in the environment" {
				env = []string{"HMS_ACCESS_KEY="}
			}
			out, stderr, err := r.run(t, env, append([]string{"--env-file", envFile}, c.args...)...)
			if err == nil {
				t.Fatalf("deployed without %s:\n%s", c.missing, out)
			}
			if !strings.Contains(stderr, "error: ") || !strings.Contains(stderr, c.missing) {
				t.Errorf("error does not name %s:\n%s", c.missing, stderr)
			}
			if calls := r.calls(t); calls != "" {
				t.Errorf("gcloud or firebase ran although %s is missing:\n%s", c.missing, calls)
			}
			noSecrets(t, "the error", out+stderr)

			out, stderr, err = r.run(t, env, append([]string{"--print", "--env-file", envFile}, c.args...)...)
			if err != nil {
				t.Fatalf("--print: %v\n%s", err, stderr)
			}
			if !strings.Contains(out, "# NOT READY") || !strings.Contains(out, c.missing) {
				t.Errorf("--print does not say the deploy would stop on %s:\n%s", c.missing, out)
			}
		})
	}
	// Signing alone is enough for the webhook.
	r := newDeployRig(t)
	envFile := writeFile(t, filepath.Join(t.TempDir(), "x.env"), without("HMS_WEBHOOK_SECRET")+"\nHMS_WEBHOOK_SIGNING_SECRET=sig-secret-1\n")
	if out, stderr, err := r.run(t, nil, "--no-secret-manager", "--env-file", envFile); err != nil {
		t.Errorf("a signing secret alone was refused: %v\n%s\n%s", err, out, stderr)
	}
}

// TestDeployMissingSecretInSecretManager checks that a secret missing from
// Secret Manager stops the deploy before it starts, saying how to create it.
func TestDeployMissingSecretInSecretManager(t *testing.T) {
	r := newDeployRig(t)
	out, stderr, err := r.run(t, []string{"FAKE_MISSING_SECRETS=hms-webhook-secret"})
	if err == nil {
		t.Fatalf("deployed without the secret:\n%s", out)
	}
	if !strings.Contains(stderr, "gcloud secrets create hms-webhook-secret --data-file=-") {
		t.Errorf("no way out given:\n%s", stderr)
	}
	if calls := r.calls(t); strings.Contains(calls, "functions deploy") || strings.Contains(calls, "services enable") {
		t.Errorf("the deploy started:\n%s", calls)
	}
	noSecrets(t, "the error", out+stderr)
}

func TestDeployPrintVariants(t *testing.T) {
	cases := []struct {
		name        string
		args        []string
		want, notIn []string
	}{
		{"one function, elsewhere",
			[]string{"--only", "hmssWebhook", "--region", "europe-west1", "--project", "other-proj-1", "--service-account", "runner@shared-sa.iam.gserviceaccount.com"},
			[]string{"gcloud functions deploy hmssWebhook --gen2 --runtime=go126 --trigger-http --entry-point=hmssWebhook --source=. --region=europe-west1 --project=other-proj-1 --allow-unauthenticated --service-account=runner@shared-sa.iam.gserviceaccount.com ",
				"other-proj-1.env.yaml"},
			[]string{"hmsToken", "firebase deploy", "scheduler", "service-accounts create", "my-clinic-prod."}},
		{"rules only, with the pinned firebase-tools", []string{"--only=firestore"},
			[]string{"node_modules/.bin/firebase deploy --only firestore:rules,firestore:indexes --project=my-clinic-prod --non-interactive"},
			[]string{"functions deploy", "scheduler", "NOT READY", "cloudfunctions.googleapis.com"}},
		{"no setup", []string{"--no-setup"},
			[]string{"gcloud functions deploy hmsSweep", "gcloud functions add-invoker-policy-binding"},
			[]string{"services enable", "add-iam-policy-binding", "service-accounts"}},
		{"Cloud Run functions", []string{"--run", "--invoker-service-account=cron@my-clinic-prod.iam.gserviceaccount.com"},
			[]string{"gcloud run deploy hmstoken --source=. --function=hmsToken --base-image=go126 --region=us-central1 --project=my-clinic-prod --allow-unauthenticated ",
				"gcloud run deploy hmssweep --source=. --function=hmsSweep --base-image=go126 --region=us-central1 --project=my-clinic-prod --no-allow-unauthenticated ",
				"gcloud run services add-iam-policy-binding hmssweep --region=us-central1 --project=my-clinic-prod --member=serviceAccount:cron@my-clinic-prod.iam.gserviceaccount.com --role=roles/run.invoker",
				"only run.app URLs"},
			[]string{"gcloud functions", "cloudfunctions.net"}},
		{"extra gcloud flags", []string{"--only=hmsToken", "--", "--quiet", "--max-instances=50"},
			[]string{"hms-webhook-secret:latest --quiet --max-instances=50\n"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newDeployRig(t)
			if strings.HasPrefix(c.name, "rules only") {
				pinned := filepath.Join(r.root, "node_modules", ".bin", "firebase")
				os.MkdirAll(filepath.Dir(pinned), 0o755)
				writeFile(t, pinned, fakeFirebase)
				os.Chmod(pinned, 0o755)
			}
			out, stderr, err := r.run(t, nil, append([]string{"--print"}, c.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.notIn {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestDeployRefuses(t *testing.T) {
	r := newDeployRig(t)
	dir := t.TempDir()
	envFile := writeFile(t, filepath.Join(dir, "prod.env"), deployEnv)
	demo := writeFile(t, filepath.Join(dir, "demo.env"), "GOOGLE_CLOUD_PROJECT=demo-videocalls\n")
	noProject := writeFile(t, filepath.Join(dir, "none.env"), "HMS_ACCESS_KEY=x\n")
	cases := map[string][]string{
		"demo project":    {"--print", "--env-file", demo},
		"no project":      {"--print", "--env-file", noProject},
		"missing file":    {"--print", "--env-file", filepath.Join(dir, "absent.env")},
		"bad --only":      {"--print", "--env-file", envFile, "--only", "hmsTokens"},
		"old name":        {"--print", "--env-file", envFile, "--only", "hms-token"},
		"bad region":      {"--print", "--env-file", envFile, "--region", "US Central"},
		"unknown flag":    {"--print", "--env-file", envFile, "--force"},
		"missing value":   {"--print", "--env-file"},
		"bad account":     {"--print", "--env-file", envFile, "--service-account", "hms-functions"},
		"no rules to run": {"--env-file", envFile, "--only", "firestore"},
	}
	if err := os.Remove(filepath.Join(r.root, "firestore.rules")); err != nil {
		t.Fatal(err)
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			out, stderr, err := r.run(t, nil, args...)
			if err == nil {
				t.Fatalf("succeeded:\n%s", out)
			}
			if !strings.Contains(stderr, "error: ") {
				t.Errorf("no clear error:\n%s", stderr)
			}
			if calls := r.calls(t); calls != "" {
				t.Errorf("ran commands:\n%s", calls)
			}
		})
	}
}

// dotenv loads file with common.sh's load_dotenv under env and prints the
// keys asked for.
func dotenv(t *testing.T, file string, env []string, keys ...string) string {
	t.Helper()
	lib, _ := filepath.Abs("lib/common.sh")
	cmd := exec.Command("bash", "-c", `set -euo pipefail; . "$1"; load_dotenv "$2"; shift 2
for k in "$@"; do printf '%s=[%s]\n' "$k" "${!k-unset}"; done`, "bash", lib, file)
	cmd.Args = append(cmd.Args, keys...)
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return string(out)
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
	got := dotenv(t, envFile, []string{"WINS=from-env"}, "A", "B", "C", "D", "E", "F", "G", "WINS")
	want := `A=[1]
B=[two words]
C=[quoted # kept]
D=[single $HOME]
E=[abc#def]
F=[]
G=[x=y]
WINS=[from-env]`
	if !strings.Contains(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(got, ":9: not KEY=VALUE") {
		t.Errorf("the bad line was not reported:\n%s", got)
	}
}

// TestDotenvByteOrderMark checks that a .env saved with a UTF-8 byte-order
// mark (and CRLF line ends) keeps its first line, in a UTF-8 locale and in
// C, and that scripts/deploy then ships it.
func TestDotenvByteOrderMark(t *testing.T) {
	envFile := writeFile(t, filepath.Join(t.TempDir(), "bom.env"), "\ufeffHMS_ACCESS_KEY=ak_bom\r\nB=2\r\n")
	for _, locale := range []string{"C.UTF-8", "C"} {
		got := dotenv(t, envFile, []string{"LC_ALL=" + locale}, "HMS_ACCESS_KEY", "B")
		if want := "HMS_ACCESS_KEY=[ak_bom]\nB=[2]\n"; got != want {
			t.Errorf("LC_ALL=%s: got\n%s\nwant\n%s", locale, got, want)
		}
	}
	r := newDeployRig(t)
	writeFile(t, filepath.Join(r.root, ".env"), "\ufeff"+strings.ReplaceAll(deployEnv, "\n", "\r\n")[len("# settings\r\n"):])
	out, stderr, err := r.run(t, nil, "--print")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if strings.Contains(stderr, "not KEY=VALUE") || !strings.Contains(out, "#   GOOGLE_CLOUD_PROJECT: 'my-clinic-prod'") {
		t.Errorf("the first line (GOOGLE_CLOUD_PROJECT) was lost:\n%s\n%s", out, stderr)
	}
}

// TestDeployRecordingBucket: with RECORDING_BUCKET set, the functions'
// service account gets what links, retention and erasure need and no
// more: token creator on itself (signBlob), object viewer and a custom
// role of storage.objects.delete alone on that bucket (not objectAdmin, not
// on the project); the key file and the storage emulator are not
// deployed. Without the setting, none of it.
func TestDeployRecordingBucket(t *testing.T) {
	r := newDeployRig(t)
	sa := "serviceAccount:hms-functions@my-clinic-prod.iam.gserviceaccount.com"
	grants := []string{
		"gcloud iam service-accounts add-iam-policy-binding hms-functions@my-clinic-prod.iam.gserviceaccount.com --project=my-clinic-prod --member=" + sa + " --role=roles/iam.serviceAccountTokenCreator --format=none",
		"gcloud iam roles create hmsRecordingDeleter --project=my-clinic-prod --title='Delete recordings' --description='Delete objects (hmsSweep retention, scripts/erase)' --permissions=storage.objects.delete --stage=GA",
		"gcloud storage buckets add-iam-policy-binding gs://clinic-recordings --project=my-clinic-prod --member=" + sa + " --role=roles/storage.objectViewer --format=none",
		"gcloud storage buckets add-iam-policy-binding gs://clinic-recordings --project=my-clinic-prod --member=" + sa + " --role=projects/my-clinic-prod/roles/hmsRecordingDeleter --format=none",
		"iamcredentials.googleapis.com storage.googleapis.com",
	}
	out, stderr, err := r.run(t, nil, "--print")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, g := range append(grants, "hmsRecordingDeleter", "storage.objectViewer") {
		if strings.Contains(out, g) {
			t.Errorf("without RECORDING_BUCKET the output has %q", g)
		}
	}
	writeFile(t, filepath.Join(r.root, ".env"), deployEnv+"RECORDING_BUCKET=clinic-recordings\nRECORDING_RETENTION_DAYS=2190\n"+
		"GOOGLE_APPLICATION_CREDENTIALS=/home/me/key.json\nSTORAGE_EMULATOR_HOST=127.0.0.1:4443\n")
	out, stderr, err = r.run(t, nil, "--print")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, g := range grants {
		if !strings.Contains(out, g) {
			t.Errorf("output lacks %q:\n%s", g, out)
		}
	}
	if n := strings.Count(out, "--role="); n != 3+2+1+2 {
		// datastore.user, firebaseauth.viewer, firebasecloudmessaging.admin,
		// two secrets, token creator, viewer, deleter
		t.Errorf("%d role grants; want 8 (no broader role):\n%s", n, out)
	}
	for _, bad := range []string{"objectAdmin", "roles/storage.admin", "projects add-iam-policy-binding my-clinic-prod --member=" + sa + " --role=roles/storage"} {
		if strings.Contains(out, bad) {
			t.Errorf("output grants %q", bad)
		}
	}
	yaml, err := os.ReadFile(r.yamlPath())
	if err != nil {
		t.Fatal(err)
	}
	if y := string(yaml); !strings.Contains(y, "RECORDING_BUCKET: 'clinic-recordings'") || !strings.Contains(y, "RECORDING_RETENTION_DAYS: '2190'") ||
		strings.Contains(y, "GOOGLE_APPLICATION_CREDENTIALS") || strings.Contains(y, "STORAGE_EMULATOR_HOST") {
		t.Errorf("env-vars file:\n%s", y)
	}
	writeFile(t, filepath.Join(r.root, ".env"), deployEnv+"RECORDING_BUCKET=gs://clinic-recordings\n")
	if _, stderr, err := r.run(t, nil, "--print"); err == nil || !strings.Contains(stderr, "not a Cloud Storage bucket name") {
		t.Errorf("a gs:// bucket setting: %v %s", err, stderr)
	}
}
