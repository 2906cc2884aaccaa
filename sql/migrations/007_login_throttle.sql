-- Login throttling, held in PostgreSQL so it holds across every server copy.
--
-- Failed logins are counted per account (lower(username)) and per client
-- address in fixed windows. Once either count reaches its limit, further
-- attempts are refused (HTTP 429 with Retry-After) until the window that
-- started with the first failure ends. A successful login resets the
-- account's count.
--
-- Every attempt is counted as a failure *before* the password is checked
-- (the check happens in the server, after this transaction commits), and the
-- row locks taken here serialize attempts on the same account or address. So
-- concurrent guesses cannot all slip under the limit; a success takes its
-- attempt back. The limits are arguments: the server passes them from its
-- configuration, and only healthcare_api may call these functions.
--
-- One round trip on failure: api.login_attempt checks the throttle, counts
-- the attempt and returns the stored credentials together. One more on
-- success: api.complete_login resets the count and records the refresh token.

set local role healthcare_owner;

create table app.login_failures (
  scope text not null
    constraint login_failures_scope_check check (scope in ('account', 'address')),
  key text not null,
  failures integer not null default 0,
  window_start timestamptz not null default now(),
  primary key (scope, key)
);

comment on table app.login_failures is
  'Login attempts counted per account (lower(username)) and per client address, in fixed windows; read and written only by the login functions owned by healthcare_auth.';
comment on column app.login_failures.key is
  'lower(username) for scope account, the client address for scope address: personal data, kept only while a window is open.';
comment on column app.login_failures.scope is 'What is counted: account (a username) or address (a client address).';
comment on column app.login_failures.failures is 'Attempts counted in the current window; a correct password takes its attempt back.';
comment on column app.login_failures.window_start is
  'Time of the first counted failure of the current window; the window ends window_start + the configured length later.';

alter table app.login_failures enable row level security;
alter table app.login_failures force row level security;

grant select, insert, update, delete on app.login_failures to healthcare_auth;

create policy all_auth on app.login_failures for all to healthcare_auth
  using (true) with check (true);
comment on policy all_auth on app.login_failures is
  'Only the login functions owned by healthcare_auth (app.login_attempt, app.complete_login) touch the counters; no runtime role has any grant on this table.';

create function app.login_attempt(p_username text, p_address text, p_max_account integer,
                                  p_max_address integer, p_window_seconds integer) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  -- Usernames are at most 150 characters, so cutting longer input conflates
  -- nothing real and bounds the key.
  v_account text := left(lower(coalesce(p_username, '')), 150);
  v_address text := left(coalesce(p_address, ''), 64);
  v_window interval := make_interval(secs => greatest(coalesce(p_window_seconds, 1), 1));
  v_row app.login_failures;
  v_limit integer;
  v_retry double precision := 0;
begin
  -- Make sure both rows exist, then lock them in a fixed order (account
  -- before address): concurrent attempts on one account or one address wait
  -- for each other and see each other's counts.
  insert into app.login_failures (scope, key)
  values ('account', v_account), ('address', v_address)
  on conflict (scope, key) do nothing;

  for v_row in
    select * from app.login_failures f
     where (f.scope = 'account' and f.key = v_account) or (f.scope = 'address' and f.key = v_address)
     order by f.scope
       for update
  loop
    -- (A CASE expression here would end the IF condition at its THEN.)
    v_limit := p_max_address;
    if v_row.scope = 'account' then
      v_limit := p_max_account;
    end if;
    if v_row.window_start + v_window > now() and v_row.failures >= v_limit then
      v_retry := greatest(v_retry, ceil(extract(epoch from v_row.window_start + v_window - now())));
    end if;
  end loop;

  if v_retry > 0 then
    -- Refused attempts are not counted: the lockout does not grow while a
    -- client keeps knocking.
    return json_build_object('throttled', true, 'retry_after', greatest(v_retry, 1)::integer);
  end if;

  update app.login_failures f
     set failures = case when f.window_start + v_window <= now() or f.failures = 0 then 1 else f.failures + 1 end,
         window_start = case when f.window_start + v_window <= now() or f.failures = 0 then now() else f.window_start end
   where (f.scope = 'account' and f.key = v_account) or (f.scope = 'address' and f.key = v_address);

  -- Now and then, forget windows that ended long ago, so the table holds
  -- only open windows.
  if random() < 0.01 then
    delete from app.login_failures f where f.window_start < now() - 2 * v_window;
  end if;

  return json_build_object('throttled', false, 'credentials', app.user_credentials(p_username));
