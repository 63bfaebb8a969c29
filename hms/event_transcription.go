package hms

// TranscriptionRef is what every transcription event carries: which
// transcription of which recording. Duration is that of the transcribed
// recording, in seconds.
type TranscriptionRef struct {
	SessionRef
	AccountID         string `json:"account_id"`
	AppID             string `json:"app_id"`
	MetadataID        string `json:"metadata_id"`
	MetadataTimestamp Time   `json:"metadata_timestamp"`
	TranscriptionID   string `json:"transcription_id"`
	RecordingID       string `json:"recording_id"`
	Duration          Int    `json:"duration"`
}

// TranscriptAsset is one file a transcription produced: its 100ms asset
// id (for a fresh presigned link), storage path and presigned link.
type TranscriptAsset struct {
	AssetID      string
	Path         string
	PresignedURL string
}

// TranscriptAssets are the four files of a transcription, as the flat
// keys 100ms sends (<name>_asset_id, <name>_path, <name>_presigned_url).
// The methods group them; each is nil when the event names none of its
// three keys.
type TranscriptAssets struct {
	TranscriptTxtAssetID       string `json:"transcript_txt_asset_id"`
	TranscriptTxtPath          string `json:"transcript_txt_path"`
	TranscriptTxtPresignedURL  string `json:"transcript_txt_presigned_url"`
	TranscriptSrtAssetID       string `json:"transcript_srt_asset_id"`
	TranscriptSrtPath          string `json:"transcript_srt_path"`
	TranscriptSrtPresignedURL  string `json:"transcript_srt_presigned_url"`
	TranscriptJSONAssetID      string `json:"transcript_json_asset_id"`
	TranscriptJSONPath         string `json:"transcript_json_path"`
	TranscriptJSONPresignedURL string `json:"transcript_json_presigned_url"`
	SummaryJSONAssetID         string `json:"summary_json_asset_id"`
	SummaryJSONPath            string `json:"summary_json_path"`
	SummaryJSONPresignedURL    string `json:"summary_json_presigned_url"`
}

func asset(id, path, url string) *TranscriptAsset {
	if id == "" && path == "" && url == "" {
		return nil
	}
	return &TranscriptAsset{AssetID: id, Path: path, PresignedURL: url}
}

// TranscriptTxt is the plain-text transcript (transcript_txt_*).
func (a *TranscriptAssets) TranscriptTxt() *TranscriptAsset {
	return asset(a.TranscriptTxtAssetID, a.TranscriptTxtPath, a.TranscriptTxtPresignedURL)
}

// TranscriptSrt is the subtitle transcript (transcript_srt_*).
func (a *TranscriptAssets) TranscriptSrt() *TranscriptAsset {
	return asset(a.TranscriptSrtAssetID, a.TranscriptSrtPath, a.TranscriptSrtPresignedURL)
}

// TranscriptJSON is the structured transcript (transcript_json_*).
func (a *TranscriptAssets) TranscriptJSON() *TranscriptAsset {
	return asset(a.TranscriptJSONAssetID, a.TranscriptJSONPath, a.TranscriptJSONPresignedURL)
}

// SummaryJSON is the AI summary (summary_json_*).
func (a *TranscriptAssets) SummaryJSON() *TranscriptAsset {
	return asset(a.SummaryJSONAssetID, a.SummaryJSONPath, a.SummaryJSONPresignedURL)
}

// TranscriptionStarted is the data of transcription.started.success; it
// names the asset ids the transcription will fill.
type TranscriptionStarted struct {
	TranscriptionRef
	TranscriptAssets
}

// Transcription is the data of transcription.success.
type Transcription struct {
	TranscriptionRef
	TranscriptAssets
}

// TranscriptionFailed is the data of transcription.failure (and of
// transcription.failed). Some files may still have been made. The
// documentation names no error field; Error and ErrorMessage read the
// names 100ms uses elsewhere, and Err gives whichever came.
type TranscriptionFailed struct {
	TranscriptionRef
	TranscriptAssets
	Error        string `json:"error"`
	ErrorMessage string `json:"error_message"`
}

// Err is error_message, else error.
func (t *TranscriptionFailed) Err() string {
	if t.ErrorMessage != "" {
		return t.ErrorMessage
	}
	return t.Error
}
