-- Seal the REST and psql doors: no login touches an app table.
--
-- Row-level security decides which rows a query returns, but PostgreSQL
-- still plans and executes the query over every row: EXPLAIN ANALYZE
-- reports the rows a policy filtered out, planner estimates come from
-- everyone's rows (pg_stats of a readable column), and a table privilege
-- lets a login LOCK the table. So runtime logins get no privilege on the
-- app tables at all. Everything they do runs inside security definer
-- functions owned by healthcare_access, a role nobody can log in as or
-- become, and the policies apply to that role:
--
--   * the api functions (REST server and psql alike) become definers;
--   * psql logins read their rows with plain SQL through the views of
--     schema records, each a scan of a definer function. EXPLAIN shows a
--     Function Scan whose estimate is a constant and whose actual row count
--     is the caller's own; nothing inside it is planned where they can see.
--
-- Inside a definer, current_user is healthcare_access but session_user is
-- still the caller's login, so app.current_user_id() identifies the caller
-- exactly as before and every policy keeps its meaning.

do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'healthcare_access') then
    begin
      create role healthcare_access nologin nosuperuser nocreatedb nocreaterole noinherit nobypassrls;
    exception when duplicate_object or unique_violation then
      null; -- created concurrently by a migration of another database
    end;
  end if;
end
$$;

