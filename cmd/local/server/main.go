// Command server serves every function registered with the functions
// framework (package functions' init) on one port, for local development:
// at /<functionName> and at /<project>/<region>/<functionName>, the path
// Firebase's client SDKs call when pointed at the Functions emulator
// (Flutter's useFunctionsEmulator). cmd/local starts it once the emulators
// answer; it can also run alone with the emulator variables set.
//
// The functions read their settings once, when the package initialises, so
// everything they need (emulator hosts, HMS_API_BASE) must be in the
// environment before this process starts: that is why cmd/local is a
// separate process that starts this one.
//
// With FAKE_100MS_ADDR set it also runs internal/fake100ms there (the
// documented fake 100ms the tests use; HMS_API_BASE must point at it), and
// lets scripts/simulate record sessions and recording assets in it through
// /_local/fake100ms/..., from this machine only. With FAKE_FCM=on it also
// serves internal/fakefcm, the fake Firebase Cloud Messaging, at
// /_local/fakefcm/v1 (FCM_API_BASE must point at it), and prints each
// notification it receives, so that the doctor's phone being told a
// patient waits can be seen offline.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	// Registers every function with the framework (functions.HTTP in its
	// init): the list served here is the framework's, not a copy of it.
	_ "github.com/telemed/videocalls/functions"
	"github.com/telemed/videocalls/internal/fake100ms"
	"github.com/telemed/videocalls/internal/fakefcm"
)

// defaultRegion is the region Firebase's client SDKs assume when none is
// given, and the region scripts/deploy uses by default.
const defaultRegion = "us-central1"

func main() {
	log.SetFlags(0)
	log.SetPrefix("local server: ")
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	// With FUNCTION_TARGET set the framework would serve that one function
	// at "/" only; locally every function is served at its path.
	if t := os.Getenv("FUNCTION_TARGET"); t != "" {
		log.Printf("ignoring FUNCTION_TARGET=%s: serving every function", t)
		os.Unsetenv("FUNCTION_TARGET")
	}
	project := os.Getenv("GOOGLE_CLOUD_PROJECT")
	if project == "" {
		return errors.New("GOOGLE_CLOUD_PROJECT is not set (scripts/dev sets demo-videocalls)")
	}
	region := envOr("FUNCTION_REGION", defaultRegion)

	inner, names, err := startFramework()
	if err != nil {
		return err
	}
	var fake *fake100ms.Server
	if addr := os.Getenv("FAKE_100MS_ADDR"); addr != "" {
		// The fake checks management tokens against the same secret the
		// functions sign them with.
		if fake, err = fake100ms.Listen(addr, os.Getenv("HMS_SECRET")); err != nil {
			return err
		}
		defer fake.Close()
	}
	h := &handler{project: project, region: region, names: names, fake: fake, inner: proxyTo(inner)}
	if os.Getenv("FAKE_FCM") == "on" {
		_, fcm := fakefcm.NewHandler(printNotification)
		h.fcm = http.StripPrefix("/_local/fakefcm", fcm)
	}

	l, err := listener()
	if err != nil {
		return err
	}
	log.Printf("serving %s on http://%s", strings.Join(names, ", "), l.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	return srv.Serve(l)
}

// listener is the socket cmd/local bound for this process (fd 3, named by
// LISTEN_FD), so that the port is never free between its check and this
// start; alone, HOST:PORT is bound here.
func listener() (net.Listener, error) {
	if fd := os.Getenv("LISTEN_FD"); fd != "" {
		n, err := strconv.Atoi(fd)
		if err != nil {
			return nil, fmt.Errorf("LISTEN_FD=%q: %w", fd, err)
		}
		f := os.NewFile(uintptr(n), "listener")
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("listener from fd %d: %w", n, err)
		}
		return l, nil
	}
	addr := net.JoinHostPort(envOr("HOST", "127.0.0.1"), envOr("PORT", "8080"))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return l, nil
}

// servingLine is how the framework announces each function it serves
// (funcframework.wrapFunction), the only public trace of its registry.
var servingLine = regexp.MustCompile(`^Serving function: "([^"]+)"`)

