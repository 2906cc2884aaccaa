package httpapi

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"healthcare/internal/auth"
	"healthcare/internal/database"
	"healthcare/internal/openapi"
)

// addRoutes is the whole API surface, readable top to bottom. Paths keep
// the seed's trailing slashes. Path ids that are not positive int64s are
// 404, like the seed's <int:pk> URL patterns.
func addRoutes(r *httprouter.Router, opts Options, db *database.DB, tokens *auth.Tokens, hasher *auth.Hasher) {
	a := authenticator{tokens: tokens}
	handle := func(method, pattern string, h http.Handler) {
		r.Handle(method, pattern, route(pattern, h))
	}
	const (
		get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
	)

	// Operations.
	handle(get, "/healthz", healthz())
	handle(get, "/readyz", readyz(db, opts.Ready, opts.Draining))
	if opts.Metrics != nil {
		handle(get, "/metrics", opts.Metrics)
	}

	// The OpenAPI 3.1 document describing every route below.
	handle(get, openapi.Path, openapi.Handler())

	// Accounts and tokens.
	handle(post, "/api/auth/register/", register(db, hasher))
	handle(post, "/api/auth/login/", login(db, tokens, hasher, opts.LoginThrottle.withDefaults(), opts.TrustedProxies))
	handle(post, "/api/auth/refresh/", refresh(db, tokens))
	handle(post, "/api/auth/logout/", logout(db, tokens))
	handle(get, "/api/auth/me/", a.Require(me(db)))

	// Patients: private to their owner (and admins).
	handle(get, "/api/patients/", a.Require(listPatients(db)))
	handle(post, "/api/patients/", a.Require(createPatient(db)))
	handle(get, "/api/patients/:id/", a.Require(getPatient(db)))
	handle(put, "/api/patients/:id/", a.Require(updatePatient(db, true)))
	handle(patch, "/api/patients/:id/", a.Require(updatePatient(db, false)))
	handle(del, "/api/patients/:id/", a.Require(deletePatient(db)))

	// Doctors: a public directory; writes need a token.
	handle(get, "/api/doctors/", a.Optional(listDoctors(db)))
	handle(post, "/api/doctors/", a.Require(createDoctor(db)))
	handle(get, "/api/doctors/:id/", a.Optional(getDoctor(db)))
	handle(put, "/api/doctors/:id/", a.Require(updateDoctor(db, true)))
	handle(patch, "/api/doctors/:id/", a.Require(updateDoctor(db, false)))
	handle(del, "/api/doctors/:id/", a.Require(deleteDoctor(db)))

	// Mappings. The seed's /api/mappings/patient/<patient_id>/ shares its
	// first segment with /api/mappings/<id>/, which httprouter cannot
	// express; patientDoctors checks that the segment is "patient".
	handle(get, "/api/mappings/", a.Require(listMappings(db)))
	handle(post, "/api/mappings/", a.Require(createMapping(db)))
	handle(get, "/api/mappings/:id/", a.Require(getMapping(db)))
	handle(del, "/api/mappings/:id/", a.Require(deleteMapping(db)))
	r.Handle(get, "/api/mappings/:id/:patient_id/",
		route("/api/mappings/patient/:patient_id/", a.Require(patientDoctors(db))))
}
