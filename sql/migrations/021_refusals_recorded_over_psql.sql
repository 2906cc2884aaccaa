-- Refused attempts at the psql door are recorded by a connection of their
-- own (docs/design.md, "The audit trail"): app.refuse raises the refusal
-- there, which rolls the caller's transaction back, so the event is
-- written and committed through dblink, back into this database.
--
-- * healthcare_refusal_link (no login) owns the one function that opens
--   that connection (app.record_refusal_elsewhere) and may use dblink's
--   connect, query and disconnect. Nobody logs in as it.
-- * healthcare_refusal_writer is the login that connection uses. It may
--   only execute app.write_refusal, which inserts one psql refusal event.
--   It is created NOLOGIN, and becomes a login only where this migration
--   runs as a superuser, which is also what creating dblink takes (dblink
--   is not a trusted extension). Otherwise docs/operations.md gives the
--   statements to run once as a superuser; until then refusals at the
--   psql door still fail, and go to the server log instead of the trail.
-- * dblink lives in its own schema, refusal_link, which no runtime role
--   may use, and none of its functions stays executable by PUBLIC.

do $$
declare
  v_super boolean := (select rolsuper from pg_catalog.pg_roles where rolname = current_user);
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'healthcare_refusal_link') then
    begin
      -- inherit: it reads the socket directory through pg_read_all_settings.
      create role healthcare_refusal_link nologin nosuperuser nocreatedb nocreaterole inherit nobypassrls;
    exception when duplicate_object or unique_violation then
      null; -- created concurrently by a migration of another database
    end;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'healthcare_refusal_writer') then
    begin
      create role healthcare_refusal_writer nologin nosuperuser nocreatedb nocreaterole noinherit nobypassrls
        connection limit 5;
    exception when duplicate_object or unique_violation then
      null;
    end;
  end if;
  -- The refusal's own connection ends quickly or not at all.
  alter role healthcare_refusal_writer set statement_timeout = '5s';
  alter role healthcare_refusal_writer set lock_timeout = '2s';
  alter role healthcare_refusal_writer set idle_in_transaction_session_timeout = '5s';

  create schema refusal_link authorization healthcare_owner;
  comment on schema refusal_link is
    'dblink (PostgreSQL contrib), when a superuser installed it: the connection app.record_refusal_elsewhere opens to record a psql refusal. Only healthcare_refusal_link may use it.';
  grant usage on schema refusal_link to healthcare_refusal_link;
  grant usage on schema app to healthcare_refusal_writer;
  grant usage, create on schema app to healthcare_refusal_link;

  if exists (select from pg_catalog.pg_extension where extname = 'dblink') then
    -- Installed already, for something else: left where it is.
    raise notice 'dblink is already installed in another schema: refusals at the psql door go to the server log, not the audit trail, until it is in schema refusal_link (docs/operations.md, "Refusals at the psql door")';
    if not v_super then
      grant healthcare_refusal_link to healthcare_owner;
    end if;
  elsif v_super and exists (select from pg_catalog.pg_available_extensions where name = 'dblink') then
    create extension if not exists dblink schema refusal_link;
    revoke all on all functions in schema refusal_link from public;
    grant execute on function refusal_link.dblink_connect_u(text, text), refusal_link.dblink(text, text),
                              refusal_link.dblink_disconnect(text), refusal_link.dblink_get_connections()
       to healthcare_refusal_link;
    -- The socket directory, where the connection goes, is a setting only
    -- superusers and this role read.
    grant pg_read_all_settings to healthcare_refusal_link;
    alter role healthcare_refusal_writer login;
  elsif v_super then
    raise notice 'dblink is not available on this server (install PostgreSQL''s contrib, e.g. postgresql-contrib): refusals at the psql door go to the server log, not the audit trail, until the statements in docs/operations.md ("Refusals at the psql door") are run';
  else
    -- The owner defines the link's function as its owner; a superuser
    -- does not need the membership.
    grant healthcare_refusal_link to healthcare_owner;
    raise notice 'dblink not installed (creating it takes a superuser): refusals at the psql door go to the server log, not the audit trail, until the statements in docs/operations.md ("Refusals at the psql door") are run';
  end if;
end
$$;
