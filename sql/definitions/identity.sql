-- Who is calling: the identity read from the transaction's settings, the caller's door, and api.me.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_auth;

-- The lookups behind the identity, as definers: a psql login must find its
-- own account without seeing the others, so they run as healthcare_auth,
-- whose narrow policy select_auth lets it read app.users. Members of
-- healthcare_api (the REST server) are found by the transaction-local
-- app.user_id (primary key), everyone else by the account linked to their
-- login role (users_db_role_key). plpgsql keeps each branch's plan cached
-- in the session; a CASE inside one WHERE clause would scan every account.
create or replace function app.lookup_user_id()
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
comment on function app.lookup_user_id() is
  'The calling app user looked up in app.users: app.user_id for members of healthcare_api, the linked account of the login role otherwise; NULL when anonymous or inactive. Security definer (owner healthcare_auth, policy users.select_auth). app.current_user_id calls it unless api.begin_request already checked the REST caller.';
revoke all on function app.lookup_user_id() from public;
grant execute on function app.lookup_user_id() to healthcare_access, healthcare_owner;

create or replace function app.lookup_user_is_admin()
returns boolean
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  return coalesce((select u.is_admin from app.users u where u.id = app.lookup_user_id()), false);
end
$$;
comment on function app.lookup_user_is_admin() is
  'True when the caller (app.lookup_user_id) is an active admin. Security definer (owner healthcare_auth, policy users.select_auth).';
revoke all on function app.lookup_user_is_admin() from public;
grant execute on function app.lookup_user_is_admin() to healthcare_access;

-- The start of every REST request, its whole identity statement in one
-- definer call: the caller's settings, the session check (a logout or a
-- revocation takes effect on the next request at every server copy) and
-- the account check (an inactive or unknown user is anonymous). What it
-- checked it records as app.user_verified and app.user_admin, so the
-- identity functions that the policies call many times per request answer
-- from the settings without a definer call or an account lookup each.
-- p_lock_timeout bounds every lock wait of the request, so no REST call
-- waits long for a row another door's session holds (docs/design.md,
-- "Sealed doors"); p_client_request is the X-Request-Id a client sent,
-- kept apart from the server's own p_request. Both default to NULL (leave
-- lock_timeout as it is; no client id), so servers of the previous
-- release, which send six arguments, keep working during a rolling
-- upgrade.
create or replace function api.begin_request(p_user text, p_request text, p_statement_timeout text, p_session uuid,
                                             p_client_addr text, p_synchronous_commit text,
                                             p_lock_timeout text default null, p_client_request text default null)
returns boolean
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := nullif(p_user, '')::bigint;
  v_admin boolean := false;
begin
  if p_lock_timeout is not null then
    -- First, so the checks below wait no longer than the call itself.
    perform set_config('lock_timeout', p_lock_timeout, true);
  end if;
  if p_session is not null and not exists (select from app.refresh_tokens t
                                            where t.family = p_session and t.revoked_at is null and t.expires_at > now()) then
    raise exception 'this session has ended; sign in again' using errcode = 'RUNAU';
  end if;
  if v_uid is not null then
    select u.id, u.is_admin into v_uid, v_admin from app.users u where u.id = v_uid and u.is_active;
  end if;
  perform set_config('app.user_id', coalesce(v_uid::text, ''), true),
          set_config('app.user_verified', coalesce(v_uid::text, ''), true),
          set_config('app.user_admin', case when v_admin then 'on' else 'off' end, true),
          set_config('app.request_id', coalesce(p_request, ''), true),
          set_config('app.client_request_id', coalesce(p_client_request, ''), true),
          set_config('app.client_addr', coalesce(p_client_addr, ''), true),
          set_config('statement_timeout', p_statement_timeout, true);
  -- Empty: commit as the server is configured (writes); 'off' for reads.
  if p_synchronous_commit <> '' then
    perform set_config('synchronous_commit', p_synchronous_commit, true);
  end if;
  return true;
end
$$;
comment on function api.begin_request(text,text,text,uuid,text,text,text,text) is
  'The identity statement of every REST request: sets the caller''s transaction-local settings (the server''s request id, the client''s own X-Request-Id apart from it, statement and lock timeouts), refuses (RUNAU, 401) a session that was logged out, revoked or has expired, and treats an inactive or unknown user as anonymous. Security definer (owner healthcare_auth, policies users.select_auth and refresh_tokens.all_auth).';
revoke all on function api.begin_request(text,text,text,uuid,text,text,text,text) from public;
grant execute on function api.begin_request(text,text,text,uuid,text,text,text,text) to healthcare_api;

-- The identity, evaluated several times in every request (by
-- app.require_user and once per statement by each policy's sub-select).
-- Plain SQL with no settings of its own, so PostgreSQL inlines it: for a
-- REST request that api.begin_request checked, it reads the settings; for
-- anything else (a psql login, a caller that set app.user_id itself) it
-- asks the definer lookup, as before. Only members of healthcare_api reach
-- the settings: a psql login that sets app.user_id or app.user_verified
-- changes nothing. They keep healthcare_auth, their owner from when they
-- were definers, as owner: not a definer, the owner grants them nothing.
create or replace function app.current_user_id()
returns bigint
language sql stable
as $$
  select case
           when pg_catalog.pg_has_role(session_user, 'healthcare_api', 'member')
                and pg_catalog.current_setting('app.user_verified', true) = pg_catalog.current_setting('app.user_id', true)
             then nullif(pg_catalog.current_setting('app.user_id', true), '')::bigint
           else app.lookup_user_id()
         end
$$;
comment on function app.current_user_id() is
  'The calling app user, or NULL when anonymous or inactive: from the settings api.begin_request checked for a REST request, from app.lookup_user_id otherwise. Inlined by the planner.';
revoke all on function app.current_user_id() from public;
grant execute on function app.current_user_id() to healthcare_access, healthcare_owner, healthcare_auth;

create or replace function app.current_user_is_admin()
returns boolean
language sql stable
as $$
  select case
           when pg_catalog.pg_has_role(session_user, 'healthcare_api', 'member')
                and pg_catalog.current_setting('app.user_verified', true) = pg_catalog.current_setting('app.user_id', true)
             then pg_catalog.current_setting('app.user_admin', true) = 'on'
           else app.lookup_user_is_admin()
         end
$$;
comment on function app.current_user_is_admin() is
  'True when the caller is an active admin: from the settings api.begin_request checked for a REST request, from app.lookup_user_is_admin otherwise. Inlined by the planner.';
revoke all on function app.current_user_is_admin() from public;
grant execute on function app.current_user_is_admin() to healthcare_access;

set local role healthcare_owner;

create or replace function app.require_user() returns bigint
language plpgsql stable
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
  'The caller''s user id, or error RUNAU when anonymous. No settings of its own: its callers are definers that pin search_path.';
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
