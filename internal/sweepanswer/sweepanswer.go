// Package sweepanswer is hmsSweep's answer: the JSON summary the function
// writes and logs, and the load tool reads. One type, so the two cannot
// drift.
package sweepanswer

// Summary is hmsSweep's answer and log line.
type Summary struct {
	// Checked: idle live calls asked about; Closed: sessions this run
	// closed (another run closing the same one at once does not count it
	// again); StillLive: 100ms says their session goes on; Unknown: 100ms
	// does not know the session, or it belongs to another room.
	Checked   int `json:"checked"`
	Closed    int `json:"closed"`
	StillLive int `json:"stillLive"`
	Unknown   int `json:"unknown"`
	// Errors: calls whose check failed (100ms or Firestore), tried again
	// next run; Truncated: more idle calls than one run checks.
	Errors    int  `json:"errors"`
	Truncated bool `json:"truncated"`
	// CallErrors says which calls failed and why (ids and errors only), the
	// first maxCallErrors of them, for the run's one log line.
	CallErrors []string `json:"callErrors,omitempty"`
	// Replay: the webhook window asked about (absent when there was none
	// to ask: too short since the last run), the failed deliveries listed
	// in it, and whether a replay was requested.
	ReplayFrom       string `json:"replayFrom,omitempty"`
	ReplayTo         string `json:"replayTo,omitempty"`
	FailedDeliveries int    `json:"failedDeliveries"` // of the first page: at most 100
	ReplaysRequested int    `json:"replaysRequested"`
	ReplayError      string `json:"replayError,omitempty"`
	// TimedOut: the run's budget ended before all was done.
	TimedOut bool `json:"timedOut"`
}
