package fhirapi

import (
	"net/http"
	"slices"
)

// Auth is what a route asks of the caller's token.
type Auth int

const (
	// Public routes never look at a token.
	Public Auth = iota
	// OptionalToken routes serve anonymous callers, but a token that is
	// present must be valid.
	OptionalToken
	// TokenRequired routes answer 401 without a valid access token.
	TokenRequired
)

// SearchParam is one search parameter a search route takes, as the
// CapabilityStatement lists it.
type SearchParam struct {
	Name  string
	Type  string // FHIR search parameter type: token, string, date, reference, number
	Doc   string
	Ref   string // canonical SearchParameter definition, when one exists
	Multi bool   // may repeat (an AND of the values)
}

// Route is one entry of the FHIR surface. New registers exactly these, and
// the CapabilityStatement is generated from them.
type Route struct {
	Method string
	// Path is the httprouter pattern under the server root.
	Path string
	Auth Auth
	// Resource is the FHIR resource type; "" for system-level routes.
	Resource string
	// Interaction is the FHIR restful interaction code (read, vread,
	// history-instance, search-type, create, update, delete), or
	// "capabilities".
	Interaction string
	// Search lists a search route's parameters (besides _count, _offset
	// and _format, which every search takes).
	Search []SearchParam

	// handler serves one routed request (a method of server).
	handler func(s *server, w http.ResponseWriter, r *http.Request, c call)
}

const (
	get, post, put, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
)

// Common search parameters of the FHIR specification.
var (
	paramID          = SearchParam{Name: "_id", Type: "token", Ref: "http://hl7.org/fhir/SearchParameter/Resource-id", Doc: "The resource id."}
	paramLastUpdated = SearchParam{Name: "_lastUpdated", Type: "date", Ref: "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated", Multi: true,
		Doc: "When the resource last changed: eq (default), gt, ge, lt, le, at the precision given (year to fraction of a second; no zone means UTC)."}
)

// patientSearch are the Patient search parameters.
var patientSearch = []SearchParam{
	paramID,
	{Name: "name", Type: "string", Ref: "http://hl7.org/fhir/SearchParameter/Patient-name",
		Doc: "The start of any word of the name, case-insensitive; name:contains anywhere in it, name:exact all of it."},
	{Name: "gender", Type: "token", Ref: "http://hl7.org/fhir/SearchParameter/individual-gender",
		Doc: "The administrative gender (male, female, other, unknown)."},
	paramLastUpdated,
}

// routes is the whole FHIR surface, readable top to bottom.
var routes = []Route{
	{Method: get, Path: Prefix + "/metadata", Auth: Public, Interaction: "capabilities", handler: (*server).capabilities},

	// Patient: private to its owner (and admins), read by its care team.
	{Method: get, Path: Prefix + "/Patient", Auth: TokenRequired, Resource: "Patient", Interaction: "search-type", handler: (*server).patientSearch,
		Search: patientSearch},
	{Method: post, Path: Prefix + "/Patient", Auth: TokenRequired, Resource: "Patient", Interaction: "create", handler: (*server).patientCreate},
	{Method: get, Path: Prefix + "/Patient/:id", Auth: TokenRequired, Resource: "Patient", Interaction: "read", handler: (*server).patientRead},
	{Method: put, Path: Prefix + "/Patient/:id", Auth: TokenRequired, Resource: "Patient", Interaction: "update", handler: (*server).patientUpdate},
	{Method: del, Path: Prefix + "/Patient/:id", Auth: TokenRequired, Resource: "Patient", Interaction: "delete", handler: (*server).patientDelete},
	{Method: get, Path: Prefix + "/Patient/:id/_history", Auth: TokenRequired, Resource: "Patient", Interaction: "history-instance", handler: (*server).patientHistory},
	{Method: get, Path: Prefix + "/Patient/:id/_history/:vid", Auth: TokenRequired, Resource: "Patient", Interaction: "vread", handler: (*server).patientVread},
}

// Routes returns the route table (a copy).
func Routes() []Route { return slices.Clone(routes) }
