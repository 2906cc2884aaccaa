-- Versions, conditional writes and record history (issue 14).
--
--   * app.patients and app.doctors carry a version: 1 when created, one
--     more on every update, kept by the BEFORE UPDATE trigger that already
--     kept updated_at (app.touch_version), whoever writes. No login can set
--     it: the column is not in any insert or update grant, and the trigger
--     overwrites it anyway. The JSON of a patient and of a doctor gains
--     "version"; the REST server sends it as ETag: W/"<version>".
--   * api.update_patient, api.delete_patient, api.update_doctor and
--     api.delete_doctor take an optional last argument p_version, the
--     version the caller read. The comparison is part of the write itself
--     (`update ... where id = $1 and version = p_version`): of concurrent
--     writers sending the same version exactly one matches the row, the
--     others find it changed once the winner commits. A stale version
--     raises RSTAL (HTTP 412) with the current version in DETAIL
--     (current_version=N); nothing was written, and it is not recorded as a
--     refused attempt (the caller may change the record; it is not an
--     access refusal). Someone who may not change the record meets the
--     same refusal as before (recorded, 404 or 403), whatever the version.
--     NULL (the default) writes unconditionally, as before.
--   * History is the audit trail: every create, update and delete of a
--     patient is already an event with its before and after values
--     (app.audit_patient_change, 013); doctors gain the same
--     (app.audit_doctor_change). api.patient_history / api.patient_version
--     and api.doctor_history / api.doctor_version read the events whose
--     values carry a version (written since this migration), newest first.
--     A patient's history is for whoever may read the patient (the owner
--     and admins) and reading it is recorded; a deleted patient's history
--     is for admins only. A doctor's history is public like the directory,
--     a deleted doctor's for admins only.
--   * records.patients and records.doctors show the version, so a psql
--     user can pass it to the api functions.

set local role healthcare_owner;

alter table app.patients add column version integer not null default 1
  constraint patients_version_check check (version >= 1);
comment on column app.patients.version is
  'Starts at 1 and grows by one on every update (trigger patients_touch_version); the REST API''s ETag W/"<version>".';
alter table app.doctors add column version integer not null default 1
  constraint doctors_version_check check (version >= 1);
comment on column app.doctors.version is
  'Starts at 1 and grows by one on every update (trigger doctors_touch_version); the REST API''s ETag W/"<version>".';

-- One trigger keeps both updated_at and version, so an update costs no
-- more triggers than before.
create function app.touch_version() returns trigger
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  new.updated_at := now();
  new.version := old.version + 1;
  return new;
end
$$;
comment on function app.touch_version() is 'Trigger: sets updated_at and the next version on every update.';
revoke all on function app.touch_version() from public;

drop trigger patients_touch_updated_at on app.patients;
create trigger patients_touch_version before update on app.patients
  for each row execute function app.touch_version();
drop trigger doctors_touch_updated_at on app.doctors;
create trigger doctors_touch_version before update on app.doctors
  for each row execute function app.touch_version();

-- The JSON carries the version right after the id, where the REST server
-- finds it for the ETag without parsing the body.
create or replace function app.patient_json(p app.patients) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', p.id, 'version', p.version, 'name', p.name, 'age', p.age, 'gender', p.gender,
                                      'gender_fhir', p.gender_fhir,
                                      'user', p.owner_id, 'created_at', p.created_at, 'updated_at', p.updated_at)
$$;
comment on function app.patient_json(app.patients) is
  'A patient as the REST API shows it (owner_id becomes "user"; version second, for the ETag).';

create or replace function app.doctor_json(d app.doctors) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', d.id, 'version', d.version, 'name', d.name, 'specialization', d.specialization,
                                      'created_by', d.created_by, 'created_at', d.created_at, 'updated_at', d.updated_at)
$$;
comment on function app.doctor_json(app.doctors) is 'A doctor as the REST API shows it (version second, for the ETag).';

