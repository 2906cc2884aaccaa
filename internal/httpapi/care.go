package httpapi

import (
	"net/http"

	"healthcare/internal/database"
)

// The care view: the patients mapped to the doctor record linked to the
// caller's account, read-only (migration 015). Which patients those are
// is PostgreSQL's to decide (the care policy on app.patients).

func listCarePatients(db *database.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, offset, err := page(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusOK, database.FnListCarePatients, limit, offset)
	})
}

func getCarePatient(db *database.DB) http.Handler {
	return byID(db, http.StatusOK, database.FnGetCarePatient)
}

// doctorAccountInput is the body of PUT /api/doctors/<id>/account/.
type doctorAccountInput struct {
	User field[int64] `json:"user"`
}

// linkDoctorAccount links a doctor record to a user account (admins only:
// the api function refuses everyone else).
func linkDoctorAccount(db *database.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			writeError(w, r, err)
			return
		}
		in, err := decode[doctorAccountInput](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		var v validator
		user := v.id("user", in.User)
		if err := v.err(); err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusOK, database.FnLinkDoctorAccount, id, user)
	})
}

func unlinkDoctorAccount(db *database.DB) http.Handler {
	return byID(db, http.StatusNoContent, database.FnUnlinkDoctorAccount)
}
