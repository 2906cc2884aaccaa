-- The REST identity is checked once per request, by api.begin_request
-- (sql/definitions/identity.sql), and app.current_user_id and
-- app.current_user_is_admin become plain SQL that the planner inlines into
-- the policies: they are no longer security definers, so they pass to the
-- owner of the other plain functions. The lookups they fall back on are the
-- definers app.lookup_user_id and app.lookup_user_is_admin, owned by
-- healthcare_auth as before.
--
-- api.require_session stays for one release: servers of the previous
-- release call it in their identity statement while a rolling upgrade
-- replaces them (docs/design.md, "Migrations and definitions").

alter function app.current_user_id() owner to healthcare_owner;
alter function app.current_user_is_admin() owner to healthcare_owner;
