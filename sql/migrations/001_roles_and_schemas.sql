-- Roles and schemas: the identity model of docs/design.md.
--
-- Roles are cluster-wide, so every role is created only when missing: a second
-- database on the same cluster, or a second run, must not fail. No role made
-- here can log in; login roles (the server's, personal psql logins, reporting
-- logins) are created by a DBA and made members of one group.
--
--   healthcare_owner      owns every schema, table and function
--   healthcare_api        group of the REST server's login role; the only
--                         role whose app.user_id setting is trusted
--   healthcare_user       group of personal psql logins linked to app users
--   healthcare_reporting  group of reporting logins: reporting views only
--   healthcare_auth       internal: owns the security definer functions that
--                         must read accounts and tokens beyond the caller's rows
--   healthcare_reporter   internal: owns the reporting views, which count
--                         across all owners
--
-- The migrating connection must be a superuser or hold CREATEROLE.

do $$
declare
  v_role text;
begin
  foreach v_role in array array['healthcare_owner', 'healthcare_api', 'healthcare_user',
                                'healthcare_reporting', 'healthcare_auth', 'healthcare_reporter']
  loop
    if not exists (select from pg_catalog.pg_roles where rolname = v_role) then
      begin
        execute format('create role %I nologin nosuperuser nocreatedb nocreaterole noinherit nobypassrls', v_role);
      exception when duplicate_object or unique_violation then
        null; -- created concurrently by a migration of another database
      end;
    end if;
  end loop;
  -- A non-superuser migrator must be able to act as the owner.
  if not (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then
    execute format('grant healthcare_owner to %I', current_user);
  end if;
end
$$;

-- The owner hands definer functions and reporting views to the two internal
-- roles, which needs membership in them.
grant healthcare_auth, healthcare_reporter to healthcare_owner;

create schema app authorization healthcare_owner;
create schema api authorization healthcare_owner;
create schema reporting authorization healthcare_owner;

comment on schema app is 'Tables, policies and private helpers. Row-level security decides every row anyone sees.';
comment on schema api is 'One function per REST operation; psql users call the same functions and get the same JSON.';
comment on schema reporting is 'De-identified aggregate views for reporting tools; small counts are suppressed.';

grant usage on schema app to healthcare_api, healthcare_user, healthcare_auth, healthcare_reporter;
grant create on schema app to healthcare_auth;
grant usage on schema api to healthcare_api, healthcare_user;
grant usage on schema reporting to healthcare_reporting;
grant create on schema reporting to healthcare_reporter;

-- Functions are not executable by PUBLIC unless a migration grants it.
alter default privileges for role healthcare_owner revoke execute on functions from public;
alter default privileges for role healthcare_auth revoke execute on functions from public;

---- create above / drop below ----

drop schema reporting cascade;
drop schema api cascade;
drop schema app cascade;