-- Doctor changes in the trail, as patient changes are (no patient_id: the
-- directory is not patient data; detail names the doctor).
create function app.audit_doctor_change() returns trigger
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  if tg_op = 'INSERT' then
    perform app.audit('create', 'ok', null, null,
                      pg_catalog.jsonb_build_object('object', 'doctor', 'doctor', new.id, 'after', pg_catalog.to_jsonb(new)));
  elsif tg_op = 'UPDATE' then
    perform app.audit('update', 'ok', null, null,
                      pg_catalog.jsonb_build_object('object', 'doctor', 'doctor', new.id, 'before', pg_catalog.to_jsonb(old),
                                                    'after', pg_catalog.to_jsonb(new)));
  else
    perform app.audit('delete', 'ok', null, null,
                      pg_catalog.jsonb_build_object('object', 'doctor', 'doctor', old.id, 'before', pg_catalog.to_jsonb(old)));
  end if;
  return null;
end
$$;
comment on function app.audit_doctor_change() is 'Trigger: an audit event for every insert, update and delete of a doctor, with before and after values.';
revoke all on function app.audit_doctor_change() from public;
grant execute on function app.audit_doctor_change() to healthcare_access, healthcare_owner;

create trigger doctors_audit after insert or update or delete on app.doctors
  for each row execute function app.audit_doctor_change();

-- One entry of a history: the version an event made (or deleted), when,
-- who, through which door, and the values as the REST API shows them.
create function app.history_json(e audit.events) returns json
language sql stable
as $$
  select pg_catalog.json_build_object(
           'version', (coalesce(e.detail -> 'after', e.detail -> 'before') ->> 'version')::integer,
           'action', e.action, 'at', e.at, 'changed_by', e.user_id, 'door', e.door,
           'values', case
                       when e.action = 'delete' then null
                       when e.detail ->> 'object' = 'patient'
                         then app.patient_json(pg_catalog.jsonb_populate_record(null::app.patients, e.detail -> 'after'))
                       else app.doctor_json(pg_catalog.jsonb_populate_record(null::app.doctors, e.detail -> 'after'))
                     end)
$$;
comment on function app.history_json(audit.events) is
  'A change event as a history entry: version, action (create, update, delete), at, changed_by (app user), door, values (null for a delete).';
revoke all on function app.history_json(audit.events) from public;
grant execute on function app.history_json(audit.events) to healthcare_access;

reset role;

-- The events of one record's changes, found without reading its reads.
set local role healthcare_audit;
-- The cheap tests first: every read event is turned away by its action
-- before its detail is parsed.
create index events_patient_changes_idx on audit.events (patient_id, id)
  where action in ('create', 'update', 'delete') and outcome = 'ok' and detail ->> 'object' = 'patient';
create index events_doctor_changes_idx on audit.events ((detail ->> 'doctor'), id)
  where action in ('create', 'update', 'delete') and outcome = 'ok' and detail ->> 'object' = 'doctor';
reset role;

-- The conditional writes. Same owner (healthcare_access), definer, search
-- path and grants as before; the signature gains p_version, so the old
-- function is dropped and the new one made.
set local role healthcare_access;

