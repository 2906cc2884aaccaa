package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"healthcare/internal/database"
)

// patientAccessLog serves GET /api/patients/<id>/access-log/: who accessed
// the patient, newest first (owner and admins; the database decides and
// records the reading too).
func patientAccessLog(db *database.DB) http.Handler {
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
		callAPI(w, r, db, http.StatusOK, database.FnPatientAccessLog, id, limit, offset)
	})
}

// auditEvents serves GET /api/audit/events/?patient=&user=&since= (admins).
func auditEvents(db *database.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, offset, err := page(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		q := r.URL.Query()
		var v validator
		id := func(name string) any {
			s := q.Get(name)
			if s == "" {
				return nil
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 1 {
				v.add(name, "Enter a positive integer id.")
				return nil
			}
			return n
		}
		patient, user := id("patient"), id("user")
		var since any
		if s := q.Get("since"); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				v.add("since", "Enter a date and time in RFC 3339 form, such as 2026-01-31T09:00:00Z.")
			} else {
				since = t
			}
		}
		if err := v.err(); err != nil {
			writeError(w, r, err)
			return
		}
		callAPI(w, r, db, http.StatusOK, database.FnAuditEvents, patient, user, since, limit, offset)
	})
}
