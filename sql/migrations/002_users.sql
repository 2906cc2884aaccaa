-- Accounts and the identity function every policy uses.
--
-- app.current_user_id() answers "who is the caller": for the REST server (a
-- member of healthcare_api) it is the transaction-local app.user_id setting the
-- server set after verifying a token; for everyone else it is the app user
-- linked to their own login role, so a psql user who runs
-- `set app.user_id = ...` still gets only their own identity. Only active users
-- have an identity: deactivating an account cuts off every door at once.

set local role healthcare_owner;

create table app.users (
  id bigint generated always as identity primary key,
  username text not null
    constraint users_username_check check (username ~ '^[A-Za-z0-9_.@+-]{1,150}$'),
  email text not null default ''
    constraint users_email_check check (email = '' or (length(email) <= 254 and email ~ '^[^@[:space:]]+@[^@[:space:]]+$')),
  password_hash text not null
    constraint users_password_hash_check check (password_hash like '$argon2id$%'),
  is_admin boolean not null default false,
  is_active boolean not null default true,
  db_role name
    constraint users_db_role_key unique,
  date_joined timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create unique index users_username_lower_idx on app.users (lower(username));

comment on table app.users is 'Application accounts. Usernames are unique regardless of case.';
comment on column app.users.username is 'Login name, unique regardless of case; personal data.';
comment on column app.users.is_active is 'False when the account is deactivated: it then has no identity at any door.';
comment on column app.users.date_joined is 'When the account was created.';
comment on column app.users.password_hash is 'argon2id PHC string computed by the server; never readable by runtime roles.';
comment on column app.users.email is 'Contact address; personal data.';
comment on column app.users.is_admin is 'Admins may read, change and delete every patient, doctor and mapping (see the *_admin policies).';
comment on column app.users.db_role is 'Personal PostgreSQL login linked to this account (psql door); NULL when none.';

alter table app.users enable row level security;
alter table app.users force row level security;

-- The identity function, evaluated several times in every request (by
-- app.require_user and once per statement by each policy's sub-select), so
-- each door is a lookup by index: members of healthcare_api by the
-- transaction-local app.user_id (primary key), everyone else by the account
-- linked to their login role (users_db_role_key). plpgsql keeps each
-- branch's plan cached in the session; a CASE inside one WHERE clause would
-- scan every account on every call. Security definer because a psql login
-- must find its own link without seeing other accounts; owned by
-- healthcare_auth, whose narrow policy select_auth lets it read app.users.
create function app.current_user_id() returns bigint
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

-- plpgsql, so its lookup is planned once per session.
create function app.current_user_is_admin() returns boolean
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  return coalesce((select u.is_admin from app.users u where u.id = app.current_user_id()), false);
end
$$;
comment on function app.current_user_is_admin() is
  'True when the caller is an active admin. Security definer (owner healthcare_auth, policy users.select_auth).';

-- Grant first: the owner role keeps no rights over a function it hands away.
grant execute on function app.current_user_id(), app.current_user_is_admin()
  to healthcare_api, healthcare_user, healthcare_auth, healthcare_owner;
alter function app.current_user_id() owner to healthcare_auth;
alter function app.current_user_is_admin() owner to healthcare_auth;

-- Runtime roles see their own account (and admins all accounts), never the hash.
grant select (id, username, email, is_admin, is_active, db_role, date_joined, updated_at)
  on app.users to healthcare_api, healthcare_user;
grant select, insert, update on app.users to healthcare_auth;

create policy select_self on app.users for select to healthcare_api, healthcare_user
  using (id = (select app.current_user_id()));
comment on policy select_self on app.users is 'A user sees their own account.';

create policy select_admin on app.users for select to healthcare_api, healthcare_user
  using ((select app.current_user_is_admin()));
comment on policy select_admin on app.users is 'Admins see every account.';

create policy select_auth on app.users for select to healthcare_auth
  using (true);
comment on policy select_auth on app.users is
  'Narrow door for the security definer functions owned by healthcare_auth (identity lookup, login credentials, registration); no login role is a member of healthcare_auth.';

create policy insert_auth on app.users for insert to healthcare_auth
  with check (not is_admin);
comment on policy insert_auth on app.users is
  'Self-registration through app.register_user; it can never create an admin.';

-- Admin accounts are made by `healthcare createsuperuser` over the privileged
-- connection, which acts as healthcare_owner.
create policy all_owner on app.users for all to healthcare_owner
  using (true) with check (true);
comment on policy all_owner on app.users is
  'The owner (migrations and createsuperuser/db-access over the privileged connection) manages accounts; no runtime role is the owner.';

-- Keeps updated_at honest on every table that has one.
create function app.touch_updated_at() returns trigger
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  new.updated_at := now();
  return new;
end
$$;
comment on function app.touch_updated_at() is 'Trigger: sets updated_at on every update.';

create trigger users_touch_updated_at before update on app.users
  for each row execute function app.touch_updated_at();

reset role;

---- create above / drop below ----

set local role healthcare_owner;
drop table app.users cascade;
drop function app.current_user_id() cascade;
drop function app.current_user_is_admin() cascade;
drop function app.touch_updated_at() cascade;
reset role;
