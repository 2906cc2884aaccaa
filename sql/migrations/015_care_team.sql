-- Care teams: a doctor record may be linked to one account, and that
-- account reads, read-only, the patients mapped to its doctor record, at
-- every door, for exactly as long as the mapping exists.
--
--   * app.doctors.account_id links a doctor record to one user (one record
--     per account). Admins link and unlink (api.link_doctor_account,
--     api.unlink_doctor_account); so does the privileged connection
--     (`healthcare doctor link|unlink`, acting as healthcare_owner).
--   * app.current_doctor_id() is the caller's doctor record: a lookup by
--     the unique account_id, owned by healthcare_auth like the identity
--     functions.
--   * The care policy on app.patients reads the caller's mappings through
--     app.care_patient_ids(), a security definer owned by healthcare_auth,
--     which may read the ids of app.patient_doctors and app.doctors
--     (select_auth) and returns those of the caller's doctor record
--     only. Through a function, not a view or a
--     subquery: the policies of healthcare_access on app.patient_doctors
--     ask app.patients, and PostgreSQL refuses a policy that reaches its
--     own table again (infinite recursion) whoever's policies apply there.
--     It is an uncorrelated `id in (select ...)`: one index scan of
--     (doctor_id, patient_id) per statement, hashed, never a call per row.
--   * Mappings are visible, created and removed by the patient's owner and
--     admins; the care team sees its own mappings (select_treating_doctor) and
--     changes none. Writes by the care team on a patient it can read are
--     refused as forbidden (403), on anything else as not found (404).
--   * The directory is no longer a weapon: a doctor record is changed by
--     its linked account or an admin; its creator may change it only while
--     it is unlinked and no other user's patient is mapped to it. Deleting
--     a doctor that other users' patients are mapped to is a conflict for
--     everyone but admins; an admin's delete removes those mappings, each
--     with its audit event (the mapping trigger of 013).
--   * Every care-team read is an audit event, so a patient's owner sees in
--     the access log that the doctor opened the record.

set local role healthcare_owner;

alter table app.doctors add column account_id bigint
  constraint doctors_account_id_key unique
  references app.users (id) on delete set null;
comment on column app.doctors.account_id is
  'The user account of the doctor this record describes (one record per account); it reads the patients mapped to this record. NULL when unlinked; only admins and the privileged connection set it.';

-- The care lists page through one doctor's mappings in patient order, and
-- count them, from the index alone; it replaces the (doctor_id) index.
create index patient_doctors_doctor_id_patient_id_idx on app.patient_doctors (doctor_id, patient_id);
drop index app.patient_doctors_doctor_id_idx;

grant update (account_id) on app.doctors to healthcare_access;
grant select (id, account_id) on app.doctors to healthcare_auth;
grant select (patient_id, doctor_id) on app.patient_doctors to healthcare_auth;

-- The caller's doctor record. Like users.select_auth, the policy lets
-- healthcare_auth's definers read every row and the grant only the columns
-- they need (ids): a policy that asked who the caller is would repeat the
-- lookup the function itself makes, on every call.
create policy select_auth on app.doctors for select to healthcare_auth
  using (true);
comment on policy select_auth on app.doctors is
  'app.current_doctor_id() (owner healthcare_auth) finds the caller''s doctor record; the role reads only id and account_id, and nobody can become it.';

-- The privileged connection links and unlinks accounts (`healthcare doctor`).
create policy select_owner on app.doctors for select to healthcare_owner using (true);
comment on policy select_owner on app.doctors is
  'The privileged connection (acting as healthcare_owner) finds doctor records to link; no runtime role is the owner.';
create policy update_owner on app.doctors for update to healthcare_owner using (true) with check (true);
comment on policy update_owner on app.doctors is
  'The privileged connection (acting as healthcare_owner) links and unlinks doctor accounts.';

create function app.current_doctor_id() returns bigint
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
grant execute on function app.current_doctor_id() to healthcare_auth, healthcare_access;
alter function app.current_doctor_id() owner to healthcare_auth;

-- The caller's mappings, as the care team sees them (ids only, as the
-- reporting role reads them).
create policy select_auth on app.patient_doctors for select to healthcare_auth
  using (true);
comment on policy select_auth on app.patient_doctors is
  'app.care_patient_ids() (owner healthcare_auth) reads the mappings of the caller''s doctor record; the role reads only patient_id and doctor_id, and nobody can become it.';

