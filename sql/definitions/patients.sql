-- Patient profiles: app.patients' grants, policies and triggers, their JSON, the api routes, history and the records view.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_owner;

grant select, delete on app.patients to healthcare_access;
grant select (id, owner_id, age, record_key, gender_fhir) on app.patients to healthcare_reporter;
grant insert (name, age, gender) on app.patients to healthcare_access;
grant update (name, age, gender) on app.patients to healthcare_access;

drop policy if exists import_owner on app.patients;
create policy import_owner on app.patients for all to healthcare_owner
  using ((select app.importing())) with check ((select app.importing()));
comment on policy import_owner on app.patients is
  'The privileged connection (healthcare_owner) sees and writes the patients only inside the transaction of `healthcare import django` (app.importing), which checks that the table is empty and copies the Django system''s rows with their ids.';

drop policy if exists delete_admin on app.patients;
create policy delete_admin on app.patients for delete to healthcare_access
  using ((select app.current_user_is_admin()));
comment on policy delete_admin on app.patients is
  'Admins delete any profile.';

drop policy if exists delete_own on app.patients;
create policy delete_own on app.patients for delete to healthcare_access
  using (owner_id = (select app.current_user_id()));
comment on policy delete_own on app.patients is
  'Only the owner deletes a profile.';

drop policy if exists insert_own on app.patients;
create policy insert_own on app.patients for insert to healthcare_access
  with check (owner_id = (select app.current_user_id()));
comment on policy insert_own on app.patients is
  'A signed-in user creates profiles they own; anonymous callers create none.';

drop policy if exists select_admin on app.patients;
create policy select_admin on app.patients for select to healthcare_access
  using ((select app.current_user_is_admin()));
comment on policy select_admin on app.patients is
  'Admins read every patient profile.';

drop policy if exists select_care_team on app.patients;
create policy select_care_team on app.patients for select to healthcare_access
  using (id in (select c.patient_id from app.care_patient_ids() c (patient_id)));
comment on policy select_care_team on app.patients is
  'The account linked to a doctor record reads the patients mapped to it, read-only, while the mapping exists. No update or delete policy goes with it.';

drop policy if exists select_own on app.patients;
create policy select_own on app.patients for select to healthcare_access
  using (owner_id = (select app.current_user_id()));
comment on policy select_own on app.patients is
  'A patient profile is visible only to the user who created it.';

drop policy if exists select_reporter on app.patients;
create policy select_reporter on app.patients for select to healthcare_reporter using (true);
comment on policy select_reporter on app.patients is
  'Reporting views (owner healthcare_reporter) count all patients; the role can read only id, age and gender and nobody can become it.';

drop policy if exists update_admin on app.patients;
create policy update_admin on app.patients for update to healthcare_access
  using ((select app.current_user_is_admin())) with check ((select app.current_user_is_admin()));
comment on policy update_admin on app.patients is
  'Admins change any profile.';

drop policy if exists update_own on app.patients;
create policy update_own on app.patients for update to healthcare_access
  using (owner_id = (select app.current_user_id()))
  with check (owner_id = (select app.current_user_id()));
comment on policy update_own on app.patients is
  'Only the owner changes a profile.';

create or replace trigger patients_touch_version before update on app.patients
  for each row execute function app.touch_version();

create or replace trigger patients_no_truncate before truncate on app.patients
  for each statement execute function app.refuse_truncate();

create or replace trigger patients_audit after insert or update or delete on app.patients
  for each row execute function app.audit_patient_change();

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
revoke all on function app.patient_json(app.patients) from public;
grant execute on function app.patient_json(app.patients) to healthcare_access;

set local role healthcare_access;

