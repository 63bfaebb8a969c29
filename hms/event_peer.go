package hms

// RoomRef identifies the room an event belongs to.
type RoomRef struct {
	RoomID     string `json:"room_id"`
	RoomName   string `json:"room_name"`
	TemplateID string `json:"template_id"`
}

// SessionRef identifies the session an event belongs to.
type SessionRef struct {
	RoomRef
	SessionID        string `json:"session_id"`
	SessionStartedAt Time   `json:"session_started_at"`
}

func (s SessionRef) refs() (string, string) { return s.RoomID, s.SessionID }

// PeerRef identifies a peer: one join of one user, new on every rejoin.
// In HIPAA workspaces UserName (and RoomName) arrive SHA-256-hashed.
type PeerRef struct {
	PeerID   string `json:"peer_id"`
	UserID   string `json:"user_id"`
	UserName string `json:"user_name"`
	UserData string `json:"user_data"`
	Role     string `json:"role"`
	// PeerType is "regular", or "sip" for a peer that joined by phone.
	PeerType string `json:"type"`
}

// SessionOpen is the data of session.open.success.
type SessionOpen struct{ SessionRef }

// SessionClose is the data of session.close.success. SessionDuration is in
// seconds.
type SessionClose struct {
	SessionRef
	SessionStoppedAt Time `json:"session_stopped_at"`
	SessionDuration  Int  `json:"session_duration"`
}

// PeerJoin is the data of peer.join.success.
type PeerJoin struct {
	SessionRef
	PeerRef
	JoinedAt Time `json:"joined_at"`
}

// PeerLeave is the data of peer.leave.success. Duration is in seconds and
// nil when 100ms did not send it; Message is what whoever removed the peer
// said.
type PeerLeave struct {
	SessionRef
	PeerRef
	JoinedAt Time     `json:"joined_at"`
	LeftAt   Time     `json:"left_at"`
	Duration *float64 `json:"duration"`
	Reason   string   `json:"reason"`
	Message  string   `json:"message"`
}

// PeerJoinFailed is the data of peer.join.failure; it carries no session id.
type PeerJoinFailed struct {
	SessionRef
	PeerRef
	JoinedAt     Time   `json:"joined_at"`
	ErrorMessage string `json:"error_message"`
}

// PeerLeaveFailed is the data of peer.leave.failure; it carries no session id.
type PeerLeaveFailed struct {
	SessionRef
	PeerRef
	JoinedAt     Time     `json:"joined_at"`
	LeftAt       Time     `json:"left_at"`
	Duration     *float64 `json:"duration"`
	ErrorMessage string   `json:"error_message"`
}

// RoomEnd is the data of room.end.success; the peer is whoever ended it.
type RoomEnd struct {
	SessionRef
	PeerRef
	JoinedAt Time   `json:"joined_at"`
	LockRoom bool   `json:"lock_room"`
	Reason   string `json:"reason"`
	Source   string `json:"source"`
}

// RoomEndFailed is the data of room.end.failure; ErrorCode is an HTTP-like
// status (404: session not found).
type RoomEndFailed struct {
	SessionRef
	PeerRef
	LockRoom     bool   `json:"lock_room"`
	Reason       string `json:"reason"`
	Source       string `json:"source"`
	ErrorMessage string `json:"error_message"`
	ErrorCode    Int    `json:"error_code"`
}

// RoleChange is the data of role.change.success; Role is the new role.
// RoleChangeRequestedBy is the peer id of whoever asked, empty when the
// REST API did.
type RoleChange struct {
	SessionRef
	PeerRef
	JoinedAt              Time   `json:"joined_at"`
	PreviousRole          string `json:"previous_role"`
	RoleChangedAt         Time   `json:"role_changed_at"`
	RoleChangeRequestedBy string `json:"role_change_requested_by"`
}

// RoleChangeFailed is the data of role.change.failure; Role is the role
// that was refused.
type RoleChangeFailed struct {
	SessionRef
	PeerRef
	JoinedAt              Time   `json:"joined_at"`
	RoleChangeRequestedBy string `json:"role_change_requested_by"`
	ErrorMessage          string `json:"error_message"`
}
