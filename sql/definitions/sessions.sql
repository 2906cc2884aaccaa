-- Logins and sessions: the login throttle, refresh tokens and the per-request session check.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_owner;

grant select, insert, update, delete on app.login_failures to healthcare_auth;

grant select, insert, update, delete on app.refresh_tokens to healthcare_auth;

drop policy if exists all_auth on app.login_failures;
create policy all_auth on app.login_failures for all to healthcare_auth
  using (true) with check (true);
comment on policy all_auth on app.login_failures is
  'Only the login functions owned by healthcare_auth (app.login_attempt, app.complete_login) touch the counters; no runtime role has any grant on this table.';

drop policy if exists all_auth on app.refresh_tokens;
create policy all_auth on app.refresh_tokens for all to healthcare_auth
  using (true) with check (true);
comment on policy all_auth on app.refresh_tokens is
  'Only the token functions owned by healthcare_auth touch refresh tokens; no runtime role has any grant on this table.';

set local role healthcare_auth;

create or replace function app.issue_refresh_token(p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone)
returns json
language sql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
  insert into app.refresh_tokens (jti, family, user_id, expires_at)
  values (p_jti, p_family, p_user_id, p_expires_at)
  returning json_build_object('jti', jti, 'family', family)
$$;
comment on function app.issue_refresh_token(bigint,uuid,uuid,timestamp with time zone) is
  'Records a refresh token issued at login. Security definer (owner healthcare_auth, policy refresh_tokens.all_auth).';
revoke all on function app.issue_refresh_token(bigint,uuid,uuid,timestamp with time zone) from public;

create or replace function app.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone)
returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_old app.refresh_tokens;
begin
  -- Row lock: two concurrent rotations of one token cannot both succeed.
  select * into v_old from app.refresh_tokens where jti = p_old_jti for update;
  if not found then
    return json_build_object('status', 'invalid');
  end if;
  if v_old.replaced_by is not null then
    -- Reuse of a rotated token: assume it was stolen and end the session.
    update app.refresh_tokens set revoked_at = now()
     where family = v_old.family and revoked_at is null;
    return json_build_object('status', 'reused');
  end if;
  if v_old.revoked_at is not null or v_old.expires_at <= now()
     or not exists (select from app.users u where u.id = v_old.user_id and u.is_active) then
    return json_build_object('status', 'invalid');
  end if;
  insert into app.refresh_tokens (jti, family, user_id, expires_at)
  values (p_new_jti, v_old.family, v_old.user_id, p_expires_at);
  update app.refresh_tokens set replaced_by = p_new_jti where jti = p_old_jti;
  return json_build_object('status', 'ok', 'user_id', v_old.user_id, 'family', v_old.family);
end
$$;
comment on function app.rotate_refresh_token(uuid,uuid,timestamp with time zone) is
  'Exchanges a refresh token for a new one of its family; a reused token revokes the family (status "reused", committed, not raised). Security definer (owner healthcare_auth, policy refresh_tokens.all_auth).';
revoke all on function app.rotate_refresh_token(uuid,uuid,timestamp with time zone) from public;
grant execute on function app.rotate_refresh_token(uuid,uuid,timestamp with time zone) to healthcare_access;

create or replace function app.revoke_refresh_token(p_jti uuid)
returns json
language sql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
  with revoked as (
    update app.refresh_tokens t set revoked_at = now()
     where t.family = (select family from app.refresh_tokens where jti = p_jti)
       and t.revoked_at is null
    returning 1
  )
  select json_build_object('revoked', exists (select from revoked))
$$;
comment on function app.revoke_refresh_token(uuid) is
  'Logout: revokes the token''s whole family (the session). Security definer (owner healthcare_auth, policy refresh_tokens.all_auth).';
revoke all on function app.revoke_refresh_token(uuid) from public;
grant execute on function app.revoke_refresh_token(uuid) to healthcare_access;

set local role healthcare_access;