end
$$;
comment on function app.login_attempt(text, text, integer, integer, integer) is
  'Login step 1: refuses (throttled, retry_after seconds) when the account or the address has reached its failure limit in the current window; otherwise counts the attempt as a failure and returns the credentials (as app.user_credentials). Security definer (owner healthcare_auth, policies login_failures.all_auth and users.select_auth); healthcare_api only.';

create function app.complete_login(p_username text, p_address text, p_user_id bigint,
                                   p_jti uuid, p_family uuid, p_expires_at timestamptz) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  -- The password was right: the account starts afresh, and the address
  -- gets back the attempt app.login_attempt counted in advance.
  delete from app.login_failures f where f.scope = 'account' and f.key = left(lower(coalesce(p_username, '')), 150);
  update app.login_failures f set failures = greatest(f.failures - 1, 0)
   where f.scope = 'address' and f.key = left(coalesce(p_address, ''), 64);
  return app.issue_refresh_token(p_user_id, p_jti, p_family, p_expires_at);
end
$$;
comment on function app.complete_login(text, text, bigint, uuid, uuid, timestamptz) is
  'Login step 2, after the server verified the password: resets the account''s failure count, returns the address''s advance count and records the refresh token. Security definer (owner healthcare_auth, policies login_failures.all_auth and refresh_tokens.all_auth); healthcare_api only.';

create function api.login_attempt(p_username text, p_address text, p_max_account integer,
                                  p_max_address integer, p_window_seconds integer) returns json
language sql volatile
set search_path = pg_catalog, pg_temp
as $$ select app.login_attempt(p_username, p_address, p_max_account, p_max_address, p_window_seconds) $$;
comment on function api.login_attempt(text, text, integer, integer, integer) is
  'POST /api/auth/login/ step 1: {"throttled":true,"retry_after":N} or {"throttled":false,"credentials":{...}|null} (REST server only).';

create function api.complete_login(p_username text, p_address text, p_user_id bigint,
                                   p_jti uuid, p_family uuid, p_expires_at timestamptz) returns json
language sql volatile
set search_path = pg_catalog, pg_temp
as $$ select app.complete_login(p_username, p_address, p_user_id, p_jti, p_family, p_expires_at) $$;
comment on function api.complete_login(text, text, bigint, uuid, uuid, timestamptz) is
  'POST /api/auth/login/ step 2 after a correct password: resets the throttle and records the refresh token (REST server only).';

do $$
declare
  v_fn regprocedure;
begin
  foreach v_fn in array array[
    'app.login_attempt(text, text, integer, integer, integer)'::regprocedure,
    'app.complete_login(text, text, bigint, uuid, uuid, timestamptz)'::regprocedure]
  loop
    -- Grant first: the owner role keeps no rights over a function it hands away.
    execute format('revoke all on function %s from public', v_fn);
    execute format('grant execute on function %s to healthcare_api', v_fn);
    execute format('alter function %s owner to healthcare_auth', v_fn);
  end loop;
end
$$;

revoke all on function api.login_attempt(text, text, integer, integer, integer),
  api.complete_login(text, text, bigint, uuid, uuid, timestamptz) from public;
grant execute on function api.login_attempt(text, text, integer, integer, integer),
  api.complete_login(text, text, bigint, uuid, uuid, timestamptz) to healthcare_api;

reset role;

---- create above / drop below ----

set local role healthcare_owner;
drop function api.login_attempt(text, text, integer, integer, integer);
drop function api.complete_login(text, text, bigint, uuid, uuid, timestamptz);
drop function app.login_attempt(text, text, integer, integer, integer);
drop function app.complete_login(text, text, bigint, uuid, uuid, timestamptz);
drop table app.login_failures;
reset role;
