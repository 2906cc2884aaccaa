-- Throttling that cannot lock the owner out, and logout that ends the
-- session at once.
--
-- Throttle. Failed logins used to count per account from any address, so
-- five wrong passwords from anywhere locked the owner out for the window.
-- Now they count per (account, address) pair: the pair's limit is what
-- LOGIN_MAX_FAILURES_PER_ACCOUNT configures. A flood against one account
-- from many addresses is still slowed: once the account has collected
-- p_max_flood failures in the window, every address that has already failed
-- against it is refused at once (429), so each address gets one guess per
-- window instead of several, while the owner, logging in from an address
-- that has not failed, is never refused. The per-address limit across
-- accounts stays as it was.
--
-- Sessions. An access token now names its session (the refresh token
-- family it was issued with), and the server's identity statement calls
-- api.require_session, which refuses a session that was logged out or
-- revoked for reuse: the very next request with any of its access tokens
-- gets 401, at every server copy sharing the database.

set local role healthcare_owner;

alter table app.login_failures drop constraint login_failures_scope_check;
alter table app.login_failures add constraint login_failures_scope_check
  check (scope in ('account', 'address', 'pair'));
comment on column app.login_failures.scope is
  'What is counted: pair (an account from one address), address (a client address, any account) or account (any address: the flood counter).';
comment on column app.login_failures.key is
  'lower(username) for account, the client address for address, both for pair: personal data, kept only while a window is open.';

reset role;

set local role healthcare_auth;

drop function app.login_attempt(text, text, integer, integer, integer);