create or replace function api.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone)
returns json
language sql volatile security definer
set search_path = pg_catalog, pg_temp
as $$ select app.rotate_refresh_token(p_old_jti, p_new_jti, p_expires_at) $$;
comment on function api.rotate_refresh_token(uuid,uuid,timestamp with time zone) is
  'POST /api/auth/refresh/: status ok, reused (family revoked) or invalid (REST server only).';
revoke all on function api.rotate_refresh_token(uuid,uuid,timestamp with time zone) from public;
grant execute on function api.rotate_refresh_token(uuid,uuid,timestamp with time zone) to healthcare_api;

create or replace function api.revoke_refresh_token(p_jti uuid)
returns json
language sql volatile security definer
set search_path = pg_catalog, pg_temp
as $$ select app.revoke_refresh_token(p_jti) $$;
comment on function api.revoke_refresh_token(uuid) is
  'POST /api/auth/logout/: revokes the session''s token family (REST server only).';
revoke all on function api.revoke_refresh_token(uuid) from public;
grant execute on function api.revoke_refresh_token(uuid) to healthcare_api;

set local role healthcare_auth;

create or replace function app.complete_login(p_username text, p_address text, p_user_id bigint,
                                              p_jti uuid, p_family uuid, p_expires_at timestamptz,
                                              p_new_hash text default null, p_old_hash text default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_account text := left(lower(coalesce(p_username, '')), 150);
  v_address text := left(coalesce(p_address, ''), 64);
begin
  -- The password was right: the pair starts afresh, and the address and
  -- the account's flood counter get back the attempt counted in advance.
  delete from app.login_failures f where f.scope = 'pair' and f.key = v_account || ' ' || v_address;
  update app.login_failures f set failures = greatest(f.failures - 1, 0)
   where (f.scope = 'address' and f.key = v_address) or (f.scope = 'account' and f.key = v_account);
  -- A hash in other argon2 parameters or a Django format is replaced by
  -- the server's fresh argon2id hash of the same password, unless the
  -- password changed since the server read the old one.
  if p_new_hash is not null then
    update app.users u set password_hash = p_new_hash
     where u.id = p_user_id and u.password_hash = p_old_hash;
  end if;
  return app.issue_refresh_token(p_user_id, p_jti, p_family, p_expires_at);
end
$$;
comment on function app.complete_login(text,text,bigint,uuid,uuid,timestamp with time zone,text,text) is
  'Login step 2, after the server verified the password: resets the account''s failure count, returns the address''s advance count, stores p_new_hash in place of p_old_hash when the server upgraded it, and records the refresh token. Security definer (owner healthcare_auth, policies login_failures.all_auth, users.update_auth and refresh_tokens.all_auth); healthcare_api only.';
revoke all on function app.complete_login(text,text,bigint,uuid,uuid,timestamp with time zone,text,text) from public;
grant execute on function app.complete_login(text,text,bigint,uuid,uuid,timestamp with time zone,text,text) to healthcare_access;

set local role healthcare_access;

create or replace function api.complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone,
                                              p_new_hash text default null, p_old_hash text default null)
returns json
language sql volatile security definer
set search_path = pg_catalog, pg_temp
as $$ select app.complete_login(p_username, p_address, p_user_id, p_jti, p_family, p_expires_at, p_new_hash, p_old_hash) $$;
comment on function api.complete_login(text,text,bigint,uuid,uuid,timestamp with time zone,text,text) is
  'POST /api/auth/login/ step 2 after a correct password: resets the throttle, upgrades the stored hash when the server sends a new one, and records the refresh token (REST server only).';
revoke all on function api.complete_login(text,text,bigint,uuid,uuid,timestamp with time zone,text,text) from public;
grant execute on function api.complete_login(text,text,bigint,uuid,uuid,timestamp with time zone,text,text) to healthcare_api;

set local role healthcare_auth;

create or replace function app.login_attempt(p_username text, p_address text, p_max_pair integer,
                                  p_max_address integer, p_max_flood integer, p_window_seconds integer) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  -- Usernames are at most 150 characters and addresses at most 64, so
  -- cutting longer input conflates nothing real and bounds the keys.
  v_account text := left(lower(coalesce(p_username, '')), 150);
  v_address text := left(coalesce(p_address, ''), 64);
  v_pair text := v_account || ' ' || v_address;
  v_window interval := make_interval(secs => greatest(coalesce(p_window_seconds, 1), 1));
  v_row app.login_failures;
  v_open boolean;
  v_pair_failures integer := 0;
  v_flood_retry double precision := 0;
  v_retry double precision := 0;