-- plpgsql, so its query is planned once per session (a language sql
-- function that is not inlined is planned on every call).
create function app.care_patient_ids() returns setof bigint
language plpgsql stable security definer rows 100
set search_path = pg_catalog, pg_temp
as $$
declare
  v_doc bigint := app.current_doctor_id();
begin
  if v_doc is not null then
    return query select m.patient_id from app.patient_doctors m where m.doctor_id = v_doc;
  end if;
end
$$;
comment on function app.care_patient_ids() is
  'The patients mapped to the caller''s doctor record, for the care policy on app.patients. Security definer (owner healthcare_auth, policy patient_doctors.select_auth, ids only), so the policies of healthcare_access on app.patient_doctors, which ask app.patients, are not met again (no recursion); one index scan of (doctor_id, patient_id) per statement.';
revoke all on function app.care_patient_ids() from public;
grant execute on function app.care_patient_ids() to healthcare_access;
alter function app.care_patient_ids() owner to healthcare_auth;

-- Whether other users' patients are mapped to a doctor: the mappings and
-- owners the caller cannot see. Owner healthcare_reporter, whose
-- select_reporter policies read ids, owners and mappings (never names).
create function app.doctor_serves_others(p_doctor bigint, p_user bigint) returns boolean
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select exists (select from app.patient_doctors m join app.patients p on p.id = m.patient_id
                  where m.doctor_id = p_doctor and p.owner_id is distinct from p_user)
$$;
comment on function app.doctor_serves_others(bigint, bigint) is
  'True when a patient not owned by p_user is mapped to the doctor. Security definer (owner healthcare_reporter, policies select_reporter): the caller cannot see those mappings.';
revoke all on function app.doctor_serves_others(bigint, bigint) from public;
grant execute on function app.doctor_serves_others(bigint, bigint) to healthcare_access, healthcare_owner;
alter function app.doctor_serves_others(bigint, bigint) owner to healthcare_reporter;

-- patients: the care team reads.
create policy select_care_team on app.patients for select to healthcare_access
  using (id in (select c.patient_id from app.care_patient_ids() c (patient_id)));
comment on policy select_care_team on app.patients is
  'The account linked to a doctor record reads the patients mapped to it, read-only, while the mapping exists. No update or delete policy goes with it.';

