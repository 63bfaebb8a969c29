package functions

import (
	"testing"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// TestPickAsset: an asset is chosen by its path, else as the only one of
// its type (transcript files also by extension), and otherwise not at all:
// the id chosen is remembered for good, so a wrong guess would hand out the
// wrong file forever. Restore the "only asset listed" fallback, or match a
// transcript file by type alone, and this fails.
func TestPickAsset(t *testing.T) {
	composite := hms.RecordingAsset{ID: "a-comp", Type: "room-composite", Path: "s3://b/room.mp4"}
	chat := hms.RecordingAsset{ID: "a-chat", Type: "chat", Path: "s3://b/chat.csv"}
	txt := hms.RecordingAsset{ID: "a-txt", Type: "transcript", Path: "s3://b/t.txt"}
	srt := hms.RecordingAsset{ID: "a-srt", Type: "transcript", Path: "s3://b/t.srt"}
	for _, tc := range []struct {
		name   string
		assets []hms.RecordingAsset
		f      store.File
		want   string // "" for none
	}{
		{"by path", []hms.RecordingAsset{chat, composite}, store.File{Kind: "sfu", Location: "s3://b/room.mp4"}, "a-comp"},
		{"the only one of its type", []hms.RecordingAsset{chat, composite}, store.File{Kind: "sfu"}, "a-comp"},
		{"only a chat file listed: not a recording", []hms.RecordingAsset{chat}, store.File{Kind: "sfu"}, ""},
		{"transcript txt by extension", []hms.RecordingAsset{srt, txt}, store.File{Kind: "transcriptTxt"}, "a-txt"},
		{"an srt is no txt", []hms.RecordingAsset{srt}, store.File{Kind: "transcriptTxt"}, ""},
		{"two of the type, no path", []hms.RecordingAsset{composite, {ID: "a-comp2", Type: "room-composite"}}, store.File{Kind: "sfu"}, ""},
	} {
		got, ok := pickAsset(tc.assets, tc.f)
		if (tc.want != "") != ok || got.ID != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got.ID, ok, tc.want)
		}
	}
}
