-- Accounts: app.users' rules, registration and the credentials lookup.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_owner;

grant select, insert, update on app.users to healthcare_auth;
grant select (id, username, email, is_admin, is_active, db_role, date_joined, updated_at) on app.users to healthcare_access;

-- Admin accounts are made by `healthcare createsuperuser` over the privileged
-- connection, which acts as healthcare_owner.
drop policy if exists all_owner on app.users;
create policy all_owner on app.users for all to healthcare_owner
  using (true) with check (true);
comment on policy all_owner on app.users is
  'The owner (migrations and createsuperuser/db-access over the privileged connection) manages accounts; no runtime role is the owner.';

drop policy if exists insert_auth on app.users;
create policy insert_auth on app.users for insert to healthcare_auth
  with check (not is_admin);
comment on policy insert_auth on app.users is
  'Self-registration through app.register_user; it can never create an admin.';

drop policy if exists update_auth on app.users;
create policy update_auth on app.users for update to healthcare_auth
  using (true) with check (password_hash like '$argon2id$%');
comment on policy update_auth on app.users is
  'app.complete_login replaces a stored hash with a fresh argon2id one after a successful login; nothing else of an account changes through healthcare_auth.';

drop policy if exists select_admin on app.users;
create policy select_admin on app.users for select to healthcare_access
  using ((select app.current_user_is_admin()));
comment on policy select_admin on app.users is
  'Admins see every account.';

drop policy if exists select_auth on app.users;
create policy select_auth on app.users for select to healthcare_auth
  using (true);
comment on policy select_auth on app.users is
  'Narrow door for the security definer functions owned by healthcare_auth (identity lookup, login credentials, registration); no login role is a member of healthcare_auth.';

drop policy if exists select_self on app.users;
create policy select_self on app.users for select to healthcare_access
  using (id = (select app.current_user_id()));
comment on policy select_self on app.users is
  'A user sees their own account.';

create or replace trigger users_touch_updated_at before update on app.users
  for each row execute function app.touch_updated_at();

-- Account changes in the trail (issue 24): whoever makes them (plain SQL
-- over the privileged connection, `healthcare db-access`, `healthcare
-- user`), granting or revoking admin, activating or deactivating, and
-- linking or unlinking a psql login are events, with the three columns
-- before and after; never the password hash. `healthcare user` records its
-- password changes itself, and tells the trigger how many sessions a
-- deactivation ended (app.sessions_ended).
create or replace function app.audit_user_change() returns trigger
language plpgsql volatile
as $$
declare
  v_changes text[] := '{}';
  v_detail jsonb;
begin
  if pg_catalog.current_setting('app.import', true) = 'django' then
    if app.importing() then
      return null;
    end if;
  end if;
  if tg_op = 'INSERT' then
    perform app.audit('create', 'ok', null, null,
                      pg_catalog.jsonb_build_object('object', 'user', 'user', new.id, 'username', new.username,
                                                    'after', pg_catalog.jsonb_build_object('is_admin', new.is_admin, 'is_active', new.is_active,
                                                                                           'db_role', new.db_role)));
    return null;
  end if;
  if old.is_admin is distinct from new.is_admin then
    v_changes := v_changes || case when new.is_admin then 'grant_admin' else 'revoke_admin' end;
  end if;
  if old.is_active is distinct from new.is_active then
    v_changes := v_changes || case when new.is_active then 'activate' else 'deactivate' end;
  end if;
  if old.db_role is distinct from new.db_role then
    v_changes := v_changes || case when new.db_role is null then 'unlink_login'
                                   when old.db_role is null then 'link_login' else 'replace_login' end;
  end if;
  v_detail := pg_catalog.jsonb_build_object('object', 'user', 'user', new.id, 'username', new.username,
                                            'change', pg_catalog.array_to_string(v_changes, ','),
                                            'before', pg_catalog.jsonb_build_object('is_admin', old.is_admin, 'is_active', old.is_active,
                                                                                    'db_role', old.db_role),
                                            'after', pg_catalog.jsonb_build_object('is_admin', new.is_admin, 'is_active', new.is_active,
                                                                                   'db_role', new.db_role));
  if coalesce(pg_catalog.current_setting('app.sessions_ended', true), '') <> '' then
    v_detail := v_detail || pg_catalog.jsonb_build_object('sessions_ended', pg_catalog.current_setting('app.sessions_ended', true)::integer);
  end if;
  perform app.audit('update', 'ok', null, null, v_detail);
  return null;
end
$$;
comment on function app.audit_user_change() is
  'Trigger: an audit event (object user) for every change of an account''s is_admin, is_active or db_role, and for every account created an admin or with a login; detail.change names the changes (grant_admin, revoke_admin, activate, deactivate, link_login, unlink_login, replace_login). No password hash.';
revoke all on function app.audit_user_change() from public;

create or replace trigger users_audit after update on app.users
  for each row
  when (old.is_admin is distinct from new.is_admin or old.is_active is distinct from new.is_active
        or old.db_role is distinct from new.db_role)
  execute function app.audit_user_change();

create or replace trigger users_audit_create after insert on app.users
  for each row
  when (new.is_admin or new.db_role is not null)
  execute function app.audit_user_change();

set local role healthcare_auth;

create or replace function app.register_user(p_username text, p_email text, p_password_hash text)
returns json
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
comment on function app.register_user(text,text,text) is
  'Creates a non-admin account. Security definer (owner healthcare_auth, policies users.select_auth/insert_auth) because the caller has no identity yet.';
revoke all on function app.register_user(text,text,text) from public;
grant execute on function app.register_user(text,text,text) to healthcare_access;

create or replace function app.user_credentials(p_username text)
returns json
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select json_build_object('id', u.id, 'password_hash', u.password_hash, 'is_active', u.is_active)
    from app.users u
   where lower(u.username) = lower(p_username)
$$;
comment on function app.user_credentials(text) is
  'The password hash for login, compared in the server. Security definer (owner healthcare_auth, policy users.select_auth); healthcare_api only.';
revoke all on function app.user_credentials(text) from public;

set local role healthcare_access;

create or replace function api.register(p_username text, p_email text, p_password_hash text)
returns json
language sql volatile security definer
set search_path = pg_catalog, pg_temp
as $$ select app.register_user(p_username, p_email, p_password_hash) $$;
comment on function api.register(text,text,text) is
  'POST /api/auth/register/ (REST server only; the hash is computed there).';
revoke all on function api.register(text,text,text) from public;
grant execute on function api.register(text,text,text) to healthcare_api;

reset role;