-- mappings: the patient's owner and admins see, create and remove them; the
-- care team sees its own.
drop policy select_patient_visible on app.patient_doctors;
drop policy insert_patient_visible on app.patient_doctors;
drop policy delete_patient_visible on app.patient_doctors;
-- Permissive policies are tried in reverse order of their names, the
-- first that passes deciding: the treating doctor's cheap test comes
-- before the owner's, so the care list never looks at the doctor's own
-- patients (and on app.patients select_own comes before
-- select_care_team, so the owners' lists never call the care function).
create policy select_treating_doctor on app.patient_doctors for select to healthcare_access
  using (doctor_id = (select app.current_doctor_id()));
comment on policy select_treating_doctor on app.patient_doctors is
  'The account linked to a doctor record sees that record''s mappings (read-only).';
create policy select_patient_owner on app.patient_doctors for select to healthcare_access
  using ((select app.current_user_is_admin())
         or exists (select from app.patients p where p.id = patient_id and p.owner_id = (select app.current_user_id())));
comment on policy select_patient_owner on app.patient_doctors is
  'The patient''s owner and admins see every mapping of the patient.';
create policy insert_patient_owner on app.patient_doctors for insert to healthcare_access
  with check ((select app.current_user_is_admin())
              or exists (select from app.patients p where p.id = patient_id and p.owner_id = (select app.current_user_id())));
comment on policy insert_patient_owner on app.patient_doctors is
  'Only the patient''s owner (any patient, for admins) maps it; the care team cannot.';
create policy delete_patient_owner on app.patient_doctors for delete to healthcare_access
  using ((select app.current_user_is_admin())
         or exists (select from app.patients p where p.id = patient_id and p.owner_id = (select app.current_user_id())));
comment on policy delete_patient_owner on app.patient_doctors is
  'Only the patient''s owner and admins remove a mapping; the care team cannot.';

-- doctors: changed by the linked account or an admin; by the creator only
-- while unlinked and serving no other user's patient.
alter policy update_creator on app.doctors
  using (created_by = (select app.current_user_id()) and account_id is null
         and not app.doctor_serves_others(id, (select app.current_user_id())))
  with check (created_by = (select app.current_user_id()) and account_id is null);
comment on policy update_creator on app.doctors is
  'The creator changes a doctor only while it is linked to no account and no other user''s patient is mapped to it.';
create policy update_linked on app.doctors for update to healthcare_access
  using (account_id = (select app.current_user_id()))
  with check (account_id = (select app.current_user_id()));
comment on policy update_linked on app.doctors is
  'The linked account changes its own doctor record (never its link).';
create policy delete_linked on app.doctors for delete to healthcare_access
  using (account_id = (select app.current_user_id()));
comment on policy delete_linked on app.doctors is
  'The linked account may remove its own doctor record (see app.check_doctor_delete).';
comment on policy delete_creator on app.doctors is
  'The creator may remove a doctor while it is linked to no other account and no other user''s patient is mapped to it (app.check_doctor_delete).';

-- Deleting a doctor removes its mappings (on delete cascade): for anyone
-- but an admin, refused when they are other users' patients' mappings.
create function app.check_doctor_delete() returns trigger
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint;
begin
  if app.current_door() = 'admin' or app.current_user_is_admin() then
    return old;
  end if;
  v_uid := app.current_user_id();
  if app.doctor_serves_others(old.id, v_uid) then
    raise exception 'other users'' patients are mapped to this doctor; only an admin may remove it' using errcode = 'RCNFL';
  end if;
  if old.account_id is not null and old.account_id is distinct from v_uid then
    raise exception 'this doctor record is linked to an account; only that account or an admin may change it' using errcode = 'RFRBD';
  end if;
  return old;
end
$$;
comment on function app.check_doctor_delete() is
  'Trigger: refuses a non-admin''s delete of a doctor that other users'' patients are mapped to (RCNFL, 409), and a creator''s delete of a doctor linked to another account (RFRBD, 403).';
revoke all on function app.check_doctor_delete() from public;
grant execute on function app.check_doctor_delete() to healthcare_access, healthcare_owner;
create trigger doctors_check_delete before delete on app.doctors
  for each row execute function app.check_doctor_delete();

-- JSON helpers. Like app.page and the *_json helpers of 005: no
-- search_path clause, so they inline into the lists that call them.
create function app.json_append(p_doc json, p_more json) returns json
language sql immutable
as $$
  select (pg_catalog.left(p_doc::text, -1) || ', ' || pg_catalog.substr(p_more::text, 2))::json
$$;
comment on function app.json_append(json, json) is
  'Appends the members of the object p_more to the object p_doc, keeping the order of both.';

create function app.doctor_json_for(d app.doctors, p_uid bigint, p_admin boolean) returns json
language sql stable
as $$
  select case when p_admin or d.account_id = p_uid
              then app.json_append(app.doctor_json(d), pg_catalog.json_build_object('account', d.account_id))
              else app.doctor_json(d) end
$$;
comment on function app.doctor_json_for(app.doctors, bigint, boolean) is
  'A doctor as the REST API shows it to one caller: with "account" (the linked user id or null) for admins and the linked account only.';

-- The members of app.patient_json, then the mapping's, in one
-- json_build_object: appending to app.patient_json's text would parse
-- every row again. TestCarePatientIsThePatientAndItsMapping keeps the two
-- in step.
create function app.care_patient_json(p app.patients, m app.patient_doctors) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', p.id, 'version', p.version, 'name', p.name, 'age', p.age, 'gender', p.gender,
                                      'gender_fhir', p.gender_fhir,
                                      'user', p.owner_id, 'created_at', p.created_at, 'updated_at', p.updated_at,
                                      'mapping', m.id, 'mapped_at', m.created_at)
$$;
comment on function app.care_patient_json(app.patients, app.patient_doctors) is
  'A patient in the caller''s care: the members of app.patient_json, then the mapping''s id and date.';

revoke all on function app.json_append(json, json), app.doctor_json_for(app.doctors, bigint, boolean),
  app.care_patient_json(app.patients, app.patient_doctors) from public;
grant execute on function app.json_append(json, json), app.doctor_json_for(app.doctors, bigint, boolean),
  app.care_patient_json(app.patients, app.patient_doctors) to healthcare_access;

-- A refused change of a patient the caller can read (one in their care) is
-- forbidden, not missing: 403 where the record is visible, 404 where not.
create or replace function app.refuse(p_action text, p_patient bigint, p_detail jsonb, p_code text, p_message text, p_field text default null)
returns json
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_code text := p_code;
  v_message text := p_message;
