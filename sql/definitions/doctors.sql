-- The doctors' directory: app.doctors' grants, policies and triggers, account links, the api routes, history and the records view.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_owner;

grant select, delete on app.doctors to healthcare_access;
grant select (id, specialization) on app.doctors to healthcare_reporter;
grant select (id, account_id) on app.doctors to healthcare_auth;
grant insert (name, specialization) on app.doctors to healthcare_access;
grant update (name, specialization, account_id) on app.doctors to healthcare_access;

drop policy if exists import_owner on app.doctors;
create policy import_owner on app.doctors for all to healthcare_owner
  using ((select app.importing())) with check ((select app.importing()));
comment on policy import_owner on app.doctors is
  'The privileged connection (healthcare_owner) sees and writes the doctors only inside the transaction of `healthcare import django` (app.importing), which checks that the table is empty and copies the Django system''s rows with their ids.';

drop policy if exists delete_admin on app.doctors;
create policy delete_admin on app.doctors for delete to healthcare_access
  using ((select app.current_user_is_admin()));
comment on policy delete_admin on app.doctors is
  'Admins remove any doctor.';

drop policy if exists delete_creator on app.doctors;
create policy delete_creator on app.doctors for delete to healthcare_access
  using (created_by = (select app.current_user_id()));
comment on policy delete_creator on app.doctors is
  'The creator may remove a doctor while it is linked to no other account and no other user''s patient is mapped to it (app.check_doctor_delete).';

drop policy if exists delete_linked on app.doctors;
create policy delete_linked on app.doctors for delete to healthcare_access
  using (account_id = (select app.current_user_id()));
comment on policy delete_linked on app.doctors is
  'The linked account may remove its own doctor record (see app.check_doctor_delete).';

drop policy if exists insert_signed_in on app.doctors;
create policy insert_signed_in on app.doctors for insert to healthcare_access
  with check (created_by = (select app.current_user_id()));
comment on policy insert_signed_in on app.doctors is
  'Any signed-in user lists a doctor, recorded as its creator.';

drop policy if exists select_all on app.doctors;
create policy select_all on app.doctors for select to healthcare_access
  using (true);
comment on policy select_all on app.doctors is
  'The directory is public, anonymous REST callers included.';

-- The caller's doctor record. Like users.select_auth, the policy lets
-- healthcare_auth's definers read every row and the grant only the columns
-- they need (ids): a policy that asked who the caller is would repeat the
-- lookup the function itself makes, on every call.
drop policy if exists select_auth on app.doctors;
create policy select_auth on app.doctors for select to healthcare_auth
  using (true);
comment on policy select_auth on app.doctors is
  'app.current_doctor_id() (owner healthcare_auth) finds the caller''s doctor record; the role reads only id and account_id, and nobody can become it.';

-- The privileged connection links and unlinks accounts (`healthcare doctor`).
drop policy if exists select_owner on app.doctors;
create policy select_owner on app.doctors for select to healthcare_owner using (true);
comment on policy select_owner on app.doctors is
  'The privileged connection (acting as healthcare_owner) finds doctor records to link; no runtime role is the owner.';

drop policy if exists select_reporter on app.doctors;
create policy select_reporter on app.doctors for select to healthcare_reporter using (true);
comment on policy select_reporter on app.doctors is
  'Reporting views (owner healthcare_reporter) count by specialization; the role cannot read names.';

drop policy if exists update_admin on app.doctors;
create policy update_admin on app.doctors for update to healthcare_access
  using ((select app.current_user_is_admin())) with check ((select app.current_user_is_admin()));
comment on policy update_admin on app.doctors is
  'Admins change any doctor.';

-- Changed by the linked account or an admin; by the creator only while
-- unlinked and serving no other user's patient.
drop policy if exists update_creator on app.doctors;
create policy update_creator on app.doctors for update to healthcare_access
  using (created_by = (select app.current_user_id()) and account_id is null
         and not app.doctor_serves_others(id, (select app.current_user_id())))
  with check (created_by = (select app.current_user_id()) and account_id is null);
comment on policy update_creator on app.doctors is
  'The creator changes a doctor only while it is linked to no account and no other user''s patient is mapped to it.';

drop policy if exists update_linked on app.doctors;
create policy update_linked on app.doctors for update to healthcare_access
  using (account_id = (select app.current_user_id()))
  with check (account_id = (select app.current_user_id()));
