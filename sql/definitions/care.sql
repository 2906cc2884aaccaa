-- Care teams: what a linked doctor account sees of the patients mapped to it.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_auth;

-- plpgsql, so its query is planned once per session (a language sql
-- function that is not inlined is planned on every call).
create or replace function app.care_patient_ids()
returns SETOF bigint
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

set local role healthcare_owner;

-- The members of app.patient_json, then the mapping's, in one
-- json_build_object: appending to app.patient_json's text would parse
-- every row again. TestCarePatientIsThePatientAndItsMapping keeps the two
-- in step.
create or replace function app.care_patient_json(p app.patients, m app.patient_doctors) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', p.id, 'version', p.version, 'name', p.name, 'age', p.age, 'gender', p.gender,
                                      'gender_fhir', p.gender_fhir,
                                      'user', p.owner_id, 'created_at', p.created_at, 'updated_at', p.updated_at,
                                      'mapping', m.id, 'mapped_at', m.created_at)
$$;
comment on function app.care_patient_json(app.patients,app.patient_doctors) is
  'A patient in the caller''s care: the members of app.patient_json, then the mapping''s id and date.';
revoke all on function app.care_patient_json(app.patients,app.patient_doctors) from public;
grant execute on function app.care_patient_json(app.patients,app.patient_doctors) to healthcare_access;

set local role healthcare_access;

create or replace function api.list_care_patients(p_limit integer default null, p_offset integer default null) returns json
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
comment on function api.list_care_patients(integer,integer) is
  'GET /api/care/patients/: the patients mapped to the caller''s doctor record (empty when the account is linked to none), in patient order, each with its mapping''s id and date. Read-only; every call is an audit event.';
revoke all on function api.list_care_patients(integer,integer) from public;
grant execute on function api.list_care_patients(integer,integer) to healthcare_api, healthcare_user;

create or replace function api.get_care_patient(p_id bigint) returns json
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
revoke all on function api.get_care_patient(bigint) from public;
grant execute on function api.get_care_patient(bigint) to healthcare_api, healthcare_user;

-- The psql door: records.care_patients, a view over a definer function
-- like the other records views, recording what it returns.
create or replace function app.visible_care_patients()
returns TABLE(id bigint, owner_id bigint, name text, age integer, gender text, gender_fhir text, created_at timestamp with time zone, updated_at timestamp with time zone, mapping_id bigint, mapped_at timestamp with time zone)
language plpgsql volatile security definer rows 100
set search_path = pg_catalog, pg_temp
as $$
declare
  v_doc bigint := app.current_doctor_id();
  v_ids bigint[] := '{}';
begin
  -- One query: what is returned is exactly what is recorded (as
  -- app.visible_patients).
  for id, owner_id, name, age, gender, gender_fhir, created_at, updated_at, mapping_id, mapped_at in
    select p.id, p.owner_id, p.name::text, p.age, p.gender::text, p.gender_fhir, p.created_at, p.updated_at, m.id, m.created_at
      from app.patient_doctors m join app.patients p on p.id = m.patient_id
     where m.doctor_id = v_doc
     order by m.patient_id
  loop
    v_ids := v_ids || id;
    return next;
  end loop;
  perform app.audit('list', 'ok', null, v_ids,
                    pg_catalog.jsonb_build_object('object', 'patient', 'via', 'records.care_patients', 'doctor', v_doc));
end
$$;
comment on function app.visible_care_patients() is
  'The patients mapped to the caller''s doctor record, for records.care_patients; records what it returns. Security definer (owner healthcare_access): nothing of other rows reaches EXPLAIN or statistics.';
revoke all on function app.visible_care_patients() from public;
grant execute on function app.visible_care_patients() to healthcare_user;

set local role healthcare_owner;

create or replace view records.care_patients as select * from app.visible_care_patients();
comment on view records.care_patients is
  'The patients in your care: those mapped to the doctor record linked to your account, with the mapping''s id and date. Read-only.';
grant select on records.care_patients to healthcare_user;

reset role;
