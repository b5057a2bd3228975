package auth

import "strings"

// routes is the minimum role of each public route, by ServeMux pattern
// ("METHOD /path/{param}"). Routes it does not list follow Required's
// rules.
var routes = map[string]Role{
	"GET /health":          Open,
	"GET /actuator/health": Open,

	"POST /api/jobs":             Operator,
	"POST /api/jobs/batch":       Operator,
	"DELETE /api/jobs/{id}":      Operator,
	"POST /api/dlq/{id}/retry":   Operator,
	"POST /api/dlq/{id}/dismiss": Operator,
	"POST /api/dlq/retry":        Operator,
	"POST /api/dlq/dismiss":      Operator,
	"POST /api/keys":             Admin,
	"GET /api/keys":              Admin,
	"DELETE /api/keys/{id}":      Admin,
	"GET /api/audit":             Admin,
	"GET /api/whoami":            Viewer,
	// The token in the path is the credential (WAIT_FOR_CALLBACK).
	"POST /api/jobs/{id}/callbacks/{token}": Open,
}

// Required returns the minimum role of the route a ServeMux pattern
// names: the table above, else viewer for every other GET under /api/
// (a viewer may read everything but keys and audit), else admin (a new
// write route is closed to all but admins until it is given a role).
func Required(pattern string) Role {
	if r, ok := routes[pattern]; ok {
		return r
	}
	if strings.HasPrefix(pattern, "GET /api/") {
		return Viewer
	}
	return Admin
}