comment on policy update_linked on app.doctors is
  'The linked account changes its own doctor record (never its link).';

drop policy if exists update_owner on app.doctors;
create policy update_owner on app.doctors for update to healthcare_owner using (true) with check (true);
comment on policy update_owner on app.doctors is
  'The privileged connection (acting as healthcare_owner) links and unlinks doctor accounts.';

create or replace trigger doctors_check_delete before delete on app.doctors
  for each row execute function app.check_doctor_delete();

create or replace trigger doctors_audit after insert or update or delete on app.doctors
  for each row execute function app.audit_doctor_change();

create or replace trigger doctors_touch_version before update on app.doctors
  for each row execute function app.touch_version();

create or replace function app.doctor_json(d app.doctors) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', d.id, 'version', d.version, 'name', d.name, 'specialization', d.specialization,
                                      'created_by', d.created_by, 'created_at', d.created_at, 'updated_at', d.updated_at)
$$;
comment on function app.doctor_json(app.doctors) is
  'A doctor as the REST API shows it (version second, for the ETag).';
revoke all on function app.doctor_json(app.doctors) from public;
grant execute on function app.doctor_json(app.doctors) to healthcare_access;

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
    v_pattern := '%' || app.like_literal(v_search) || '%';
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
comment on function api.list_doctors(text,text,integer,integer) is
  'GET /api/doctors/ (public): filter by exact specialization and by a substring of name or specialization, both case-insensitive.';
revoke all on function api.list_doctors(text,text,integer,integer) from public;
grant execute on function api.list_doctors(text,text,integer,integer) to healthcare_api, healthcare_user;

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
comment on function api.get_doctor(bigint) is
  'GET /api/doctors/<id>/ (public).';
revoke all on function api.get_doctor(bigint) from public;
grant execute on function api.get_doctor(bigint) to healthcare_api, healthcare_user;

create or replace function api.create_doctor(p_name text, p_specialization text) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_doctor app.doctors;
begin
  insert into app.doctors (name, specialization)
  values (app.check_text(p_name, 'app.doctor_name', 'name'), app.check_text(p_specialization, 'app.doctor_specialization', 'specialization'))
  returning * into v_doctor;
  return app.doctor_json_for(v_doctor, v_uid, app.current_user_is_admin());
end
$$;
comment on function api.create_doctor(text,text) is
  'POST /api/doctors/: any signed-in user, recorded as creator.';
revoke all on function api.create_doctor(text,text) from public;
grant execute on function api.create_doctor(text,text) to healthcare_api, healthcare_user;

set local role healthcare_owner;

-- Doctor changes in the trail, as patient changes are (no patient_id: the
-- directory is not patient data; detail names the doctor).
create or replace function app.audit_doctor_change() returns trigger
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
    perform app.audit('create', 'ok', null, null,
                      pg_catalog.jsonb_build_object('object', 'doctor', 'doctor', new.id, 'after', pg_catalog.to_jsonb(new)) || app.audit_via());
  elsif tg_op = 'UPDATE' then
    perform app.audit('update', 'ok', null, null,
                      pg_catalog.jsonb_build_object('object', 'doctor', 'doctor', new.id, 'before', pg_catalog.to_jsonb(old),
                                                    'after', pg_catalog.to_jsonb(new)) || app.audit_via());
  else
    perform app.audit('delete', 'ok', null, null,
                      pg_catalog.jsonb_build_object('object', 'doctor', 'doctor', old.id, 'before', pg_catalog.to_jsonb(old)) || app.audit_via());
  end if;
  return null;
end
$$;
comment on function app.audit_doctor_change() is
  'Trigger: an audit event for every insert, update and delete of a doctor, with before and after values.';
revoke all on function app.audit_doctor_change() from public;
grant execute on function app.audit_doctor_change() to healthcare_access;

set local role healthcare_access;

