package hms

import "fmt"

// Role is a 100ms role this backend may mint a join token for: RoleHost,
// RoleGuest, or the waiting room's role (WaitingRole). The name is
// unexported, so no other role can be built outside this package, and the
// zero Role is refused by JoinToken.
type Role struct{ name string }

// The two roles of the room template; 100ms role names are case-sensitive.
var (
	// RoleHost is the doctor's role.
	RoleHost = Role{name: "host"}
	// RoleGuest is the client's (and the appointment's guests') role.
	RoleGuest = Role{name: "guest"}
)

// WaitingRole is the role of a waiting room set up in the template as
// 100ms's waiting-room guide does (reference: guide--waiting-room.md): a
// role that publishes nothing and sees only itself, from which the host
// moves peers to guest. Its name is what the template calls it (letters,
// digits, "-" and "_": the guide's is "waiting-room"), and it must be
// neither host nor guest.
func WaitingRole(name string) (Role, error) {
	if name == "" || len(name) > 100 || name == RoleHost.name || name == RoleGuest.name {
		return Role{}, fmt.Errorf("%w: waiting role %q", ErrInvalidArgument, name)
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return Role{}, fmt.Errorf("%w: waiting role %q", ErrInvalidArgument, name)
		}
	}
	return Role{name: name}, nil
}

// String returns the role's 100ms name, or "" for the zero Role.
func (r Role) String() string { return r.name }

// Valid reports whether r is a role a token may be minted for.
func (r Role) Valid() bool { return r.name != "" }
