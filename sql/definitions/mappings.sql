-- Mappings of patients to doctors: app.patient_doctors' rules, the api routes and the records view.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_owner;

grant select, delete on app.patient_doctors to healthcare_access;
grant select (patient_id, doctor_id, record_key) on app.patient_doctors to healthcare_reporter;
grant insert (patient_id, doctor_id) on app.patient_doctors to healthcare_access;
grant select (patient_id, doctor_id) on app.patient_doctors to healthcare_auth;

drop policy if exists import_owner on app.patient_doctors;
create policy import_owner on app.patient_doctors for all to healthcare_owner
  using ((select app.importing())) with check ((select app.importing()));
comment on policy import_owner on app.patient_doctors is
  'The privileged connection (healthcare_owner) sees and writes the mappings only inside the transaction of `healthcare import django` (app.importing), which checks that the table is empty and copies the Django system''s rows with their ids.';

drop policy if exists delete_patient_owner on app.patient_doctors;
create policy delete_patient_owner on app.patient_doctors for delete to healthcare_access
  using ((select app.current_user_is_admin())
         or exists (select from app.patients p where p.id = patient_id and p.owner_id = (select app.current_user_id())));
comment on policy delete_patient_owner on app.patient_doctors is
  'Only the patient''s owner and admins remove a mapping; the care team cannot.';

drop policy if exists insert_patient_owner on app.patient_doctors;
create policy insert_patient_owner on app.patient_doctors for insert to healthcare_access
  with check ((select app.current_user_is_admin())
              or exists (select from app.patients p where p.id = patient_id and p.owner_id = (select app.current_user_id())));
comment on policy insert_patient_owner on app.patient_doctors is
  'Only the patient''s owner (any patient, for admins) maps it; the care team cannot.';

-- The caller's mappings, as the care team sees them (ids only, as the
-- reporting role reads them).
drop policy if exists select_auth on app.patient_doctors;
create policy select_auth on app.patient_doctors for select to healthcare_auth
  using (true);
comment on policy select_auth on app.patient_doctors is
  'app.care_patient_ids() (owner healthcare_auth) reads the mappings of the caller''s doctor record; the role reads only patient_id and doctor_id, and nobody can become it.';

drop policy if exists select_patient_owner on app.patient_doctors;
create policy select_patient_owner on app.patient_doctors for select to healthcare_access
  using ((select app.current_user_is_admin())
         or exists (select from app.patients p where p.id = patient_id and p.owner_id = (select app.current_user_id())));
comment on policy select_patient_owner on app.patient_doctors is
  'The patient''s owner and admins see every mapping of the patient.';

drop policy if exists select_reporter on app.patient_doctors;
create policy select_reporter on app.patient_doctors for select to healthcare_reporter using (true);
comment on policy select_reporter on app.patient_doctors is
  'Reporting views (owner healthcare_reporter) count mappings.';

