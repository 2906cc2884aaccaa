-- Registration, login credentials and refresh tokens.
--
-- These are the only operations that must act beyond the caller's own rows: a
-- stranger registers, a not-yet-identified caller's password hash is read, a
-- refresh token names its user. Each is a security definer function owned by
-- healthcare_auth, whose narrow policies (users.select_auth, users.insert_auth,
-- refresh_tokens.all_auth) are the whole of what it may touch, and each is
-- executable by healthcare_api alone: psql users never read hashes or tokens.
--
-- Refresh tokens are recorded by their JWT id (jti). Rotation replaces a token
-- with a new one of the same family; presenting a token that was already
-- rotated means it was copied, so the whole family is revoked.

set local role healthcare_owner;

create table app.refresh_tokens (
  jti uuid primary key,
  family uuid not null,
  user_id bigint not null references app.users (id) on delete cascade,
  issued_at timestamptz not null default now(),
  expires_at timestamptz not null,
  replaced_by uuid,
  revoked_at timestamptz
);

create index refresh_tokens_family_idx on app.refresh_tokens (family);
create index refresh_tokens_user_id_idx on app.refresh_tokens (user_id);
create index refresh_tokens_expires_at_idx on app.refresh_tokens (expires_at);

comment on table app.refresh_tokens is 'Issued refresh tokens: rotated, revoked on logout, family revoked on reuse.';
comment on column app.refresh_tokens.jti is 'The token''s JWT id; the token itself is never stored.';
comment on column app.refresh_tokens.family is 'The session: every token rotated from one login shares it; logout revokes it whole.';
comment on column app.refresh_tokens.user_id is 'The account the session belongs to.';
comment on column app.refresh_tokens.issued_at is 'When the token was issued.';
comment on column app.refresh_tokens.expires_at is 'After this the token is refused.';
comment on column app.refresh_tokens.revoked_at is 'When the session was logged out or its family revoked for reuse; NULL while valid.';
comment on column app.refresh_tokens.replaced_by is 'jti of the token this one was rotated into; a second use of a rotated token revokes the family.';

alter table app.refresh_tokens enable row level security;
alter table app.refresh_tokens force row level security;

grant select, insert, update, delete on app.refresh_tokens to healthcare_auth;

create policy all_auth on app.refresh_tokens for all to healthcare_auth
  using (true) with check (true);
comment on policy all_auth on app.refresh_tokens is
  'Only the token functions owned by healthcare_auth touch refresh tokens; no runtime role has any grant on this table.';

create function app.register_user(p_username text, p_email text, p_password_hash text) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user app.users;
begin
  if p_username is null or p_username !~ '^[A-Za-z0-9_.@+-]{1,150}$' then
    raise exception 'username must be 1 to 150 letters, digits and @/./+/-/_' using errcode = 'RINVL', column = 'username';
  end if;
  if coalesce(p_email, '') <> '' and (length(p_email) > 254 or p_email !~ '^[^@[:space:]]+@[^@[:space:]]+$') then
    raise exception 'enter a valid email address' using errcode = 'RINVL', column = 'email';
  end if;
  if exists (select from app.users u where lower(u.username) = lower(p_username)) then
    raise exception 'a user with that username already exists' using errcode = 'RCNFL', column = 'username';
  end if;
  insert into app.users (username, email, password_hash)
  values (p_username, coalesce(p_email, ''), p_password_hash)
  returning * into v_user;
  return json_build_object('id', v_user.id, 'username', v_user.username, 'email', v_user.email,
                           'is_admin', v_user.is_admin, 'date_joined', v_user.date_joined);
end
$$;
comment on function app.register_user(text, text, text) is
  'Creates a non-admin account. Security definer (owner healthcare_auth, policies users.select_auth/insert_auth) because the caller has no identity yet.';

create function app.user_credentials(p_username text) returns json
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select json_build_object('id', u.id, 'password_hash', u.password_hash, 'is_active', u.is_active)
    from app.users u
   where lower(u.username) = lower(p_username)
$$;
comment on function app.user_credentials(text) is
  'The password hash for login, compared in the server. Security definer (owner healthcare_auth, policy users.select_auth); healthcare_api only.';

create function app.issue_refresh_token(p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamptz) returns json
language sql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
  insert into app.refresh_tokens (jti, family, user_id, expires_at)
  values (p_jti, p_family, p_user_id, p_expires_at)
  returning json_build_object('jti', jti, 'family', family)
$$;
comment on function app.issue_refresh_token(bigint, uuid, uuid, timestamptz) is
  'Records a refresh token issued at login. Security definer (owner healthcare_auth, policy refresh_tokens.all_auth).';

create function app.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamptz) returns json
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
comment on function app.rotate_refresh_token(uuid, uuid, timestamptz) is
  'Exchanges a refresh token for a new one of its family; a reused token revokes the family (status "reused", committed, not raised). Security definer (owner healthcare_auth, policy refresh_tokens.all_auth).';

create function app.revoke_refresh_token(p_jti uuid) returns json
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

do $$
declare
  v_fn regprocedure;
begin
  foreach v_fn in array array[
    'app.register_user(text, text, text)'::regprocedure,
    'app.user_credentials(text)'::regprocedure,
    'app.issue_refresh_token(bigint, uuid, uuid, timestamptz)'::regprocedure,
    'app.rotate_refresh_token(uuid, uuid, timestamptz)'::regprocedure,
    'app.revoke_refresh_token(uuid)'::regprocedure]
  loop
    -- Grant first: the owner role keeps no rights over a function it hands away.
    execute format('revoke all on function %s from public', v_fn);
    execute format('grant execute on function %s to healthcare_api', v_fn);
    execute format('alter function %s owner to healthcare_auth', v_fn);
  end loop;
end
$$;

reset role;

---- create above / drop below ----

set local role healthcare_owner;
drop function app.register_user(text, text, text);
drop function app.user_credentials(text);
drop function app.issue_refresh_token(bigint, uuid, uuid, timestamptz);
drop function app.rotate_refresh_token(uuid, uuid, timestamptz);
drop function app.revoke_refresh_token(uuid);
drop table app.refresh_tokens;
reset role;
