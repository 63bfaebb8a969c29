package functions

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// newLogger writes JSON lines in the shape Cloud Logging reads from a
// function's stdout: "severity" and "message" instead of slog's level and
// msg, so that severities and messages show up in the console.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				return slog.String("severity", severity(a.Value.Any().(slog.Level)))
			case slog.MessageKey:
				a.Key = "message"
			}
			return a
		},
	}))
}

func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// traceAttr links a log line to the request's trace, from Cloud Run's
// X-Cloud-Trace-Context ("TRACE/SPAN;o=1") or the W3C traceparent
// ("00-TRACE-SPAN-01") header.
func traceAttr(r *http.Request, projectID string) (slog.Attr, bool) {
	trace := traceID(r)
	if trace == "" {
		return slog.Attr{}, false
	}
	if projectID == "" {
		return slog.String("logging.googleapis.com/trace", trace), true
	}
	return slog.String("logging.googleapis.com/trace", "projects/"+projectID+"/traces/"+trace), true
}

// traceID is the request's trace id, or "" when it carries none that is
// well formed.
func traceID(r *http.Request) string {
	var trace string
	if h := r.Header.Get("X-Cloud-Trace-Context"); h != "" {
		trace, _, _ = strings.Cut(h, "/")
	} else if h := r.Header.Get("Traceparent"); h != "" {
		if parts := strings.Split(h, "-"); len(parts) == 4 {
			trace = parts[1]
		}
	}
	if trace == "" || len(trace) > 64 || strings.Trim(trace, "0123456789abcdefABCDEF") != "" {
		return ""
	}
	return trace
}

// requestLog gathers what a handler learns about its request (appointment,
// event, the error behind a failure) for the one line logged when it ends.
// logRequest hands it to the handler, which passes it on as a value to
// whatever notes something; a nil one (code run outside a request) takes
// every note and records nothing.
type requestLog struct {
	mu     sync.Mutex
	attrs  []slog.Attr
	err    error
	warned bool
	// severe raises the line to ERROR whatever the status: an answer that
	// is right for the caller but means data needs an operator's eye.
	severe bool
	// answered is the status the answer stands for when the HTTP status
	// says otherwise (a callable error sent in a 200 event stream).
	answered int
}

func (rl *requestLog) update(f func()) {
	if rl == nil {
		return
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	f()
}

// annotate adds fields to the request's log line.
func (rl *requestLog) annotate(attrs ...slog.Attr) {
	rl.update(func() { rl.attrs = append(rl.attrs, attrs...) })
}

// noteError records the cause of a failed request; errors here are ours or
// our dependencies' and carry no secret or token.
func (rl *requestLog) noteError(err error) {
	if err != nil {
		rl.update(func() { rl.err = err })
	}
}

// noteWarning raises the request's log line to at least WARNING, for a
// request that succeeded with something an operator should see (an invalid
// App Check token let through).
func (rl *requestLog) noteWarning() { rl.update(func() { rl.warned = true }) }

// noteSevere raises the request's log line to ERROR, for an answer that is
// right for the caller but that an operator must see (an authentic event
// stored raw only because its changes can never be written).
func (rl *requestLog) noteSevere() { rl.update(func() { rl.severe = true }) }

// noteAnswered records the status an answer stands for, when it is sent
// with another HTTP status, so that the log line's severity follows it.
func (rl *requestLog) noteAnswered(code int) { rl.update(func() { rl.answered = code }) }

// Caps on what a request can put in a log line (docs/operations.md): ids copied from
// requests and free text such as the user agent.
const (
	maxLoggedID    = 128
	maxLoggedText  = 256
	maxLoggedError = 1024
)

// capLog cuts s to at most n bytes at a UTF-8 boundary, marking the cut,
// so that a caller cannot fill the logs through a field it chooses.
func capLog(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…(cut)"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// loggedHandler is a handler that notes what it learns on its request's
// log line, rl.
type loggedHandler func(w http.ResponseWriter, r *http.Request, rl *requestLog)

// logRequest logs exactly one line per request, when it ends, with the
// function, status, latency, trace and whatever the handler noted on rl.
func logRequest(logger *slog.Logger, function string, projectID func() string, next loggedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rl := &requestLog{}
		rec := &statusRecorder{ResponseWriter: w}
		next(rec, r, rl)

		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		latency := time.Since(start)
		attrs := []slog.Attr{
			slog.String("function", function),
			slog.Group("httpRequest",
				slog.String("requestMethod", r.Method),
				slog.Int("status", status),
				slog.String("latency", formatLatency(latency)),
				slog.Int64("requestSize", r.ContentLength),
				slog.Int("responseSize", rec.bytes),
				slog.String("userAgent", capLog(r.UserAgent(), maxLoggedText)),
			),
		}
		if t, ok := traceAttr(r, projectID()); ok {
			attrs = append(attrs, t)
		}
		rl.mu.Lock()
		attrs = append(attrs, rl.attrs...)
		if rl.err != nil {
			attrs = append(attrs, slog.String("error", capLog(rl.err.Error(), maxLoggedError)))
		}
		warn, severe, effective := rl.warned, rl.severe, status
		if rl.answered != 0 {
			effective = rl.answered
			attrs = append(attrs, slog.Int("answeredStatus", rl.answered))
		}
		rl.mu.Unlock()

		level := slog.LevelInfo
		switch {
		case effective >= 500, severe:
			level = slog.LevelError
		case effective >= 400, warn:
			level = slog.LevelWarn
		}
		logger.LogAttrs(r.Context(), level, function+" "+http.StatusText(status), attrs...)
	}
}

// formatLatency writes a duration the way Cloud Logging's httpRequest
// expects it: seconds with a trailing "s".
func formatLatency(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