create function app.login_attempt(p_username text, p_address text, p_max_pair integer,
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
comment on function app.login_attempt(text, text, integer, integer, integer, integer) is
  'Login step 1: refuses (throttled, retry_after seconds) when the (account, address) pair or the address has reached its failure limit in the current window, or when the account has reached the flood limit and this address already failed against it; otherwise counts the attempt as a failure of all three and returns the credentials. Security definer (owner healthcare_auth, policies login_failures.all_auth and users.select_auth).';

create or replace function app.complete_login(p_username text, p_address text, p_user_id bigint,
                                              p_jti uuid, p_family uuid, p_expires_at timestamptz) returns json
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
  return app.issue_refresh_token(p_user_id, p_jti, p_family, p_expires_at);
end
$$;

revoke all on function app.login_attempt(text, text, integer, integer, integer, integer) from public;
grant execute on function app.login_attempt(text, text, integer, integer, integer, integer) to healthcare_access;

reset role;

set local role healthcare_owner;

drop function api.login_attempt(text, text, integer, integer, integer);

create function api.login_attempt(p_username text, p_address text, p_max_pair integer,
                                  p_max_address integer, p_max_flood integer, p_window_seconds integer) returns json
language sql volatile
set search_path = pg_catalog, pg_temp
as $$ select app.login_attempt(p_username, p_address, p_max_pair, p_max_address, p_max_flood, p_window_seconds) $$;
comment on function api.login_attempt(text, text, integer, integer, integer, integer) is
  'POST /api/auth/login/ step 1: {"throttled":true,"retry_after":N} or {"throttled":false,"credentials":{...}|null} (REST server only).';

-- It runs in every authenticated request, so it is one definer call (owned
-- by healthcare_auth, which reads the tokens through refresh_tokens.all_auth)
-- with a plan cached per session, not a definer calling another.
create function api.require_session(p_family uuid) returns boolean
language plpgsql stable
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

revoke all on function api.login_attempt(text, text, integer, integer, integer, integer), api.require_session(uuid) from public;
grant execute on function api.login_attempt(text, text, integer, integer, integer, integer), api.require_session(uuid)
  to healthcare_api;
alter function api.login_attempt(text, text, integer, integer, integer, integer) security definer;
alter function api.require_session(uuid) security definer;
alter function api.login_attempt(text, text, integer, integer, integer, integer) owner to healthcare_access;
reset role;
grant usage, create on schema api to healthcare_auth;
set local role healthcare_owner;
alter function api.require_session(uuid) owner to healthcare_auth;

reset role;

---- create above / drop below ----

set local role healthcare_owner;
drop function api.login_attempt(text, text, integer, integer, integer, integer);
reset role;
set local role healthcare_auth;
drop function api.require_session(uuid);
reset role;
revoke usage, create on schema api from healthcare_auth;

set local role healthcare_auth;
drop function app.login_attempt(text, text, integer, integer, integer, integer);

create function app.login_attempt(p_username text, p_address text, p_max_account integer,
                                  p_max_address integer, p_window_seconds integer) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_account text := left(lower(coalesce(p_username, '')), 150);
  v_address text := left(coalesce(p_address, ''), 64);
  v_window interval := make_interval(secs => greatest(coalesce(p_window_seconds, 1), 1));
  v_row app.login_failures;
  v_limit integer;
  v_retry double precision := 0;
begin
  insert into app.login_failures (scope, key)
  values ('account', v_account), ('address', v_address)
  on conflict (scope, key) do nothing;
  for v_row in
    select * from app.login_failures f
     where (f.scope = 'account' and f.key = v_account) or (f.scope = 'address' and f.key = v_address)
     order by f.scope
       for update
  loop
    v_limit := p_max_address;
    if v_row.scope = 'account' then
      v_limit := p_max_account;
    end if;
    if v_row.window_start + v_window > now() and v_row.failures >= v_limit then
      v_retry := greatest(v_retry, ceil(extract(epoch from v_row.window_start + v_window - now())));
    end if;
  end loop;
  if v_retry > 0 then
    return json_build_object('throttled', true, 'retry_after', greatest(v_retry, 1)::integer);
  end if;
  update app.login_failures f
     set failures = case when f.window_start + v_window <= now() or f.failures = 0 then 1 else f.failures + 1 end,
         window_start = case when f.window_start + v_window <= now() or f.failures = 0 then now() else f.window_start end
   where (f.scope = 'account' and f.key = v_account) or (f.scope = 'address' and f.key = v_address);
  if random() < 0.01 then
    delete from app.login_failures f where f.window_start < now() - 2 * v_window;
  end if;
  return json_build_object('throttled', false, 'credentials', app.user_credentials(p_username));
end
$$;

create or replace function app.complete_login(p_username text, p_address text, p_user_id bigint,
                                              p_jti uuid, p_family uuid, p_expires_at timestamptz) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  delete from app.login_failures f where f.scope = 'account' and f.key = left(lower(coalesce(p_username, '')), 150);
  update app.login_failures f set failures = greatest(f.failures - 1, 0)
   where f.scope = 'address' and f.key = left(coalesce(p_address, ''), 64);
  return app.issue_refresh_token(p_user_id, p_jti, p_family, p_expires_at);
end
$$;
revoke all on function app.login_attempt(text, text, integer, integer, integer) from public;
grant execute on function app.login_attempt(text, text, integer, integer, integer) to healthcare_access;
delete from app.login_failures where scope = 'pair';
reset role;

set local role healthcare_owner;
create function api.login_attempt(p_username text, p_address text, p_max_account integer,
                                  p_max_address integer, p_window_seconds integer) returns json
language sql volatile
set search_path = pg_catalog, pg_temp
as $$ select app.login_attempt(p_username, p_address, p_max_account, p_max_address, p_window_seconds) $$;
revoke all on function api.login_attempt(text, text, integer, integer, integer) from public;
grant execute on function api.login_attempt(text, text, integer, integer, integer) to healthcare_api;
alter function api.login_attempt(text, text, integer, integer, integer) security definer;
alter function api.login_attempt(text, text, integer, integer, integer) owner to healthcare_access;
alter table app.login_failures drop constraint login_failures_scope_check;
alter table app.login_failures add constraint login_failures_scope_check check (scope in ('account', 'address'));
reset role;
