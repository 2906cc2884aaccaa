package httpapi

import (
	"net/http"
	"strconv"

	"healthcare/internal/database"
)

// headerJSON is shared by every JSON response (see headerNosniff).
var headerJSON = []string{"application/json"}

// writeJSON writes body, the JSON text PostgreSQL produced, unchanged.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// identity is who the request acts for inside PostgreSQL.
func identity(r *http.Request) database.Identity {
	st := stateFrom(r.Context())
	return database.Identity{UserID: st.claims.UserID, RequestID: st.id, ClientRequestID: st.clientID,
		Session: st.claims.Family, ClientAddr: clientAddress(r, st.trusted)}
}

// callAPI makes the request's one database call and writes its result with
// status: 204 writes no body, and a SQL null (nothing to show) is a 404.
func callAPI(w http.ResponseWriter, r *http.Request, db *database.DB, status int, fn database.Func, args ...any) {
	body, err := db.Call(r.Context(), identity(r), fn, args...)
	if err != nil {
		writeError(w, r, err)
		return
	}
	switch {
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	case body == nil:
		writeError(w, r, errNotFound)
	default:
		writeJSON(w, status, body)
	}
}

// orNil turns an absent optional value into SQL NULL ("keep" / "no filter").
func orNil[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
