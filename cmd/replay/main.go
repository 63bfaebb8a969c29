// Command replay posts 100ms webhook events to a webhook URL, with the
// secret header 100ms would send, and prints each answer. scripts/replay
// runs it after loading .env.
//
// Events come from the files and folders given as arguments (a file holds
// one JSON object, or JSON lines; a folder's *.json and *.jsonl files are
// read in name order), or by default from the repository's sample events
// (hms/testdata/events/distinct, else the samples extracted from
// ../shared/reference/100ms-webhook-events.txt).
//
// Settings come from the environment: HMS_WEBHOOK_HEADER (default
// X-Webhook-Secret) and the first entry of HMS_WEBHOOK_SECRET; the secret is
// never printed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// defaultSources are tried in order when no file or folder is given,
// relative to the repository root.
var defaultSources = []string{
	"hms/testdata/events/distinct",
	"../shared/reference/100ms-webhook-events.txt",
}

// event is one webhook body as it will be posted.
type event struct {
	source string // file (and line) it came from
	body   []byte
	id     string
	typ    string
	ts     time.Time
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	url := fs.String("url", "http://localhost:"+port+"/hmssWebhook", "webhook URL to post to")
	byTime := fs.Bool("by-time", false, "post in order of the events' timestamps (always on for the default samples)")
	newIDs := fs.Bool("new-ids", false, "give every event a fresh id, so that a replay is not deduplicated as a redelivery")
	room := fs.String("room", "", "replace data.room_id of every event with this 100ms room id (a room created by hmsToken)")
	delay := fs.Duration("delay", 0, "pause between events")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: scripts/replay [flags] [URL] [file-or-folder ...]\n\n"+
			"Posts 100ms webhook events to the webhook with the secret header\n"+
			"(HMS_WEBHOOK_HEADER, default X-Webhook-Secret; value: first entry of\n"+
			"HMS_WEBHOOK_SECRET, from the environment or .env) and prints each answer.\n"+
			"Without arguments it posts the sample events (%s).\n"+
			"Exits 1 when any answer is not 2xx.\n\nflags:\n", strings.Join(defaultSources, ", else "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}

	// The README writes `scripts/replay URL [FILE|DIR]`: a first argument
	// that is a URL is the webhook, as -url would say.
	sources := fs.Args()
	if len(sources) > 0 && (strings.HasPrefix(sources[0], "http://") || strings.HasPrefix(sources[0], "https://")) {
		*url, sources = sources[0], sources[1:]
		// Flags after the URL are read too.
		if err := fs.Parse(sources); err != nil {
			return 2
		}
		sources = fs.Args()
	}
	if len(sources) == 0 {
		src, err := defaultSource()
		if err != nil {
			fmt.Fprintln(stderr, "replay:", err)
			return 2
		}
		sources, *byTime = []string{src}, true
	}
	var events []event
	for _, src := range sources {
		evs, err := load(src)
		if err != nil {
			fmt.Fprintln(stderr, "replay:", err)
			return 2
		}
		events = append(events, evs...)
	}
	if len(events) == 0 {
		fmt.Fprintln(stderr, "replay: no events found in", strings.Join(sources, ", "))
		return 2
	}
	if *byTime {
		sort.SliceStable(events, func(i, j int) bool { return events[i].ts.Before(events[j].ts) })
	}
	for i := range events {
		if err := rewrite(&events[i], *newIDs, *room); err != nil {
			fmt.Fprintf(stderr, "replay: %s: %v\n", events[i].source, err)
			return 2
		}
	}

	header := strings.TrimSpace(os.Getenv("HMS_WEBHOOK_HEADER"))
	if header == "" {
		header = "X-Webhook-Secret"
	}
	secret := firstSecret(os.Getenv("HMS_WEBHOOK_SECRET"))
	if secret == "" {
		fmt.Fprintln(stderr, "replay: warning: HMS_WEBHOOK_SECRET is not set: posting without the secret header, expect 401")
	}
	fmt.Fprintf(stdout, "posting %d events to %s (header %s)\n", len(events), *url, header)

	client := &http.Client{Timeout: 15 * time.Second}
	failed := 0
	for i, ev := range events {
		if i > 0 && *delay > 0 {
			time.Sleep(*delay)
		}
		status, body, err := post(client, *url, header, secret, ev.body)
		label := fmt.Sprintf("[%d/%d] %-24s %s", i+1, len(events), ev.typ, ev.id)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "%s -> error: %v\n", label, err)
			if errors.Is(err, syscall.ECONNREFUSED) {
				fmt.Fprintf(stderr, "replay: nothing listens at %s: start scripts/dev first, or pass -url\n", *url)
				return 1
			}
			continue
		}
		if status/100 != 2 {
			failed++
		}
		fmt.Fprintf(stdout, "%s -> %d %s %s\n", label, status, http.StatusText(status), strings.TrimSpace(body))
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%d of %d events not accepted\n", failed, len(events))
		return 1
	}
	fmt.Fprintf(stdout, "all %d events accepted\n", len(events))
	return 0
}

