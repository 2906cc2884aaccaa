package fhirapi

import (
	"net/http"

	"healthcare/internal/database"
	"healthcare/internal/etags"
)

// The Patient interactions, each one call of a fhir.patient* function.

func (s *server) patientRead(w http.ResponseWriter, r *http.Request, c call) {
	id, err := pathID(c, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	nm, err := parseNoneMatch(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	body, err := s.opts.DB.Call(r.Context(), c.id, database.FhirPatient, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeResource(w, r, http.StatusOK, body, nm)
}

func (s *server) patientVread(w http.ResponseWriter, r *http.Request, c call) {
	id, err := pathID(c, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	vid, ok := etags.Version(c.params.ByName("vid"))
	if !ok {
		writeError(w, r, errNotFound)
		return
	}
	nm, err := parseNoneMatch(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	body, err := s.opts.DB.Call(r.Context(), c.id, database.FhirPatientVread, id, vid)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeResource(w, r, http.StatusOK, body, nm)
}

func (s *server) patientHistory(w http.ResponseWriter, r *http.Request, c call) {
	id, err := pathID(c, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := newQuery(r)
	if err := q.known(nil); err != nil {
		writeError(w, r, err)
		return
	}
	count, offset, err := q.page()
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.bundle(w, r, c, database.FhirPatientHistory, id, count, offset, s.base(r))
}

func (s *server) patientSearch(w http.ResponseWriter, r *http.Request, c call) {
	q := newQuery(r)
	args, err := patientSearchArgs(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.bundle(w, r, c, database.FhirPatientSearch, append(args, s.base(r))...)
}

// patientSearchArgs are fhir.patient_search's arguments but the base.
func patientSearchArgs(q query) ([]any, error) {
	if err := q.known(patientSearch); err != nil {
		return nil, err
	}
	id, err := q.id("_id")
	if err != nil {
		return nil, err
	}
	name, match, err := q.stringMatch("name")
	if err != nil {
		return nil, err
	}
	gender, err := q.text("gender")
	if err != nil {
		return nil, err
	}
	from, before, err := q.dateRange("_lastUpdated")
	if err != nil {
		return nil, err
	}
	count, offset, err := q.page()
	if err != nil {
		return nil, err
	}
	return []any{id, name, match, gender, from, before, count, offset}, nil
}

func (s *server) patientCreate(w http.ResponseWriter, r *http.Request, c call) {
	body, err := s.readResource(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out, err := s.opts.DB.Call(r.Context(), c.id, database.FhirPatientCreate, string(body))
	if err != nil {
		writeError(w, r, err)
		return
	}
	m := resourceMeta(out)
	w.Header().Set("Location", s.base(r)+"/Patient/"+m.id+"/_history/"+m.version)
	s.written(w, r, http.StatusCreated, out)
}

func (s *server) patientUpdate(w http.ResponseWriter, r *http.Request, c call) {
	id, err := pathID(c, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	version, err := expectedVersion(r, s.opts.RequireIfMatch)
	if err != nil {
		writeError(w, r, err)
		return
	}
	body, err := s.readResource(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out, err := s.opts.DB.Call(r.Context(), c.id, database.FhirPatientUpdate, id, string(body), version)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.written(w, r, http.StatusOK, out)
}

func (s *server) patientDelete(w http.ResponseWriter, r *http.Request, c call) {
	id, err := pathID(c, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	version, err := expectedVersion(r, s.opts.RequireIfMatch)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := s.opts.DB.Call(r.Context(), c.id, database.FhirPatientDelete, id, version); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// written answers a create or update: the resource, or with Prefer:
// return=minimal only its headers.
func (s *server) written(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	if preferMinimal(r) {
		versionHeaders(w, resourceMeta(body))
		w.WriteHeader(status)
		return
	}
	writeResource(w, r, status, body, noneMatch{})
}

// bundle makes a search's or history's one call and answers its Bundle.
func (s *server) bundle(w http.ResponseWriter, r *http.Request, c call, fn database.Func, args ...any) {
	body, err := s.opts.DB.Call(r.Context(), c.id, fn, args...)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeBody(w, http.StatusOK, body)
}
