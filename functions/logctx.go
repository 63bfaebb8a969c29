package functions

import (
	"context"
	"log/slog"
	"net/http"
)

// hmsSweep's handler (sweep.go) still notes on its log line through the
// request's context; these carry it there until that handler takes the
// requestLog as a value (logRequest) like the others, and then go.

type requestLogKey struct{}

// withRequestLog is logRequest for a handler that reaches its log line
// through its request's context.
func withRequestLog(logger *slog.Logger, function string, projectID func() string, next http.HandlerFunc) http.HandlerFunc {
	return logRequest(logger, function, projectID, func(w http.ResponseWriter, r *http.Request, rl *requestLog) {
		next(w, r.WithContext(context.WithValue(r.Context(), requestLogKey{}, rl)))
	})
}

func logOf(ctx context.Context) *requestLog {
	rl, _ := ctx.Value(requestLogKey{}).(*requestLog)
	return rl
}

func annotate(ctx context.Context, attrs ...slog.Attr) { logOf(ctx).annotate(attrs...) }
func noteError(ctx context.Context, err error)         { logOf(ctx).noteError(err) }
func noteWarning(ctx context.Context)                  { logOf(ctx).noteWarning() }
