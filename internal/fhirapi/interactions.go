package fhirapi

import (
	"net/http"

	"healthcare/internal/database"
	"healthcare/internal/etags"
)

// The interactions, each one call of a fhir function: read, vread,
// history, search, create, update and delete of any resource type.

// handler is what a route runs (a server method, or one made below).
type handler = func(s *server, w http.ResponseWriter, r *http.Request, c call)

// read answers fn(id): the resource with its ETag, or 304.
func read(fn database.Func) handler {
	return func(s *server, w http.ResponseWriter, r *http.Request, c call) {
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
		body, err := s.opts.DB.Call(r.Context(), c.id, fn, id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeResource(w, r, http.StatusOK, body, nm)
	}
}

// vread answers fn(id, version).
func vread(fn database.Func) handler {
	return func(s *server, w http.ResponseWriter, r *http.Request, c call) {
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
		body, err := s.opts.DB.Call(r.Context(), c.id, fn, id, vid)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeResource(w, r, http.StatusOK, body, nm)
	}
}

// history answers fn(id, count, offset, base): a history Bundle.
func history(fn database.Func) handler {
	return func(s *server, w http.ResponseWriter, r *http.Request, c call) {
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
		s.bundle(w, r, c, fn, id, count, offset, s.base(r))
	}
}

// search answers fn(args..., count, offset, base): a searchset Bundle.
// args reads the route's own parameters.
func search(fn database.Func, params []SearchParam, args func(query) ([]any, error)) handler {
	return func(s *server, w http.ResponseWriter, r *http.Request, c call) {
		q := newQuery(r)
		if err := q.known(params); err != nil {
			writeError(w, r, err)
			return
		}
		a, err := args(q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		count, offset, err := q.page()
		if err != nil {
			writeError(w, r, err)
			return
		}
		s.bundle(w, r, c, fn, append(a, count, offset, s.base(r))...)
	}
}

// create answers fn(resource): 201 with Location to the new version.
func create(fn database.Func, resourceType string) handler {
	return func(s *server, w http.ResponseWriter, r *http.Request, c call) {
		body, err := s.readResource(w, r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		out, err := s.opts.DB.Call(r.Context(), c.id, fn, string(body))
		if err != nil {
			writeError(w, r, err)
			return
		}
		m := resourceMeta(out)
		w.Header().Set("Location", s.base(r)+"/"+resourceType+"/"+m.id+"/_history/"+m.version)
		s.written(w, r, http.StatusCreated, out)
	}
}

// update answers fn(id, resource, expected version from If-Match).
func update(fn database.Func) handler {
	return func(s *server, w http.ResponseWriter, r *http.Request, c call) {
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
		out, err := s.opts.DB.Call(r.Context(), c.id, fn, id, string(body), version)
		if err != nil {
			writeError(w, r, err)
			return
		}
		s.written(w, r, http.StatusOK, out)
	}
}

// remove answers fn(id[, expected version from If-Match]) with 204.
func remove(fn database.Func, versioned bool) handler {
	return func(s *server, w http.ResponseWriter, r *http.Request, c call) {
		id, err := pathID(c, "id")
		if err != nil {
			writeError(w, r, err)
			return
		}
		args := []any{id}
		if versioned {
			version, err := expectedVersion(r, s.opts.RequireIfMatch)
			if err != nil {
				writeError(w, r, err)
				return
			}
			args = append(args, version)
		}
		if _, err := s.opts.DB.Call(r.Context(), c.id, fn, args...); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
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
