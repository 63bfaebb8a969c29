package functions

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/telemed/videocalls/bucket"
	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// recordingURLRequest is hmsRecordingUrl's "data" (docs/callables.md, hmsRecordingUrl).
type recordingURLRequest struct {
	AppointmentID string `json:"appointmentId"`
	RecordingID   string `json:"recordingId"`
	TranscriptID  string `json:"transcriptId"`
	File          string `json:"file"`

	asked fileAsked // the file it names, once checked
}

func (r *recordingURLRequest) appointment() string { return r.AppointmentID }

// check reads which file the request names, and names it in the audit
// entry and on the request's log line.
func (r *recordingURLRequest) check(rq *request) *callError {
	q, cerr := askedFile(*r)
	if cerr != nil {
		return cerr
	}
	q.note(rq)
	r.asked = q
	return nil
}

// recordingURLValidity is how long a link handed out stays usable: long
// enough to watch a consultation to its end (a presigned URL is checked on
// each range request of a player), short enough that a link that leaks
// from a device dies the same day.
const recordingURLValidity = 6 * time.Hour

func (a *app) recordingURLHandler() http.HandlerFunc {
	return a.callable("hmsRecordingUrl", "recordingUrl", a.cfg.check("hmsRecordingUrl"), onAppointment(a, a.recordingURL))
}