begin
  if p_code = 'RNTFD' and p_action in ('update', 'delete') and p_patient is not null
     and exists (select from app.patients p where p.id = p_patient) then
    v_code := 'RFRBD';
    v_message := 'you may read this patient but not change it';
  end if;
  perform app.audit(p_action,
                    case when v_code = 'RFRBD' or (p_patient is not null and app.patient_exists(p_patient))
                         then 'forbidden' else 'not_found' end,
                    p_patient, null, p_detail);
  return pg_catalog.json_build_object('error', pg_catalog.json_build_object('code', v_code, 'message', v_message, 'field', p_field));
end
$$;
comment on function app.refuse(text, bigint, jsonb, text, text, text) is
  'Records a refused attempt (forbidden when the patient exists, else not_found) and returns {"error": {"code", "message", "field"}}, which the REST server answers as the error it names. A refused update or delete of a patient the caller can read (in their care) is RFRBD, not RNTFD.';

reset role;

-- The api functions.
set local role healthcare_access;

create or replace function api.list_doctors(p_specialization text default null, p_search text default null,
                                            p_limit integer default null, p_offset integer default null) returns json
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.current_user_id();
  v_admin boolean := app.current_user_is_admin();
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_spec text := nullif(btrim(p_specialization), '');
  v_search text := nullif(btrim(p_search), '');
  v_pattern text;
  v_query text := '';
  v_count bigint;
  v_rows json;