-- Permissive policies are tried in reverse order of their names, the
-- first that passes deciding: the treating doctor's cheap test comes
-- before the owner's, so the care list never looks at the doctor's own
-- patients (and on app.patients select_own comes before
-- select_care_team, so the owners' lists never call the care function).
drop policy if exists select_treating_doctor on app.patient_doctors;
create policy select_treating_doctor on app.patient_doctors for select to healthcare_access
  using (doctor_id = (select app.current_doctor_id()));
comment on policy select_treating_doctor on app.patient_doctors is
  'The account linked to a doctor record sees that record''s mappings (read-only).';

create or replace trigger patient_doctors_no_truncate before truncate on app.patient_doctors
  for each statement execute function app.refuse_truncate();

create or replace trigger patient_doctors_audit after insert or update or delete on app.patient_doctors
  for each row execute function app.audit_mapping_change();

create or replace function app.mapping_json(m app.patient_doctors) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', m.id, 'patient', m.patient_id, 'doctor', m.doctor_id, 'created_at', m.created_at)
$$;
comment on function app.mapping_json(app.patient_doctors) is
  'A mapping as the REST API shows it.';
revoke all on function app.mapping_json(app.patient_doctors) from public;
grant execute on function app.mapping_json(app.patient_doctors) to healthcare_access;

set local role healthcare_access;

create or replace function api.list_mappings(p_limit integer default null, p_offset integer default null) returns json
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
  select count(*) into v_count
    from app.patient_doctors m join app.patients p on p.id = m.patient_id
   where p.owner_id = v_uid;
  select json_agg(app.mapping_json(m) order by m.id), array_agg(distinct m.patient_id) into v_rows, v_ids
    from (select m.* from app.patient_doctors m join app.patients p on p.id = m.patient_id
           where p.owner_id = v_uid
           order by m.id limit v_limit offset v_offset) m;
  perform app.audit('list', 'ok', null, coalesce(v_ids, '{}'), '{"object": "mapping"}');
  return app.page(v_count, v_rows, '/api/mappings/', v_limit, v_offset, null);
end
$$;
comment on function api.list_mappings(integer,integer) is
  'GET /api/mappings/: mappings of the caller''s own patients.';
revoke all on function api.list_mappings(integer,integer) from public;
grant execute on function api.list_mappings(integer,integer) to healthcare_api, healthcare_user;

create or replace function api.get_mapping(p_id bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_mapping app.patient_doctors;
begin
  perform app.require_user();
  select * into v_mapping from app.patient_doctors m where m.id = p_id;
  if not found then
    return app.refuse('read', null, pg_catalog.jsonb_build_object('object', 'mapping', 'mapping', p_id), 'RNTFD', 'mapping not found');
  end if;
  perform app.audit('read', 'ok', v_mapping.patient_id, null, pg_catalog.jsonb_build_object('object', 'mapping', 'mapping', p_id));
  return app.mapping_json(v_mapping);
end
$$;
comment on function api.get_mapping(bigint) is
  'GET /api/mappings/<id>/: a mapping of a patient the caller may see.';
revoke all on function api.get_mapping(bigint) from public;
grant execute on function api.get_mapping(bigint) to healthcare_api, healthcare_user;

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
comment on function api.create_mapping(bigint,bigint) is
  'POST /api/mappings/: assigns a doctor to one of the caller''s patients; a pair is mapped once.';
revoke all on function api.create_mapping(bigint,bigint) from public;
grant execute on function api.create_mapping(bigint,bigint) to healthcare_api, healthcare_user;

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
comment on function api.delete_mapping(bigint) is
  'DELETE /api/mappings/<id>/.';
revoke all on function api.delete_mapping(bigint) from public;
grant execute on function api.delete_mapping(bigint) to healthcare_api, healthcare_user;

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
comment on function api.list_patient_doctors(bigint,integer,integer) is
  'GET /api/mappings/patient/<id>/: the doctors of one patient the caller may see, with the mapping id.';
revoke all on function api.list_patient_doctors(bigint,integer,integer) from public;
grant execute on function api.list_patient_doctors(bigint,integer,integer) to healthcare_api, healthcare_user;

create or replace function app.visible_mappings()
returns table (id bigint, patient_id bigint, doctor_id bigint, created_at timestamptz)
language plpgsql volatile security definer rows 100
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ids bigint[] := '{}';
begin
  -- One query: what is returned is exactly what is recorded.
  for id, patient_id, doctor_id, created_at in
    select m.id, m.patient_id, m.doctor_id, m.created_at from app.patient_doctors m order by m.id
  loop
    if not patient_id = any (v_ids) then
      v_ids := v_ids || patient_id;
    end if;
    return next;
  end loop;
  perform app.audit('list', 'ok', null, v_ids, '{"object": "mapping", "via": "records.mappings"}');
end
$$;
comment on function app.visible_mappings() is
  'Mappings of the patients the caller may see, for records.mappings. Security definer (owner healthcare_access).';
revoke all on function app.visible_mappings() from public;
grant execute on function app.visible_mappings() to healthcare_user;

set local role healthcare_owner;

create or replace function app.audit_mapping_change() returns trigger
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
    perform app.audit('create', 'ok', new.patient_id, null,
                      pg_catalog.jsonb_build_object('object', 'mapping', 'after', pg_catalog.to_jsonb(new) - 'record_key') || app.audit_via());
  elsif tg_op = 'UPDATE' then
    perform app.audit('update', 'ok', new.patient_id, null,
                      pg_catalog.jsonb_build_object('object', 'mapping', 'before', pg_catalog.to_jsonb(old) - 'record_key',
                                                    'after', pg_catalog.to_jsonb(new) - 'record_key') || app.audit_via());
  else
    perform app.audit('delete', 'ok', old.patient_id, null,
                      pg_catalog.jsonb_build_object('object', 'mapping', 'before', pg_catalog.to_jsonb(old) - 'record_key') || app.audit_via());
  end if;
  return null;
end
$$;
comment on function app.audit_mapping_change() is
  'Trigger: an audit event for every mapping created or removed (with its patient).';
revoke all on function app.audit_mapping_change() from public;
grant execute on function app.audit_mapping_change() to healthcare_access;

create or replace view records.mappings as select * from app.visible_mappings();
comment on view records.mappings is
  'Which doctors treat your patients. Write with api.create_mapping and api.delete_mapping.';
grant select on records.mappings to healthcare_user;

reset role;