// recordingURL, after onAppointment's opening (any participant): the
// document must exist, its files not deleted → a file in RECORDING_BUCKET
// gets a link signed here (bucketLink); any other → its asset id (looked up and remembered when no event
// named one) → a fresh presigned link. The link is a bearer credential for a
// patient's consultation: it goes to the caller and nowhere else, never to a
// log.
func (a *app) recordingURL(ctx, reads context.Context, o opened, req *recordingURLRequest) (any, error) {
	st, appt := o.st, o.appt
	// A link changes nothing: the granted entry is written by
	// serveCallable before the answer leaves.
	if _, err := o.grant(); err != nil {
		return nil, err
	}
	f, err := req.asked.lookup(reads, st, appt.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchRecording(err)
	} else if err != nil {
		return nil, err
	}
	if f.Deleted {
		return nil, fail(statusNotFound, reasonDeleted, "This recording was deleted, as the clinic's retention or erasure policy says.", nil)
	}
	// A file in the clinic's own bucket (a HIPAA workspace): 100ms can
	// only write there, so the link is ours to sign.
	if object, ok := bucket.ObjectIn(a.cfg.bucket, f.Location); ok {
		return a.bucketLink(o, object)
	}
	client, err := a.hmsClient()
	if err != nil {
		return nil, err
	}
	if f.AssetID == "" {
		if f.AssetID, err = a.findAsset(ctx, reads, o.log, st, client, appt, f); err != nil {
			return nil, err
		}
	}
	hmsCtx, cancelHMS := hmsDeadline(ctx)
	defer cancelHMS()
	link, err := client.PresignURL(hmsCtx, f.AssetID, recordingURLValidity)
	if errors.Is(err, hms.ErrNotFound) {
		return nil, noSuchRecording(err)
	} else if err != nil {
		return nil, err
	}
	out := map[string]any{"url": link.URL}
	if !link.ExpiresAt.IsZero() {
		out["expiresAt"] = link.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return out, nil
}

// fileAsked is the file a request names: a recording, or one file of a
// transcript (its text unless another is named).
type fileAsked struct{ recordingID, transcriptID, file string }

// askedFile refuses a request that names both or neither, or a file a
// transcript does not have.
func askedFile(req recordingURLRequest) (fileAsked, *callError) {
	q := fileAsked{strings.TrimSpace(req.RecordingID), strings.TrimSpace(req.TranscriptID), req.File}
	if (q.recordingID == "") == (q.transcriptID == "") {
		return fileAsked{}, fail(statusInvalidArgument, reasonNoRecordingID, `Exactly one of "recordingId" and "transcriptId" is required.`, nil)
	}
	switch {
	case q.transcriptID == "":
	case q.file == "":
		q.file = "transcriptTxt"
	case q.file != "transcriptTxt" && q.file != "transcriptSrt" && q.file != "transcriptJson" && q.file != "summaryJson":
		return fileAsked{}, fail(statusInvalidArgument, reasonBadFile, `"file" must be transcriptTxt, transcriptSrt, transcriptJson or summaryJson.`, nil)
	}
	return q, nil
}

// note names the file in the request's audit entry and on its log line.
func (q fileAsked) note(rq *request) {
	if q.recordingID != "" {
		rq.audit.detail("recordingId", q.recordingID)
	} else {
		rq.audit.detail("transcriptId", q.transcriptID)
		rq.audit.detail("file", q.file)
	}
	rq.log.annotate(slog.String("recordingId", capLog(q.recordingID, maxLoggedID)),
		slog.String("transcriptId", capLog(q.transcriptID, maxLoggedID)), slog.String("file", q.file))
}

// lookup reads the file's document: ErrNotFound when the call has none.
func (q fileAsked) lookup(ctx context.Context, st *store.Store, appointmentID string) (store.File, error) {
	if q.recordingID != "" {
		return st.RecordingFile(ctx, appointmentID, q.recordingID)
	}
	return st.TranscriptFile(ctx, appointmentID, q.transcriptID, q.file)
}

func noSuchRecording(cause error) *callError {
	return fail(statusNotFound, reasonNoSuchRecording, "There is no such recording or transcript for this appointment, or it is not ready yet.", cause)
}

// findAsset looks up the 100ms asset of a file no event named an asset
// for: the assets of the call's room and the file's session, matched by
// storage path when several are listed (else by type), and remembers the
// id on the document so that the next request needs no lookup.
func (a *app) findAsset(ctx, reads context.Context, log *requestLog, st *store.Store, client *hms.Client, appt store.Appointment, f store.File) (string, error) {
	room, recorded, err := st.RecordedRoom(reads, appt)
	switch {
	case err != nil:
		return "", err
	case !recorded || f.SessionID == "":
		return "", noSuchRecording(nil)
	}
	hmsCtx, cancelHMS := hmsDeadline(ctx)
	assets, err := client.ListRecordingAssets(hmsCtx, room.ID, f.SessionID)
	cancelHMS()
	if err != nil {
		return "", err
	}
	asset, ok := pickAsset(assets, f)
	if !ok {
		return "", noSuchRecording(nil)
	}
	wctx, cancelWrite := writeDeadline(ctx)
	defer cancelWrite()
	if err := st.RememberAssetID(wctx, f.Ref, asset.ID); err != nil {
		// The link can still be given; the next request looks it up again.
		log.annotate(slog.String("rememberAssetError", capLog(err.Error(), maxLoggedError)))
		log.noteWarning()
	}
	return asset.ID, nil
}

// assetTypes are the 100ms asset types that can be each kind of file.
var assetTypes = map[string][]string{
	"sfu": {"room-composite"}, "browser": {"room-composite"}, "hls": {"room-vod"},
	"track": {"track"}, "stream": {"stream"},
	"transcriptTxt": {"transcript"}, "transcriptSrt": {"transcript"}, "transcriptJson": {"transcript"},
	"summaryJson": {"summary"},
}

// transcriptExt is the file extension of each transcript file.
var transcriptExt = map[string]string{"transcriptTxt": ".txt", "transcriptSrt": ".srt", "transcriptJson": ".json"}

// pickAsset chooses f's asset: the one stored at f's path; else the only
// one of f's type (for a transcript file, with its extension: 100ms calls
// the txt, srt and json files all "transcript"). Anything else is
// ambiguous, and a wrong file is worse than none.
func pickAsset(assets []hms.RecordingAsset, f store.File) (hms.RecordingAsset, bool) {
	only := func(keep func(hms.RecordingAsset) bool) (hms.RecordingAsset, bool) {
		var found []hms.RecordingAsset
		for _, as := range assets {
			if keep(as) {
				found = append(found, as)
			}
		}
		if len(found) == 1 {
			return found[0], true
		}
		return hms.RecordingAsset{}, false
	}
	if f.Location != "" {
		if as, ok := only(func(as hms.RecordingAsset) bool { return as.Path == f.Location }); ok {
			return as, true
		}
	}
	if types := assetTypes[f.Kind]; len(types) > 0 {
		if as, ok := only(func(as hms.RecordingAsset) bool {
			if ext := transcriptExt[f.Kind]; ext != "" && !strings.HasSuffix(strings.ToLower(as.Path), ext) {
				return false
			}
			for _, t := range types {
				if as.Type == t {
					return true
				}
			}
			return false
		}); ok {
			return as, true
		}
	}
	// No more guesses: a wrong file handed out, and its id remembered for
	// good, is worse than none.
	return hms.RecordingAsset{}, false
}
