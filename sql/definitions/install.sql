-- The product's functions, views, triggers, policies and grants: a tern code
-- package (`tern code install sql/definitions` applies it whole).
-- `healthcare migrate` applies it after the migrations, in the same
-- transaction, re-running only the definitions whose text changed.
-- Files are listed so that each definition comes after what it uses.

{{ template "base.sql" . }}
{{ template "identity.sql" . }}
{{ template "access_log.sql" . }}
{{ template "audit_trail.sql" . }}
{{ template "users.sql" . }}
{{ template "sessions.sql" . }}
{{ template "imports.sql" . }}
{{ template "doctors.sql" . }}
{{ template "patients.sql" . }}
{{ template "mappings.sql" . }}
{{ template "care.sql" . }}
{{ template "fhir.sql" . }}
{{ template "reporting.sql" . }}
