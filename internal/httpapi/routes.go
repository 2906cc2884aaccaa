package httpapi

import (
	"net/http"
	"slices"

	"github.com/julienschmidt/httprouter"

	"healthcare/internal/apidocs"
	"healthcare/internal/auth"
	"healthcare/internal/database"
	"healthcare/internal/openapi"
)

// Auth is what a route asks of the caller's token.
type Auth int

const (
	// Public routes never look at a token.
	Public Auth = iota
	// OptionalToken routes serve anonymous callers, but a token that is
	// present must be valid: a client that sent credentials should learn
	// they failed.
	OptionalToken
	// TokenRequired routes answer 401 without a valid access token.
	TokenRequired
)

func (a Auth) String() string {
	switch a {
	case Public:
		return "public"
	case OptionalToken:
		return "optional token"
	case TokenRequired:
		return "token required"
	}
	return "unknown"
}

// Route is one entry of the API surface. NewServer registers exactly the
// routes of Routes, and the tests read the same table (the OpenAPI
// document must describe every entry, with the same operation and the
// same token requirement).
type Route struct {
	Method string
	// Path is the public pattern, as clients and openapi.yaml see it, with
	// :name parameters. Paths keep the seed's trailing slashes.
	Path string
	Auth Auth
	// Operation is the route's operationId in openapi.yaml.
	Operation string

	// pattern is what httprouter registers when it cannot express Path;
	// empty means Path.
	pattern string
	// handler builds the route's handler from the server's dependencies
	// (without the token check, which Auth adds).
	handler func(deps) http.Handler
}

// deps are what handlers are built from.
type deps struct {
	opts   Options
	db     *database.DB
	tokens *auth.Tokens
	hasher *auth.Hasher
}

// withDB adapts a handler maker that needs only the database.
func withDB(f func(*database.DB) http.Handler) func(deps) http.Handler {
	return func(d deps) http.Handler { return f(d.db) }
}

const (
	get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
)