// firstSecret returns the first non-empty entry of a comma-separated list.
func firstSecret(list string) string {
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// defaultSource finds the sample events, looking from $REPLAY_ROOT (set by
// scripts/replay), the working directory and the repository root (the
// folder holding go.mod above it).
func defaultSource() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	roots := []string{wd}
	if r := os.Getenv("REPLAY_ROOT"); r != "" {
		roots = []string{r, wd}
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			roots = append(roots, dir)
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	for _, src := range defaultSources {
		for _, root := range roots {
			p := filepath.Join(root, src)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("no sample events found (%s); name a file or folder", strings.Join(defaultSources, ", "))
}

// load reads the events of a file or folder.
func load(src string) ([]event, error) {
	info, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return loadFile(src)
	}
	var files []string
	for _, pat := range []string{"*.json", "*.jsonl", "*.ndjson"} {
		m, _ := filepath.Glob(filepath.Join(src, pat))
		files = append(files, m...)
	}
	sort.Strings(files)
	var out []event
	for _, f := range files {
		evs, err := loadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	return out, nil
}

// loadFile reads one JSON object, JSON lines, or, for a .txt file (the
// reference page), every line that is a JSON object with a "type".
func loadFile(path string) ([]event, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".txt") {
		return scanLines(path, raw, true)
	}
	trimmed := bytes.TrimSpace(raw)
	if json.Valid(trimmed) {
		ev, err := parse(path, trimmed)
		if err != nil {
			return nil, err
		}
		return []event{ev}, nil
	}
	return scanLines(path, raw, false)
}

// scanLines reads JSON lines; lenient skips lines that are not events
// instead of failing.
func scanLines(path string, raw []byte, lenient bool) ([]event, error) {
	var out []event
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || (lenient && line[0] != '{') {
			continue
		}
		ev, err := parse(fmt.Sprintf("%s:%d", path, n), append([]byte(nil), line...))
		if err != nil {
			if lenient {
				continue
			}
			return nil, err
		}
		out = append(out, ev)
	}
	return out, sc.Err()
}

// parse reads the envelope fields replay prints and sorts by; the body is
// posted as read.
func parse(source string, body []byte) (event, error) {
	var env struct {
		ID        string `json:"id"`
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return event{}, fmt.Errorf("%s: not a JSON event: %w", source, err)
	}
	if env.Type == "" {
		return event{}, fmt.Errorf("%s: no \"type\": not a 100ms event", source)
	}
	ts, _ := time.Parse(time.RFC3339Nano, env.Timestamp)
	return event{source: source, body: body, id: env.ID, typ: env.Type, ts: ts}, nil
}

// rewrite applies -new-ids and -room to an event's body.
func rewrite(ev *event, newID bool, room string) error {
	if !newID && room == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(ev.body, &m); err != nil {
		return err
	}
	if newID {
		ev.id = uuid()
		m["id"] = ev.id
	}
	if room != "" {
		if data, ok := m["data"].(map[string]any); ok {
			data["room_id"] = room
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ev.body = b
	return nil
}

// uuid returns a random version-4 UUID.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// post sends one event and returns the answer's status and body.
func post(client *http.Client, url, header, secret string, body []byte) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), client.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "videocalls-replay")
	if secret != "" {
		req.Header.Set(header, secret)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, string(b), nil
}
