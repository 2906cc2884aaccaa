-- The api schema: one function per REST operation.
--
-- Every function returns json shaped exactly as the HTTP response body, so the
-- server passes the bytes through and a psql user calling the same function
-- sees what a REST client sees. They are security invoker: the caller's own
-- row-level security decides what they read and change. Lists filter by the
-- caller explicitly as well: the policies still decide, the explicit filter
-- lets the planner use the (owner_id, id) index.
--
-- Errors use custom SQLSTATEs (class R), mapped to HTTP in one Go table:
--   RUNAU  not signed in            401
--   RNTFD  not found (or not yours) 404
--   RFRBD  visible but not yours    403
--   RCNFL  conflict                 409
--   RINVL  invalid input            400   (COLUMN names the field)

set local role healthcare_owner;

-- helpers ------------------------------------------------------------------

create function app.require_user() returns bigint
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.current_user_id();
begin
  if v_uid is null then
    raise exception 'authentication credentials were not provided' using errcode = 'RUNAU';
  end if;
  return v_uid;
end
$$;
comment on function app.require_user() is 'The caller''s user id, or error RUNAU when anonymous.';

create function app.page_limit(p_limit integer) returns integer
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
begin
  if p_limit is null then
    return 50;
  elsif p_limit < 1 then
    raise exception 'limit must be a positive integer' using errcode = 'RINVL', column = 'limit';
  end if;
  return least(p_limit, 100);
end
$$;
comment on function app.page_limit(integer) is 'Page size: 50 by default, at most 100.';

create function app.page_offset(p_offset integer) returns integer
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
begin
  if coalesce(p_offset, 0) < 0 then
    raise exception 'offset must not be negative' using errcode = 'RINVL', column = 'offset';
  end if;
  return coalesce(p_offset, 0);
end
$$;
comment on function app.page_offset(integer) is 'Page offset: 0 by default, never negative.';

create function app.url_encode(p_value text) returns text
language sql immutable strict
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(string_agg(
           case when c ~ '^[A-Za-z0-9_.~-]$' then c
                else upper(regexp_replace(encode(convert_to(c, 'UTF8'), 'hex'), '(..)', '%\1', 'g'))
           end, '' order by n), '')
    from regexp_split_to_table(p_value, '') with ordinality as t(c, n)
$$;
comment on function app.url_encode(text) is 'Percent-encodes a query parameter value for page links.';

-- A page of results in the shape of Django REST Framework's limit/offset
-- pagination: total count, relative links to the neighbouring pages, results.
--
-- This and the three *_json helpers below are `stable` (json_build_object
-- formats timestamps by the session's settings) and have no search_path
-- clause, naming pg_catalog themselves: a `language sql` function with either
-- a pinned search_path or a declared volatility below its body's cannot be
-- inlined, and is then parsed and planned again on every call, once per row
-- of a list. They are security invoker and only called from functions that
-- pin search_path.
create function app.page(p_count bigint, p_results json, p_path text, p_limit integer, p_offset integer, p_query text) returns json
language sql stable
as $$
  select pg_catalog.json_build_object(
    'count', p_count,
    'next', case when p_offset + p_limit < p_count
                 then p_path || '?limit=' || p_limit || '&offset=' || (p_offset + p_limit) || coalesce(p_query, '') end,
    'previous', case when p_offset > 0
                     then p_path || '?limit=' || p_limit || '&offset=' || greatest(p_offset - p_limit, 0) || coalesce(p_query, '') end,
    'results', coalesce(p_results, '[]'::json))
$$;
comment on function app.page(bigint, json, text, integer, integer, text) is 'Builds a list response: count, next, previous, results.';

create function app.patient_json(p app.patients) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', p.id, 'name', p.name, 'age', p.age, 'gender', p.gender,
                                      'user', p.owner_id, 'created_at', p.created_at, 'updated_at', p.updated_at)
$$;
comment on function app.patient_json(app.patients) is 'A patient as the REST API shows it (owner_id becomes "user").';

create function app.doctor_json(d app.doctors) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', d.id, 'name', d.name, 'specialization', d.specialization,
                                      'created_by', d.created_by, 'created_at', d.created_at, 'updated_at', d.updated_at)
$$;
comment on function app.doctor_json(app.doctors) is 'A doctor as the REST API shows it.';

