package httpapi

import (
	"net/http"

	"healthcare/internal/database"
)

// doctorInput is the body of POST, PUT and PATCH /api/doctors/.
type doctorInput struct {
	Name           field[string] `json:"name"`
	Specialization field[string] `json:"specialization"`
}

// doctorArgs shape-checks in and returns name, specialization for the api
// function: nil for a field to keep. Blank and too long are the api
// function's to refuse (app.check_name).
func doctorArgs(in doctorInput, all bool) ([]any, error) {
	var v validator
	name := v.text("name", in.Name, all)
	spec := v.text("specialization", in.Specialization, all)
	if !all && len(v.errs) == 0 && name == nil && spec == nil {
		v.add("non_field_errors", "Provide at least one of name, specialization.")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return []any{orNil(name), orNil(spec)}, nil
}

// listDoctors is public: the directory is readable without a token.
func listDoctors(db *database.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, offset, err := page(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		var v validator
		spec := queryText(r, &v, "specialization")
		search := queryText(r, &v, "search")
		if err := v.err(); err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusOK, database.FnListDoctors, orNil(spec), orNil(search), limit, offset)
	})
}

func createDoctor(db *database.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := decode[doctorInput](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		args, err := doctorArgs(in, true)
		if err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusCreated, database.FnCreateDoctor, args...)
	})
}

// getDoctor answers with the doctor's ETag, or 304 when If-None-Match
// names its version.
func getDoctor(db *database.DB) http.Handler {
	return getRecord(db, database.FnGetDoctor)
}

// deleteDoctor deletes only the version If-Match names, when it names one.
func deleteDoctor(db *database.DB, requireIfMatch bool) http.Handler {
	return deleteRecord(db, database.FnDeleteDoctor, requireIfMatch)
}

// updateDoctor serves PUT (all fields) and PATCH (any non-empty subset),
// of the version If-Match names when it names one.
func updateDoctor(db *database.DB, all, requireIfMatch bool) http.Handler {
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
		in, err := decode[doctorInput](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		args, err := doctorArgs(in, all)
		if err != nil {
			writeError(w, r, err)
			return
		}
		callRecord(w, r, db, database.FnUpdateDoctor, id, args[0], args[1], version)
	})
}