drop function api.update_patient(bigint, text, integer, text);
create function api.update_patient(p_id bigint, p_name text default null, p_age integer default null,
                                   p_gender text default null, p_version integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_patient app.patients;
  v_current integer;
begin
  perform app.require_user();
  update app.patients p
     set name = case when p_name is null then p.name else app.check_name(p_name, 'name', 200) end,
         age = case when p_age is null then p.age else app.check_age(p_age) end,
         gender = case when p_gender is null then p.gender else app.check_gender(p_gender) end
   where p.id = p_id and (p_version is null or p.version = p_version)
  returning * into v_patient;
  if not found then
    if p_version is not null then
      -- FOR UPDATE meets the update policies: only a caller who may change
      -- the patient learns that it changed.
      select p.version into v_current from app.patients p where p.id = p_id for update;
      if found then
        raise exception 'patient % has changed: it is at version %, not %', p_id, v_current, p_version
          using errcode = 'RSTAL', detail = 'current_version=' || v_current;
      end if;
    end if;
    return app.refuse('update', p_id, '{"object": "patient"}', 'RNTFD', 'patient not found');
  end if;
  return app.patient_json(v_patient);
end
$$;
comment on function api.update_patient(bigint, text, integer, text, integer) is
  'PUT/PATCH /api/patients/<id>/: NULL arguments keep the current value; p_version, when given, must be the current version (else RSTAL, nothing written).';

drop function api.delete_patient(bigint);
create function api.delete_patient(p_id bigint, p_version integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
  v_current integer;
begin
  perform app.require_user();
  delete from app.patients p where p.id = p_id and (p_version is null or p.version = p_version) returning p.id into v_id;
  if v_id is null then
    if p_version is not null then
      select p.version into v_current from app.patients p where p.id = p_id for update;
      if found then
        raise exception 'patient % has changed: it is at version %, not %', p_id, v_current, p_version
          using errcode = 'RSTAL', detail = 'current_version=' || v_current;
      end if;
    end if;
    return app.refuse('delete', p_id, '{"object": "patient"}', 'RNTFD', 'patient not found');
  end if;
  return json_build_object('id', v_id);
end
$$;
comment on function api.delete_patient(bigint, integer) is
  'DELETE /api/patients/<id>/: removes the profile and its mappings; p_version, when given, must be the current version (else RSTAL, nothing deleted).';

drop function api.update_doctor(bigint, text, text);
create function api.update_doctor(p_id bigint, p_name text default null, p_specialization text default null,
                                  p_version integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_doctor app.doctors;
  v_current integer;
begin
  perform app.require_user();
  update app.doctors d
     set name = case when p_name is null then d.name else app.check_name(p_name, 'name', 200) end,
         specialization = case when p_specialization is null then d.specialization
                               else app.check_name(p_specialization, 'specialization', 100) end
   where d.id = p_id and (p_version is null or d.version = p_version)
  returning * into v_doctor;
  if not found then
    if p_version is not null then
      select d.version into v_current from app.doctors d where d.id = p_id for update;
      if found then
        raise exception 'doctor % has changed: it is at version %, not %', p_id, v_current, p_version
          using errcode = 'RSTAL', detail = 'current_version=' || v_current;
      end if;
    end if;
    if exists (select from app.doctors d where d.id = p_id) then
      return app.refuse('update', null, pg_catalog.jsonb_build_object('object', 'doctor', 'doctor', p_id),
                        'RFRBD', 'only the doctor''s creator or an admin may change it');
    end if;
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  return app.doctor_json(v_doctor);
end
$$;
comment on function api.update_doctor(bigint, text, text, integer) is
  'PUT/PATCH /api/doctors/<id>/: creator or admin; NULL arguments keep the current value; p_version, when given, must be the current version (else RSTAL, nothing written).';

drop function api.delete_doctor(bigint);
create function api.delete_doctor(p_id bigint, p_version integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
  v_current integer;
begin
  perform app.require_user();
  delete from app.doctors d where d.id = p_id and (p_version is null or d.version = p_version) returning d.id into v_id;
  if v_id is null then
    if p_version is not null then
      select d.version into v_current from app.doctors d where d.id = p_id for update;
      if found then
        raise exception 'doctor % has changed: it is at version %, not %', p_id, v_current, p_version
          using errcode = 'RSTAL', detail = 'current_version=' || v_current;
      end if;
    end if;
    if exists (select from app.doctors d where d.id = p_id) then
      return app.refuse('delete', null, pg_catalog.jsonb_build_object('object', 'doctor', 'doctor', p_id),
                        'RFRBD', 'only the doctor''s creator or an admin may change it');
    end if;
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  return json_build_object('id', v_id);
end
$$;
comment on function api.delete_doctor(bigint, integer) is
  'DELETE /api/doctors/<id>/: creator or admin; removes the doctor''s mappings; p_version, when given, must be the current version (else RSTAL, nothing deleted).';

-- The doctors of a patient carry their version too.
create or replace function api.list_patient_doctors(p_patient_id bigint, p_limit integer default null, p_offset integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_count bigint;
  v_rows json;
begin
  perform app.require_user();
  if not exists (select from app.patients p where p.id = p_patient_id) then
    return app.refuse('read', p_patient_id, '{"object": "patient_doctors"}', 'RNTFD', 'patient not found');
  end if;
  select count(*) into v_count from app.patient_doctors m where m.patient_id = p_patient_id;
  select json_agg(r.doc order by r.mapping_id) into v_rows
    from (select m.id as mapping_id,
                 json_build_object('id', d.id, 'version', d.version, 'name', d.name, 'specialization', d.specialization,
                                   'created_by', d.created_by, 'created_at', d.created_at, 'updated_at', d.updated_at,
                                   'mapping_id', m.id, 'mapped_at', m.created_at) as doc
            from app.patient_doctors m join app.doctors d on d.id = m.doctor_id
           where m.patient_id = p_patient_id
           order by m.id limit v_limit offset v_offset) r;
  perform app.audit('read', 'ok', p_patient_id, null, '{"object": "patient_doctors"}');
  return app.page(v_count, v_rows, '/api/mappings/patient/' || p_patient_id || '/', v_limit, v_offset, null);
end
$$;

-- History. The filters repeat the partial indexes' predicates word for
-- word, so the planner uses them.
create function api.patient_history(p_id bigint, p_limit integer default null, p_offset integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_count bigint;
  v_rows json;
begin
  perform app.require_user();
  -- Whoever may read the patient (the policies decide); a deleted one's
  -- history is for admins.
  if not exists (select from app.patients p where p.id = p_id) and not app.current_user_is_admin() then
    return app.refuse('read', p_id, '{"object": "patient_history"}', 'RNTFD', 'patient not found');
  end if;
  select count(*) into v_count
    from audit.events e
   where e.patient_id = p_id
     and e.detail ->> 'object' = 'patient' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok'
     and coalesce(e.detail -> 'after', e.detail -> 'before') ? 'version';
  if v_count = 0 and not exists (select from app.patients p where p.id = p_id) then
    return app.refuse('read', p_id, '{"object": "patient_history"}', 'RNTFD', 'patient not found');
  end if;
  select json_agg(app.history_json(e) order by e.id desc) into v_rows
    from (select * from audit.events e
           where e.patient_id = p_id
             and e.detail ->> 'object' = 'patient' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok'
             and coalesce(e.detail -> 'after', e.detail -> 'before') ? 'version'
           order by e.id desc limit v_limit offset v_offset) e;
  perform app.audit('read', 'ok', p_id, null, '{"object": "patient_history"}');
  return app.page(v_count, v_rows, '/api/patients/' || p_id || '/history/', v_limit, v_offset, null);
end
$$;
comment on function api.patient_history(bigint, integer, integer) is
  'GET /api/patients/<id>/history/: every version of the patient since versions exist (migration 014), newest first, from the audit trail; a delete is an entry without values. The owner and admins (a deleted patient: admins only). Reading it is recorded.';

create function api.patient_version(p_id bigint, p_version integer) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result json;
begin
  perform app.require_user();
  if not exists (select from app.patients p where p.id = p_id) and not app.current_user_is_admin() then
    return app.refuse('read', p_id, pg_catalog.jsonb_build_object('object', 'patient_history', 'version', p_version),
                      'RNTFD', 'patient not found');
  end if;
  select app.history_json(e) into v_result
    from audit.events e
   where e.patient_id = p_id
     and e.detail ->> 'object' = 'patient' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok'
     and e.action <> 'delete' and (e.detail -> 'after' ->> 'version')::integer = p_version
   order by e.id desc
   limit 1;
  if v_result is null then
    -- The caller may read the patient; there is just no such version.
    raise exception 'version not found' using errcode = 'RNTFD';
  end if;
  perform app.audit('read', 'ok', p_id, null, pg_catalog.jsonb_build_object('object', 'patient_history', 'version', p_version));
  return v_result;
end
$$;
comment on function api.patient_version(bigint, integer) is
  'GET /api/patients/<id>/history/<version>/: one version of the patient, as api.patient_history lists it. Same readers; recorded.';

create function api.doctor_history(p_id bigint, p_limit integer default null, p_offset integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_exists boolean := exists (select from app.doctors d where d.id = p_id);
  v_count bigint;
  v_rows json;
begin
  -- Public like the directory; a removed doctor's history is for admins.
  if not v_exists and not coalesce(app.current_user_is_admin(), false) then
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  select count(*) into v_count
    from audit.events e
   where e.detail ->> 'doctor' = p_id::text
     and e.detail ->> 'object' = 'doctor' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok';
  if v_count = 0 and not v_exists then
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  select json_agg(app.history_json(e) order by e.id desc) into v_rows
    from (select * from audit.events e
           where e.detail ->> 'doctor' = p_id::text
             and e.detail ->> 'object' = 'doctor' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok'
           order by e.id desc limit v_limit offset v_offset) e;
  return app.page(v_count, v_rows, '/api/doctors/' || p_id || '/history/', v_limit, v_offset, null);
end
$$;
comment on function api.doctor_history(bigint, integer, integer) is
  'GET /api/doctors/<id>/history/: every version of the doctor since migration 014, newest first, from the audit trail; a delete is an entry without values. Public; a removed doctor''s history is for admins only.';

create function api.doctor_version(p_id bigint, p_version integer) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result json;
begin
  if not exists (select from app.doctors d where d.id = p_id) and not coalesce(app.current_user_is_admin(), false) then
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  select app.history_json(e) into v_result
    from audit.events e
   where e.detail ->> 'doctor' = p_id::text
     and e.detail ->> 'object' = 'doctor' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok'
     and e.action <> 'delete' and (e.detail -> 'after' ->> 'version')::integer = p_version
   order by e.id desc
   limit 1;
  if v_result is null then
    raise exception 'version not found' using errcode = 'RNTFD';
  end if;
  return v_result;
end
$$;
comment on function api.doctor_version(bigint, integer) is
  'GET /api/doctors/<id>/history/<version>/: one version of the doctor, as api.doctor_history lists it. Public; a removed doctor''s for admins only.';

revoke all on function api.update_patient(bigint, text, integer, text, integer), api.delete_patient(bigint, integer),
  api.update_doctor(bigint, text, text, integer), api.delete_doctor(bigint, integer),
  api.patient_history(bigint, integer, integer), api.patient_version(bigint, integer),
  api.doctor_history(bigint, integer, integer), api.doctor_version(bigint, integer) from public;
grant execute on function api.update_patient(bigint, text, integer, text, integer), api.delete_patient(bigint, integer),
  api.update_doctor(bigint, text, text, integer), api.delete_doctor(bigint, integer),
  api.patient_history(bigint, integer, integer), api.patient_version(bigint, integer),
  api.doctor_history(bigint, integer, integer), api.doctor_version(bigint, integer) to healthcare_api, healthcare_user;

reset role;

-- The psql door shows the version: the views' functions change their
-- result type, so they and the views are made again.
set local role healthcare_owner;

drop view records.patients;
drop function app.visible_patients();
create function app.visible_patients()
returns table (id bigint, owner_id bigint, name text, age integer, gender text, gender_fhir text, version integer,
               created_at timestamptz, updated_at timestamptz)
language plpgsql volatile security definer rows 100
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ids bigint[] := '{}';
begin
  -- One query: what is returned is exactly what is recorded.
  for id, owner_id, name, age, gender, gender_fhir, version, created_at, updated_at in
    select p.id, p.owner_id, p.name, p.age, p.gender, p.gender_fhir, p.version, p.created_at, p.updated_at
      from app.patients p
     order by p.id
  loop
    v_ids := v_ids || id;
    return next;
  end loop;
  perform app.audit('list', 'ok', null, v_ids, '{"object": "patient", "via": "records.patients"}');
end
$$;
comment on function app.visible_patients() is
  'The patients the caller may see (their own; every one for admins), for records.patients, with their versions; records what it returns. Security definer (owner healthcare_access): the caller has no privilege on app.patients, so nothing of other rows reaches EXPLAIN or statistics.';
revoke all on function app.visible_patients() from public;
grant execute on function app.visible_patients() to healthcare_user;
alter function app.visible_patients() owner to healthcare_access;

create view records.patients as select * from app.visible_patients();
comment on view records.patients is
  'Your patient profiles (every one, for admins): gender as sent, gender_fhir derived from it, version. Write with api.create_patient, api.update_patient and api.delete_patient (pass the version you read as p_version to change only what you read); history with api.patient_history.';
grant select on records.patients to healthcare_user;

drop view records.doctors;
drop function app.visible_doctors();
create function app.visible_doctors()
returns table (id bigint, name text, specialization text, created_by bigint, version integer,
               created_at timestamptz, updated_at timestamptz)
language sql stable security definer rows 100
set search_path = pg_catalog, pg_temp
as $$
  select d.id, d.name, d.specialization, d.created_by, d.version, d.created_at, d.updated_at
    from app.doctors d
   order by d.id
$$;
comment on function app.visible_doctors() is
  'The doctor directory with versions, for records.doctors. Security definer (owner healthcare_access).';
revoke all on function app.visible_doctors() from public;
grant execute on function app.visible_doctors() to healthcare_user;
alter function app.visible_doctors() owner to healthcare_access;

create view records.doctors as select * from app.visible_doctors();
comment on view records.doctors is
  'The public doctor directory, with versions. Write with api.create_doctor, api.update_doctor and api.delete_doctor (p_version: the version you read); history with api.doctor_history.';
grant select on records.doctors to healthcare_user;

reset role;

---- create above / drop below ----

set local role healthcare_owner;

drop view records.doctors;
drop function app.visible_doctors();
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
revoke all on function app.visible_doctors() from public;
grant execute on function app.visible_doctors() to healthcare_user;
alter function app.visible_doctors() owner to healthcare_access;
create view records.doctors as select * from app.visible_doctors();
comment on view records.doctors is
  'The public doctor directory. Write with api.create_doctor, api.update_doctor and api.delete_doctor.';
grant select on records.doctors to healthcare_user;

drop view records.patients;
drop function app.visible_patients();
create function app.visible_patients()
returns table (id bigint, owner_id bigint, name text, age integer, gender text, gender_fhir text,
               created_at timestamptz, updated_at timestamptz)
language plpgsql volatile security definer rows 100
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ids bigint[];
begin
  return query
    select p.id, p.owner_id, p.name, p.age, p.gender, p.gender_fhir, p.created_at, p.updated_at
      from app.patients p
     order by p.id;
  select array_agg(p.id order by p.id) into v_ids from app.patients p;
  perform app.audit('list', 'ok', null, coalesce(v_ids, '{}'), '{"object": "patient", "via": "records.patients"}');
end
$$;
comment on function app.visible_patients() is
  'The patients the caller may see (their own; every one for admins), for records.patients. Security definer (owner healthcare_access): the caller has no privilege on app.patients, so nothing of other rows reaches EXPLAIN or statistics.';
revoke all on function app.visible_patients() from public;
grant execute on function app.visible_patients() to healthcare_user;
alter function app.visible_patients() owner to healthcare_access;
create view records.patients as select * from app.visible_patients();
comment on view records.patients is
  'Your patient profiles (every one, for admins): gender as sent, gender_fhir derived from it. Write with api.create_patient, api.update_patient and api.delete_patient.';
grant select on records.patients to healthcare_user;

reset role;

set local role healthcare_access;

drop function api.patient_history(bigint, integer, integer), api.patient_version(bigint, integer),
  api.doctor_history(bigint, integer, integer), api.doctor_version(bigint, integer);

drop function api.update_patient(bigint, text, integer, text, integer);
create function api.update_patient(p_id bigint, p_name text default null, p_age integer default null, p_gender text default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_patient app.patients;
begin
  perform app.require_user();
  update app.patients p
     set name = case when p_name is null then p.name else app.check_name(p_name, 'name', 200) end,
         age = case when p_age is null then p.age else app.check_age(p_age) end,
         gender = case when p_gender is null then p.gender else app.check_gender(p_gender) end
   where p.id = p_id
  returning * into v_patient;
  if not found then
    return app.refuse('update', p_id, '{"object": "patient"}', 'RNTFD', 'patient not found');
  end if;
  return app.patient_json(v_patient);
end
$$;
comment on function api.update_patient(bigint, text, integer, text) is
  'PUT/PATCH /api/patients/<id>/: NULL arguments keep the current value.';

drop function api.delete_patient(bigint, integer);
create function api.delete_patient(p_id bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
begin
  perform app.require_user();
  delete from app.patients p where p.id = p_id returning p.id into v_id;
  if v_id is null then
    return app.refuse('delete', p_id, '{"object": "patient"}', 'RNTFD', 'patient not found');
  end if;
  return json_build_object('id', v_id);
end
$$;
comment on function api.delete_patient(bigint) is 'DELETE /api/patients/<id>/: removes the profile and its mappings.';

drop function api.update_doctor(bigint, text, text, integer);
create function api.update_doctor(p_id bigint, p_name text default null, p_specialization text default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_doctor app.doctors;
begin
  perform app.require_user();
  update app.doctors d
     set name = case when p_name is null then d.name else app.check_name(p_name, 'name', 200) end,
         specialization = case when p_specialization is null then d.specialization
                               else app.check_name(p_specialization, 'specialization', 100) end
   where d.id = p_id
  returning * into v_doctor;
  if not found then
    if exists (select from app.doctors d where d.id = p_id) then
      return app.refuse('update', null, pg_catalog.jsonb_build_object('object', 'doctor', 'doctor', p_id),
                        'RFRBD', 'only the doctor''s creator or an admin may change it');
    end if;
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  return app.doctor_json(v_doctor);
end
$$;
comment on function api.update_doctor(bigint, text, text) is
  'PUT/PATCH /api/doctors/<id>/: creator or admin; NULL arguments keep the current value.';

drop function api.delete_doctor(bigint, integer);
create function api.delete_doctor(p_id bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
begin
  perform app.require_user();
  delete from app.doctors d where d.id = p_id returning d.id into v_id;
  if v_id is null then
    if exists (select from app.doctors d where d.id = p_id) then
      return app.refuse('delete', null, pg_catalog.jsonb_build_object('object', 'doctor', 'doctor', p_id),
                        'RFRBD', 'only the doctor''s creator or an admin may change it');
    end if;
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  return json_build_object('id', v_id);
end
$$;
comment on function api.delete_doctor(bigint) is 'DELETE /api/doctors/<id>/: creator or admin; removes the doctor''s mappings.';

revoke all on function api.update_patient(bigint, text, integer, text), api.delete_patient(bigint),
  api.update_doctor(bigint, text, text), api.delete_doctor(bigint) from public;
grant execute on function api.update_patient(bigint, text, integer, text), api.delete_patient(bigint),
  api.update_doctor(bigint, text, text), api.delete_doctor(bigint) to healthcare_api, healthcare_user;

create or replace function api.list_patient_doctors(p_patient_id bigint, p_limit integer default null, p_offset integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_count bigint;
  v_rows json;
begin
  perform app.require_user();
  if not exists (select from app.patients p where p.id = p_patient_id) then
    return app.refuse('read', p_patient_id, '{"object": "patient_doctors"}', 'RNTFD', 'patient not found');
  end if;
  select count(*) into v_count from app.patient_doctors m where m.patient_id = p_patient_id;
  select json_agg(r.doc order by r.mapping_id) into v_rows
    from (select m.id as mapping_id,
                 json_build_object('id', d.id, 'name', d.name, 'specialization', d.specialization,
                                   'created_by', d.created_by, 'created_at', d.created_at, 'updated_at', d.updated_at,
                                   'mapping_id', m.id, 'mapped_at', m.created_at) as doc
            from app.patient_doctors m join app.doctors d on d.id = m.doctor_id
           where m.patient_id = p_patient_id
           order by m.id limit v_limit offset v_offset) r;
  perform app.audit('read', 'ok', p_patient_id, null, '{"object": "patient_doctors"}');
  return app.page(v_count, v_rows, '/api/mappings/patient/' || p_patient_id || '/', v_limit, v_offset, null);
end
$$;

reset role;

set local role healthcare_audit;
drop index audit.events_patient_changes_idx, audit.events_doctor_changes_idx;
reset role;

set local role healthcare_owner;

drop function app.history_json(audit.events);
drop trigger doctors_audit on app.doctors;
drop function app.audit_doctor_change();

create or replace function app.doctor_json(d app.doctors) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', d.id, 'name', d.name, 'specialization', d.specialization,
                                      'created_by', d.created_by, 'created_at', d.created_at, 'updated_at', d.updated_at)
$$;
comment on function app.doctor_json(app.doctors) is 'A doctor as the REST API shows it.';

create or replace function app.patient_json(p app.patients) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', p.id, 'name', p.name, 'age', p.age, 'gender', p.gender,
                                      'gender_fhir', p.gender_fhir,
                                      'user', p.owner_id, 'created_at', p.created_at, 'updated_at', p.updated_at)
$$;
comment on function app.patient_json(app.patients) is 'A patient as the REST API shows it (owner_id becomes "user").';

drop trigger doctors_touch_version on app.doctors;
create trigger doctors_touch_updated_at before update on app.doctors
  for each row execute function app.touch_updated_at();
drop trigger patients_touch_version on app.patients;
create trigger patients_touch_updated_at before update on app.patients
  for each row execute function app.touch_updated_at();
drop function app.touch_version();

alter table app.doctors drop column version;
alter table app.patients drop column version;

reset role;