create function app.mapping_json(m app.patient_doctors) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', m.id, 'patient', m.patient_id, 'doctor', m.doctor_id, 'created_at', m.created_at)
$$;
comment on function app.mapping_json(app.patient_doctors) is 'A mapping as the REST API shows it.';

-- Field checks with messages a client can show; the table constraints stay the
-- last word.
create function app.check_name(p_value text, p_field text, p_max integer) returns text
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
begin
  if p_value is null or btrim(p_value) = '' then
    raise exception '% may not be blank', p_field using errcode = 'RINVL', column = p_field;
  elsif length(btrim(p_value)) > p_max then
    raise exception '% must be at most % characters', p_field, p_max using errcode = 'RINVL', column = p_field;
  end if;
  return btrim(p_value);
end
$$;
comment on function app.check_name(text, text, integer) is 'Trims a name-like field; error RINVL naming the field when blank or longer than p_max.';

create function app.check_age(p_age integer) returns integer
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
begin
  if p_age is null or p_age not between 0 and 150 then
    raise exception 'age must be between 0 and 150' using errcode = 'RINVL', column = 'age';
  end if;
  return p_age;
end
$$;
comment on function app.check_age(integer) is 'Error RINVL (field age) unless 0 to 150.';

create function app.check_gender(p_gender text) returns text
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_gender text := app.normalize_gender(p_gender);
begin
  if v_gender is null then
    raise exception 'gender must be one of male, female, other, unknown' using errcode = 'RINVL', column = 'gender';
  end if;
  return v_gender;
end
$$;
comment on function app.check_gender(text) is 'app.normalize_gender, or error RINVL (field gender) when unrecognised.';

-- accounts -----------------------------------------------------------------

create function api.register(p_username text, p_email text, p_password_hash text) returns json
language sql volatile
set search_path = pg_catalog, pg_temp
as $$ select app.register_user(p_username, p_email, p_password_hash) $$;
comment on function api.register(text, text, text) is 'POST /api/auth/register/ (REST server only; the hash is computed there).';

create function api.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamptz) returns json
language sql volatile
set search_path = pg_catalog, pg_temp
as $$ select app.rotate_refresh_token(p_old_jti, p_new_jti, p_expires_at) $$;
comment on function api.rotate_refresh_token(uuid, uuid, timestamptz) is 'POST /api/auth/refresh/: status ok, reused (family revoked) or invalid (REST server only).';

create function api.revoke_refresh_token(p_jti uuid) returns json
language sql volatile
set search_path = pg_catalog, pg_temp
as $$ select app.revoke_refresh_token(p_jti) $$;
comment on function api.revoke_refresh_token(uuid) is 'POST /api/auth/logout/: revokes the session''s token family (REST server only).';

create function api.me() returns json
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_result json;
begin
  select json_build_object('id', u.id, 'username', u.username, 'email', u.email,
                           'is_admin', u.is_admin, 'date_joined', u.date_joined)
    into v_result
    from app.users u
   where u.id = v_uid;
  return v_result;
end
$$;
comment on function api.me() is 'GET /api/auth/me/: the caller''s account.';

-- patients -----------------------------------------------------------------

create function api.list_patients(p_limit integer default null, p_offset integer default null) returns json
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_count bigint;
  v_rows json;
begin
  select count(*) into v_count from app.patients p where p.owner_id = v_uid;
  select json_agg(app.patient_json(p) order by p.id) into v_rows
    from (select * from app.patients p where p.owner_id = v_uid
           order by p.id limit v_limit offset v_offset) p;
  return app.page(v_count, v_rows, '/api/patients/', v_limit, v_offset, null);
end
$$;
comment on function api.list_patients(integer, integer) is 'GET /api/patients/: the caller''s own patient profiles, oldest first.';

create function api.get_patient(p_id bigint) returns json
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result json;
begin
  perform app.require_user();
  select app.patient_json(p) into v_result from app.patients p where p.id = p_id;
  if v_result is null then
    raise exception 'patient not found' using errcode = 'RNTFD';
  end if;
  return v_result;
end
$$;
comment on function api.get_patient(bigint) is 'GET /api/patients/<id>/: one profile the caller may see (owner or admin).';

