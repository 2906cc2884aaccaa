package database

import (
	"strconv"
	"strings"
)

// Func names one api.* function together with its SQL parameter types. Its
// fields are unexported, so the only Func values that exist are the ones
// declared below: a function name can never come from request data.
type Func struct {
	schema string // "api", or "fhir" for the FHIR face
	name   string
	argc   int
	sql    string
	read   bool // reads patient data and writes only its audit event
}

// Name is the function's name inside its schema (api, or fhir).
func (f Func) Name() string { return f.name }

// QualifiedName is schema.name, as errors and logs name the function.
func (f Func) QualifiedName() string { return f.schema + "." + f.name }

// SQL is the statement Call sends for f, select api.<name>($1::<type>,
// ...)::text, with one numbered parameter per argument. cmd/bench builds
// its pgbench scripts from it, so they time the server's own SQL.
func (f Func) SQL() string { return f.sql }

// readFunc is apiFunc for a function that only reads (and records its audit
// event): its transaction commits asynchronously (commitMode).
func readFunc(name string, types ...string) Func {
	f := apiFunc(name, types...)
	f.read = true
	return f
}

// apiFunc builds the statement text once. Parameters carry explicit casts so
// the same text resolves the same overload under every ExecMode, including
// the unnamed and simple protocols where pgx guesses types from Go values.
func apiFunc(name string, types ...string) Func { return schemaFunc("api", name, types...) }

// schemaFunc is apiFunc for a function of another schema.
func schemaFunc(schema, name string, types ...string) Func {
	params := make([]string, len(types))
	for i, t := range types {
		params[i] = "$" + strconv.Itoa(i+1) + "::" + t
	}
	return Func{
		schema: schema,
		name:   name,
		argc:   len(types),
		sql:    "select " + schema + "." + name + "(" + strings.Join(params, ", ") + ")::text",
	}
}

// The api functions the server calls (sql/migrations/005_api.sql and later).
// Argument order matches the SQL signature.
var (
	// Accounts and tokens (EXECUTE granted to healthcare_api only).
	FnRegister           = apiFunc("register", "text", "text", "text")                    // username, email, password hash
	FnRotateRefreshToken = apiFunc("rotate_refresh_token", "uuid", "uuid", "timestamptz") // old jti, new jti, expires
	FnRevokeRefreshToken = apiFunc("revoke_refresh_token", "uuid")                        // jti
	FnMe                 = readFunc("me")
	// Login throttling (migration 007): attempt = throttle check, advance
	// count and credentials in one call; complete = reset and refresh token.
	FnLoginAttempt  = apiFunc("login_attempt", "text", "text", "int", "int", "int", "int")                               // username, address, max per (account, address), max per address, account flood, window seconds
	FnCompleteLogin = apiFunc("complete_login", "text", "text", "bigint", "uuid", "uuid", "timestamptz", "text", "text") // username, address, user, jti, family, expires, upgraded hash (null = keep), hash it replaces

	// Patients.
	FnListPatients  = readFunc("list_patients", "int", "int")                           // limit, offset
	FnGetPatient    = readFunc("get_patient", "bigint")                                 // id
	FnCreatePatient = apiFunc("create_patient", "text", "int", "text")                  // name, age, gender
	FnUpdatePatient = apiFunc("update_patient", "bigint", "text", "int", "text", "int") // id, name, age, gender (null = keep), expected version (null = any)
	FnDeletePatient = apiFunc("delete_patient", "bigint", "int")                        // id, expected version (null = any)

	// Record history (migration 014): from the audit trail, newest first.
	FnPatientHistory = readFunc("patient_history", "bigint", "int", "int") // patient, limit, offset
	FnPatientVersion = readFunc("patient_version", "bigint", "int")        // patient, version
	FnDoctorHistory  = readFunc("doctor_history", "bigint", "int", "int")  // doctor, limit, offset
	FnDoctorVersion  = readFunc("doctor_version", "bigint", "int")         // doctor, version

	// The audit trail (migration 013).
	FnPatientAccessLog = readFunc("patient_access_log", "bigint", "int", "int")                   // patient, limit, offset
	FnAuditEvents      = apiFunc("audit_events", "bigint", "bigint", "timestamptz", "int", "int") // patient, user, since, limit, offset (admins)

	// Doctors.
	FnListDoctors  = readFunc("list_doctors", "text", "text", "int", "int") // specialization, search, limit, offset
	FnGetDoctor    = readFunc("get_doctor", "bigint")
	FnCreateDoctor = apiFunc("create_doctor", "text", "text")                  // name, specialization
	FnUpdateDoctor = apiFunc("update_doctor", "bigint", "text", "text", "int") // id, name, specialization (null = keep), expected version (null = any)
	FnDeleteDoctor = apiFunc("delete_doctor", "bigint", "int")                 // id, expected version (null = any)
	// Doctor accounts (migration 015, admins only).
	FnLinkDoctorAccount   = apiFunc("link_doctor_account", "bigint", "bigint") // doctor, user
	FnUnlinkDoctorAccount = apiFunc("unlink_doctor_account", "bigint")         // doctor

	// The care view: the patients mapped to the caller's doctor record.
	FnListCarePatients = readFunc("list_care_patients", "int", "int") // limit, offset
	FnGetCarePatient   = readFunc("get_care_patient", "bigint")       // id

	// Mappings.
	FnListMappings       = readFunc("list_mappings", "int", "int")
	FnGetMapping         = readFunc("get_mapping", "bigint")
	FnCreateMapping      = apiFunc("create_mapping", "bigint", "bigint") // patient, doctor
	FnDeleteMapping      = apiFunc("delete_mapping", "bigint")
	FnListPatientDoctors = readFunc("list_patient_doctors", "bigint", "int", "int") // patient, limit, offset
)

