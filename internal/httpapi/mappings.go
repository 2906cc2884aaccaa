package httpapi

import (
	"net/http"

	"healthcare/internal/database"
)

// mappingInput is the body of POST /api/mappings/.
type mappingInput struct {
	Patient field[int64] `json:"patient"`
	Doctor  field[int64] `json:"doctor"`
}

func listMappings(db *database.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, offset, err := page(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusOK, database.FnListMappings, limit, offset)
	})
}

func createMapping(db *database.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := decode[mappingInput](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		var v validator
		patient := v.id("patient", in.Patient)
		doctor := v.id("doctor", in.Doctor)
		if err := v.err(); err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusCreated, database.FnCreateMapping, patient, doctor)
	})
}

func getMapping(db *database.DB) http.Handler {
	return byID(db, http.StatusOK, database.FnGetMapping)
}

func deleteMapping(db *database.DB) http.Handler {
	return byID(db, http.StatusNoContent, database.FnDeleteMapping)
}

// patientDoctors serves /api/mappings/patient/:patient_id/. httprouter
// cannot hold a static "patient" segment beside the :id wildcard, so the
// route is registered as /api/mappings/:id/:patient_id/ and every first
// segment other than "patient" is a 404.
func patientDoctors(db *database.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pathParam(r, "id") != "patient" {
			writeError(w, r, errNotFound)
			return
		}
		id, err := pathID(r, "patient_id")
		if err != nil {
			writeError(w, r, err)
			return
		}
		limit, offset, err := page(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusOK, database.FnListPatientDoctors, id, limit, offset)
	})
}