create or replace function api.update_doctor(p_id bigint, p_name text default null, p_specialization text default null,
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
     set name = case when p_name is null then d.name else app.check_text(p_name, 'app.doctor_name', 'name') end,
         specialization = case when p_specialization is null then d.specialization
                               else app.check_text(p_specialization, 'app.doctor_specialization', 'specialization') end
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
comment on function api.update_doctor(bigint,text,text,integer) is
  'PUT/PATCH /api/doctors/<id>/: creator or admin; NULL arguments keep the current value; p_version, when given, must be the current version (else RSTAL, nothing written).';
revoke all on function api.update_doctor(bigint,text,text,integer) from public;
grant execute on function api.update_doctor(bigint,text,text,integer) to healthcare_api, healthcare_user;

create or replace function api.delete_doctor(p_id bigint, p_version integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
  v_current integer;
begin
  perform app.require_user();
  -- An admin's removal waits only briefly for a session that holds the
  -- row (a mapping to it being made), and names that session.
  if app.current_user_is_admin() then
    perform app.lock_for_admin('app.doctors', p_id, 'update', 'doctor ' || p_id);
  end if;
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
comment on function api.delete_doctor(bigint,integer) is
  'DELETE /api/doctors/<id>/: creator or admin; removes the doctor''s mappings; p_version, when given, must be the current version (else RSTAL, nothing deleted).';
revoke all on function api.delete_doctor(bigint,integer) from public;
grant execute on function api.delete_doctor(bigint,integer) to healthcare_api, healthcare_user;

set local role healthcare_owner;

create or replace function app.sees_doctor_link(d app.doctors, p_uid bigint) returns boolean
language sql stable
as $$
  select coalesce(app.current_user_is_admin(), false) or (d.account_id is not null and d.account_id = p_uid)
$$;
comment on function app.sees_doctor_link(app.doctors,bigint) is
  'True when caller p_uid may see doctor d''s account link (an admin, or the linked account itself), as api.get_doctor shows "account".';
revoke all on function app.sees_doctor_link(app.doctors,bigint) from public;
grant execute on function app.sees_doctor_link(app.doctors,bigint) to healthcare_access;

create or replace function app.doctor_link_only(e audit.events) returns boolean
language sql immutable
as $$
  select e.action = 'update'
         and (e.detail -> 'before') - array['account_id', 'version', 'updated_at'] = (e.detail -> 'after') - array['account_id', 'version', 'updated_at']
$$;
comment on function app.doctor_link_only(audit.events) is
  'True for a doctor change event that only linked, unlinked or relinked the record (nothing but account_id, version and updated_at changed).';
revoke all on function app.doctor_link_only(audit.events) from public;
grant execute on function app.doctor_link_only(audit.events) to healthcare_access;

set local role healthcare_access;

create or replace function api.doctor_history(p_id bigint, p_limit integer default null, p_offset integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_uid bigint := app.current_user_id();
  v_doctor app.doctors;
  v_exists boolean;
  v_sees_link boolean;
  v_count bigint;
  v_rows json;
begin
  select * into v_doctor from app.doctors d where d.id = p_id;
  v_exists := found;
  -- Public like the directory; a removed doctor's history is for admins.
  if not v_exists and not coalesce(app.current_user_is_admin(), false) then
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  -- The account link is for admins and the linked account only, as in
  -- api.get_doctor: for everyone else the history leaves out the entries
  -- that only linked or unlinked the record, and who made a change unless
  -- it was the record's creator (public) or the caller.
  v_sees_link := app.sees_doctor_link(v_doctor, v_uid);
  select count(*) into v_count
    from audit.events e
   where e.detail ->> 'doctor' = p_id::text
     and e.detail ->> 'object' = 'doctor' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok'
     and (v_sees_link or not app.doctor_link_only(e));
  -- An imported doctor's history starts with its import (app.imported_entry).
  v_count := v_count + (select count(*) from app.imported_entry('doctor', p_id));
  if v_count = 0 and not v_exists then
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  select json_agg(app.history_json_as(e, v_sees_link or e.user_id in (v_doctor.created_by, v_uid)) order by e.id desc) into v_rows
    from (select * from audit.events e
           where e.detail ->> 'doctor' = p_id::text
             and e.detail ->> 'object' = 'doctor' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok'
             and (v_sees_link or not app.doctor_link_only(e))
          union all
          select * from app.imported_entry('doctor', p_id)
           order by id desc limit v_limit offset v_offset) e;
  return app.page(v_count, v_rows, '/api/doctors/' || p_id || '/history/', v_limit, v_offset, null);
end
$$;
comment on function api.doctor_history(bigint,integer,integer) is
  'GET /api/doctors/<id>/history/: every version of the doctor since migration 014, newest first, from the audit trail; a delete is an entry without values. Public; a removed doctor''s history is for admins only. Callers who may not see the account link (app.sees_doctor_link) get no link-only entries and changed_by only when it is the creator or themselves.';
revoke all on function api.doctor_history(bigint,integer,integer) from public;
grant execute on function api.doctor_history(bigint,integer,integer) to healthcare_api, healthcare_user;

create or replace function api.doctor_version(p_id bigint, p_version integer) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.current_user_id();
  v_doctor app.doctors;
  v_sees_link boolean;
  v_result json;
begin
  select * into v_doctor from app.doctors d where d.id = p_id;
  if not found and not coalesce(app.current_user_is_admin(), false) then
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  v_sees_link := app.sees_doctor_link(v_doctor, v_uid);
  select app.history_json_as(e, v_sees_link or e.user_id in (v_doctor.created_by, v_uid)) into v_result
    from audit.events e
   where e.detail ->> 'doctor' = p_id::text
     and e.detail ->> 'object' = 'doctor' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok'
     and e.action <> 'delete' and (e.detail -> 'after' ->> 'version')::integer = p_version
     and (v_sees_link or not app.doctor_link_only(e))
   order by e.id desc
   limit 1;
  if v_result is null and p_version = 1 then
    select app.history_json_as(e, v_sees_link or e.user_id in (v_doctor.created_by, v_uid)) into v_result
      from app.imported_entry('doctor', p_id) e;
  end if;
  if v_result is null then
    raise exception 'version not found' using errcode = 'RNTFD';
  end if;
  return v_result;
end
$$;
comment on function api.doctor_version(bigint,integer) is
  'GET /api/doctors/<id>/history/<version>/: one version of the doctor, as api.doctor_history lists it. Public; a removed doctor''s for admins only.';
revoke all on function api.doctor_version(bigint,integer) from public;
grant execute on function api.doctor_version(bigint,integer) to healthcare_api, healthcare_user;

create or replace function app.visible_doctors()
returns TABLE(id bigint, name text, specialization text, created_by bigint, version integer, created_at timestamp with time zone, updated_at timestamp with time zone)
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

set local role healthcare_owner;

-- Deleting a doctor removes its mappings (on delete cascade): for anyone
-- but an admin, refused when they are other users' patients' mappings.
create or replace function app.check_doctor_delete() returns trigger
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
grant execute on function app.check_doctor_delete() to healthcare_access;

create or replace function app.doctor_json_for(d app.doctors, p_uid bigint, p_admin boolean) returns json
language sql stable
as $$
  select case when p_admin or d.account_id = p_uid
              then app.json_append(app.doctor_json(d), pg_catalog.json_build_object('account', d.account_id))
              else app.doctor_json(d) end
$$;
comment on function app.doctor_json_for(app.doctors,bigint,boolean) is
  'A doctor as the REST API shows it to one caller: with "account" (the linked user id or null) for admins and the linked account only.';
revoke all on function app.doctor_json_for(app.doctors,bigint,boolean) from public;
grant execute on function app.doctor_json_for(app.doctors,bigint,boolean) to healthcare_access;

set local role healthcare_access;

create or replace function api.link_doctor_account(p_doctor bigint, p_user bigint) returns json
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
  perform app.lock_for_admin('app.doctors', p_doctor, 'no key update', 'doctor ' || p_doctor);
  update app.doctors d set account_id = p_user where d.id = p_doctor
  returning * into v_doctor;
  if not found then
    raise exception 'doctor not found' using errcode = 'RNTFD';
  end if;
  return app.doctor_json_for(v_doctor, v_uid, true);
end
$$;
comment on function api.link_doctor_account(bigint,bigint) is
  'PUT /api/doctors/<id>/account/ {"user": id}: links the doctor record to the account, which then reads the patients mapped to it (admins only).';
revoke all on function api.link_doctor_account(bigint,bigint) from public;
grant execute on function api.link_doctor_account(bigint,bigint) to healthcare_api, healthcare_user;

create or replace function api.unlink_doctor_account(p_doctor bigint) returns json
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
  perform app.lock_for_admin('app.doctors', p_doctor, 'no key update', 'doctor ' || p_doctor);
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
revoke all on function api.unlink_doctor_account(bigint) from public;
grant execute on function api.unlink_doctor_account(bigint) to healthcare_api, healthcare_user;

set local role healthcare_owner;

create or replace view records.doctors as select * from app.visible_doctors();
comment on view records.doctors is
  'The public doctor directory, with versions. Write with api.create_doctor, api.update_doctor and api.delete_doctor (p_version: the version you read); history with api.doctor_history.';
grant select on records.doctors to healthcare_user;

reset role;
