package fhirapi

import (
	"net/http"
	"slices"

	"healthcare/internal/database"
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

	// handler serves one routed request.
	handler handler
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

// The search parameters of each resource type.
var (
	patientSearch = []SearchParam{
		paramID,
		{Name: "name", Type: "string", Ref: "http://hl7.org/fhir/SearchParameter/Patient-name",
			Doc: "The start of any word of the name, case-insensitive; name:contains anywhere in it, name:exact all of it."},
		{Name: "gender", Type: "token", Ref: "http://hl7.org/fhir/SearchParameter/individual-gender",
			Doc: "The administrative gender (male, female, other, unknown)."},
		paramLastUpdated,
	}
	practitionerSearch = []SearchParam{
		paramID,
		{Name: "name", Type: "string", Ref: "http://hl7.org/fhir/SearchParameter/Practitioner-name",
			Doc: "The start of any word of the name, case-insensitive; name:contains anywhere in it, name:exact all of it."},
	}
	practitionerRoleSearch = []SearchParam{
		{Name: "practitioner", Type: "reference", Ref: "http://hl7.org/fhir/SearchParameter/PractitionerRole-practitioner",
			Doc: "The doctor: Practitioner/<id> or the id."},
		{Name: "specialty", Type: "token", Ref: "http://hl7.org/fhir/SearchParameter/PractitionerRole-specialty",
			Doc: "The specialization's text, case-insensitive (specialty or specialty:text)."},
	}
	auditEventSearch = []SearchParam{
		{Name: "entity", Type: "reference", Ref: "http://hl7.org/fhir/SearchParameter/AuditEvent-entity", Doc: "The patient the event concerns: Patient/<id> or the id."},
		{Name: "patient", Type: "reference", Ref: "http://hl7.org/fhir/SearchParameter/AuditEvent-patient", Doc: "The same as entity."},
		{Name: "agent", Type: "reference", Ref: "http://hl7.org/fhir/SearchParameter/AuditEvent-agent", Doc: "The app user who acted: their user id."},
		{Name: "date", Type: "date", Ref: "http://hl7.org/fhir/SearchParameter/AuditEvent-date", Multi: true,
			Doc: "When it was recorded: eq (default), gt, ge, lt, le, at the precision given."},
	}
	careTeamSearch = []SearchParam{
		{Name: "patient", Type: "reference", Ref: "http://hl7.org/fhir/SearchParameter/clinical-patient", Doc: "The patient: Patient/<id> or the id."},
		{Name: "subject", Type: "reference", Ref: "http://hl7.org/fhir/SearchParameter/CareTeam-subject", Doc: "The same as patient."},
		{Name: "participant", Type: "reference", Ref: "http://hl7.org/fhir/SearchParameter/CareTeam-participant",
			Doc: "The doctor: Practitioner/<id> or the id."},
	}
)

// routes is the whole FHIR surface, readable top to bottom.
var routes = []Route{
	{Method: get, Path: Prefix + "/metadata", Auth: Public, Interaction: "capabilities", handler: (*server).capabilities},

	// Patient: private to its owner (and admins), read by its care team.
	{Method: get, Path: Prefix + "/Patient", Auth: TokenRequired, Resource: "Patient", Interaction: "search-type", Search: patientSearch,
		handler: search(database.FhirPatientSearch, patientSearch, patientSearchArgs)},
	{Method: post, Path: Prefix + "/Patient", Auth: TokenRequired, Resource: "Patient", Interaction: "create",
		handler: create(database.FhirPatientCreate, "Patient")},
	{Method: get, Path: Prefix + "/Patient/:id", Auth: TokenRequired, Resource: "Patient", Interaction: "read",
		handler: read(database.FhirPatient)},
	{Method: put, Path: Prefix + "/Patient/:id", Auth: TokenRequired, Resource: "Patient", Interaction: "update",
		handler: update(database.FhirPatientUpdate)},
	{Method: del, Path: Prefix + "/Patient/:id", Auth: TokenRequired, Resource: "Patient", Interaction: "delete",
		handler: remove(database.FhirPatientDelete, true)},
	{Method: get, Path: Prefix + "/Patient/:id/_history", Auth: TokenRequired, Resource: "Patient", Interaction: "history-instance",
		handler: history(database.FhirPatientHistory)},
	{Method: get, Path: Prefix + "/Patient/:id/_history/:vid", Auth: TokenRequired, Resource: "Patient", Interaction: "vread",
		handler: vread(database.FhirPatientVread)},

	// Practitioner: the public directory; changes under its rules.
	{Method: get, Path: Prefix + "/Practitioner", Auth: OptionalToken, Resource: "Practitioner", Interaction: "search-type", Search: practitionerSearch,
		handler: search(database.FhirPractitionerSearch, practitionerSearch, practitionerSearchArgs)},
	{Method: post, Path: Prefix + "/Practitioner", Auth: TokenRequired, Resource: "Practitioner", Interaction: "create",
		handler: create(database.FhirPractitionerCreate, "Practitioner")},
	{Method: get, Path: Prefix + "/Practitioner/:id", Auth: OptionalToken, Resource: "Practitioner", Interaction: "read",
		handler: read(database.FhirPractitioner)},
	{Method: put, Path: Prefix + "/Practitioner/:id", Auth: TokenRequired, Resource: "Practitioner", Interaction: "update",
		handler: update(database.FhirPractitionerUpdate)},
	{Method: del, Path: Prefix + "/Practitioner/:id", Auth: TokenRequired, Resource: "Practitioner", Interaction: "delete",
		handler: remove(database.FhirPractitionerDelete, true)},

	// PractitionerRole: read-only, one per doctor, from its specialization.
	{Method: get, Path: Prefix + "/PractitionerRole", Auth: OptionalToken, Resource: "PractitionerRole", Interaction: "search-type", Search: practitionerRoleSearch,
		handler: search(database.FhirPractitionerRoleSearch, practitionerRoleSearch, practitionerRoleSearchArgs)},
	{Method: get, Path: Prefix + "/PractitionerRole/:id", Auth: OptionalToken, Resource: "PractitionerRole", Interaction: "read",
		handler: read(database.FhirPractitionerRole)},

	// CareTeam: one per mapping, under the mapping rules.
	{Method: get, Path: Prefix + "/CareTeam", Auth: TokenRequired, Resource: "CareTeam", Interaction: "search-type", Search: careTeamSearch,
		handler: search(database.FhirCareTeamSearch, careTeamSearch, careTeamSearchArgs)},
	{Method: post, Path: Prefix + "/CareTeam", Auth: TokenRequired, Resource: "CareTeam", Interaction: "create",
		handler: create(database.FhirCareTeamCreate, "CareTeam")},
	{Method: get, Path: Prefix + "/CareTeam/:id", Auth: TokenRequired, Resource: "CareTeam", Interaction: "read",
		handler: read(database.FhirCareTeam)},
	{Method: del, Path: Prefix + "/CareTeam/:id", Auth: TokenRequired, Resource: "CareTeam", Interaction: "delete",
		handler: remove(database.FhirCareTeamDelete, false)},

	// AuditEvent: the trail; an owner's patients' events, redacted, and every one for admins.
	{Method: get, Path: Prefix + "/AuditEvent", Auth: TokenRequired, Resource: "AuditEvent", Interaction: "search-type", Search: auditEventSearch,
		handler: search(database.FhirAuditEventSearch, auditEventSearch, auditEventSearchArgs)},
	{Method: get, Path: Prefix + "/AuditEvent/:id", Auth: TokenRequired, Resource: "AuditEvent", Interaction: "read",
		handler: read(database.FhirAuditEvent)},
}

// Routes returns the route table (a copy).
func Routes() []Route { return slices.Clone(routes) }