begin
  -- Make sure the three rows exist, then lock them in a fixed order
  -- (account, address, pair): concurrent attempts on one account or one
  -- address wait for each other and see each other's counts.
  insert into app.login_failures (scope, key)
  values ('account', v_account), ('address', v_address), ('pair', v_pair)
  on conflict (scope, key) do nothing;

  for v_row in
    select * from app.login_failures f
     where (f.scope = 'account' and f.key = v_account)
        or (f.scope = 'address' and f.key = v_address)
        or (f.scope = 'pair' and f.key = v_pair)
     order by f.scope
       for update
  loop
    v_open := v_row.window_start + v_window > now();
    continue when not v_open;
    if v_row.scope = 'pair' then
      v_pair_failures := v_row.failures;
      if v_row.failures >= p_max_pair then
        v_retry := greatest(v_retry, ceil(extract(epoch from v_row.window_start + v_window - now())));
      end if;
    elsif v_row.scope = 'address' then
      if v_row.failures >= p_max_address then
        v_retry := greatest(v_retry, ceil(extract(epoch from v_row.window_start + v_window - now())));
      end if;
    elsif v_row.failures >= p_max_flood then
      v_flood_retry := ceil(extract(epoch from v_row.window_start + v_window - now()));
    end if;
  end loop;
  -- Under a flood, an address that has failed against the account waits.
  if v_flood_retry > 0 and v_pair_failures > 0 then
    v_retry := greatest(v_retry, v_flood_retry);
  end if;

  if v_retry > 0 then
    -- Refused attempts are not counted: the lockout does not grow while a
    -- client keeps knocking.
    return json_build_object('throttled', true, 'retry_after', greatest(v_retry, 1)::integer);
  end if;

  update app.login_failures f
     set failures = case when f.window_start + v_window <= now() or f.failures = 0 then 1 else f.failures + 1 end,
         window_start = case when f.window_start + v_window <= now() or f.failures = 0 then now() else f.window_start end
   where (f.scope = 'account' and f.key = v_account)
      or (f.scope = 'address' and f.key = v_address)
      or (f.scope = 'pair' and f.key = v_pair);

  -- Now and then, forget windows that ended long ago, so the table holds
  -- only open windows.
  if random() < 0.01 then
    delete from app.login_failures f where f.window_start < now() - 2 * v_window;
  end if;

  return json_build_object('throttled', false, 'credentials', app.user_credentials(p_username));
end
$$;
comment on function app.login_attempt(text,text,integer,integer,integer,integer) is
  'Login step 1: refuses (throttled, retry_after seconds) when the (account, address) pair or the address has reached its failure limit in the current window, or when the account has reached the flood limit and this address already failed against it; otherwise counts the attempt as a failure of all three and returns the credentials. Security definer (owner healthcare_auth, policies login_failures.all_auth and users.select_auth).';
revoke all on function app.login_attempt(text,text,integer,integer,integer,integer) from public;
grant execute on function app.login_attempt(text,text,integer,integer,integer,integer) to healthcare_access;

set local role healthcare_access;

create or replace function api.login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer)
returns json
language sql volatile security definer
set search_path = pg_catalog, pg_temp
as $$ select app.login_attempt(p_username, p_address, p_max_pair, p_max_address, p_max_flood, p_window_seconds) $$;
comment on function api.login_attempt(text,text,integer,integer,integer,integer) is
  'POST /api/auth/login/ step 1: {"throttled":true,"retry_after":N} or {"throttled":false,"credentials":{...}|null} (REST server only).';
revoke all on function api.login_attempt(text,text,integer,integer,integer,integer) from public;
grant execute on function api.login_attempt(text,text,integer,integer,integer,integer) to healthcare_api;