// fhirFunc is apiFunc for a function of schema fhir (sql/definitions/fhir.sql).
func fhirFunc(name string, read bool, types ...string) Func {
	f := schemaFunc("fhir", name, types...)
	f.read = read
	return f
}

// The fhir functions the /fhir routes call: each builds the FHIR JSON of
// one interaction. Searches and histories take the public base URL last.
var (
	FhirPatient        = fhirFunc("patient", true, "bigint")                                                                                    // id
	FhirPatientVread   = fhirFunc("patient_vread", true, "bigint", "int")                                                                       // id, version
	FhirPatientHistory = fhirFunc("patient_history", true, "bigint", "int", "int", "text")                                                      // id, count, offset, base
	FhirPatientSearch  = fhirFunc("patient_search", true, "bigint", "text", "text", "text", "timestamptz", "timestamptz", "int", "int", "text") // _id, name, name modifier, gender, updated from, updated before, count, offset, base
	FhirPatientCreate  = fhirFunc("patient_create", false, "jsonb")                                                                             // resource
	FhirPatientUpdate  = fhirFunc("patient_update", false, "bigint", "jsonb", "int")                                                            // id, resource, expected version (null = any)
	FhirPatientDelete  = fhirFunc("patient_delete", false, "bigint", "int")                                                                     // id, expected version (null = any)

	FhirPractitioner           = fhirFunc("practitioner", true, "bigint")                                              // id
	FhirPractitionerSearch     = fhirFunc("practitioner_search", true, "bigint", "text", "text", "int", "int", "text") // _id, name, name modifier, count, offset, base
	FhirPractitionerCreate     = fhirFunc("practitioner_create", false, "jsonb")                                       // resource
	FhirPractitionerUpdate     = fhirFunc("practitioner_update", false, "bigint", "jsonb", "int")                      // id, resource, expected version
	FhirPractitionerDelete     = fhirFunc("practitioner_delete", false, "bigint", "int")                               // id, expected version
	FhirPractitionerRole       = fhirFunc("practitioner_role", true, "bigint")                                         // id (the doctor's)
	FhirPractitionerRoleSearch = fhirFunc("practitioner_role_search", true, "bigint", "text", "int", "int", "text")    // practitioner, specialty, count, offset, base

	FhirCareTeam       = fhirFunc("care_team", true, "bigint")                                        // id (the mapping's)
	FhirCareTeamSearch = fhirFunc("care_team_search", true, "bigint", "bigint", "int", "int", "text") // patient, participant, count, offset, base
	FhirCareTeamCreate = fhirFunc("care_team_create", false, "jsonb")                                 // resource
	FhirCareTeamDelete = fhirFunc("care_team_delete", false, "bigint")                                // id

	FhirAuditEvent       = fhirFunc("audit_event", true, "bigint")                                                                                // id
	FhirAuditEventSearch = fhirFunc("audit_event_search", true, "bigint", "bigint", "timestamptz", "timestamptz", "bigint", "int", "int", "text") // patient, agent (user), date from, date before, newest event (_until), count, offset, base
)
