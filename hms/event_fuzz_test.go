package hms

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func FuzzParseEvent(f *testing.F) {
	// Every fixture: the original samples and their variants, and the
	// current document's samples (masked and distinct) and variants.
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil {
			f.Add(b)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `{"id":"e","type":"x.y","timestamp":"2021-11-30T12:58:49Z"}`,
		`{"id":"e","type":"peer.leave.success","timestamp":"2021-11-30T12:58:49Z","data":{"duration":"x","left_at":5}}`,
		`{"id":"e","type":"hls.recording.success","timestamp":"2021-11-30T12:58:49Z","data":[1]}`,
		`{"id":"e","type":"track.recording.success","timestamp":"2024-02-06T20:01:16Z","data":{"size":"12","duration":"1.5","recording_id":7}}`,
		`{"id":"e","type":"hls.recording.success","timestamp":"2021-11-30T12:58:49Z","data":{"recording_single_files":[{"size":"x"},{"width":1e400}]}}`,
		`{"id":"e","type":"transcription.failed","timestamp":"2023-06-15T06:17:39Z","data":{"transcript_txt_path":"s3://t","duration":-1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseEvent(body)
		if err != nil {
			if ev != nil || !errors.Is(err, ErrMalformedEvent) {
				t.Fatalf("ParseEvent = %v, %v: want nil and ErrMalformedEvent", ev, err)
			}
			return
		}
		if ev.ID == "" || ev.Type == "" || ev.Timestamp.IsZero() {
			t.Fatalf("accepted event without id/type/timestamp: %+v", ev)
		}
		want := newPayload(ev.Type)
		switch {
		case want == nil && ev.Data != nil:
			t.Fatalf("unknown type %q decoded to %T", ev.Type, ev.Data)
		case want != nil && reflect.TypeOf(ev.Data) != reflect.TypeOf(want):
			t.Fatalf("type %q decoded to %T, want %T", ev.Type, ev.Data, want)
		}
		// Decoding is deterministic, problems included.
		again, err := ParseEvent(body)
		if err != nil || !reflect.DeepEqual(again.DataProblems, ev.DataProblems) || again.RoomID != ev.RoomID || again.SessionID != ev.SessionID {
			t.Fatalf("second decode differs: %v, %q vs %q", err, again.DataProblems, ev.DataProblems)
		}
	})
}