-- The owner hands functions to it; it may own functions in app, api and
-- records (ALTER OWNER wants CREATE on the schema). A migrating role that is
-- not a superuser acts for it too, as for healthcare_owner in 001.
grant healthcare_access to healthcare_owner;
do $$
begin
  if not (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then
    execute format('grant healthcare_access to %I', current_user);
  end if;
end
$$;

create schema records authorization healthcare_owner;
comment on schema records is
  'What a psql login reads with plain SQL: its own patients and mappings and the doctor directory, under the same policies as the REST API. Views over security definer functions, so EXPLAIN and statistics show nothing of other users'' rows.';

grant usage on schema app to healthcare_access;
grant create on schema app, api, records to healthcare_access;
grant usage on schema records to healthcare_user;

-- Runtime roles lose the app schema and every app table.
revoke all on schema app from healthcare_api, healthcare_user;
revoke all on app.users, app.patients, app.doctors, app.patient_doctors from healthcare_api, healthcare_user;

set local role healthcare_owner;

grant select (id, username, email, is_admin, is_active, db_role, date_joined, updated_at) on app.users to healthcare_access;
grant select, delete on app.patients to healthcare_access;
grant insert (name, age, gender), update (name, age, gender) on app.patients to healthcare_access;
grant select, delete on app.doctors to healthcare_access;
grant insert (name, specialization), update (name, specialization) on app.doctors to healthcare_access;
grant select, insert (patient_id, doctor_id), delete on app.patient_doctors to healthcare_access;

alter policy select_self on app.users to healthcare_access;
alter policy select_admin on app.users to healthcare_access;
alter policy select_own on app.patients to healthcare_access;
alter policy select_admin on app.patients to healthcare_access;
alter policy insert_own on app.patients to healthcare_access;
alter policy update_own on app.patients to healthcare_access;
alter policy update_admin on app.patients to healthcare_access;
alter policy delete_own on app.patients to healthcare_access;
alter policy delete_admin on app.patients to healthcare_access;
alter policy select_all on app.doctors to healthcare_access;
alter policy insert_signed_in on app.doctors to healthcare_access;
alter policy update_creator on app.doctors to healthcare_access;
alter policy update_admin on app.doctors to healthcare_access;
alter policy delete_creator on app.doctors to healthcare_access;
alter policy delete_admin on app.doctors to healthcare_access;
alter policy select_patient_visible on app.patient_doctors to healthcare_access;
alter policy insert_patient_visible on app.patient_doctors to healthcare_access;
alter policy delete_patient_visible on app.patient_doctors to healthcare_access;

-- Helpers: called only from inside the definers now.
revoke all on function
  app.require_user(), app.page_limit(integer), app.page_offset(integer), app.url_encode(text),
  app.page(bigint, json, text, integer, integer, text),
  app.patient_json(app.patients), app.doctor_json(app.doctors), app.mapping_json(app.patient_doctors),
  app.check_name(text, text, integer), app.check_age(integer), app.check_gender(text),
  app.raise_doctor_not_writable(bigint), app.normalize_gender(text)
  from healthcare_api, healthcare_user;
grant execute on function
  app.require_user(), app.page_limit(integer), app.page_offset(integer), app.url_encode(text),
  app.page(bigint, json, text, integer, integer, text),
  app.patient_json(app.patients), app.doctor_json(app.doctors), app.mapping_json(app.patient_doctors),
  app.check_name(text, text, integer), app.check_age(integer), app.check_gender(text),
  app.raise_doctor_not_writable(bigint), app.normalize_gender(text)
  to healthcare_access;

reset role;

-- The identity and account functions belong to healthcare_auth.
set local role healthcare_auth;

revoke all on function app.current_user_id(), app.current_user_is_admin() from healthcare_api, healthcare_user;
grant execute on function app.current_user_id(), app.current_user_is_admin() to healthcare_access;

-- The account functions are reached only through the api definers. Two of
-- them (the password hash, a new token family) are reached only through the
-- throttled login functions, which healthcare_auth owns: nobody else needs
-- them at all.
revoke all on function
  app.register_user(text, text, text), app.rotate_refresh_token(uuid, uuid, timestamptz),
  app.revoke_refresh_token(uuid), app.login_attempt(text, text, integer, integer, integer),
  app.complete_login(text, text, bigint, uuid, uuid, timestamptz),
  app.user_credentials(text), app.issue_refresh_token(bigint, uuid, uuid, timestamptz)
  from healthcare_api;
grant execute on function
  app.register_user(text, text, text), app.rotate_refresh_token(uuid, uuid, timestamptz),
  app.revoke_refresh_token(uuid), app.login_attempt(text, text, integer, integer, integer),
  app.complete_login(text, text, bigint, uuid, uuid, timestamptz)
  to healthcare_access;

reset role;

-- Every api function becomes a definer owned by healthcare_access; the
-- grants to healthcare_api and healthcare_user stay as they were.
set local role healthcare_owner;

do $$
declare
  v_fn regprocedure;
begin
  for v_fn in
    select p.oid::regprocedure from pg_catalog.pg_proc p
     where p.pronamespace = 'api'::regnamespace
     order by 1
  loop
    execute format('alter function %s security definer', v_fn);
    execute format('alter function %s owner to healthcare_access', v_fn);
  end loop;
end
$$;

reset role;

-- The psql door's plain SQL: views over definer functions. The functions
-- return only what the policies let the caller see; the explicit filters
-- repeat the policies so the planner uses the owner index.
set local role healthcare_owner;

create function app.visible_patients()
returns table (id bigint, owner_id bigint, name text, age integer, gender text,
               created_at timestamptz, updated_at timestamptz)
language sql stable security definer rows 100
set search_path = pg_catalog, pg_temp
as $$
  select p.id, p.owner_id, p.name, p.age, p.gender, p.created_at, p.updated_at
    from app.patients p
   order by p.id
$$;
comment on function app.visible_patients() is
  'The patients the caller may see (their own; every one for admins), for records.patients. Security definer (owner healthcare_access): the caller has no privilege on app.patients, so nothing of other rows reaches EXPLAIN or statistics.';

create function app.visible_doctors()
returns table (id bigint, name text, specialization text, created_by bigint,
               created_at timestamptz, updated_at timestamptz)
language sql stable security definer rows 100
set search_path = pg_catalog, pg_temp
as $$
  select d.id, d.name, d.specialization, d.created_by, d.created_at, d.updated_at
    from app.doctors d
   order by d.id
$$;
comment on function app.visible_doctors() is
  'The doctor directory, for records.doctors. Security definer (owner healthcare_access).';

create function app.visible_mappings()
returns table (id bigint, patient_id bigint, doctor_id bigint, created_at timestamptz)
language sql stable security definer rows 100
set search_path = pg_catalog, pg_temp
as $$
  select m.id, m.patient_id, m.doctor_id, m.created_at
    from app.patient_doctors m
   order by m.id
$$;
comment on function app.visible_mappings() is
  'Mappings of the patients the caller may see, for records.mappings. Security definer (owner healthcare_access).';

revoke all on function app.visible_patients(), app.visible_doctors(), app.visible_mappings() from public;
grant execute on function app.visible_patients(), app.visible_doctors(), app.visible_mappings() to healthcare_user;
alter function app.visible_patients() owner to healthcare_access;
alter function app.visible_doctors() owner to healthcare_access;
alter function app.visible_mappings() owner to healthcare_access;

create view records.patients as select * from app.visible_patients();
comment on view records.patients is
  'Your patient profiles (every one, for admins). Write with api.create_patient, api.update_patient and api.delete_patient.';
create view records.doctors as select * from app.visible_doctors();
comment on view records.doctors is
  'The public doctor directory. Write with api.create_doctor, api.update_doctor and api.delete_doctor.';
create view records.mappings as select * from app.visible_mappings();
comment on view records.mappings is
  'Which doctors treat your patients. Write with api.create_mapping and api.delete_mapping.';

grant select on records.patients, records.doctors, records.mappings to healthcare_user;

reset role;

---- create above / drop below ----

set local role healthcare_owner;
drop view records.patients, records.doctors, records.mappings;
reset role;
drop schema records;

set local role healthcare_owner;
drop function app.visible_patients(), app.visible_doctors(), app.visible_mappings();
reset role;
-- As the migrating role: it can act as both the old and the new owner.
do $$
declare
  v_fn regprocedure;
begin
  for v_fn in
    select p.oid::regprocedure from pg_catalog.pg_proc p
     where p.pronamespace = 'api'::regnamespace
  loop
    execute format('alter function %s security invoker', v_fn);
    execute format('alter function %s owner to healthcare_owner', v_fn);
  end loop;
end
$$;

set local role healthcare_auth;
grant execute on function app.current_user_id(), app.current_user_is_admin() to healthcare_api, healthcare_user;
grant execute on function
  app.register_user(text, text, text), app.rotate_refresh_token(uuid, uuid, timestamptz),
  app.revoke_refresh_token(uuid), app.login_attempt(text, text, integer, integer, integer),
  app.complete_login(text, text, bigint, uuid, uuid, timestamptz),
  app.user_credentials(text), app.issue_refresh_token(bigint, uuid, uuid, timestamptz)
  to healthcare_api;
revoke all on function app.current_user_id(), app.current_user_is_admin() from healthcare_access;
revoke all on function
  app.register_user(text, text, text), app.rotate_refresh_token(uuid, uuid, timestamptz),
  app.revoke_refresh_token(uuid), app.login_attempt(text, text, integer, integer, integer),
  app.complete_login(text, text, bigint, uuid, uuid, timestamptz)
  from healthcare_access;
reset role;

set local role healthcare_owner;
grant execute on function
  app.require_user(), app.page_limit(integer), app.page_offset(integer), app.url_encode(text),
  app.page(bigint, json, text, integer, integer, text),
  app.patient_json(app.patients), app.doctor_json(app.doctors), app.mapping_json(app.patient_doctors),
  app.check_name(text, text, integer), app.check_age(integer), app.check_gender(text),
  app.raise_doctor_not_writable(bigint), app.normalize_gender(text)
  to healthcare_api, healthcare_user;
revoke all on function
  app.require_user(), app.page_limit(integer), app.page_offset(integer), app.url_encode(text),
  app.page(bigint, json, text, integer, integer, text),
  app.patient_json(app.patients), app.doctor_json(app.doctors), app.mapping_json(app.patient_doctors),
  app.check_name(text, text, integer), app.check_age(integer), app.check_gender(text),
  app.raise_doctor_not_writable(bigint), app.normalize_gender(text)
  from healthcare_access;
do $$
declare
  v_pol record;
begin
  for v_pol in
    select polname, polrelid::regclass as rel from pg_catalog.pg_policy
     where 'healthcare_access'::regrole = any (polroles)
  loop
    execute format('alter policy %I on %s to healthcare_api, healthcare_user', v_pol.polname, v_pol.rel);
  end loop;
end
$$;
grant select (id, username, email, is_admin, is_active, db_role, date_joined, updated_at)
  on app.users to healthcare_api, healthcare_user;
grant select, delete on app.patients to healthcare_api, healthcare_user;
grant insert (name, age, gender), update (name, age, gender) on app.patients to healthcare_api, healthcare_user;
grant select, delete on app.doctors to healthcare_api, healthcare_user;
grant insert (name, specialization), update (name, specialization) on app.doctors to healthcare_api, healthcare_user;
grant select, insert (patient_id, doctor_id), delete on app.patient_doctors to healthcare_api, healthcare_user;
revoke all on app.users, app.patients, app.doctors, app.patient_doctors from healthcare_access;
reset role;

grant usage on schema app to healthcare_api, healthcare_user;
revoke all on schema app, api from healthcare_access;
