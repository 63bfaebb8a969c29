package hms

// Role is a 100ms role this backend may mint a join token for. Only RoleHost
// and RoleGuest exist: the name is unexported, so no other role can be built
// outside this package, and the zero Role is refused by JoinToken.
type Role struct{ name string }

// The two roles of the room template; 100ms role names are case-sensitive.
var (
	// RoleHost is the doctor's role.
	RoleHost = Role{name: "host"}
	// RoleGuest is the client's role.
	RoleGuest = Role{name: "guest"}
)

// String returns the role's 100ms name ("host" or "guest"), or "" for the
// zero Role.
func (r Role) String() string { return r.name }

// Valid reports whether r is RoleHost or RoleGuest.
func (r Role) Valid() bool { return r.name == "host" || r.name == "guest" }
