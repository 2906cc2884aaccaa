package httpapi

import (
	"net/http"

	"healthcare/internal/database"
)

// patientInput is the body of POST, PUT and PATCH /api/patients/.
type patientInput struct {
	Name   field[string] `json:"name"`
	Age    field[int32]  `json:"age"` // the api functions' int: larger numbers are a type error
	Gender field[string] `json:"gender"`
}

// patientArgs shape-checks in and returns name, age, gender for the api
// function: nil for a field to keep. all means every field must be present
// (POST and PUT); gender may be left out on POST, meaning "unknown". The
// name's length, the age's range and the gender's values are checked by
// the api function (app.check_name, app.check_age, app.check_gender).
func patientArgs(in patientInput, create, all bool) ([]any, error) {
	var v validator
	name := v.text("name", in.Name, all)
	age := value(&v, "age", in.Age, all)
	gender := v.text("gender", in.Gender, all && !create)
	if !all && len(v.errs) == 0 && name == nil && age == nil && gender == nil {
		v.add("non_field_errors", "Provide at least one of name, age, gender.")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return []any{orNil(name), orNil(age), orNil(gender)}, nil
}

func listPatients(db *database.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, offset, err := page(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusOK, database.FnListPatients, limit, offset)
	})
}

func createPatient(db *database.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := decode[patientInput](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		args, err := patientArgs(in, true, true)
		if err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusCreated, database.FnCreatePatient, args...)
	})
}

// getPatient answers with the patient's ETag, or 304 when If-None-Match
// names its version.
func getPatient(db *database.DB) http.Handler {
	return getRecord(db, database.FnGetPatient)
}

// deletePatient deletes only the version If-Match names, when it names one.
func deletePatient(db *database.DB, requireIfMatch bool) http.Handler {
	return deleteRecord(db, database.FnDeletePatient, requireIfMatch)
}

// updatePatient serves PUT (all fields) and PATCH (any non-empty subset),
// of the version If-Match names when it names one.
func updatePatient(db *database.DB, all, requireIfMatch bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, err)
			return
		}
		version, err := expectedVersion(r, requireIfMatch)
		if err != nil {
			writeError(w, r, err)
			return
		}
		in, err := decode[patientInput](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		args, err := patientArgs(in, false, all)
		if err != nil {
			writeError(w, r, err)
			return
		}
		callRecord(w, r, db, database.FnUpdatePatient, id, args[0], args[1], args[2], version)
	})
}

// getRecord serves GET of one patient or doctor: with its ETag, or 304.
func getRecord(db *database.DB, fn database.Func) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, err)
			return
		}
		callRecord(w, r, db, fn, id)
	})
}

// deleteRecord serves DELETE of one patient or doctor, conditional on
// If-Match.
func deleteRecord(db *database.DB, fn database.Func, requireIfMatch bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, err)
			return
		}
		version, err := expectedVersion(r, requireIfMatch)
		if err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusNoContent, fn, id, version)
	})
}

// history serves a record's history (fn: id, limit, offset).
func history(db *database.DB, fn database.Func) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, err)
			return
		}
		limit, offset, err := page(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusOK, fn, id, limit, offset)
	})
}

// historyVersion serves one version of a record (fn: id, version).
func historyVersion(db *database.DB, fn database.Func) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, err)
			return
		}
		version, err := pathVersion(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusOK, fn, id, version)
	})
}

// byID serves the routes whose only input is the record id in the path.
func byID(db *database.DB, status int, fn database.Func) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, status, fn, id)
	})
}