begin
  if v_search is not null then
    -- Search is a substring match; escape LIKE's wildcards in the input.
    v_pattern := '%' || replace(replace(replace(v_search, '\', '\\'), '%', '\%'), '_', '\_') || '%';
  end if;
  if v_spec is not null then
    v_query := v_query || '&specialization=' || app.url_encode(v_spec);
  end if;
  if v_search is not null then
    v_query := v_query || '&search=' || app.url_encode(v_search);
  end if;
  select count(*) into v_count from app.doctors d
   where (v_spec is null or lower(d.specialization) = lower(v_spec))
     and (v_pattern is null or d.name ilike v_pattern or d.specialization ilike v_pattern);
  select json_agg(app.doctor_json_for(d, v_uid, v_admin) order by d.id) into v_rows
    from (select * from app.doctors d
           where (v_spec is null or lower(d.specialization) = lower(v_spec))
             and (v_pattern is null or d.name ilike v_pattern or d.specialization ilike v_pattern)
           order by d.id limit v_limit offset v_offset) d;
  return app.page(v_count, v_rows, '/api/doctors/', v_limit, v_offset, v_query);
end
$$;

create or replace function api.get_doctor(p_id bigint) returns json
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result json;
begin
  select app.doctor_json_for(d, app.current_user_id(), app.current_user_is_admin()) into v_result
    from app.doctors d where d.id = p_id;
  if v_result is null then
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  return v_result;
end
$$;

create or replace function api.create_doctor(p_name text, p_specialization text) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_doctor app.doctors;
begin
  insert into app.doctors (name, specialization)
  values (app.check_name(p_name, 'name', 200), app.check_name(p_specialization, 'specialization', 100))
  returning * into v_doctor;
  return app.doctor_json_for(v_doctor, v_uid, app.current_user_is_admin());
end
$$;

create function api.link_doctor_account(p_doctor bigint, p_user bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_doctor app.doctors;
begin
  if not app.current_user_is_admin() then
    raise exception 'only admins may link a doctor record to an account' using errcode = 'RFRBD';
  end if;
  if p_user is null or not exists (select from app.users u where u.id = p_user) then
    raise exception 'user not found' using errcode = 'RNTFD', column = 'user';
  end if;
  if exists (select from app.doctors d where d.account_id = p_user and d.id <> p_doctor) then
    raise exception 'this account is linked to another doctor record' using errcode = 'RCNFL', column = 'user';
  end if;
  update app.doctors d set account_id = p_user where d.id = p_doctor
  returning * into v_doctor;
  if not found then
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  return app.doctor_json_for(v_doctor, v_uid, true);
end
$$;
comment on function api.link_doctor_account(bigint, bigint) is
  'PUT /api/doctors/<id>/account/ {"user": id}: links the doctor record to the account, which then reads the patients mapped to it (admins only).';

create function api.unlink_doctor_account(p_doctor bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_doctor app.doctors;
begin
  if not app.current_user_is_admin() then
    raise exception 'only admins may unlink a doctor record from its account' using errcode = 'RFRBD';
  end if;
  update app.doctors d set account_id = null where d.id = p_doctor
  returning * into v_doctor;
  if not found then
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  return app.doctor_json_for(v_doctor, v_uid, true);
end
$$;
comment on function api.unlink_doctor_account(bigint) is
  'DELETE /api/doctors/<id>/account/: unlinks the doctor record; its former account loses the care view at once (admins only).';

create function api.list_care_patients(p_limit integer default null, p_offset integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_doc bigint := app.current_doctor_id();
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_count bigint;
  v_rows json;
  v_ids bigint[];
begin
  -- The explicit doctor filter lets the planner walk (doctor_id,
  -- patient_id); the policies still decide.
  select count(*) into v_count from app.patient_doctors m where m.doctor_id = v_doc;
  select json_agg(app.care_patient_json(p, m) order by p.id), array_agg(p.id order by p.id) into v_rows, v_ids
    from (select m.* from app.patient_doctors m
           where m.doctor_id = v_doc
           order by m.patient_id limit v_limit offset v_offset) m
    join app.patients p on p.id = m.patient_id;
  perform app.audit('list', 'ok', null, coalesce(v_ids, '{}'),
                    pg_catalog.jsonb_build_object('object', 'patient', 'via', 'care_team', 'doctor', v_doc));
  return app.page(v_count, v_rows, '/api/care/patients/', v_limit, v_offset, null);
end
$$;
comment on function api.list_care_patients(integer, integer) is
  'GET /api/care/patients/: the patients mapped to the caller''s doctor record (empty when the account is linked to none), in patient order, each with its mapping''s id and date. Read-only; every call is an audit event.';

create function api.get_care_patient(p_id bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_doc bigint := app.current_doctor_id();
  v_result json;
begin
  select app.care_patient_json(p, m) into v_result
    from app.patient_doctors m join app.patients p on p.id = m.patient_id
   where m.doctor_id = v_doc and m.patient_id = p_id;
  if v_result is null then
    return app.refuse('read', p_id, pg_catalog.jsonb_build_object('object', 'patient', 'via', 'care_team', 'doctor', v_doc),
                      'RNTFD', 'patient not found');
  end if;
  perform app.audit('read', 'ok', p_id, null, pg_catalog.jsonb_build_object('object', 'patient', 'via', 'care_team', 'doctor', v_doc));
  return v_result;
end
$$;
comment on function api.get_care_patient(bigint) is
  'GET /api/care/patients/<id>/: one patient mapped to the caller''s doctor record, with the mapping''s id and date; 404 otherwise. Every call is an audit event.';

-- Mappings: the care team sees its own but changes none (403, recorded).
create or replace function api.create_mapping(p_patient bigint, p_doctor bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_mapping app.patient_doctors;
begin
  if not exists (select from app.patients p where p.id = p_patient) then
    return app.refuse('create', p_patient, pg_catalog.jsonb_build_object('object', 'mapping', 'doctor', p_doctor),
                      'RNTFD', 'patient not found', 'patient');
  end if;
  -- Visible but not the caller's: a patient in their care.
  if not app.current_user_is_admin() and not exists (select from app.patients p where p.id = p_patient and p.owner_id = v_uid) then
    return app.refuse('create', p_patient, pg_catalog.jsonb_build_object('object', 'mapping', 'doctor', p_doctor),
                      'RFRBD', 'only the patient''s owner or an admin may map it', 'patient');
  end if;
  if not exists (select from app.doctors d where d.id = p_doctor) then
    raise exception 'doctor not found' using errcode = 'RNTFD', column = 'doctor';
  end if;
  -- ON CONFLICT instead of an exception block: no subtransaction per call, and
  -- of many concurrent identical requests exactly one inserts.
  insert into app.patient_doctors (patient_id, doctor_id)
  values (p_patient, p_doctor)
  on conflict (patient_id, doctor_id) do nothing
  returning * into v_mapping;
  if not found then
    raise exception 'this doctor is already assigned to this patient' using errcode = 'RCNFL', column = 'doctor';
  end if;
  return app.mapping_json(v_mapping);
end
$$;

create or replace function api.delete_mapping(p_id bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
  v_patient bigint;
begin
  perform app.require_user();
  delete from app.patient_doctors m where m.id = p_id returning m.id into v_id;
  if v_id is null then
    -- Visible but not removable: the care team's own mapping.
    select m.patient_id into v_patient from app.patient_doctors m where m.id = p_id;
    if found then
      return app.refuse('delete', v_patient, pg_catalog.jsonb_build_object('object', 'mapping', 'mapping', p_id),
                        'RFRBD', 'only the patient''s owner or an admin may remove this mapping');
    end if;
    return app.refuse('delete', null, pg_catalog.jsonb_build_object('object', 'mapping', 'mapping', p_id), 'RNTFD', 'mapping not found');
  end if;
  return json_build_object('id', v_id);
end
$$;

-- The access log stays the owner's (and admins'): the care team reads the
-- patient, not who else did.
create or replace function api.patient_access_log(p_patient_id bigint, p_limit integer default null, p_offset integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_admin boolean := app.current_user_is_admin();
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_count bigint;
  v_rows json;
begin
  -- The owner and admins see the patient; anyone else gets a recorded refusal.
  if not exists (select from app.patients p where p.id = p_patient_id) then
    return app.refuse('read', p_patient_id, '{"object": "access_log"}', 'RNTFD', 'patient not found');
  end if;
  if not v_admin and not exists (select from app.patients p where p.id = p_patient_id and p.owner_id = v_uid) then
    return app.refuse('read', p_patient_id, '{"object": "access_log"}', 'RFRBD', 'only the patient''s owner or an admin may read its access log');
  end if;
  -- Refused attempts by others are for admins; the owner sees every
  -- access that happened and their own attempts.
  select count(*) into v_count
    from audit.events e
   where (e.patient_id = p_patient_id or e.patients @> array[p_patient_id])
     and (v_admin or e.outcome = 'ok' or e.user_id = v_uid);
  -- Owners see who (user and door), when and what was done, but not other
  -- people's logins, addresses and request ids, nor the other patients a
  -- list returned (as in migration 013).
  select json_agg(case when v_admin or e.user_id = v_uid then app.event_json(e)
                       else app.event_json(row(e.id, e.at, e.xact, e.user_id, null, e.door, e.action, e.outcome,
                                               e.patient_id, case when e.patients is null then null else array[p_patient_id] end,
                                               null, null, e.detail)::audit.events) end
                  order by e.id desc) into v_rows
    from (select * from audit.events e
           where (e.patient_id = p_patient_id or e.patients @> array[p_patient_id])
             and (v_admin or e.outcome = 'ok' or e.user_id = v_uid)
           order by e.id desc limit v_limit offset v_offset) e;
  perform app.audit('read', 'ok', p_patient_id, null, '{"object": "access_log"}');
  return app.page(v_count, v_rows, '/api/patients/' || p_patient_id || '/access-log/', v_limit, v_offset, null);
end
$$;

revoke all on function api.link_doctor_account(bigint, bigint), api.unlink_doctor_account(bigint),
  api.list_care_patients(integer, integer), api.get_care_patient(bigint) from public;
grant execute on function api.link_doctor_account(bigint, bigint), api.unlink_doctor_account(bigint),
  api.list_care_patients(integer, integer), api.get_care_patient(bigint) to healthcare_api, healthcare_user;

reset role;

set local role healthcare_owner;

-- The psql door: records.care_patients, a view over a definer function
-- like the other records views, recording what it returns.
create function app.visible_care_patients()
returns table (id bigint, owner_id bigint, name text, age integer, gender text, gender_fhir text,
               created_at timestamptz, updated_at timestamptz, mapping_id bigint, mapped_at timestamptz)
language plpgsql volatile security definer rows 100
set search_path = pg_catalog, pg_temp
as $$
declare
  v_doc bigint := app.current_doctor_id();
  v_ids bigint[];
begin
  return query
    select p.id, p.owner_id, p.name, p.age, p.gender, p.gender_fhir, p.created_at, p.updated_at, m.id, m.created_at
      from app.patient_doctors m join app.patients p on p.id = m.patient_id
     where m.doctor_id = v_doc
     order by m.patient_id;
  select array_agg(m.patient_id order by m.patient_id) into v_ids
    from app.patient_doctors m join app.patients p on p.id = m.patient_id
   where m.doctor_id = v_doc;
  perform app.audit('list', 'ok', null, coalesce(v_ids, '{}'),
                    pg_catalog.jsonb_build_object('object', 'patient', 'via', 'records.care_patients', 'doctor', v_doc));
end
$$;
comment on function app.visible_care_patients() is
  'The patients mapped to the caller''s doctor record, for records.care_patients; records the list. Security definer (owner healthcare_access): nothing of other rows reaches EXPLAIN or statistics.';
revoke all on function app.visible_care_patients() from public;
grant execute on function app.visible_care_patients() to healthcare_user;
alter function app.visible_care_patients() owner to healthcare_access;

create view records.care_patients as select * from app.visible_care_patients();
comment on view records.care_patients is
  'The patients in your care: those mapped to the doctor record linked to your account, with the mapping''s id and date. Read-only.';
grant select on records.care_patients to healthcare_user;


comment on view records.patients is
  'The patient profiles you may read: your own, those in your care (records.care_patients lists them apart), every one for admins; gender as sent, gender_fhir derived from it. Write with api.create_patient, api.update_patient and api.delete_patient.';
reset role;

---- create above / drop below ----

set local role healthcare_owner;
drop view records.care_patients;
drop function app.visible_care_patients();
reset role;
set local role healthcare_access;
drop function api.link_doctor_account(bigint, bigint), api.unlink_doctor_account(bigint),
  api.list_care_patients(integer, integer), api.get_care_patient(bigint);

create or replace function api.list_doctors(p_specialization text default null, p_search text default null,
                                            p_limit integer default null, p_offset integer default null) returns json
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_spec text := nullif(btrim(p_specialization), '');
  v_search text := nullif(btrim(p_search), '');
  v_pattern text;
  v_query text := '';
  v_count bigint;
  v_rows json;
begin
  if v_search is not null then
    v_pattern := '%' || replace(replace(replace(v_search, '\', '\\'), '%', '\%'), '_', '\_') || '%';
  end if;
  if v_spec is not null then
    v_query := v_query || '&specialization=' || app.url_encode(v_spec);
  end if;
  if v_search is not null then
    v_query := v_query || '&search=' || app.url_encode(v_search);
  end if;
  select count(*) into v_count from app.doctors d
   where (v_spec is null or lower(d.specialization) = lower(v_spec))
     and (v_pattern is null or d.name ilike v_pattern or d.specialization ilike v_pattern);
  select json_agg(app.doctor_json(d) order by d.id) into v_rows
    from (select * from app.doctors d
           where (v_spec is null or lower(d.specialization) = lower(v_spec))
             and (v_pattern is null or d.name ilike v_pattern or d.specialization ilike v_pattern)
           order by d.id limit v_limit offset v_offset) d;
  return app.page(v_count, v_rows, '/api/doctors/', v_limit, v_offset, v_query);
end
$$;

create or replace function api.get_doctor(p_id bigint) returns json
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result json;
begin
  select app.doctor_json(d) into v_result from app.doctors d where d.id = p_id;
  if v_result is null then
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  return v_result;
end
$$;

create or replace function api.create_doctor(p_name text, p_specialization text) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_doctor app.doctors;
begin
  perform app.require_user();
  insert into app.doctors (name, specialization)
  values (app.check_name(p_name, 'name', 200), app.check_name(p_specialization, 'specialization', 100))
  returning * into v_doctor;
  return app.doctor_json(v_doctor);
end
$$;

create or replace function api.create_mapping(p_patient bigint, p_doctor bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_mapping app.patient_doctors;
begin
  perform app.require_user();
  if not exists (select from app.patients p where p.id = p_patient) then
    return app.refuse('create', p_patient, pg_catalog.jsonb_build_object('object', 'mapping', 'doctor', p_doctor),
                      'RNTFD', 'patient not found', 'patient');
  end if;
  if not exists (select from app.doctors d where d.id = p_doctor) then
    raise exception 'doctor not found' using errcode = 'RNTFD', column = 'doctor';
  end if;
  insert into app.patient_doctors (patient_id, doctor_id)
  values (p_patient, p_doctor)
  on conflict (patient_id, doctor_id) do nothing
  returning * into v_mapping;
  if not found then
    raise exception 'this doctor is already assigned to this patient' using errcode = 'RCNFL', column = 'doctor';
  end if;
  return app.mapping_json(v_mapping);
end
$$;

create or replace function api.delete_mapping(p_id bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
begin
  perform app.require_user();
  delete from app.patient_doctors m where m.id = p_id returning m.id into v_id;
  if v_id is null then
    return app.refuse('delete', null, pg_catalog.jsonb_build_object('object', 'mapping', 'mapping', p_id), 'RNTFD', 'mapping not found');
  end if;
  return json_build_object('id', v_id);
end
$$;

create or replace function api.patient_access_log(p_patient_id bigint, p_limit integer default null, p_offset integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_admin boolean := app.current_user_is_admin();
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_count bigint;
  v_rows json;
begin
  if not exists (select from app.patients p where p.id = p_patient_id) then
    return app.refuse('read', p_patient_id, '{"object": "access_log"}', 'RNTFD', 'patient not found');
  end if;
  select count(*) into v_count
    from audit.events e
   where (e.patient_id = p_patient_id or e.patients @> array[p_patient_id])
     and (v_admin or e.outcome = 'ok' or e.user_id = v_uid);
  select json_agg(app.event_json(e) order by e.id desc) into v_rows
    from (select * from audit.events e
           where (e.patient_id = p_patient_id or e.patients @> array[p_patient_id])
             and (v_admin or e.outcome = 'ok' or e.user_id = v_uid)
           order by e.id desc limit v_limit offset v_offset) e;
  perform app.audit('read', 'ok', p_patient_id, null, '{"object": "access_log"}');
  return app.page(v_count, v_rows, '/api/patients/' || p_patient_id || '/access-log/', v_limit, v_offset, null);
end
$$;
reset role;

set local role healthcare_owner;
comment on view records.patients is
  'Your patient profiles (every one, for admins): gender as sent, gender_fhir derived from it. Write with api.create_patient, api.update_patient and api.delete_patient.';

create or replace function app.refuse(p_action text, p_patient bigint, p_detail jsonb, p_code text, p_message text, p_field text default null)
returns json
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  perform app.audit(p_action,
                    case when p_code = 'RFRBD' or (p_patient is not null and app.patient_exists(p_patient))
                         then 'forbidden' else 'not_found' end,
                    p_patient, null, p_detail);
  return pg_catalog.json_build_object('error', pg_catalog.json_build_object('code', p_code, 'message', p_message, 'field', p_field));
end
$$;
comment on function app.refuse(text, bigint, jsonb, text, text, text) is
  'Records a refused attempt (forbidden when the patient exists, else not_found) and returns {"error": {"code", "message", "field"}}, which the REST server answers as the error it names.';

drop function app.doctor_json_for(app.doctors, bigint, boolean);
drop function app.care_patient_json(app.patients, app.patient_doctors);
drop function app.json_append(json, json);

drop trigger doctors_check_delete on app.doctors;
drop function app.check_doctor_delete();
drop policy delete_linked on app.doctors;
drop policy update_linked on app.doctors;
alter policy update_creator on app.doctors
  using (created_by = (select app.current_user_id()))
  with check (created_by = (select app.current_user_id()));
comment on policy update_creator on app.doctors is 'Only the creator changes a doctor.';
comment on policy delete_creator on app.doctors is 'Only the creator removes a doctor.';

drop policy select_treating_doctor on app.patient_doctors;
drop policy select_patient_owner on app.patient_doctors;
drop policy insert_patient_owner on app.patient_doctors;
drop policy delete_patient_owner on app.patient_doctors;
create policy select_patient_visible on app.patient_doctors for select to healthcare_access
  using (exists (select from app.patients p where p.id = patient_id));
comment on policy select_patient_visible on app.patient_doctors is 'A mapping is visible to whoever sees its patient: the owner and admins.';
create policy insert_patient_visible on app.patient_doctors for insert to healthcare_access
  with check (exists (select from app.patients p where p.id = patient_id));
comment on policy insert_patient_visible on app.patient_doctors is 'Only a patient you can see (your own; any, for admins) can be mapped.';
create policy delete_patient_visible on app.patient_doctors for delete to healthcare_access
  using (exists (select from app.patients p where p.id = patient_id));
comment on policy delete_patient_visible on app.patient_doctors is 'Only mappings of patients you can see can be removed.';

drop policy select_care_team on app.patients;
drop policy select_auth on app.patient_doctors;
drop policy update_owner on app.doctors;
drop policy select_owner on app.doctors;
reset role;

set local role healthcare_auth;
drop function app.care_patient_ids();
drop function app.current_doctor_id();
reset role;
set local role healthcare_reporter;
drop function app.doctor_serves_others(bigint, bigint);
reset role;

set local role healthcare_owner;
drop policy select_auth on app.doctors;
revoke select (patient_id, doctor_id) on app.patient_doctors from healthcare_auth;
revoke select (id, account_id) on app.doctors from healthcare_auth;
revoke update (account_id) on app.doctors from healthcare_access;
create index patient_doctors_doctor_id_idx on app.patient_doctors (doctor_id);
drop index app.patient_doctors_doctor_id_patient_id_idx;
alter table app.doctors drop column account_id;
reset role;
