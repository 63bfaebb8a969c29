package hms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Room is a 100ms room.
type Room struct {
	ID, Name, TemplateID, Description string
	Enabled                           bool
}

// CreateRoomParams are the fields of POST /rooms; empty ones are not sent.
type CreateRoomParams struct {
	Name, Description, TemplateID, Region string
}

type roomJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Enabled     bool   `json:"enabled"`
	Description string `json:"description"`
	TemplateID  string `json:"template_id"`
}

// CreateRoom creates the room named p.Name, or returns the existing room of
// that name: 100ms makes POST /rooms idempotent by name, so a retried or
// concurrent call ends with one room.
func (c *Client) CreateRoom(ctx context.Context, p CreateRoomParams) (Room, error) {
	if p.Name == "" {
		return Room{}, fmt.Errorf("create room: %w: empty name", ErrInvalidArgument)
	}
	in := struct {
		Name        string `json:"name"`
		Description string `json:"description,omitempty"`
		TemplateID  string `json:"template_id,omitempty"`
		Region      string `json:"region,omitempty"`
	}{p.Name, p.Description, p.TemplateID, p.Region}
	var out roomJSON
	if err := c.do(ctx, http.MethodPost, "/rooms", in, &out); err != nil {
		return Room{}, fmt.Errorf("create room %s: %w", p.Name, err)
	}
	if out.ID == "" {
		return Room{}, fmt.Errorf("create room %s: %w: answer has no room id", p.Name, ErrUnavailable)
	}
	return out.room(), nil
}

func (r roomJSON) room() Room {
	return Room{ID: r.ID, Name: r.Name, TemplateID: r.TemplateID, Description: r.Description, Enabled: r.Enabled}
}

// EnableRoom enables or disables a room (POST /rooms/{id} {enabled}). A
// disabled room keeps its current session but nobody can join it later;
// EndRoom with lock disables it too, and this undoes that.
func (c *Client) EnableRoom(ctx context.Context, roomID string, enabled bool) error {
	seg, err := pathSegment("room id", roomID)
	if err != nil {
		return fmt.Errorf("enable room: %w", err)
	}
	in := struct {
		Enabled bool `json:"enabled"`
	}{enabled}
	var out roomJSON
	if err := c.do(ctx, http.MethodPost, "/rooms/"+seg, in, &out); err != nil {
		return fmt.Errorf("set room %s enabled=%t: %w", roomID, enabled, err)
	}
	return nil
}

// EndRoom ends the active session of a room, removing every peer; with lock
// the room is also disabled so that nobody can join it again (EnableRoom
// undoes it). A room with no active session is ErrNotActive (100ms answers
// 404 for it; see ErrNotActive).
func (c *Client) EndRoom(ctx context.Context, roomID, reason string, lock bool) error {
	seg, err := pathSegment("room id", roomID)
	if err != nil {
		return fmt.Errorf("end room: %w", err)
	}
	in := struct {
		Reason string `json:"reason,omitempty"`
		Lock   bool   `json:"lock"`
	}{reason, lock}
	if err := c.do(ctx, http.MethodPost, "/active-rooms/"+seg+"/end-room", in, nil); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("end room %s: %w: %w", roomID, ErrNotActive, err)
		}
		return fmt.Errorf("end room %s: %w", roomID, err)
	}
	return nil
}