create or replace function api.list_patients(p_limit integer default null, p_offset integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_count bigint;
  v_rows json;
  v_ids bigint[];
begin
  select count(*) into v_count from app.patients p where p.owner_id = v_uid;
  select json_agg(app.patient_json(p) order by p.id), array_agg(p.id order by p.id) into v_rows, v_ids
    from (select * from app.patients p where p.owner_id = v_uid
           order by p.id limit v_limit offset v_offset) p;
  perform app.audit_as(v_uid, 'list', 'ok', null, coalesce(v_ids, '{}'), '{"object": "patient"}');
  return app.page(v_count, v_rows, '/api/patients/', v_limit, v_offset, null);
end
$$;
comment on function api.list_patients(integer,integer) is
  'GET /api/patients/: the caller''s own patient profiles, oldest first.';
revoke all on function api.list_patients(integer,integer) from public;
grant execute on function api.list_patients(integer,integer) to healthcare_api, healthcare_user;

create or replace function api.get_patient(p_id bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_result json;
begin
  select app.patient_json(p) into v_result from app.patients p where p.id = p_id;
  if v_result is null then
    return app.refuse('read', p_id, '{"object": "patient"}', 'RNTFD', 'patient not found');
  end if;
  perform app.audit_as(v_uid, 'read', 'ok', p_id, null, '{"object": "patient"}');
  return v_result;
end
$$;
comment on function api.get_patient(bigint) is
  'GET /api/patients/<id>/: one profile the caller may see (owner or admin).';
revoke all on function api.get_patient(bigint) from public;
grant execute on function api.get_patient(bigint) to healthcare_api, healthcare_user;

create or replace function api.create_patient(p_name text, p_age integer, p_gender text DEFAULT NULL::text)
returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_patient app.patients;
begin
  perform app.require_user();
  insert into app.patients (name, age, gender)
  values (app.check_text(p_name, 'app.patient_name', 'name'), app.check_age(p_age), app.check_gender(p_gender))
  returning * into v_patient;
  return app.patient_json(v_patient);
end
$$;
comment on function api.create_patient(text,integer,text) is
  'POST /api/patients/: a profile owned by the caller.';
revoke all on function api.create_patient(text,integer,text) from public;
grant execute on function api.create_patient(text,integer,text) to healthcare_api, healthcare_user;

set local role healthcare_owner;

-- Writes, for every door: row triggers on the tables.
create or replace function app.audit_patient_change() returns trigger
language plpgsql volatile
as $$
begin
  -- Rows written by `healthcare import django` are recorded by its summary
  -- events, one per table, not one by one (app.importing).
  if pg_catalog.current_setting('app.import', true) = 'django' then
    if app.importing() then
      return null;
    end if;
  end if;
  if tg_op = 'INSERT' then
    perform app.audit('create', 'ok', new.id, null,
                      pg_catalog.jsonb_build_object('object', 'patient', 'after', pg_catalog.to_jsonb(new) - 'record_key') || app.audit_via());
  elsif tg_op = 'UPDATE' then
    perform app.audit('update', 'ok', new.id, null,
                      pg_catalog.jsonb_build_object('object', 'patient', 'before', pg_catalog.to_jsonb(old) - 'record_key',
                                                    'after', pg_catalog.to_jsonb(new) - 'record_key') || app.audit_via());
  else
    perform app.audit('delete', 'ok', old.id, null,
                      pg_catalog.jsonb_build_object('object', 'patient', 'before', pg_catalog.to_jsonb(old) - 'record_key') || app.audit_via());
  end if;
  return null;
end
$$;
comment on function app.audit_patient_change() is
  'Trigger: an audit event for every insert, update and delete of a patient.';
revoke all on function app.audit_patient_change() from public;
grant execute on function app.audit_patient_change() to healthcare_access;

set local role healthcare_access;

create or replace function api.update_patient(p_id bigint, p_name text default null, p_age integer default null,
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
     set name = case when p_name is null then p.name else app.check_text(p_name, 'app.patient_name', 'name') end,
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
comment on function api.update_patient(bigint,text,integer,text,integer) is
  'PUT/PATCH /api/patients/<id>/: NULL arguments keep the current value; p_version, when given, must be the current version (else RSTAL, nothing written).';
revoke all on function api.update_patient(bigint,text,integer,text,integer) from public;
grant execute on function api.update_patient(bigint,text,integer,text,integer) to healthcare_api, healthcare_user;

create or replace function api.delete_patient(p_id bigint, p_version integer default null) returns json
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
comment on function api.delete_patient(bigint,integer) is
  'DELETE /api/patients/<id>/: removes the profile and its mappings; p_version, when given, must be the current version (else RSTAL, nothing deleted).';
revoke all on function api.delete_patient(bigint,integer) from public;
grant execute on function api.delete_patient(bigint,integer) to healthcare_api, healthcare_user;

-- History. The filters repeat the partial indexes' predicates word for
-- word, so the planner uses them.
create or replace function api.patient_history(p_id bigint, p_limit integer default null, p_offset integer default null) returns json
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
  -- An imported patient's history starts with its import (app.imported_entry).
  v_count := v_count + (select count(*) from app.imported_entry('patient', p_id));
  if v_count = 0 and not exists (select from app.patients p where p.id = p_id) then
    return app.refuse('read', p_id, '{"object": "patient_history"}', 'RNTFD', 'patient not found');
  end if;
  select json_agg(app.history_json(e) order by e.id desc) into v_rows
    from (select * from audit.events e
           where e.patient_id = p_id
             and e.detail ->> 'object' = 'patient' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok'
             and coalesce(e.detail -> 'after', e.detail -> 'before') ? 'version'
          union all
          select * from app.imported_entry('patient', p_id)
           order by id desc limit v_limit offset v_offset) e;
  perform app.audit('read', 'ok', p_id, null, '{"object": "patient_history"}');
  return app.page(v_count, v_rows, '/api/patients/' || p_id || '/history/', v_limit, v_offset, null);
end
$$;
comment on function api.patient_history(bigint,integer,integer) is
  'GET /api/patients/<id>/history/: every version of the patient since versions exist (migration 014), newest first, from the audit trail; a delete is an entry without values. The owner and admins (a deleted patient: admins only). Reading it is recorded.';
revoke all on function api.patient_history(bigint,integer,integer) from public;
grant execute on function api.patient_history(bigint,integer,integer) to healthcare_api, healthcare_user;

create or replace function api.patient_version(p_id bigint, p_version integer) returns json
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
  if v_result is null and p_version = 1 then
    select app.history_json(e) into v_result from app.imported_entry('patient', p_id) e;
  end if;
  if v_result is null then
    -- The caller may read the patient; there is just no such version.
    raise exception 'version not found' using errcode = 'RNTFD';
  end if;
  perform app.audit('read', 'ok', p_id, null, pg_catalog.jsonb_build_object('object', 'patient_history', 'version', p_version));
  return v_result;
end
$$;
comment on function api.patient_version(bigint,integer) is
  'GET /api/patients/<id>/history/<version>/: one version of the patient, as api.patient_history lists it. Same readers; recorded.';
revoke all on function api.patient_version(bigint,integer) from public;
grant execute on function api.patient_version(bigint,integer) to healthcare_api, healthcare_user;

create or replace function app.visible_patients()
returns TABLE(id bigint, owner_id bigint, name text, age integer, gender text, gender_fhir text, version integer, created_at timestamp with time zone, updated_at timestamp with time zone)
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

set local role healthcare_owner;

create or replace view records.patients as select * from app.visible_patients();
comment on view records.patients is
  'The patient profiles you may read: your own, those in your care (records.care_patients lists them apart), every one for admins; gender as sent, gender_fhir derived from it. Write with api.create_patient, api.update_patient and api.delete_patient.';
grant select on records.patients to healthcare_user;

reset role;