// startFramework runs the functions framework's own server on a loopback
// port, exactly as it serves registered functions at /<name>, and returns
// its address and the names it announced. Its announcements are read from
// stdout while it starts; the functions' logger holds the real stdout from
// their init, so no log line is lost.
func startFramework() (string, []string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("framework port: %w", err)
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	l.Close()

	stdout := os.Stdout
	r, w, err := os.Pipe()
	if err != nil {
		return "", nil, fmt.Errorf("capture the framework's announcements: %w", err)
	}
	lines := make(chan []string, 1)
	go func() {
		var names []string
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				names = append(names, m[1])
			} else {
				fmt.Fprintln(stdout, sc.Text())
			}
		}
		r.Close()
		lines <- names
	}()
	os.Stdout = w
	failed := make(chan error, 1)
	go func() { failed <- funcframework.StartHostPort("127.0.0.1", port) }()
	err = waitDial(addr, failed)
	os.Stdout = stdout
	w.Close()
	names := <-lines
	if err != nil {
		return "", nil, err
	}
	if len(names) == 0 {
		return "", nil, errors.New("the functions framework announced no function: is package functions registering them?")
	}
	return addr, names, nil
}

func waitDial(addr string, failed <-chan error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case err := <-failed:
			return fmt.Errorf("functions framework: %w", err)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("functions framework not listening on %s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func proxyTo(addr string) http.Handler {
	target := &url.URL{Scheme: "http", Host: addr}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		ErrorLog: log.Default(),
	}
}

type handler struct {
	project, region string
	names           []string
	fake            *fake100ms.Server
	fcm             http.Handler // the fake FCM, when FAKE_FCM=on
	inner           http.Handler
}

// printNotification shows what a phone would: the texts, and what the
// data says. Never the device's token.
func printNotification(m fakefcm.Message) {
	var title, body string
	if m.Notification != nil {
		title, body = m.Notification.Title, m.Notification.Body
	}
	log.Printf("fake FCM: a device is told %q: %q (data: kind=%s appointmentId=%s)", title, body,
		m.Data["kind"], m.Data["appointmentId"])
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/_local/"); ok {
		h.local(w, r, rest)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch len(parts) {
	case 1:
		h.inner.ServeHTTP(w, r)
	case 3:
		if parts[0] != h.project || parts[1] != h.region {
			http.Error(w, fmt.Sprintf("this server serves project %q, region %q: the app's Firebase project id must equal "+
				"GOOGLE_CLOUD_PROJECT (and its functions region FUNCTION_REGION)", h.project, h.region), http.StatusNotFound)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/"+parts[2], ""
		h.inner.ServeHTTP(w, r2)
	default:
		http.NotFound(w, r)
	}
}

// local serves this server's own endpoints: readiness for cmd/local, and
// the fake 100ms's state for scripts/simulate.
func (h *handler) local(w http.ResponseWriter, r *http.Request, path string) {
	if path == "ready" {
		info := map[string]any{"pid": os.Getpid(), "functions": h.names, "project": h.project, "region": h.region,
			"firestore": os.Getenv("FIRESTORE_EMULATOR_HOST"), "auth": os.Getenv("FIREBASE_AUTH_EMULATOR_HOST"),
			"waitingRole": os.Getenv("WAITING_ROOM_ROLE")}
		if h.fake != nil {
			info["fake100ms"] = h.fake.URL
		}
		if h.fcm != nil {
			info["fakeFcm"] = os.Getenv("FCM_API_BASE")
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(info)
		return
	}
	// Changing the fake is for this machine's tools only, also when HOST
	// opens the functions to the network.
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err != nil || !net.ParseIP(host).IsLoopback() {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if strings.HasPrefix(path, "fakefcm/") && h.fcm != nil {
		h.fcm.ServeHTTP(w, r)
		return
	}
	if h.fake == nil {
		http.Error(w, "no fake 100ms here: start scripts/dev --fake-100ms", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var id string
	switch path {
	case "fake100ms/sessions":
		var s fake100ms.Session
		if err = json.Unmarshal(body, &s); err == nil {
			id = h.fake.AddSession(s)
		}
	case "fake100ms/assets":
		var a fake100ms.Asset
		if err = json.Unmarshal(body, &a); err == nil {
			id = h.fake.AddAsset(a)
		}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "not JSON of a fake100ms value: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