// routes is the whole API surface, readable top to bottom. Path ids that
// are not positive int64s are 404, like the seed's <int:pk> URL patterns.
var routes = []Route{
	// Operations.
	{Method: get, Path: "/healthz", Auth: Public, Operation: "healthz",
		handler: func(deps) http.Handler { return healthz() }},
	{Method: get, Path: "/readyz", Auth: Public, Operation: "readyz",
		handler: func(d deps) http.Handler { return readyz(d.db, d.opts.Ready, d.opts.Draining) }},
	// The OpenAPI 3.1 document describing every route of this table.
	{Method: get, Path: openapi.Path, Auth: Public, Operation: "openapi",
		handler: func(deps) http.Handler { return openapi.Handler() }},
	// Its interactive reference (Swagger UI, embedded) and the page's files.
	{Method: get, Path: apidocs.Path, Auth: Public, Operation: "docs", handler: docs},
	{Method: get, Path: apidocs.Path + ":file", Auth: Public, Operation: "docsAsset", handler: docs},

	// Accounts and tokens.
	{Method: post, Path: "/api/auth/register/", Auth: Public, Operation: "register",
		handler: func(d deps) http.Handler { return register(d.db, d.hasher) }},
	{Method: post, Path: "/api/auth/login/", Auth: Public, Operation: "login",
		handler: func(d deps) http.Handler {
			return login(d.db, d.tokens, d.hasher, d.opts.LoginThrottle.withDefaults(), d.opts.TrustedProxies)
		}},
	{Method: post, Path: "/api/auth/refresh/", Auth: Public, Operation: "refresh",
		handler: func(d deps) http.Handler { return refresh(d.db, d.tokens) }},
	{Method: post, Path: "/api/auth/logout/", Auth: Public, Operation: "logout",
		handler: func(d deps) http.Handler { return logout(d.db, d.tokens) }},
	{Method: get, Path: "/api/auth/me/", Auth: TokenRequired, Operation: "me", handler: withDB(me)},

	// Patients: private to their owner (and admins).
	{Method: get, Path: "/api/patients/", Auth: TokenRequired, Operation: "listPatients", handler: withDB(listPatients)},
	{Method: post, Path: "/api/patients/", Auth: TokenRequired, Operation: "createPatient", handler: withDB(createPatient)},
	{Method: get, Path: "/api/patients/:id/", Auth: TokenRequired, Operation: "getPatient", handler: withDB(getPatient)},
	{Method: put, Path: "/api/patients/:id/", Auth: TokenRequired, Operation: "replacePatient",
		handler: func(d deps) http.Handler { return updatePatient(d.db, true, d.opts.RequireIfMatch) }},
	{Method: patch, Path: "/api/patients/:id/", Auth: TokenRequired, Operation: "updatePatient",
		handler: func(d deps) http.Handler { return updatePatient(d.db, false, d.opts.RequireIfMatch) }},
	{Method: del, Path: "/api/patients/:id/", Auth: TokenRequired, Operation: "deletePatient",
		handler: func(d deps) http.Handler { return deletePatient(d.db, d.opts.RequireIfMatch) }},
	// Every version since versions exist, from the audit trail (owner and
	// admins; a deleted patient's for admins).
	{Method: get, Path: "/api/patients/:id/history/", Auth: TokenRequired, Operation: "patientHistory",
		handler: func(d deps) http.Handler { return history(d.db, database.FnPatientHistory) }},
	{Method: get, Path: "/api/patients/:id/history/:version/", Auth: TokenRequired, Operation: "patientVersion",
		handler: func(d deps) http.Handler { return historyVersion(d.db, database.FnPatientVersion) }},
	// The owner's accounting of who accessed the record (and admins').
	{Method: get, Path: "/api/patients/:id/access-log/", Auth: TokenRequired, Operation: "patientAccessLog", handler: withDB(patientAccessLog)},

	// Doctors: a public directory; writes need a token.
	{Method: get, Path: "/api/doctors/", Auth: OptionalToken, Operation: "listDoctors", handler: withDB(listDoctors)},
	{Method: post, Path: "/api/doctors/", Auth: TokenRequired, Operation: "createDoctor", handler: withDB(createDoctor)},
	{Method: get, Path: "/api/doctors/:id/", Auth: OptionalToken, Operation: "getDoctor", handler: withDB(getDoctor)},
	{Method: put, Path: "/api/doctors/:id/", Auth: TokenRequired, Operation: "replaceDoctor",
		handler: func(d deps) http.Handler { return updateDoctor(d.db, true, d.opts.RequireIfMatch) }},
	{Method: patch, Path: "/api/doctors/:id/", Auth: TokenRequired, Operation: "updateDoctor",
		handler: func(d deps) http.Handler { return updateDoctor(d.db, false, d.opts.RequireIfMatch) }},
	{Method: del, Path: "/api/doctors/:id/", Auth: TokenRequired, Operation: "deleteDoctor",
		handler: func(d deps) http.Handler { return deleteDoctor(d.db, d.opts.RequireIfMatch) }},
	// Public like the directory (a removed doctor's for admins).
	{Method: get, Path: "/api/doctors/:id/history/", Auth: OptionalToken, Operation: "doctorHistory",
		handler: func(d deps) http.Handler { return history(d.db, database.FnDoctorHistory) }},
	{Method: get, Path: "/api/doctors/:id/history/:version/", Auth: OptionalToken, Operation: "doctorVersion",
		handler: func(d deps) http.Handler { return historyVersion(d.db, database.FnDoctorVersion) }},
	// The account a doctor record belongs to (admins only).
	{Method: put, Path: "/api/doctors/:id/account/", Auth: TokenRequired, Operation: "linkDoctorAccount", handler: withDB(linkDoctorAccount)},
	{Method: del, Path: "/api/doctors/:id/account/", Auth: TokenRequired, Operation: "unlinkDoctorAccount", handler: withDB(unlinkDoctorAccount)},

	// The care view: the patients mapped to the caller's doctor record, read-only.
	{Method: get, Path: "/api/care/patients/", Auth: TokenRequired, Operation: "listCarePatients", handler: withDB(listCarePatients)},
	{Method: get, Path: "/api/care/patients/:id/", Auth: TokenRequired, Operation: "getCarePatient", handler: withDB(getCarePatient)},

	// Mappings. The seed's /api/mappings/patient/<patient_id>/ shares its
	// first segment with /api/mappings/<id>/, which httprouter cannot
	// express; it is registered as /api/mappings/:id/:patient_id/ and
	// patientDoctors checks that the segment is "patient".
	{Method: get, Path: "/api/mappings/", Auth: TokenRequired, Operation: "listMappings", handler: withDB(listMappings)},
	{Method: post, Path: "/api/mappings/", Auth: TokenRequired, Operation: "createMapping", handler: withDB(createMapping)},
	{Method: get, Path: "/api/mappings/:id/", Auth: TokenRequired, Operation: "getMapping", handler: withDB(getMapping)},
	{Method: del, Path: "/api/mappings/:id/", Auth: TokenRequired, Operation: "deleteMapping", handler: withDB(deleteMapping)},
	{Method: get, Path: "/api/mappings/patient/:patient_id/", Auth: TokenRequired, Operation: "listPatientDoctors",
		pattern: "/api/mappings/:id/:patient_id/", handler: withDB(patientDoctors)},

	// The audit trail, for admins.
	{Method: get, Path: "/api/audit/events/", Auth: TokenRequired, Operation: "listAuditEvents", handler: withDB(auditEvents)},
}

// docs serves the API reference page and its files; an unknown file is
// the usual 404 problem.
func docs(deps) http.Handler {
	return apidocs.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeError(w, r, errNotFound) }))
}

// Routes returns the route table (a copy: the server's own cannot change).
func Routes() []Route { return slices.Clone(routes) }

// addRoutes registers the table: each handler behind the token check its
// Auth asks for, labelled with its public Path for the access log.
func addRoutes(r *httprouter.Router, d deps) {
	a := authenticator{tokens: d.tokens}
	for _, rt := range routes {
		h := rt.handler(d)
		switch rt.Auth {
		case TokenRequired:
			h = a.Require(h)
		case OptionalToken:
			h = a.Optional(h)
		}
		pattern := rt.pattern
		if pattern == "" {
			pattern = rt.Path
		}
		r.Handle(rt.Method, pattern, route(rt.Path, h))
	}
}
