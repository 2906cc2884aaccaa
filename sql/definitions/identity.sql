-- Who is calling: the identity read from the transaction's settings, the caller's door, and api.me.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_auth;

-- The identity function, evaluated several times in every request (by
-- app.require_user and once per statement by each policy's sub-select), so
-- each door is a lookup by index: members of healthcare_api by the
-- transaction-local app.user_id (primary key), everyone else by the account
-- linked to their login role (users_db_role_key). plpgsql keeps each
-- branch's plan cached in the session; a CASE inside one WHERE clause would
-- scan every account on every call. Security definer because a psql login
-- must find its own link without seeing other accounts; owned by
-- healthcare_auth, whose narrow policy select_auth lets it read app.users.
create or replace function app.current_user_id()
returns bigint
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if pg_catalog.pg_has_role(session_user, 'healthcare_api', 'member') then
    return (select u.id
              from app.users u
             where u.id = nullif(pg_catalog.current_setting('app.user_id', true), '')::bigint
               and u.is_active);
  end if;
  return (select u.id
            from app.users u
           where u.db_role = session_user
             and u.is_active);
end
$$;
comment on function app.current_user_id() is
  'The calling app user: app.user_id for members of healthcare_api, the linked account of the login role otherwise; NULL when anonymous or inactive. Security definer (owner healthcare_auth, policy users.select_auth) so the lookup sees the account row.';
revoke all on function app.current_user_id() from public;
grant execute on function app.current_user_id() to healthcare_access, healthcare_owner;

-- plpgsql, so its lookup is planned once per session.
create or replace function app.current_user_is_admin()
returns boolean
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  return coalesce((select u.is_admin from app.users u where u.id = app.current_user_id()), false);
end
$$;
comment on function app.current_user_is_admin() is
  'True when the caller is an active admin. Security definer (owner healthcare_auth, policy users.select_auth).';
revoke all on function app.current_user_is_admin() from public;
grant execute on function app.current_user_is_admin() to healthcare_access;

set local role healthcare_owner;

create or replace function app.require_user() returns bigint
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.current_user_id();
begin
  if v_uid is null then
    raise exception 'authentication credentials were not provided' using errcode = 'RUNAU';
  end if;
  return v_uid;
end
$$;
comment on function app.require_user() is
  'The caller''s user id, or error RUNAU when anonymous.';
revoke all on function app.require_user() from public;
grant execute on function app.require_user() to healthcare_access;

set local role healthcare_access;

create or replace function api.me()
returns json
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_result json;
begin
  select json_build_object('id', u.id, 'username', u.username, 'email', u.email,
                           'is_admin', u.is_admin, 'date_joined', u.date_joined)
    into v_result
    from app.users u
   where u.id = v_uid;
  return v_result;
end
$$;
comment on function api.me() is
  'GET /api/auth/me/: the caller''s account.';
revoke all on function api.me() from public;
grant execute on function api.me() to healthcare_api, healthcare_user;

set local role healthcare_owner;

-- plpgsql, so its catalog lookups are planned once per session: it runs
-- for every event.
create or replace function app.current_door() returns text
language plpgsql stable
as $$
begin
  -- The REST server's login sets a request id on every call; the common
  -- case is answered without a catalog lookup.
  if pg_catalog.current_setting('app.request_id', true) <> ''
     and pg_catalog.pg_has_role(session_user, 'healthcare_api', 'member') then
    return 'rest';
  end if;
  -- Superusers are members of every role: ask about them before the rest.
  if (select r.rolsuper from pg_catalog.pg_roles r where r.rolname = session_user) then
    return 'admin';
  elsif pg_catalog.pg_has_role(session_user, 'healthcare_api', 'member') then
    return 'rest';
  elsif pg_catalog.pg_has_role(session_user, 'healthcare_user', 'member') then
    return 'psql';
  end if;
  return 'admin';
end
$$;
comment on function app.current_door() is
  'The door of the current session: rest (the server''s login), psql (a personal login) or admin (a superuser or the privileged connection).';
revoke all on function app.current_door() from public;
grant execute on function app.current_door() to healthcare_access;

set local role healthcare_auth;

create or replace function app.current_doctor_id()
returns bigint
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.current_user_id();
begin
  if v_uid is null then
    return null;
  end if;
  return (select d.id from app.doctors d where d.account_id = v_uid);
end
$$;
comment on function app.current_doctor_id() is
  'The doctor record linked to the caller''s account, or NULL. Security definer (owner healthcare_auth, policy doctors.select_auth); a lookup by doctors_account_id_key.';
revoke all on function app.current_doctor_id() from public;
grant execute on function app.current_doctor_id() to healthcare_access;

reset role;