create function api.create_patient(p_name text, p_age integer, p_gender text default null) returns json
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_patient app.patients;
begin
  perform app.require_user();
  insert into app.patients (name, age, gender)
  values (app.check_name(p_name, 'name', 200), app.check_age(p_age), app.check_gender(p_gender))
  returning * into v_patient;
  return app.patient_json(v_patient);
end
$$;
comment on function api.create_patient(text, integer, text) is 'POST /api/patients/: a profile owned by the caller.';

create function api.update_patient(p_id bigint, p_name text default null, p_age integer default null, p_gender text default null) returns json
language plpgsql volatile
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
    raise exception 'patient not found' using errcode = 'RNTFD';
  end if;
  return app.patient_json(v_patient);
end
$$;
comment on function api.update_patient(bigint, text, integer, text) is 'PUT/PATCH /api/patients/<id>/: NULL arguments keep the current value.';

create function api.delete_patient(p_id bigint) returns json
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
begin
  perform app.require_user();
  delete from app.patients p where p.id = p_id returning p.id into v_id;
  if v_id is null then
    raise exception 'patient not found' using errcode = 'RNTFD';
  end if;
  return json_build_object('id', v_id);
end
$$;
comment on function api.delete_patient(bigint) is 'DELETE /api/patients/<id>/: removes the profile and its mappings.';

-- doctors ------------------------------------------------------------------

create function api.list_doctors(p_specialization text default null, p_search text default null,
                                 p_limit integer default null, p_offset integer default null) returns json
language plpgsql stable
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
  select json_agg(app.doctor_json(d) order by d.id) into v_rows
    from (select * from app.doctors d
           where (v_spec is null or lower(d.specialization) = lower(v_spec))
             and (v_pattern is null or d.name ilike v_pattern or d.specialization ilike v_pattern)
           order by d.id limit v_limit offset v_offset) d;
  return app.page(v_count, v_rows, '/api/doctors/', v_limit, v_offset, v_query);
end
$$;
comment on function api.list_doctors(text, text, integer, integer) is
  'GET /api/doctors/ (public): filter by exact specialization and by a substring of name or specialization, both case-insensitive.';

create function api.get_doctor(p_id bigint) returns json
language plpgsql stable
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
comment on function api.get_doctor(bigint) is 'GET /api/doctors/<id>/ (public).';

create function api.create_doctor(p_name text, p_specialization text) returns json
language plpgsql volatile
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
comment on function api.create_doctor(text, text) is 'POST /api/doctors/: any signed-in user, recorded as creator.';

-- After a write touched no row: 404 when the doctor does not exist, 403 when
-- it exists (the directory is public) but the caller may not change it.
create function app.raise_doctor_not_writable(p_id bigint) returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
  if exists (select from app.doctors d where d.id = p_id) then
    raise exception 'only the doctor''s creator or an admin may change it' using errcode = 'RFRBD';
  end if;
  raise exception 'doctor not found' using errcode = 'RNTFD';
end
$$;
comment on function app.raise_doctor_not_writable(bigint) is 'After a doctor write touched no row: RFRBD (403) when the doctor exists, RNTFD (404) when not.';

create function api.update_doctor(p_id bigint, p_name text default null, p_specialization text default null) returns json
language plpgsql volatile
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
    perform app.raise_doctor_not_writable(p_id);
  end if;
  return app.doctor_json(v_doctor);
end
$$;
comment on function api.update_doctor(bigint, text, text) is 'PUT/PATCH /api/doctors/<id>/: creator or admin; NULL arguments keep the current value.';

create function api.delete_doctor(p_id bigint) returns json
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
begin
  perform app.require_user();
  delete from app.doctors d where d.id = p_id returning d.id into v_id;
  if v_id is null then
    perform app.raise_doctor_not_writable(p_id);
  end if;
  return json_build_object('id', v_id);
end
$$;
comment on function api.delete_doctor(bigint) is 'DELETE /api/doctors/<id>/: creator or admin; removes the doctor''s mappings.';

-- mappings -----------------------------------------------------------------

create function api.list_mappings(p_limit integer default null, p_offset integer default null) returns json
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_count bigint;
  v_rows json;
begin
  select count(*) into v_count
    from app.patient_doctors m join app.patients p on p.id = m.patient_id
   where p.owner_id = v_uid;
  select json_agg(app.mapping_json(m) order by m.id) into v_rows
    from (select m.* from app.patient_doctors m join app.patients p on p.id = m.patient_id
           where p.owner_id = v_uid
           order by m.id limit v_limit offset v_offset) m;
  return app.page(v_count, v_rows, '/api/mappings/', v_limit, v_offset, null);