set local role healthcare_auth;

-- Keys as app.login_attempt writes them: account, address, and the pair
-- "account address". Compared by prefix and suffix, not LIKE, since
-- usernames may hold _ and %.
create or replace function app.delete_login_failures(p_username text, p_address text)
returns integer
language sql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
  with a(account, address) as (
    select left(lower(nullif(p_username, '')), 150), left(nullif(p_address, ''), 64)
  ), deleted as (
    delete from app.login_failures f using a
     where (f.scope = 'account' and f.key = a.account)
        or (f.scope = 'address' and f.key = a.address)
        or (f.scope = 'pair' and (left(f.key, length(a.account) + 1) = a.account || ' '
                                  or right(f.key, length(a.address) + 1) = ' ' || a.address))
    returning 1
  )
  select count(*)::integer from deleted
$$;
comment on function app.delete_login_failures(text,text) is
  'Deletes the login throttle''s counters of an account (its own and its pairs with every address) and of an address (its own and its pairs with every account); returns how many. Security definer (owner healthcare_auth, policy login_failures.all_auth); only app.clear_login_throttle calls it.';
revoke all on function app.delete_login_failures(text,text) from public;
grant execute on function app.delete_login_failures(text,text) to healthcare_owner;

set local role healthcare_owner;

create or replace function app.clear_login_throttle(p_username text, p_address text)
returns integer
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_cleared integer;
begin
  if coalesce(p_username, '') = '' and coalesce(p_address, '') = '' then
    raise exception 'name an account, an address or both' using errcode = 'RINVL';
  end if;
  v_cleared := app.delete_login_failures(p_username, p_address);
  insert into audit.events (user_id, door, action, outcome, detail)
  values (null, 'admin', 'delete', 'ok',
          jsonb_build_object('object', 'login_throttle', 'username', nullif(p_username, ''),
                             'address', nullif(p_address, ''), 'cleared', v_cleared));
  return v_cleared;
end
$$;
comment on function app.clear_login_throttle(text,text) is
  'Clears the login throttle of an account, an address or both at once (`healthcare throttle clear`), and records it as an audit event (action delete, detail.object login_throttle, the counters cleared). Returns how many counters were cleared. The privileged connection only (healthcare_owner).';
revoke all on function app.clear_login_throttle(text,text) from public;
grant execute on function app.clear_login_throttle(text,text) to healthcare_owner;

set local role healthcare_auth;

-- It runs in every authenticated request, so it is one definer call (owned
-- by healthcare_auth, which reads the tokens through refresh_tokens.all_auth)
-- with a plan cached per session, not a definer calling another.
create or replace function api.require_session(p_family uuid)
returns boolean
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if p_family is null or exists (select from app.refresh_tokens t
                                  where t.family = p_family and t.revoked_at is null and t.expires_at > now()) then
    return true;
  end if;
  raise exception 'this session has ended; sign in again' using errcode = 'RUNAU';
end
$$;
comment on function api.require_session(uuid) is
  'Part of the identity statement of every REST request: error RUNAU (401) when the access token''s session was logged out, revoked or has expired; true otherwise (and for anonymous requests). Security definer (owner healthcare_auth, policy refresh_tokens.all_auth).';
revoke all on function api.require_session(uuid) from public;
grant execute on function api.require_session(uuid) to healthcare_api;

create or replace function app.end_user_sessions(p_user_id bigint)
returns integer
language sql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
  with revoked as (
    update app.refresh_tokens t set revoked_at = now()
     where t.user_id = p_user_id and t.revoked_at is null
    returning 1
  )
  select count(*)::integer from revoked
$$;
comment on function app.end_user_sessions(bigint) is
  'Ends every session of an account, as a logout does for one (`healthcare user deactivate`): its refresh tokens are revoked, so api.require_session refuses its access tokens at once. Returns how many tokens were live. Security definer (owner healthcare_auth, policy refresh_tokens.all_auth); the privileged connection only.';
revoke all on function app.end_user_sessions(bigint) from public;
grant execute on function app.end_user_sessions(bigint) to healthcare_owner;

reset role;