end
$$;
comment on function api.list_mappings(integer, integer) is 'GET /api/mappings/: mappings of the caller''s own patients.';

create function api.get_mapping(p_id bigint) returns json
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result json;
begin
  perform app.require_user();
  select app.mapping_json(m) into v_result from app.patient_doctors m where m.id = p_id;
  if v_result is null then
    raise exception 'mapping not found' using errcode = 'RNTFD';
  end if;
  return v_result;
end
$$;
comment on function api.get_mapping(bigint) is 'GET /api/mappings/<id>/: a mapping of a patient the caller may see.';

create function api.create_mapping(p_patient bigint, p_doctor bigint) returns json
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_mapping app.patient_doctors;
begin
  perform app.require_user();
  if not exists (select from app.patients p where p.id = p_patient) then
    raise exception 'patient not found' using errcode = 'RNTFD', column = 'patient';
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
comment on function api.create_mapping(bigint, bigint) is 'POST /api/mappings/: assigns a doctor to one of the caller''s patients; a pair is mapped once.';

create function api.delete_mapping(p_id bigint) returns json
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
begin
  perform app.require_user();
  delete from app.patient_doctors m where m.id = p_id returning m.id into v_id;
  if v_id is null then
    raise exception 'mapping not found' using errcode = 'RNTFD';
  end if;
  return json_build_object('id', v_id);
end
$$;
comment on function api.delete_mapping(bigint) is 'DELETE /api/mappings/<id>/.';

create function api.list_patient_doctors(p_patient_id bigint, p_limit integer default null, p_offset integer default null) returns json
language plpgsql stable
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
    raise exception 'patient not found' using errcode = 'RNTFD';
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
  return app.page(v_count, v_rows, '/api/mappings/patient/' || p_patient_id || '/', v_limit, v_offset, null);
end
$$;
comment on function api.list_patient_doctors(bigint, integer, integer) is
  'GET /api/mappings/patient/<id>/: the doctors of one patient the caller may see, with the mapping id.';

-- grants -------------------------------------------------------------------

grant execute on function
  app.require_user(), app.page_limit(integer), app.page_offset(integer), app.url_encode(text),
  app.page(bigint, json, text, integer, integer, text),
  app.patient_json(app.patients), app.doctor_json(app.doctors), app.mapping_json(app.patient_doctors),
  app.check_name(text, text, integer), app.check_age(integer), app.check_gender(text),
  app.raise_doctor_not_writable(bigint)
  to healthcare_api, healthcare_user;

grant execute on function
  api.me(),
  api.list_patients(integer, integer), api.get_patient(bigint), api.create_patient(text, integer, text),
  api.update_patient(bigint, text, integer, text), api.delete_patient(bigint),
  api.list_doctors(text, text, integer, integer), api.get_doctor(bigint), api.create_doctor(text, text),
  api.update_doctor(bigint, text, text), api.delete_doctor(bigint),
  api.list_mappings(integer, integer), api.get_mapping(bigint), api.create_mapping(bigint, bigint),
  api.delete_mapping(bigint), api.list_patient_doctors(bigint, integer, integer)
  to healthcare_api, healthcare_user;

-- Accounts and tokens: the REST server alone.
grant execute on function
  api.register(text, text, text),
  api.rotate_refresh_token(uuid, uuid, timestamptz), api.revoke_refresh_token(uuid)
  to healthcare_api;

reset role;

---- create above / drop below ----

set local role healthcare_owner;
drop schema api cascade;
-- The owner role may not create schemas; the migrating role does, as in 001.
reset role;
create schema api authorization healthcare_owner;
grant usage on schema api to healthcare_api, healthcare_user;
set local role healthcare_owner;
drop function app.require_user(), app.page_limit(integer), app.page_offset(integer), app.url_encode(text),
  app.page(bigint, json, text, integer, integer, text),
  app.patient_json(app.patients), app.doctor_json(app.doctors), app.mapping_json(app.patient_doctors),
  app.check_name(text, text, integer), app.check_age(integer), app.check_gender(text),
  app.raise_doctor_not_writable(bigint);
reset role;
