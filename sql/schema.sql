-- The schema after every migration, as pg_dump reports it. Generated:
-- go test ./sql -run TestSchemaSnapshot -update
-- Do not edit by hand; change a migration (append-only) and regenerate.
--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: api; Type: SCHEMA; Schema: -; Owner: healthcare_owner
--

CREATE SCHEMA api;

ALTER SCHEMA api OWNER TO healthcare_owner;

--
-- Name: SCHEMA api; Type: COMMENT; Schema: -; Owner: healthcare_owner
--

COMMENT ON SCHEMA api IS 'One function per REST operation; psql users call the same functions and get the same JSON.';

--
-- Name: app; Type: SCHEMA; Schema: -; Owner: healthcare_owner
--

CREATE SCHEMA app;

ALTER SCHEMA app OWNER TO healthcare_owner;

--
-- Name: SCHEMA app; Type: COMMENT; Schema: -; Owner: healthcare_owner
--

COMMENT ON SCHEMA app IS 'Tables, policies and private helpers. Row-level security decides every row anyone sees.';

--
-- Name: audit; Type: SCHEMA; Schema: -; Owner: healthcare_owner
--

CREATE SCHEMA audit;

ALTER SCHEMA audit OWNER TO healthcare_owner;

--
-- Name: SCHEMA audit; Type: COMMENT; Schema: -; Owner: healthcare_owner
--

COMMENT ON SCHEMA audit IS 'The audit trail: one event per access to patient data, append-only, partitioned by month and sealed into a hash chain.';

--
-- Name: records; Type: SCHEMA; Schema: -; Owner: healthcare_owner
--

CREATE SCHEMA records;

ALTER SCHEMA records OWNER TO healthcare_owner;

--
-- Name: SCHEMA records; Type: COMMENT; Schema: -; Owner: healthcare_owner
--

COMMENT ON SCHEMA records IS 'What a psql login reads with plain SQL: its own patients and mappings and the doctor directory, under the same policies as the REST API. Views over security definer functions, so EXPLAIN and statistics show nothing of other users'' rows.';

--
-- Name: reporting; Type: SCHEMA; Schema: -; Owner: healthcare_owner
--

CREATE SCHEMA reporting;

ALTER SCHEMA reporting OWNER TO healthcare_owner;

--
-- Name: SCHEMA reporting; Type: COMMENT; Schema: -; Owner: healthcare_owner
--

COMMENT ON SCHEMA reporting IS 'De-identified aggregate views for reporting tools; small counts are suppressed.';

--
-- Name: report_cell; Type: TYPE; Schema: app; Owner: healthcare_owner
--

CREATE TYPE app.report_cell AS (
	row_label text,
	col_label text,
	n bigint,
	dominant bigint,
	cell_key bigint
);

ALTER TYPE app.report_cell OWNER TO healthcare_owner;

--
-- Name: TYPE report_cell; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON TYPE app.report_cell IS 'A cell of a reporting table before suppression and perturbation.';

--
-- Name: audit_events(bigint, bigint, timestamp with time zone, integer, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.audit_events(p_patient bigint DEFAULT NULL::bigint, p_user bigint DEFAULT NULL::bigint, p_since timestamp with time zone DEFAULT NULL::timestamp with time zone, p_limit integer DEFAULT NULL::integer, p_offset integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_limit integer := app.page_limit(p_limit);
  v_offset integer := app.page_offset(p_offset);
  v_query text := '';
  v_count bigint;
  v_rows json;
begin
  perform app.require_user();
  if not app.current_user_is_admin() then
    raise exception 'only admins may read the audit trail' using errcode = 'RFRBD';
  end if;
  if p_patient is not null then
    v_query := v_query || '&patient=' || p_patient;
  end if;
  if p_user is not null then
    v_query := v_query || '&user=' || p_user;
  end if;
  if p_since is not null then
    v_query := v_query || '&since=' || app.url_encode(to_char(p_since at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
  end if;
  select count(*) into v_count from audit.events e
   where (p_patient is null or e.patient_id = p_patient or e.patients @> array[p_patient])
     and (p_user is null or e.user_id = p_user)
     and (p_since is null or e.at >= p_since);
  select json_agg(app.event_json(e) order by e.id desc) into v_rows
    from (select * from audit.events e
           where (p_patient is null or e.patient_id = p_patient or e.patients @> array[p_patient])
             and (p_user is null or e.user_id = p_user)
             and (p_since is null or e.at >= p_since)
           order by e.id desc limit v_limit offset v_offset) e;
  -- Reading the trail is an access too (its details hold patient data).
  perform app.audit('list', 'ok', p_patient, null,
                    pg_catalog.jsonb_build_object('object', 'audit_events', 'user', p_user, 'since', p_since));
  return app.page(v_count, v_rows, '/api/audit/events/', v_limit, v_offset, v_query);
end
$$;

ALTER FUNCTION api.audit_events(p_patient bigint, p_user bigint, p_since timestamp with time zone, p_limit integer, p_offset integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION audit_events(p_patient bigint, p_user bigint, p_since timestamp with time zone, p_limit integer, p_offset integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.audit_events(p_patient bigint, p_user bigint, p_since timestamp with time zone, p_limit integer, p_offset integer) IS 'GET /api/audit/events/?patient=&user=&since=: the trail, newest first (admins only).';

--
-- Name: complete_login(text, text, bigint, uuid, uuid, timestamp with time zone); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) RETURNS json
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ select app.complete_login(p_username, p_address, p_user_id, p_jti, p_family, p_expires_at) $$;

ALTER FUNCTION api.complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) OWNER TO healthcare_access;

--
-- Name: FUNCTION complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) IS 'POST /api/auth/login/ step 2 after a correct password: resets the throttle and records the refresh token (REST server only).';

--
-- Name: create_doctor(text, text); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.create_doctor(p_name text, p_specialization text) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.create_doctor(p_name text, p_specialization text) OWNER TO healthcare_access;

--
-- Name: FUNCTION create_doctor(p_name text, p_specialization text); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.create_doctor(p_name text, p_specialization text) IS 'POST /api/doctors/: any signed-in user, recorded as creator.';

--
-- Name: create_mapping(bigint, bigint); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.create_mapping(p_patient bigint, p_doctor bigint) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.create_mapping(p_patient bigint, p_doctor bigint) OWNER TO healthcare_access;

--
-- Name: FUNCTION create_mapping(p_patient bigint, p_doctor bigint); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.create_mapping(p_patient bigint, p_doctor bigint) IS 'POST /api/mappings/: assigns a doctor to one of the caller''s patients; a pair is mapped once.';

--
-- Name: create_patient(text, integer, text); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.create_patient(p_name text, p_age integer, p_gender text DEFAULT NULL::text) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.create_patient(p_name text, p_age integer, p_gender text) OWNER TO healthcare_access;

--
-- Name: FUNCTION create_patient(p_name text, p_age integer, p_gender text); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.create_patient(p_name text, p_age integer, p_gender text) IS 'POST /api/patients/: a profile owned by the caller.';

--
-- Name: delete_doctor(bigint, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.delete_doctor(p_id bigint, p_version integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.delete_doctor(p_id bigint, p_version integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION delete_doctor(p_id bigint, p_version integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.delete_doctor(p_id bigint, p_version integer) IS 'DELETE /api/doctors/<id>/: creator or admin; removes the doctor''s mappings; p_version, when given, must be the current version (else RSTAL, nothing deleted).';

--
-- Name: delete_mapping(bigint); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.delete_mapping(p_id bigint) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.delete_mapping(p_id bigint) OWNER TO healthcare_access;

--
-- Name: FUNCTION delete_mapping(p_id bigint); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.delete_mapping(p_id bigint) IS 'DELETE /api/mappings/<id>/.';

--
-- Name: delete_patient(bigint, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.delete_patient(p_id bigint, p_version integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.delete_patient(p_id bigint, p_version integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION delete_patient(p_id bigint, p_version integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.delete_patient(p_id bigint, p_version integer) IS 'DELETE /api/patients/<id>/: removes the profile and its mappings; p_version, when given, must be the current version (else RSTAL, nothing deleted).';

--
-- Name: doctor_history(bigint, integer, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.doctor_history(p_id bigint, p_limit integer DEFAULT NULL::integer, p_offset integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.doctor_history(p_id bigint, p_limit integer, p_offset integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION doctor_history(p_id bigint, p_limit integer, p_offset integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.doctor_history(p_id bigint, p_limit integer, p_offset integer) IS 'GET /api/doctors/<id>/history/: every version of the doctor since migration 014, newest first, from the audit trail; a delete is an entry without values. Public; a removed doctor''s history is for admins only.';

--
-- Name: doctor_version(bigint, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.doctor_version(p_id bigint, p_version integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.doctor_version(p_id bigint, p_version integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION doctor_version(p_id bigint, p_version integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.doctor_version(p_id bigint, p_version integer) IS 'GET /api/doctors/<id>/history/<version>/: one version of the doctor, as api.doctor_history lists it. Public; a removed doctor''s for admins only.';

--
-- Name: get_care_patient(bigint); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.get_care_patient(p_id bigint) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.get_care_patient(p_id bigint) OWNER TO healthcare_access;

--
-- Name: FUNCTION get_care_patient(p_id bigint); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.get_care_patient(p_id bigint) IS 'GET /api/care/patients/<id>/: one patient mapped to the caller''s doctor record, with the mapping''s id and date; 404 otherwise. Every call is an audit event.';

--
-- Name: get_doctor(bigint); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.get_doctor(p_id bigint) RETURNS json
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.get_doctor(p_id bigint) OWNER TO healthcare_access;

--
-- Name: FUNCTION get_doctor(p_id bigint); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.get_doctor(p_id bigint) IS 'GET /api/doctors/<id>/ (public).';

--
-- Name: get_mapping(bigint); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.get_mapping(p_id bigint) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.get_mapping(p_id bigint) OWNER TO healthcare_access;

--
-- Name: FUNCTION get_mapping(p_id bigint); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.get_mapping(p_id bigint) IS 'GET /api/mappings/<id>/: a mapping of a patient the caller may see.';

--
-- Name: get_patient(bigint); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.get_patient(p_id bigint) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.get_patient(p_id bigint) OWNER TO healthcare_access;

--
-- Name: FUNCTION get_patient(p_id bigint); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.get_patient(p_id bigint) IS 'GET /api/patients/<id>/: one profile the caller may see (owner or admin).';

--
-- Name: link_doctor_account(bigint, bigint); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.link_doctor_account(p_doctor bigint, p_user bigint) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.link_doctor_account(p_doctor bigint, p_user bigint) OWNER TO healthcare_access;

--
-- Name: FUNCTION link_doctor_account(p_doctor bigint, p_user bigint); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.link_doctor_account(p_doctor bigint, p_user bigint) IS 'PUT /api/doctors/<id>/account/ {"user": id}: links the doctor record to the account, which then reads the patients mapped to it (admins only).';

--
-- Name: list_care_patients(integer, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.list_care_patients(p_limit integer DEFAULT NULL::integer, p_offset integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.list_care_patients(p_limit integer, p_offset integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION list_care_patients(p_limit integer, p_offset integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.list_care_patients(p_limit integer, p_offset integer) IS 'GET /api/care/patients/: the patients mapped to the caller''s doctor record (empty when the account is linked to none), in patient order, each with its mapping''s id and date. Read-only; every call is an audit event.';

--
-- Name: list_doctors(text, text, integer, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.list_doctors(p_specialization text DEFAULT NULL::text, p_search text DEFAULT NULL::text, p_limit integer DEFAULT NULL::integer, p_offset integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.list_doctors(p_specialization text, p_search text, p_limit integer, p_offset integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION list_doctors(p_specialization text, p_search text, p_limit integer, p_offset integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.list_doctors(p_specialization text, p_search text, p_limit integer, p_offset integer) IS 'GET /api/doctors/ (public): filter by exact specialization and by a substring of name or specialization, both case-insensitive.';

--
-- Name: list_mappings(integer, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.list_mappings(p_limit integer DEFAULT NULL::integer, p_offset integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.list_mappings(p_limit integer, p_offset integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION list_mappings(p_limit integer, p_offset integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.list_mappings(p_limit integer, p_offset integer) IS 'GET /api/mappings/: mappings of the caller''s own patients.';

--
-- Name: list_patient_doctors(bigint, integer, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.list_patient_doctors(p_patient_id bigint, p_limit integer DEFAULT NULL::integer, p_offset integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.list_patient_doctors(p_patient_id bigint, p_limit integer, p_offset integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION list_patient_doctors(p_patient_id bigint, p_limit integer, p_offset integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.list_patient_doctors(p_patient_id bigint, p_limit integer, p_offset integer) IS 'GET /api/mappings/patient/<id>/: the doctors of one patient the caller may see, with the mapping id.';

--
-- Name: list_patients(integer, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.list_patients(p_limit integer DEFAULT NULL::integer, p_offset integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.list_patients(p_limit integer, p_offset integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION list_patients(p_limit integer, p_offset integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.list_patients(p_limit integer, p_offset integer) IS 'GET /api/patients/: the caller''s own patient profiles, oldest first.';

--
-- Name: login_attempt(text, text, integer, integer, integer, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer) RETURNS json
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ select app.login_attempt(p_username, p_address, p_max_pair, p_max_address, p_max_flood, p_window_seconds) $$;

ALTER FUNCTION api.login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer) IS 'POST /api/auth/login/ step 1: {"throttled":true,"retry_after":N} or {"throttled":false,"credentials":{...}|null} (REST server only).';

--
-- Name: me(); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.me() RETURNS json
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.me() OWNER TO healthcare_access;

--
-- Name: FUNCTION me(); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.me() IS 'GET /api/auth/me/: the caller''s account.';

--
-- Name: patient_access_log(bigint, integer, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.patient_access_log(p_patient_id bigint, p_limit integer DEFAULT NULL::integer, p_offset integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.patient_access_log(p_patient_id bigint, p_limit integer, p_offset integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION patient_access_log(p_patient_id bigint, p_limit integer, p_offset integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.patient_access_log(p_patient_id bigint, p_limit integer, p_offset integer) IS 'GET /api/patients/<id>/access-log/: who accessed the patient, newest first (owner and admins; refused attempts by others for admins only). Reading it is itself recorded.';

--
-- Name: patient_history(bigint, integer, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.patient_history(p_id bigint, p_limit integer DEFAULT NULL::integer, p_offset integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.patient_history(p_id bigint, p_limit integer, p_offset integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION patient_history(p_id bigint, p_limit integer, p_offset integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.patient_history(p_id bigint, p_limit integer, p_offset integer) IS 'GET /api/patients/<id>/history/: every version of the patient since versions exist (migration 014), newest first, from the audit trail; a delete is an entry without values. The owner and admins (a deleted patient: admins only). Reading it is recorded.';

--
-- Name: patient_version(bigint, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.patient_version(p_id bigint, p_version integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.patient_version(p_id bigint, p_version integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION patient_version(p_id bigint, p_version integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.patient_version(p_id bigint, p_version integer) IS 'GET /api/patients/<id>/history/<version>/: one version of the patient, as api.patient_history lists it. Same readers; recorded.';

--
-- Name: register(text, text, text); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.register(p_username text, p_email text, p_password_hash text) RETURNS json
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ select app.register_user(p_username, p_email, p_password_hash) $$;

ALTER FUNCTION api.register(p_username text, p_email text, p_password_hash text) OWNER TO healthcare_access;

--
-- Name: FUNCTION register(p_username text, p_email text, p_password_hash text); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.register(p_username text, p_email text, p_password_hash text) IS 'POST /api/auth/register/ (REST server only; the hash is computed there).';

--
-- Name: require_session(uuid); Type: FUNCTION; Schema: api; Owner: healthcare_auth
--

CREATE FUNCTION api.require_session(p_family uuid) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if p_family is null or exists (select from app.refresh_tokens t
                                  where t.family = p_family and t.revoked_at is null and t.expires_at > now()) then
    return true;
  end if;
  raise exception 'this session has ended; sign in again' using errcode = 'RUNAU';
end
$$;

ALTER FUNCTION api.require_session(p_family uuid) OWNER TO healthcare_auth;

--
-- Name: FUNCTION require_session(p_family uuid); Type: COMMENT; Schema: api; Owner: healthcare_auth
--

COMMENT ON FUNCTION api.require_session(p_family uuid) IS 'Part of the identity statement of every REST request: error RUNAU (401) when the access token''s session was logged out, revoked or has expired; true otherwise (and for anonymous requests). Security definer (owner healthcare_auth, policy refresh_tokens.all_auth).';

--
-- Name: revoke_refresh_token(uuid); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.revoke_refresh_token(p_jti uuid) RETURNS json
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ select app.revoke_refresh_token(p_jti) $$;

ALTER FUNCTION api.revoke_refresh_token(p_jti uuid) OWNER TO healthcare_access;

--
-- Name: FUNCTION revoke_refresh_token(p_jti uuid); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.revoke_refresh_token(p_jti uuid) IS 'POST /api/auth/logout/: revokes the session''s token family (REST server only).';

--
-- Name: rotate_refresh_token(uuid, uuid, timestamp with time zone); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone) RETURNS json
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ select app.rotate_refresh_token(p_old_jti, p_new_jti, p_expires_at) $$;

ALTER FUNCTION api.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone) OWNER TO healthcare_access;

--
-- Name: FUNCTION rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone) IS 'POST /api/auth/refresh/: status ok, reused (family revoked) or invalid (REST server only).';

--
-- Name: unlink_doctor_account(bigint); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.unlink_doctor_account(p_doctor bigint) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.unlink_doctor_account(p_doctor bigint) OWNER TO healthcare_access;

--
-- Name: FUNCTION unlink_doctor_account(p_doctor bigint); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.unlink_doctor_account(p_doctor bigint) IS 'DELETE /api/doctors/<id>/account/: unlinks the doctor record; its former account loses the care view at once (admins only).';

--
-- Name: update_doctor(bigint, text, text, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.update_doctor(p_id bigint, p_name text DEFAULT NULL::text, p_specialization text DEFAULT NULL::text, p_version integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.update_doctor(p_id bigint, p_name text, p_specialization text, p_version integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION update_doctor(p_id bigint, p_name text, p_specialization text, p_version integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.update_doctor(p_id bigint, p_name text, p_specialization text, p_version integer) IS 'PUT/PATCH /api/doctors/<id>/: creator or admin; NULL arguments keep the current value; p_version, when given, must be the current version (else RSTAL, nothing written).';

--
-- Name: update_patient(bigint, text, integer, text, integer); Type: FUNCTION; Schema: api; Owner: healthcare_access
--

CREATE FUNCTION api.update_patient(p_id bigint, p_name text DEFAULT NULL::text, p_age integer DEFAULT NULL::integer, p_gender text DEFAULT NULL::text, p_version integer DEFAULT NULL::integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION api.update_patient(p_id bigint, p_name text, p_age integer, p_gender text, p_version integer) OWNER TO healthcare_access;

--
-- Name: FUNCTION update_patient(p_id bigint, p_name text, p_age integer, p_gender text, p_version integer); Type: COMMENT; Schema: api; Owner: healthcare_access
--

COMMENT ON FUNCTION api.update_patient(p_id bigint, p_name text, p_age integer, p_gender text, p_version integer) IS 'PUT/PATCH /api/patients/<id>/: NULL arguments keep the current value; p_version, when given, must be the current version (else RSTAL, nothing written).';

--
-- Name: audit(text, text, bigint, bigint[], jsonb); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.audit(p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb) RETURNS void
    LANGUAGE plpgsql
    AS $$
begin
  perform app.audit_as(app.current_user_id(), p_action, p_outcome, p_patient, p_patients, p_detail);
end
$$;

ALTER FUNCTION app.audit(p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb) OWNER TO healthcare_owner;

--
-- Name: FUNCTION audit(p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.audit(p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb) IS 'Writes one audit event for the caller (identity, door, request id and client address from the session).';

--
-- Name: audit_as(bigint, text, text, bigint, bigint[], jsonb); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.audit_as(p_user bigint, p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_door text := app.current_door();
  v_request text;
  v_addr inet;
begin
  if v_door = 'rest' then
    v_request := nullif(pg_catalog.current_setting('app.request_id', true), '');
    v_addr := nullif(pg_catalog.current_setting('app.client_addr', true), '')::inet;
  else
    v_addr := pg_catalog.inet_client_addr();
  end if;
  -- Straight into the current month's partition (see audit.current_until);
  -- through the parent only in the moments after a month turned.
  if pg_catalog.now() < audit.current_until() and pg_catalog.now() >= audit.current_from() then
    insert into audit.events_current (user_id, door, action, outcome, patient_id, patients, request_id, client_addr, detail)
    values (p_user, v_door, p_action, p_outcome, p_patient, p_patients, v_request, v_addr, p_detail);
  else
    insert into audit.events (user_id, door, action, outcome, patient_id, patients, request_id, client_addr, detail)
    values (p_user, v_door, p_action, p_outcome, p_patient, p_patients, v_request, v_addr, p_detail);
  end if;
end
$$;

ALTER FUNCTION app.audit_as(p_user bigint, p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb) OWNER TO healthcare_owner;

--
-- Name: FUNCTION audit_as(p_user bigint, p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.audit_as(p_user bigint, p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb) IS 'Writes one audit event for the app user p_user, already identified by the caller (door, request id and client address from the session).';

--
-- Name: audit_doctor_change(); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.audit_doctor_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION app.audit_doctor_change() OWNER TO healthcare_owner;

--
-- Name: FUNCTION audit_doctor_change(); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.audit_doctor_change() IS 'Trigger: an audit event for every insert, update and delete of a doctor, with before and after values.';

--
-- Name: audit_mapping_change(); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.audit_mapping_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if tg_op = 'INSERT' then
    perform app.audit('create', 'ok', new.patient_id, null,
                      pg_catalog.jsonb_build_object('object', 'mapping', 'after', pg_catalog.to_jsonb(new) - 'record_key'));
  elsif tg_op = 'UPDATE' then
    perform app.audit('update', 'ok', new.patient_id, null,
                      pg_catalog.jsonb_build_object('object', 'mapping', 'before', pg_catalog.to_jsonb(old) - 'record_key',
                                                    'after', pg_catalog.to_jsonb(new) - 'record_key'));
  else
    perform app.audit('delete', 'ok', old.patient_id, null,
                      pg_catalog.jsonb_build_object('object', 'mapping', 'before', pg_catalog.to_jsonb(old) - 'record_key'));
  end if;
  return null;
end
$$;

ALTER FUNCTION app.audit_mapping_change() OWNER TO healthcare_owner;

--
-- Name: FUNCTION audit_mapping_change(); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.audit_mapping_change() IS 'Trigger: an audit event for every mapping created or removed (with its patient).';

--
-- Name: audit_patient_change(); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.audit_patient_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if tg_op = 'INSERT' then
    perform app.audit('create', 'ok', new.id, null,
                      pg_catalog.jsonb_build_object('object', 'patient', 'after', pg_catalog.to_jsonb(new) - 'record_key'));
  elsif tg_op = 'UPDATE' then
    perform app.audit('update', 'ok', new.id, null,
                      pg_catalog.jsonb_build_object('object', 'patient', 'before', pg_catalog.to_jsonb(old) - 'record_key',
                                                    'after', pg_catalog.to_jsonb(new) - 'record_key'));
  else
    perform app.audit('delete', 'ok', old.id, null,
                      pg_catalog.jsonb_build_object('object', 'patient', 'before', pg_catalog.to_jsonb(old) - 'record_key'));
  end if;
  return null;
end
$$;

ALTER FUNCTION app.audit_patient_change() OWNER TO healthcare_owner;

--
-- Name: FUNCTION audit_patient_change(); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.audit_patient_change() IS 'Trigger: an audit event for every insert, update and delete of a patient.';

--
-- Name: care_patient_ids(); Type: FUNCTION; Schema: app; Owner: healthcare_auth
--

CREATE FUNCTION app.care_patient_ids() RETURNS SETOF bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 100
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_doc bigint := app.current_doctor_id();
begin
  if v_doc is not null then
    return query select m.patient_id from app.patient_doctors m where m.doctor_id = v_doc;
  end if;
end
$$;

ALTER FUNCTION app.care_patient_ids() OWNER TO healthcare_auth;

--
-- Name: FUNCTION care_patient_ids(); Type: COMMENT; Schema: app; Owner: healthcare_auth
--

COMMENT ON FUNCTION app.care_patient_ids() IS 'The patients mapped to the caller''s doctor record, for the care policy on app.patients. Security definer (owner healthcare_auth, policy patient_doctors.select_auth, ids only), so the policies of healthcare_access on app.patient_doctors, which ask app.patients, are not met again (no recursion); one index scan of (doctor_id, patient_id) per statement.';

--
-- Name: current_user_id(); Type: FUNCTION; Schema: app; Owner: healthcare_auth
--

CREATE FUNCTION app.current_user_id() RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION app.current_user_id() OWNER TO healthcare_auth;

--
-- Name: FUNCTION current_user_id(); Type: COMMENT; Schema: app; Owner: healthcare_auth
--

COMMENT ON FUNCTION app.current_user_id() IS 'The calling app user: app.user_id for members of healthcare_api, the linked account of the login role otherwise; NULL when anonymous or inactive. Security definer (owner healthcare_auth, policy users.select_auth) so the lookup sees the account row.';

--
-- Name: gender_fhir(text); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.gender_fhir(p_gender text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
  select coalesce(app.normalize_gender(p_gender),
    case when pg_catalog.regexp_replace(pg_catalog.lower(pg_catalog.btrim(p_gender)), '[^a-z?]', '', 'g') in
              ('?', 'na', 'none', 'notknown', 'notstated', 'notspecified', 'unspecified', 'undisclosed',
               'declined', 'declinedtoanswer', 'prefernottosay', 'prefernottoanswer', 'prefernottodisclose',
               'asked', 'askedbutdeclined', 'askeddeclined', 'withheld')
         then 'unknown' else 'other' end)
$$;

ALTER FUNCTION app.gender_fhir(p_gender text) OWNER TO healthcare_owner;

--
-- Name: FUNCTION gender_fhir(p_gender text); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.gender_fhir(p_gender text) IS 'FHIR administrative gender (male|female|other|unknown) of a gender as sent: app.normalize_gender''s spellings; a refusal to answer (prefer not to say, not stated, declined, n/a, ...) is unknown; any other text other. Never NULL.';

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: patient_doctors; Type: TABLE; Schema: app; Owner: healthcare_owner
--

CREATE TABLE app.patient_doctors (
    id bigint NOT NULL,
    patient_id bigint NOT NULL,
    doctor_id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    record_key integer DEFAULT (floor((random() * (1000000)::double precision)))::integer NOT NULL,
    CONSTRAINT patient_doctors_record_key_check CHECK (((record_key >= 0) AND (record_key <= 999999)))
);

ALTER TABLE ONLY app.patient_doctors FORCE ROW LEVEL SECURITY;

ALTER TABLE app.patient_doctors OWNER TO healthcare_owner;

--
-- Name: TABLE patient_doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON TABLE app.patient_doctors IS 'Which doctors treat which patient. Removing either side removes the mapping.';

--
-- Name: COLUMN patient_doctors.patient_id; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.patient_doctors.patient_id IS 'The patient; the mapping is visible exactly when this patient is.';

--
-- Name: COLUMN patient_doctors.doctor_id; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.patient_doctors.doctor_id IS 'The doctor treating the patient; health data, since it tells a patient''s care.';

--
-- Name: COLUMN patient_doctors.record_key; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.patient_doctors.record_key IS 'Fixed random key for cell key perturbation of the reporting door; readable by healthcare_reporter only.';

--
-- Name: patients; Type: TABLE; Schema: app; Owner: healthcare_owner
--

CREATE TABLE app.patients (
    id bigint NOT NULL,
    owner_id bigint DEFAULT app.current_user_id() NOT NULL,
    name text NOT NULL,
    age integer NOT NULL,
    gender text DEFAULT 'unknown'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    record_key integer DEFAULT (floor((random() * (1000000)::double precision)))::integer NOT NULL,
    gender_fhir text GENERATED ALWAYS AS (app.gender_fhir(gender)) STORED NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    CONSTRAINT patients_age_check CHECK (((age >= 0) AND (age <= 150))),
    CONSTRAINT patients_gender_check CHECK (((gender = btrim(gender)) AND (length(gender) <= 100))),
    CONSTRAINT patients_gender_fhir_check CHECK ((gender_fhir = ANY (ARRAY['male'::text, 'female'::text, 'other'::text, 'unknown'::text]))),
    CONSTRAINT patients_name_check CHECK (((name = btrim(name)) AND ((length(name) >= 1) AND (length(name) <= 200)))),
    CONSTRAINT patients_record_key_check CHECK (((record_key >= 0) AND (record_key <= 999999))),
    CONSTRAINT patients_version_check CHECK ((version >= 1))
);

ALTER TABLE ONLY app.patients FORCE ROW LEVEL SECURITY;

ALTER TABLE app.patients OWNER TO healthcare_owner;

--
-- Name: TABLE patients; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON TABLE app.patients IS 'Patient health-record profiles. Owned by the app user who created them; removing the user removes them.';

--
-- Name: COLUMN patients.owner_id; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.patients.owner_id IS 'Owning app user; defaults to the caller, so psql users need not (and cannot usefully) set it.';

--
-- Name: COLUMN patients.name; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.patients.name IS 'Patient name: identifying health data, never exposed to reporting.';

--
-- Name: COLUMN patients.age; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.patients.age IS 'Age in years, 0 to 150.';

--
-- Name: COLUMN patients.gender; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.patients.gender IS 'Gender as the client sent it, trimmed, at most 100 characters (''unknown'' when left out). Identifying free text: reporting reads gender_fhir instead.';

--
-- Name: COLUMN patients.record_key; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.patients.record_key IS 'Fixed random key for cell key perturbation of the reporting door; readable by healthcare_reporter only.';

--
-- Name: COLUMN patients.gender_fhir; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.patients.gender_fhir IS 'FHIR administrative gender derived from gender (app.gender_fhir): male, female, other or unknown. For reporting and interoperability.';

--
-- Name: COLUMN patients.version; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.patients.version IS 'Starts at 1 and grows by one on every update (trigger patients_touch_version); the REST API''s ETag W/"<version>".';

--
-- Name: care_patient_json(app.patients, app.patient_doctors); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.care_patient_json(p app.patients, m app.patient_doctors) RETURNS json
    LANGUAGE sql STABLE
    AS $$
  select pg_catalog.json_build_object('id', p.id, 'version', p.version, 'name', p.name, 'age', p.age, 'gender', p.gender,
                                      'gender_fhir', p.gender_fhir,
                                      'user', p.owner_id, 'created_at', p.created_at, 'updated_at', p.updated_at,
                                      'mapping', m.id, 'mapped_at', m.created_at)
$$;

ALTER FUNCTION app.care_patient_json(p app.patients, m app.patient_doctors) OWNER TO healthcare_owner;

--
-- Name: FUNCTION care_patient_json(p app.patients, m app.patient_doctors); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.care_patient_json(p app.patients, m app.patient_doctors) IS 'A patient in the caller''s care: the members of app.patient_json, then the mapping''s id and date.';

--
-- Name: cell_perturbation(bigint); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.cell_perturbation(p_cell_key bigint) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select case
           when k < 50000 then -2
           when k < 250000 then -1
           when k < 750000 then 0
           when k < 950000 then 1
           else 2
         end
    from (select p_cell_key % 1000000 as k) s
$$;

ALTER FUNCTION app.cell_perturbation(p_cell_key bigint) OWNER TO healthcare_owner;

--
-- Name: FUNCTION cell_perturbation(p_cell_key bigint); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.cell_perturbation(p_cell_key bigint) IS 'The perturbation table of the cell key method: a cell key (sum of record keys) modulo 10^6 gives -2 (5%), -1 (20%), 0 (50%), +1 (20%) or +2 (5%).';

--
-- Name: check_age(integer); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.check_age(p_age integer) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if p_age is null or p_age not between 0 and 150 then
    raise exception 'age must be between 0 and 150' using errcode = 'RINVL', column = 'age';
  end if;
  return p_age;
end
$$;

ALTER FUNCTION app.check_age(p_age integer) OWNER TO healthcare_owner;

--
-- Name: FUNCTION check_age(p_age integer); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.check_age(p_age integer) IS 'Error RINVL (field age) unless 0 to 150.';

--
-- Name: check_doctor_delete(); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.check_doctor_delete() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION app.check_doctor_delete() OWNER TO healthcare_owner;

--
-- Name: FUNCTION check_doctor_delete(); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.check_doctor_delete() IS 'Trigger: refuses a non-admin''s delete of a doctor that other users'' patients are mapped to (RCNFL, 409), and a creator''s delete of a doctor linked to another account (RFRBD, 403).';

--
-- Name: check_gender(text); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.check_gender(p_gender text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if p_gender is null then
    return 'unknown';
  elsif length(btrim(p_gender)) > 100 then
    raise exception 'gender must be at most 100 characters' using errcode = 'RINVL', column = 'gender';
  end if;
  return btrim(p_gender);
end
$$;

ALTER FUNCTION app.check_gender(p_gender text) OWNER TO healthcare_owner;

--
-- Name: FUNCTION check_gender(p_gender text); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.check_gender(p_gender text) IS 'Trims a gender as sent; ''unknown'' for NULL; error RINVL (field gender) when longer than 100 characters.';

--
-- Name: check_name(text, text, integer); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.check_name(p_value text, p_field text, p_max integer) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if p_value is null or btrim(p_value) = '' then
    raise exception '% may not be blank', p_field using errcode = 'RINVL', column = p_field;
  elsif length(btrim(p_value)) > p_max then
    raise exception '% must be at most % characters', p_field, p_max using errcode = 'RINVL', column = p_field;
  end if;
  return btrim(p_value);
end
$$;

ALTER FUNCTION app.check_name(p_value text, p_field text, p_max integer) OWNER TO healthcare_owner;

--
-- Name: FUNCTION check_name(p_value text, p_field text, p_max integer); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.check_name(p_value text, p_field text, p_max integer) IS 'Trims a name-like field; error RINVL naming the field when blank or longer than p_max.';

--
-- Name: complete_login(text, text, bigint, uuid, uuid, timestamp with time zone); Type: FUNCTION; Schema: app; Owner: healthcare_auth
--

CREATE FUNCTION app.complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_account text := left(lower(coalesce(p_username, '')), 150);
  v_address text := left(coalesce(p_address, ''), 64);
begin
  -- The password was right: the pair starts afresh, and the address and
  -- the account's flood counter get back the attempt counted in advance.
  delete from app.login_failures f where f.scope = 'pair' and f.key = v_account || ' ' || v_address;
  update app.login_failures f set failures = greatest(f.failures - 1, 0)
   where (f.scope = 'address' and f.key = v_address) or (f.scope = 'account' and f.key = v_account);
  return app.issue_refresh_token(p_user_id, p_jti, p_family, p_expires_at);
end
$$;

ALTER FUNCTION app.complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) OWNER TO healthcare_auth;

--
-- Name: FUNCTION complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone); Type: COMMENT; Schema: app; Owner: healthcare_auth
--

COMMENT ON FUNCTION app.complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) IS 'Login step 2, after the server verified the password: resets the account''s failure count, returns the address''s advance count and records the refresh token. Security definer (owner healthcare_auth, policies login_failures.all_auth and refresh_tokens.all_auth); healthcare_api only.';

--
-- Name: current_doctor_id(); Type: FUNCTION; Schema: app; Owner: healthcare_auth
--

CREATE FUNCTION app.current_doctor_id() RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_uid bigint := app.current_user_id();
begin
  if v_uid is null then
    return null;
  end if;
  return (select d.id from app.doctors d where d.account_id = v_uid);
end
$$;

ALTER FUNCTION app.current_doctor_id() OWNER TO healthcare_auth;

--
-- Name: FUNCTION current_doctor_id(); Type: COMMENT; Schema: app; Owner: healthcare_auth
--

COMMENT ON FUNCTION app.current_doctor_id() IS 'The doctor record linked to the caller''s account, or NULL. Security definer (owner healthcare_auth, policy doctors.select_auth); a lookup by doctors_account_id_key.';

--
-- Name: current_door(); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.current_door() RETURNS text
    LANGUAGE plpgsql STABLE
    AS $$
begin
  -- The REST server's login sets a request id on every call; the common
  -- case is answered without a catalog lookup.
  if pg_catalog.current_setting('app.request_id', true) <> ''
     and pg_catalog.pg_has_role(session_user, 'healthcare_api', 'member') then
    return 'rest';
  end if;
  -- Superusers are members of every role: ask about them before the rest.
  if (select r.rolsuper from pg_catalog.pg_roles r where r.rolname = session_user) then
    return 'admin';
  elsif pg_catalog.pg_has_role(session_user, 'healthcare_api', 'member') then
    return 'rest';
  elsif pg_catalog.pg_has_role(session_user, 'healthcare_user', 'member') then
    return 'psql';
  end if;
  return 'admin';
end
$$;

ALTER FUNCTION app.current_door() OWNER TO healthcare_owner;

--
-- Name: FUNCTION current_door(); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.current_door() IS 'The door of the current session: rest (the server''s login), psql (a personal login) or admin (a superuser or the privileged connection).';

--
-- Name: current_user_is_admin(); Type: FUNCTION; Schema: app; Owner: healthcare_auth
--

CREATE FUNCTION app.current_user_is_admin() RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  return coalesce((select u.is_admin from app.users u where u.id = app.current_user_id()), false);
end
$$;

ALTER FUNCTION app.current_user_is_admin() OWNER TO healthcare_auth;

--
-- Name: FUNCTION current_user_is_admin(); Type: COMMENT; Schema: app; Owner: healthcare_auth
--

COMMENT ON FUNCTION app.current_user_is_admin() IS 'True when the caller is an active admin. Security definer (owner healthcare_auth, policy users.select_auth).';

--
-- Name: doctors; Type: TABLE; Schema: app; Owner: healthcare_owner
--

CREATE TABLE app.doctors (
    id bigint NOT NULL,
    name text NOT NULL,
    specialization text NOT NULL,
    created_by bigint DEFAULT app.current_user_id(),
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    account_id bigint,
    CONSTRAINT doctors_name_check CHECK (((name = btrim(name)) AND ((length(name) >= 1) AND (length(name) <= 200)))),
    CONSTRAINT doctors_specialization_check CHECK (((specialization = btrim(specialization)) AND ((length(specialization) >= 1) AND (length(specialization) <= 100)))),
    CONSTRAINT doctors_version_check CHECK ((version >= 1))
);

ALTER TABLE ONLY app.doctors FORCE ROW LEVEL SECURITY;

ALTER TABLE app.doctors OWNER TO healthcare_owner;

--
-- Name: TABLE doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON TABLE app.doctors IS 'Public doctor directory. Anyone lists it; the creator or an admin changes it.';

--
-- Name: COLUMN doctors.name; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.doctors.name IS 'The doctor''s name, public in the directory; personal data of the doctor.';

--
-- Name: COLUMN doctors.specialization; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.doctors.specialization IS 'Specialty as listed, 1 to 100 characters; reporting counts by it.';

--
-- Name: COLUMN doctors.created_by; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.doctors.created_by IS 'App user who listed the doctor; NULL once that account is removed.';

--
-- Name: COLUMN doctors.version; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.doctors.version IS 'Starts at 1 and grows by one on every update (trigger doctors_touch_version); the REST API''s ETag W/"<version>".';

--
-- Name: COLUMN doctors.account_id; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.doctors.account_id IS 'The user account of the doctor this record describes (one record per account); it reads the patients mapped to this record. NULL when unlinked; only admins and the privileged connection set it.';

--
-- Name: doctor_json(app.doctors); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.doctor_json(d app.doctors) RETURNS json
    LANGUAGE sql STABLE
    AS $$
  select pg_catalog.json_build_object('id', d.id, 'version', d.version, 'name', d.name, 'specialization', d.specialization,
                                      'created_by', d.created_by, 'created_at', d.created_at, 'updated_at', d.updated_at)
$$;

ALTER FUNCTION app.doctor_json(d app.doctors) OWNER TO healthcare_owner;

--
-- Name: FUNCTION doctor_json(d app.doctors); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.doctor_json(d app.doctors) IS 'A doctor as the REST API shows it (version second, for the ETag).';

--
-- Name: doctor_json_for(app.doctors, bigint, boolean); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.doctor_json_for(d app.doctors, p_uid bigint, p_admin boolean) RETURNS json
    LANGUAGE sql STABLE
    AS $$
  select case when p_admin or d.account_id = p_uid
              then app.json_append(app.doctor_json(d), pg_catalog.json_build_object('account', d.account_id))
              else app.doctor_json(d) end
$$;

ALTER FUNCTION app.doctor_json_for(d app.doctors, p_uid bigint, p_admin boolean) OWNER TO healthcare_owner;

--
-- Name: FUNCTION doctor_json_for(d app.doctors, p_uid bigint, p_admin boolean); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.doctor_json_for(d app.doctors, p_uid bigint, p_admin boolean) IS 'A doctor as the REST API shows it to one caller: with "account" (the linked user id or null) for admins and the linked account only.';

--
-- Name: doctor_serves_others(bigint, bigint); Type: FUNCTION; Schema: app; Owner: healthcare_reporter
--

CREATE FUNCTION app.doctor_serves_others(p_doctor bigint, p_user bigint) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select exists (select from app.patient_doctors m join app.patients p on p.id = m.patient_id
                  where m.doctor_id = p_doctor and p.owner_id is distinct from p_user)
$$;

ALTER FUNCTION app.doctor_serves_others(p_doctor bigint, p_user bigint) OWNER TO healthcare_reporter;

--
-- Name: FUNCTION doctor_serves_others(p_doctor bigint, p_user bigint); Type: COMMENT; Schema: app; Owner: healthcare_reporter
--

COMMENT ON FUNCTION app.doctor_serves_others(p_doctor bigint, p_user bigint) IS 'True when a patient not owned by p_user is mapped to the doctor. Security definer (owner healthcare_reporter, policies select_reporter): the caller cannot see those mappings.';

--
-- Name: events_id_seq; Type: SEQUENCE; Schema: audit; Owner: healthcare_audit
--

CREATE SEQUENCE audit.events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER TABLE audit.events_id_seq OWNER TO healthcare_audit;

--
-- Name: SEQUENCE events_id_seq; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON SEQUENCE audit.events_id_seq IS 'Event ids, in the order events were written.';

--
-- Name: events; Type: TABLE; Schema: audit; Owner: healthcare_audit
--

CREATE TABLE audit.events (
    id bigint DEFAULT nextval('audit.events_id_seq'::regclass) NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    xact bigint DEFAULT ((pg_current_xact_id())::text)::bigint NOT NULL,
    user_id bigint,
    db_role name DEFAULT SESSION_USER NOT NULL,
    door text NOT NULL,
    action text NOT NULL,
    outcome text NOT NULL,
    patient_id bigint,
    patients bigint[],
    request_id text,
    client_addr inet,
    detail jsonb,
    CONSTRAINT events_action_check CHECK ((action = ANY (ARRAY['read'::text, 'list'::text, 'create'::text, 'update'::text, 'delete'::text, 'prune'::text]))),
    CONSTRAINT events_door_check CHECK ((door = ANY (ARRAY['rest'::text, 'psql'::text, 'admin'::text]))),
    CONSTRAINT events_outcome_check CHECK ((outcome = ANY (ARRAY['ok'::text, 'not_found'::text, 'forbidden'::text])))
)
PARTITION BY RANGE (at);

ALTER TABLE ONLY audit.events FORCE ROW LEVEL SECURITY;

ALTER TABLE audit.events OWNER TO healthcare_audit;

--
-- Name: TABLE events; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON TABLE audit.events IS 'One event per access to patient data, written in the same transaction as the access. Append-only (trigger events_append_only); partitioned by month.';

--
-- Name: COLUMN events.id; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.id IS 'Event id, increasing in the order events were written.';

--
-- Name: COLUMN events.at; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.at IS 'When the accessing transaction started.';

--
-- Name: COLUMN events.xact; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.xact IS 'Id of the transaction that wrote the event; seals cover ranges of it.';

--
-- Name: COLUMN events.user_id; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.user_id IS 'The app user (NULL when anonymous or over the privileged connection). No foreign key: events outlive accounts.';

--
-- Name: COLUMN events.db_role; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.db_role IS 'The database login (session_user): the server''s login for REST, the person''s for psql.';

--
-- Name: COLUMN events.door; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.door IS 'rest, psql, or admin (the privileged connection).';

--
-- Name: COLUMN events.action; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.action IS 'read (one patient), list, create, update, delete, or prune (of the trail itself).';

--
-- Name: COLUMN events.outcome; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.outcome IS 'ok, not_found (no such record), or forbidden (it exists but is not the caller''s, or may not be changed by them).';

--
-- Name: COLUMN events.patient_id; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.patient_id IS 'The patient read or changed (a mapping''s patient for mapping events).';

--
-- Name: COLUMN events.patients; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.patients IS 'For lists: the ids of the patients returned.';

--
-- Name: COLUMN events.request_id; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.request_id IS 'The REST server''s request id (X-Request-Id); NULL for psql.';

--
-- Name: COLUMN events.client_addr; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.client_addr IS 'The client address the server saw (through trusted proxies), or inet_client_addr() for psql.';

--
-- Name: COLUMN events.detail; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.events.detail IS 'What was accessed and how: the object, its before and after values for writes; personal data.';

--
-- Name: event_json(audit.events); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.event_json(e audit.events) RETURNS json
    LANGUAGE sql STABLE
    AS $$
  select pg_catalog.json_build_object('id', e.id, 'at', e.at, 'user', e.user_id, 'db_role', e.db_role, 'door', e.door,
                                      'action', e.action, 'outcome', e.outcome, 'patient', e.patient_id,
                                      'patients', e.patients, 'request_id', e.request_id, 'client_addr', e.client_addr,
                                      'detail', e.detail)
$$;

ALTER FUNCTION app.event_json(e audit.events) OWNER TO healthcare_owner;

--
-- Name: FUNCTION event_json(e audit.events); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.event_json(e audit.events) IS 'An audit event as the REST API shows it.';

--
-- Name: history_json(audit.events); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.history_json(e audit.events) RETURNS json
    LANGUAGE sql STABLE
    AS $$
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

ALTER FUNCTION app.history_json(e audit.events) OWNER TO healthcare_owner;

--
-- Name: FUNCTION history_json(e audit.events); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.history_json(e audit.events) IS 'A change event as a history entry: version, action (create, update, delete), at, changed_by (app user), door, values (null for a delete).';

--
-- Name: issue_refresh_token(bigint, uuid, uuid, timestamp with time zone); Type: FUNCTION; Schema: app; Owner: healthcare_auth
--

CREATE FUNCTION app.issue_refresh_token(p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) RETURNS json
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  insert into app.refresh_tokens (jti, family, user_id, expires_at)
  values (p_jti, p_family, p_user_id, p_expires_at)
  returning json_build_object('jti', jti, 'family', family)
$$;

ALTER FUNCTION app.issue_refresh_token(p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) OWNER TO healthcare_auth;

--
-- Name: FUNCTION issue_refresh_token(p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone); Type: COMMENT; Schema: app; Owner: healthcare_auth
--

COMMENT ON FUNCTION app.issue_refresh_token(p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) IS 'Records a refresh token issued at login. Security definer (owner healthcare_auth, policy refresh_tokens.all_auth).';

--
-- Name: json_append(json, json); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.json_append(p_doc json, p_more json) RETURNS json
    LANGUAGE sql IMMUTABLE
    AS $$
  select (pg_catalog.left(p_doc::text, -1) || ', ' || pg_catalog.substr(p_more::text, 2))::json
$$;

ALTER FUNCTION app.json_append(p_doc json, p_more json) OWNER TO healthcare_owner;

--
-- Name: FUNCTION json_append(p_doc json, p_more json); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.json_append(p_doc json, p_more json) IS 'Appends the members of the object p_more to the object p_doc, keeping the order of both.';

--
-- Name: login_attempt(text, text, integer, integer, integer, integer); Type: FUNCTION; Schema: app; Owner: healthcare_auth
--

CREATE FUNCTION app.login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  -- Usernames are at most 150 characters and addresses at most 64, so
  -- cutting longer input conflates nothing real and bounds the keys.
  v_account text := left(lower(coalesce(p_username, '')), 150);
  v_address text := left(coalesce(p_address, ''), 64);
  v_pair text := v_account || ' ' || v_address;
  v_window interval := make_interval(secs => greatest(coalesce(p_window_seconds, 1), 1));
  v_row app.login_failures;
  v_open boolean;
  v_pair_failures integer := 0;
  v_flood_retry double precision := 0;
  v_retry double precision := 0;
begin
  -- Make sure the three rows exist, then lock them in a fixed order
  -- (account, address, pair): concurrent attempts on one account or one
  -- address wait for each other and see each other's counts.
  insert into app.login_failures (scope, key)
  values ('account', v_account), ('address', v_address), ('pair', v_pair)
  on conflict (scope, key) do nothing;

  for v_row in
    select * from app.login_failures f
     where (f.scope = 'account' and f.key = v_account)
        or (f.scope = 'address' and f.key = v_address)
        or (f.scope = 'pair' and f.key = v_pair)
     order by f.scope
       for update
  loop
    v_open := v_row.window_start + v_window > now();
    continue when not v_open;
    if v_row.scope = 'pair' then
      v_pair_failures := v_row.failures;
      if v_row.failures >= p_max_pair then
        v_retry := greatest(v_retry, ceil(extract(epoch from v_row.window_start + v_window - now())));
      end if;
    elsif v_row.scope = 'address' then
      if v_row.failures >= p_max_address then
        v_retry := greatest(v_retry, ceil(extract(epoch from v_row.window_start + v_window - now())));
      end if;
    elsif v_row.failures >= p_max_flood then
      v_flood_retry := ceil(extract(epoch from v_row.window_start + v_window - now()));
    end if;
  end loop;
  -- Under a flood, an address that has failed against the account waits.
  if v_flood_retry > 0 and v_pair_failures > 0 then
    v_retry := greatest(v_retry, v_flood_retry);
  end if;

  if v_retry > 0 then
    -- Refused attempts are not counted: the lockout does not grow while a
    -- client keeps knocking.
    return json_build_object('throttled', true, 'retry_after', greatest(v_retry, 1)::integer);
  end if;

  update app.login_failures f
     set failures = case when f.window_start + v_window <= now() or f.failures = 0 then 1 else f.failures + 1 end,
         window_start = case when f.window_start + v_window <= now() or f.failures = 0 then now() else f.window_start end
   where (f.scope = 'account' and f.key = v_account)
      or (f.scope = 'address' and f.key = v_address)
      or (f.scope = 'pair' and f.key = v_pair);

  -- Now and then, forget windows that ended long ago, so the table holds
  -- only open windows.
  if random() < 0.01 then
    delete from app.login_failures f where f.window_start < now() - 2 * v_window;
  end if;

  return json_build_object('throttled', false, 'credentials', app.user_credentials(p_username));
end
$$;

ALTER FUNCTION app.login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer) OWNER TO healthcare_auth;

--
-- Name: FUNCTION login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer); Type: COMMENT; Schema: app; Owner: healthcare_auth
--

COMMENT ON FUNCTION app.login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer) IS 'Login step 1: refuses (throttled, retry_after seconds) when the (account, address) pair or the address has reached its failure limit in the current window, or when the account has reached the flood limit and this address already failed against it; otherwise counts the attempt as a failure of all three and returns the credentials. Security definer (owner healthcare_auth, policies login_failures.all_auth and users.select_auth).';

--
-- Name: mapping_json(app.patient_doctors); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.mapping_json(m app.patient_doctors) RETURNS json
    LANGUAGE sql STABLE
    AS $$
  select pg_catalog.json_build_object('id', m.id, 'patient', m.patient_id, 'doctor', m.doctor_id, 'created_at', m.created_at)
$$;

ALTER FUNCTION app.mapping_json(m app.patient_doctors) OWNER TO healthcare_owner;

--
-- Name: FUNCTION mapping_json(m app.patient_doctors); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.mapping_json(m app.patient_doctors) IS 'A mapping as the REST API shows it.';

--
-- Name: normalize_gender(text); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.normalize_gender(p_gender text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
  select case pg_catalog.lower(pg_catalog.btrim(coalesce(p_gender, '')))
    when 'm' then 'male' when 'male' then 'male' when 'man' then 'male'
    when 'f' then 'female' when 'female' then 'female' when 'woman' then 'female'
    when 'o' then 'other' when 'other' then 'other'
    when 'u' then 'unknown' when 'unknown' then 'unknown' when '' then 'unknown'
  end
$$;

ALTER FUNCTION app.normalize_gender(p_gender text) OWNER TO healthcare_owner;

--
-- Name: FUNCTION normalize_gender(p_gender text); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.normalize_gender(p_gender text) IS 'Maps gender free text (case-insensitive m/male/man, f/female/woman, o/other, u/unknown/empty) to male|female|other|unknown; NULL when unrecognised.';

--
-- Name: page(bigint, json, text, integer, integer, text); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.page(p_count bigint, p_results json, p_path text, p_limit integer, p_offset integer, p_query text) RETURNS json
    LANGUAGE sql STABLE
    AS $$
  select pg_catalog.json_build_object(
    'count', p_count,
    'next', case when p_offset + p_limit < p_count
                 then p_path || '?limit=' || p_limit || '&offset=' || (p_offset + p_limit) || coalesce(p_query, '') end,
    'previous', case when p_offset > 0
                     then p_path || '?limit=' || p_limit || '&offset=' || greatest(p_offset - p_limit, 0) || coalesce(p_query, '') end,
    'results', coalesce(p_results, '[]'::json))
$$;

ALTER FUNCTION app.page(p_count bigint, p_results json, p_path text, p_limit integer, p_offset integer, p_query text) OWNER TO healthcare_owner;

--
-- Name: FUNCTION page(p_count bigint, p_results json, p_path text, p_limit integer, p_offset integer, p_query text); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.page(p_count bigint, p_results json, p_path text, p_limit integer, p_offset integer, p_query text) IS 'Builds a list response: count, next, previous, results.';

--
-- Name: page_limit(integer); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.page_limit(p_limit integer) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if p_limit is null then
    return 50;
  elsif p_limit < 1 then
    raise exception 'limit must be a positive integer' using errcode = 'RINVL', column = 'limit';
  end if;
  return least(p_limit, 100);
end
$$;

ALTER FUNCTION app.page_limit(p_limit integer) OWNER TO healthcare_owner;

--
-- Name: FUNCTION page_limit(p_limit integer); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.page_limit(p_limit integer) IS 'Page size: 50 by default, at most 100.';

--
-- Name: page_offset(integer); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.page_offset(p_offset integer) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if coalesce(p_offset, 0) < 0 then
    raise exception 'offset must not be negative' using errcode = 'RINVL', column = 'offset';
  end if;
  return coalesce(p_offset, 0);
end
$$;

ALTER FUNCTION app.page_offset(p_offset integer) OWNER TO healthcare_owner;

--
-- Name: FUNCTION page_offset(p_offset integer); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.page_offset(p_offset integer) IS 'Page offset: 0 by default, never negative.';

--
-- Name: patient_exists(bigint); Type: FUNCTION; Schema: app; Owner: healthcare_reporter
--

CREATE FUNCTION app.patient_exists(p_id bigint) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select exists (select from app.patients p where p.id = p_id)
$$;

ALTER FUNCTION app.patient_exists(p_id bigint) OWNER TO healthcare_reporter;

--
-- Name: FUNCTION patient_exists(p_id bigint); Type: COMMENT; Schema: app; Owner: healthcare_reporter
--

COMMENT ON FUNCTION app.patient_exists(p_id bigint) IS 'True when the patient exists, whoever owns it; only for recording refused attempts. Security definer (owner healthcare_reporter, policy patients.select_reporter).';

--
-- Name: patient_json(app.patients); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.patient_json(p app.patients) RETURNS json
    LANGUAGE sql STABLE
    AS $$
  select pg_catalog.json_build_object('id', p.id, 'version', p.version, 'name', p.name, 'age', p.age, 'gender', p.gender,
                                      'gender_fhir', p.gender_fhir,
                                      'user', p.owner_id, 'created_at', p.created_at, 'updated_at', p.updated_at)
$$;

ALTER FUNCTION app.patient_json(p app.patients) OWNER TO healthcare_owner;

--
-- Name: FUNCTION patient_json(p app.patients); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.patient_json(p app.patients) IS 'A patient as the REST API shows it (owner_id becomes "user"; version second, for the ETag).';

--
-- Name: publish_cells(app.report_cell[], integer); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.publish_cells(p_cells app.report_cell[], p_min_cell integer) RETURNS TABLE(row_label text, col_label text, published bigint, suppressed boolean)
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_n integer := coalesce(array_length(p_cells, 1), 0);
  v_sup boolean[] := array[]::boolean[];
  v_changed boolean := true;
  v_dim integer;
  v_label text;
  v_count integer;
  v_pick integer;
  i integer;
begin
  -- Primary suppression: fewer than p_min_cell records besides the
  -- largest contributor's.
  for i in 1 .. v_n loop
    v_sup := v_sup || (p_cells[i].n - p_cells[i].dominant < p_min_cell);
  end loop;
  -- Complementary suppression, until no row or column has exactly one
  -- suppressed cell beside published ones.
  while v_changed loop
    v_changed := false;
    for v_dim in 1 .. 2 loop
      for v_label in
        select distinct case when v_dim = 1 then c.row_label else c.col_label end from unnest(p_cells) c
      loop
        v_count := 0;
        v_pick := null;
        for i in 1 .. v_n loop
          continue when (case when v_dim = 1 then p_cells[i].row_label else p_cells[i].col_label end) is distinct from v_label;
          if v_sup[i] then
            v_count := v_count + 1;
          elsif v_pick is null or p_cells[i].n < p_cells[v_pick].n
                or (p_cells[i].n = p_cells[v_pick].n and (p_cells[i].row_label, p_cells[i].col_label) < (p_cells[v_pick].row_label, p_cells[v_pick].col_label)) then
            v_pick := i;
          end if;
        end loop;
        if v_count = 1 and v_pick is not null then
          v_sup[v_pick] := true;
          v_changed := true;
        end if;
      end loop;
    end loop;
  end loop;
  for i in 1 .. v_n loop
    row_label := p_cells[i].row_label;
    col_label := p_cells[i].col_label;
    suppressed := v_sup[i];
    published := case when v_sup[i] then null
                      else greatest(p_cells[i].n + app.cell_perturbation(p_cells[i].cell_key), 0) end;
    return next;
  end loop;
end
$$;

ALTER FUNCTION app.publish_cells(p_cells app.report_cell[], p_min_cell integer) OWNER TO healthcare_owner;

--
-- Name: FUNCTION publish_cells(p_cells app.report_cell[], p_min_cell integer); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.publish_cells(p_cells app.report_cell[], p_min_cell integer) IS 'Publishes a table of cells: primary suppression with dominance (n minus the largest contributor below p_min_cell), complementary suppression per row and column, cell key perturbation of what is published.';

--
-- Name: raise_doctor_not_writable(bigint); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.raise_doctor_not_writable(p_id bigint) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if exists (select from app.doctors d where d.id = p_id) then
    raise exception 'only the doctor''s creator or an admin may change it' using errcode = 'RFRBD';
  end if;
  raise exception 'doctor not found' using errcode = 'RNTFD';
end
$$;

ALTER FUNCTION app.raise_doctor_not_writable(p_id bigint) OWNER TO healthcare_owner;

--
-- Name: FUNCTION raise_doctor_not_writable(p_id bigint); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.raise_doctor_not_writable(p_id bigint) IS 'After a doctor write touched no row: RFRBD (403) when the doctor exists, RNTFD (404) when not.';

--
-- Name: refuse(text, bigint, jsonb, text, text, text); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.refuse(p_action text, p_patient bigint, p_detail jsonb, p_code text, p_message text, p_field text DEFAULT NULL::text) RETURNS json
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION app.refuse(p_action text, p_patient bigint, p_detail jsonb, p_code text, p_message text, p_field text) OWNER TO healthcare_owner;

--
-- Name: FUNCTION refuse(p_action text, p_patient bigint, p_detail jsonb, p_code text, p_message text, p_field text); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.refuse(p_action text, p_patient bigint, p_detail jsonb, p_code text, p_message text, p_field text) IS 'Records a refused attempt (forbidden when the patient exists, else not_found) and returns {"error": {"code", "message", "field"}}, which the REST server answers as the error it names. A refused update or delete of a patient the caller can read (in their care) is RFRBD, not RNTFD.';

--
-- Name: refuse_truncate(); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.refuse_truncate() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  raise exception 'truncate is refused on % so that every removal is recorded: delete the rows', tg_table_name
    using errcode = 'RFRBD';
end
$$;

ALTER FUNCTION app.refuse_truncate() OWNER TO healthcare_owner;

--
-- Name: FUNCTION refuse_truncate(); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.refuse_truncate() IS 'Trigger: refuses TRUNCATE of the audited tables (rows removed that way would leave no event).';

--
-- Name: register_user(text, text, text); Type: FUNCTION; Schema: app; Owner: healthcare_auth
--

CREATE FUNCTION app.register_user(p_username text, p_email text, p_password_hash text) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
$_$;

ALTER FUNCTION app.register_user(p_username text, p_email text, p_password_hash text) OWNER TO healthcare_auth;

--
-- Name: FUNCTION register_user(p_username text, p_email text, p_password_hash text); Type: COMMENT; Schema: app; Owner: healthcare_auth
--

COMMENT ON FUNCTION app.register_user(p_username text, p_email text, p_password_hash text) IS 'Creates a non-admin account. Security definer (owner healthcare_auth, policies users.select_auth/insert_auth) because the caller has no identity yet.';

--
-- Name: report_mappings_per_doctor(); Type: FUNCTION; Schema: app; Owner: healthcare_reporter
--

CREATE FUNCTION app.report_mappings_per_doctor() RETURNS TABLE(doctor_id bigint, specialization text, mappings bigint, suppressed boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  with per_owner as (
    select m.doctor_id, p.owner_id, count(*) as n, sum(m.record_key) as k
      from app.patient_doctors m join app.patients p on p.id = m.patient_id
     group by 1, 2
  ), cells as (
    select array_agg(row(doctor_id::text, '', n, dominant, k)::app.report_cell) as cells
      from (select doctor_id, sum(n)::bigint as n, max(n)::bigint as dominant, sum(k)::bigint as k
              from per_owner group by 1) c
  )
  select p.row_label::bigint, d.specialization, p.published, p.suppressed
    from cells, app.publish_cells(cells.cells, (select s.min_cell from app.reporting_settings s)) p
    join app.doctors d on d.id = p.row_label::bigint
   order by 1
$$;

ALTER FUNCTION app.report_mappings_per_doctor() OWNER TO healthcare_reporter;

--
-- Name: FUNCTION report_mappings_per_doctor(); Type: COMMENT; Schema: app; Owner: healthcare_reporter
--

COMMENT ON FUNCTION app.report_mappings_per_doctor() IS 'Published cells of reporting.mappings_per_doctor. Security definer (owner healthcare_reporter, policies select_reporter).';

--
-- Name: report_patients_by_age_band(); Type: FUNCTION; Schema: app; Owner: healthcare_reporter
--

CREATE FUNCTION app.report_patients_by_age_band() RETURNS TABLE(age_band text, gender text, patients bigint, suppressed boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  with per_owner as (
    select case
             when p.age < 18 then '0-17'
             when p.age < 30 then '18-29'
             when p.age < 45 then '30-44'
             when p.age < 65 then '45-64'
             else '65+'
           end as age_band,
           p.gender_fhir as gender, p.owner_id, count(*) as n, sum(p.record_key) as k
      from app.patients p
     group by 1, 2, 3
  ), cells as (
    select array_agg(row(age_band, gender, n, dominant, k)::app.report_cell) as cells
      from (select age_band, gender, sum(n)::bigint as n, max(n)::bigint as dominant, sum(k)::bigint as k
              from per_owner group by 1, 2) c
  )
  select p.row_label, p.col_label, p.published, p.suppressed
    from cells, app.publish_cells(cells.cells, (select s.min_cell from app.reporting_settings s)) p
   order by 1, 2
$$;

ALTER FUNCTION app.report_patients_by_age_band() OWNER TO healthcare_reporter;

--
-- Name: FUNCTION report_patients_by_age_band(); Type: COMMENT; Schema: app; Owner: healthcare_reporter
--

COMMENT ON FUNCTION app.report_patients_by_age_band() IS 'Published cells of reporting.patients_by_age_band, by age band and FHIR administrative gender (gender_fhir, never the free text). Security definer (owner healthcare_reporter, policies select_reporter).';

--
-- Name: report_patients_per_specialization(); Type: FUNCTION; Schema: app; Owner: healthcare_reporter
--

CREATE FUNCTION app.report_patients_per_specialization() RETURNS TABLE(specialization text, patients bigint, suppressed boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  with treated as (
    select distinct d.specialization, m.patient_id
      from app.doctors d join app.patient_doctors m on m.doctor_id = d.id
  ), per_owner as (
    select t.specialization, p.owner_id, count(*) as n, sum(p.record_key) as k
      from treated t join app.patients p on p.id = t.patient_id
     group by 1, 2
  ), cells as (
    select array_agg(row(specialization, '', n, dominant, k)::app.report_cell) as cells
      from (select specialization, sum(n)::bigint as n, max(n)::bigint as dominant, sum(k)::bigint as k
              from per_owner group by 1) c
  )
  select p.row_label, p.published, p.suppressed
    from cells, app.publish_cells(cells.cells, (select s.min_cell from app.reporting_settings s)) p
   order by 1
$$;

ALTER FUNCTION app.report_patients_per_specialization() OWNER TO healthcare_reporter;

--
-- Name: FUNCTION report_patients_per_specialization(); Type: COMMENT; Schema: app; Owner: healthcare_reporter
--

COMMENT ON FUNCTION app.report_patients_per_specialization() IS 'Published cells of reporting.patients_per_specialization. Security definer (owner healthcare_reporter, policies select_reporter).';

--
-- Name: require_user(); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.require_user() RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_uid bigint := app.current_user_id();
begin
  if v_uid is null then
    raise exception 'authentication credentials were not provided' using errcode = 'RUNAU';
  end if;
  return v_uid;
end
$$;

ALTER FUNCTION app.require_user() OWNER TO healthcare_owner;

--
-- Name: FUNCTION require_user(); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.require_user() IS 'The caller''s user id, or error RUNAU when anonymous.';

--
-- Name: revoke_refresh_token(uuid); Type: FUNCTION; Schema: app; Owner: healthcare_auth
--

CREATE FUNCTION app.revoke_refresh_token(p_jti uuid) RETURNS json
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  with revoked as (
    update app.refresh_tokens t set revoked_at = now()
     where t.family = (select family from app.refresh_tokens where jti = p_jti)
       and t.revoked_at is null
    returning 1
  )
  select json_build_object('revoked', exists (select from revoked))
$$;

ALTER FUNCTION app.revoke_refresh_token(p_jti uuid) OWNER TO healthcare_auth;

--
-- Name: FUNCTION revoke_refresh_token(p_jti uuid); Type: COMMENT; Schema: app; Owner: healthcare_auth
--

COMMENT ON FUNCTION app.revoke_refresh_token(p_jti uuid) IS 'Logout: revokes the token''s whole family (the session). Security definer (owner healthcare_auth, policy refresh_tokens.all_auth).';

--
-- Name: rotate_refresh_token(uuid, uuid, timestamp with time zone); Type: FUNCTION; Schema: app; Owner: healthcare_auth
--

CREATE FUNCTION app.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_old app.refresh_tokens;
begin
  -- Row lock: two concurrent rotations of one token cannot both succeed.
  select * into v_old from app.refresh_tokens where jti = p_old_jti for update;
  if not found then
    return json_build_object('status', 'invalid');
  end if;
  if v_old.replaced_by is not null then
    -- Reuse of a rotated token: assume it was stolen and end the session.
    update app.refresh_tokens set revoked_at = now()
     where family = v_old.family and revoked_at is null;
    return json_build_object('status', 'reused');
  end if;
  if v_old.revoked_at is not null or v_old.expires_at <= now()
     or not exists (select from app.users u where u.id = v_old.user_id and u.is_active) then
    return json_build_object('status', 'invalid');
  end if;
  insert into app.refresh_tokens (jti, family, user_id, expires_at)
  values (p_new_jti, v_old.family, v_old.user_id, p_expires_at);
  update app.refresh_tokens set replaced_by = p_new_jti where jti = p_old_jti;
  return json_build_object('status', 'ok', 'user_id', v_old.user_id, 'family', v_old.family);
end
$$;

ALTER FUNCTION app.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone) OWNER TO healthcare_auth;

--
-- Name: FUNCTION rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone); Type: COMMENT; Schema: app; Owner: healthcare_auth
--

COMMENT ON FUNCTION app.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone) IS 'Exchanges a refresh token for a new one of its family; a reused token revokes the family (status "reused", committed, not raised). Security definer (owner healthcare_auth, policy refresh_tokens.all_auth).';

--
-- Name: touch_updated_at(); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  new.updated_at := now();
  return new;
end
$$;

ALTER FUNCTION app.touch_updated_at() OWNER TO healthcare_owner;

--
-- Name: FUNCTION touch_updated_at(); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.touch_updated_at() IS 'Trigger: sets updated_at on every update.';

--
-- Name: touch_version(); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.touch_version() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  new.updated_at := now();
  new.version := old.version + 1;
  return new;
end
$$;

ALTER FUNCTION app.touch_version() OWNER TO healthcare_owner;

--
-- Name: FUNCTION touch_version(); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.touch_version() IS 'Trigger: sets updated_at and the next version on every update.';

--
-- Name: url_encode(text); Type: FUNCTION; Schema: app; Owner: healthcare_owner
--

CREATE FUNCTION app.url_encode(p_value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
  select coalesce(string_agg(
           case when c ~ '^[A-Za-z0-9_.~-]$' then c
                else upper(regexp_replace(encode(convert_to(c, 'UTF8'), 'hex'), '(..)', '%\1', 'g'))
           end, '' order by n), '')
    from regexp_split_to_table(p_value, '') with ordinality as t(c, n)
$_$;

ALTER FUNCTION app.url_encode(p_value text) OWNER TO healthcare_owner;

--
-- Name: FUNCTION url_encode(p_value text); Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON FUNCTION app.url_encode(p_value text) IS 'Percent-encodes a query parameter value for page links.';

--
-- Name: user_credentials(text); Type: FUNCTION; Schema: app; Owner: healthcare_auth
--

CREATE FUNCTION app.user_credentials(p_username text) RETURNS json
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select json_build_object('id', u.id, 'password_hash', u.password_hash, 'is_active', u.is_active)
    from app.users u
   where lower(u.username) = lower(p_username)
$$;

ALTER FUNCTION app.user_credentials(p_username text) OWNER TO healthcare_auth;

--
-- Name: FUNCTION user_credentials(p_username text); Type: COMMENT; Schema: app; Owner: healthcare_auth
--

COMMENT ON FUNCTION app.user_credentials(p_username text) IS 'The password hash for login, compared in the server. Security definer (owner healthcare_auth, policy users.select_auth); healthcare_api only.';

--
-- Name: visible_care_patients(); Type: FUNCTION; Schema: app; Owner: healthcare_access
--

CREATE FUNCTION app.visible_care_patients() RETURNS TABLE(id bigint, owner_id bigint, name text, age integer, gender text, gender_fhir text, created_at timestamp with time zone, updated_at timestamp with time zone, mapping_id bigint, mapped_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER ROWS 100
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION app.visible_care_patients() OWNER TO healthcare_access;

--
-- Name: FUNCTION visible_care_patients(); Type: COMMENT; Schema: app; Owner: healthcare_access
--

COMMENT ON FUNCTION app.visible_care_patients() IS 'The patients mapped to the caller''s doctor record, for records.care_patients; records the list. Security definer (owner healthcare_access): nothing of other rows reaches EXPLAIN or statistics.';

--
-- Name: visible_doctors(); Type: FUNCTION; Schema: app; Owner: healthcare_access
--

CREATE FUNCTION app.visible_doctors() RETURNS TABLE(id bigint, name text, specialization text, created_by bigint, version integer, created_at timestamp with time zone, updated_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 100
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select d.id, d.name, d.specialization, d.created_by, d.version, d.created_at, d.updated_at
    from app.doctors d
   order by d.id
$$;

ALTER FUNCTION app.visible_doctors() OWNER TO healthcare_access;

--
-- Name: FUNCTION visible_doctors(); Type: COMMENT; Schema: app; Owner: healthcare_access
--

COMMENT ON FUNCTION app.visible_doctors() IS 'The doctor directory with versions, for records.doctors. Security definer (owner healthcare_access).';

--
-- Name: visible_mappings(); Type: FUNCTION; Schema: app; Owner: healthcare_access
--

CREATE FUNCTION app.visible_mappings() RETURNS TABLE(id bigint, patient_id bigint, doctor_id bigint, created_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER ROWS 100
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION app.visible_mappings() OWNER TO healthcare_access;

--
-- Name: FUNCTION visible_mappings(); Type: COMMENT; Schema: app; Owner: healthcare_access
--

COMMENT ON FUNCTION app.visible_mappings() IS 'Mappings of the patients the caller may see, for records.mappings. Security definer (owner healthcare_access).';

--
-- Name: visible_patients(); Type: FUNCTION; Schema: app; Owner: healthcare_access
--

CREATE FUNCTION app.visible_patients() RETURNS TABLE(id bigint, owner_id bigint, name text, age integer, gender text, gender_fhir text, version integer, created_at timestamp with time zone, updated_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER ROWS 100
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

ALTER FUNCTION app.visible_patients() OWNER TO healthcare_access;

--
-- Name: FUNCTION visible_patients(); Type: COMMENT; Schema: app; Owner: healthcare_access
--

COMMENT ON FUNCTION app.visible_patients() IS 'The patients the caller may see (their own; every one for admins), for records.patients, with their versions; records what it returns. Security definer (owner healthcare_access): the caller has no privilege on app.patients, so nothing of other rows reaches EXPLAIN or statistics.';

--
-- Name: create_partitions(date, integer); Type: FUNCTION; Schema: audit; Owner: healthcare_audit
--

CREATE FUNCTION audit.create_partitions(p_from date, p_months integer) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET "TimeZone" TO 'UTC'
    AS $$
declare
  v_month date := date_trunc('month', p_from)::date;
  v_current date := (select s.current_month from audit.seal_state s);
  v_name text;
  v_made integer := 0;
begin
  for i in 1 .. p_months loop
    -- The current month's partition is audit.events_current (see
    -- audit.roll_current); every other month is named after itself.
    v_name := case when v_month = v_current then 'events_current' else 'events_' || to_char(v_month, 'YYYY_MM') end;
    if to_regclass('audit.' || v_name) is null then
      execute format('create table audit.%I partition of audit.events for values from (%L) to (%L)',
                     v_name, v_month::timestamptz, (v_month + interval '1 month')::timestamptz);
      execute format('create trigger events_no_truncate before truncate on audit.%I for each statement execute function audit.refuse_change()', v_name);
      execute format('comment on table audit.%I is %L', v_name, 'Audit events of ' || to_char(v_month, 'YYYY-MM') || '.');
      -- app.audit writes straight into the current month's partition.
      execute format('grant insert on audit.%I to healthcare_access, healthcare_owner', v_name);
      v_made := v_made + 1;
    end if;
    v_month := (v_month + interval '1 month')::date;
  end loop;
  return v_made;
end
$$;

ALTER FUNCTION audit.create_partitions(p_from date, p_months integer) OWNER TO healthcare_audit;

--
-- Name: FUNCTION create_partitions(p_from date, p_months integer); Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON FUNCTION audit.create_partitions(p_from date, p_months integer) IS 'Creates the monthly partitions of p_months months from p_from''s month, skipping those that exist; returns how many it made.';

--
-- Name: current_from(); Type: FUNCTION; Schema: audit; Owner: healthcare_audit
--

CREATE FUNCTION audit.current_from() RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE
    AS $$select '<the end of the current month>'::timestamptz$$;

ALTER FUNCTION audit.current_from() OWNER TO healthcare_audit;

--
-- Name: FUNCTION current_from(); Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON FUNCTION audit.current_from() IS 'The start of the month audit.events_current holds (redefined by audit.roll_current when the month changes).';

--
-- Name: current_until(); Type: FUNCTION; Schema: audit; Owner: healthcare_audit
--

CREATE FUNCTION audit.current_until() RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE
    AS $$select '<the end of the current month>'::timestamptz$$;

ALTER FUNCTION audit.current_until() OWNER TO healthcare_audit;

--
-- Name: FUNCTION current_until(); Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON FUNCTION audit.current_until() IS 'The end of the month audit.events_current holds (redefined by audit.roll_current when the month changes).';

--
-- Name: prune(interval); Type: FUNCTION; Schema: audit; Owner: healthcare_audit
--

CREATE FUNCTION audit.prune(p_older_than interval) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_cutoff timestamptz := now() - p_older_than;
  v_part record;
  v_dropped text[] := '{}';
  v_max_xact bigint;
  v_part_max bigint;
begin
  if p_older_than < interval '1 month' then
    raise exception 'keep at least one month of audit events' using errcode = 'RINVL', column = 'older_than';
  end if;
  for v_part in
    select c.oid::regclass as rel, c.relname,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz as upper_bound
      from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'audit.events'::regclass
       and pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
     order by 3
  loop
    exit when v_part.upper_bound > v_cutoff;
    execute format('select max(xact) from %s', v_part.rel) into v_part_max;
    v_max_xact := greatest(v_max_xact, v_part_max);
    execute format('drop table %s', v_part.rel);
    v_dropped := v_dropped || v_part.relname::text;
  end loop;
  -- Seals holding any dropped event can no longer be rechecked: verify
  -- starts after them, from the hash the first remaining seal names.
  if v_max_xact is not null then
    update audit.seal_state
       set chain_from_seal = greatest(chain_from_seal,
                                      coalesce((select min(s.id) from audit.seals s where s.xact_from > v_max_xact),
                                               (select coalesce(max(s.id), 0) + 1 from audit.seals s)));
  end if;
  insert into audit.events (user_id, door, action, outcome, detail)
  values (null, 'admin', 'prune', 'ok',
          pg_catalog.jsonb_build_object('older_than', p_older_than::text, 'cutoff', v_cutoff, 'dropped', to_jsonb(v_dropped)));
  return json_build_object('dropped', v_dropped, 'cutoff', v_cutoff);
end
$$;

ALTER FUNCTION audit.prune(p_older_than interval) OWNER TO healthcare_audit;

--
-- Name: FUNCTION prune(p_older_than interval); Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON FUNCTION audit.prune(p_older_than interval) IS 'Drops the monthly partitions whose every event is older than p_older_than (at least a month) and records the prune as an event. Security definer (owner healthcare_audit); the privileged connection runs it (`healthcare audit prune`).';

--
-- Name: refuse_change(); Type: FUNCTION; Schema: audit; Owner: healthcare_audit
--

CREATE FUNCTION audit.refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  raise exception 'audit events are append-only' using errcode = 'RFRBD';
end
$$;

ALTER FUNCTION audit.refuse_change() OWNER TO healthcare_audit;

--
-- Name: FUNCTION refuse_change(); Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON FUNCTION audit.refuse_change() IS 'Trigger: refuses UPDATE, DELETE and TRUNCATE of audit events, to everyone.';

--
-- Name: roll_current(timestamp with time zone); Type: FUNCTION; Schema: audit; Owner: healthcare_audit
--

CREATE FUNCTION audit.roll_current(p_now timestamp with time zone DEFAULT now()) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET "TimeZone" TO 'UTC'
    AS $$
declare
  v_old date := (select s.current_month from audit.seal_state s);
  v_new date := date_trunc('month', p_now)::date;
begin
  if v_old = v_new and audit.current_until() = (v_new + interval '1 month')::timestamptz
     and audit.current_from() = v_new::timestamptz then
    return false;
  end if;
  if v_old <> v_new then
    execute format('alter table audit.events_current rename to %I', 'events_' || to_char(v_old, 'YYYY_MM'));
    perform audit.create_partitions(v_new, 1);
    execute format('alter table audit.%I rename to events_current', 'events_' || to_char(v_new, 'YYYY_MM'));
    update audit.seal_state set current_month = v_new;
  end if;
  execute format('create or replace function audit.current_until() returns timestamptz language sql immutable as %L',
                 format('select %L::timestamptz', (v_new + interval '1 month')::timestamptz));
  execute format('create or replace function audit.current_from() returns timestamptz language sql immutable as %L',
                 format('select %L::timestamptz', v_new::timestamptz));
  return true;
end
$$;

ALTER FUNCTION audit.roll_current(p_now timestamp with time zone) OWNER TO healthcare_audit;

--
-- Name: FUNCTION roll_current(p_now timestamp with time zone); Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON FUNCTION audit.roll_current(p_now timestamp with time zone) IS 'At a new month: renames audit.events_current to its month and the new month''s partition to events_current, and moves audit.current_until on. Called by audit.seal.';

--
-- Name: seal(); Type: FUNCTION; Schema: audit; Owner: healthcare_audit
--

CREATE FUNCTION audit.seal() RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET "TimeZone" TO 'UTC'
    SET "DateStyle" TO 'ISO, YMD'
    SET "IntervalStyle" TO 'postgres'
    SET extra_float_digits TO '1'
    AS $$
declare
  v_from bigint;
  v_to bigint := pg_snapshot_xmin(pg_current_snapshot())::text::bigint;
  v_prev bytea;
  v_n bigint;
  v_first bigint;
  v_last bigint;
  v_hash bytea;
  v_cap bigint;
begin
  -- One sealer at a time; the others return at once.
  select s.next_xact into v_from from audit.seal_state s for update skip locked;
  if not found then
    return json_build_object('sealed', false, 'reason', 'another sealer is at work');
  end if;
  -- Partitions ahead and the month's turn: DDL, so under a short lock
  -- timeout: a session holding a lock on the trail (an open read) must
  -- not queue the sealer in front of every event insert. It is tried
  -- again at the next seal; meanwhile app.audit writes through the parent.
  begin
    perform pg_catalog.set_config('lock_timeout', '50ms', true);
    perform audit.create_partitions(now()::date, 3);
    perform audit.roll_current();
    perform pg_catalog.set_config('lock_timeout', '0', true);
  exception when lock_not_available then
    perform pg_catalog.set_config('lock_timeout', '0', true);
  end;
  -- At most a million events per seal, so one seal's text stays far below
  -- PostgreSQL's 1 GB limit after a long pause; the next seal goes on.
  select e.xact into v_cap
    from audit.events e
   where e.xact >= v_from and e.xact < v_to
   order by e.xact offset 1000000 limit 1;
  if v_cap is not null and v_cap > v_from then
    v_to := v_cap;
  end if;
  if v_to <= v_from then
    return json_build_object('sealed', false, 'reason', 'nothing finished since the last seal');
  end if;
  select s.hash into v_prev from audit.seals s order by s.id desc limit 1;
  select count(*), min(e.id), max(e.id),
         sha256(coalesce(v_prev, ''::bytea) ||
                convert_to(coalesce(string_agg(e::text, E'\n' order by e.id), ''), 'UTF8'))
    into v_n, v_first, v_last, v_hash
    from audit.events e
   where e.xact >= v_from and e.xact < v_to;
  if v_n = 0 then
    -- Nothing to seal: the next seal covers this range too.
    return json_build_object('sealed', false, 'reason', 'no new events');
  end if;
  insert into audit.seals (xact_from, xact_to, events, first_event, last_event, prev_hash, hash)
  values (v_from, v_to, v_n, v_first, v_last, v_prev, v_hash);
  update audit.seal_state set next_xact = v_to;
  return json_build_object('sealed', true, 'events', v_n, 'xact_from', v_from, 'xact_to', v_to,
                           'hash', encode(v_hash, 'hex'));
end
$$;

ALTER FUNCTION audit.seal() OWNER TO healthcare_audit;

--
-- Name: FUNCTION seal(); Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON FUNCTION audit.seal() IS 'Seals the events of every transaction finished since the last seal into the hash chain; returns the new hash. One sealer at a time (row lock on audit.seal_state). Security definer (owner healthcare_audit); the server calls it every AUDIT_SEAL_INTERVAL.';

--
-- Name: doctors_id_seq; Type: SEQUENCE; Schema: app; Owner: healthcare_owner
--

ALTER TABLE app.doctors ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app.doctors_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: login_failures; Type: TABLE; Schema: app; Owner: healthcare_owner
--

CREATE TABLE app.login_failures (
    scope text NOT NULL,
    key text NOT NULL,
    failures integer DEFAULT 0 NOT NULL,
    window_start timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT login_failures_scope_check CHECK ((scope = ANY (ARRAY['account'::text, 'address'::text, 'pair'::text])))
);

ALTER TABLE ONLY app.login_failures FORCE ROW LEVEL SECURITY;

ALTER TABLE app.login_failures OWNER TO healthcare_owner;

--
-- Name: TABLE login_failures; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON TABLE app.login_failures IS 'Login attempts counted per account (lower(username)) and per client address, in fixed windows; read and written only by the login functions owned by healthcare_auth.';

--
-- Name: COLUMN login_failures.scope; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.login_failures.scope IS 'What is counted: pair (an account from one address), address (a client address, any account) or account (any address: the flood counter).';

--
-- Name: COLUMN login_failures.key; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.login_failures.key IS 'lower(username) for account, the client address for address, both for pair: personal data, kept only while a window is open.';

--
-- Name: COLUMN login_failures.failures; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.login_failures.failures IS 'Attempts counted in the current window; a correct password takes its attempt back.';

--
-- Name: COLUMN login_failures.window_start; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.login_failures.window_start IS 'Time of the first counted failure of the current window; the window ends window_start + the configured length later.';

--
-- Name: patient_doctors_id_seq; Type: SEQUENCE; Schema: app; Owner: healthcare_owner
--

ALTER TABLE app.patient_doctors ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app.patient_doctors_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: patients_id_seq; Type: SEQUENCE; Schema: app; Owner: healthcare_owner
--

ALTER TABLE app.patients ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app.patients_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: refresh_tokens; Type: TABLE; Schema: app; Owner: healthcare_owner
--

CREATE TABLE app.refresh_tokens (
    jti uuid NOT NULL,
    family uuid NOT NULL,
    user_id bigint NOT NULL,
    issued_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    replaced_by uuid,
    revoked_at timestamp with time zone
);

ALTER TABLE ONLY app.refresh_tokens FORCE ROW LEVEL SECURITY;

ALTER TABLE app.refresh_tokens OWNER TO healthcare_owner;

--
-- Name: TABLE refresh_tokens; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON TABLE app.refresh_tokens IS 'Issued refresh tokens: rotated, revoked on logout, family revoked on reuse.';

--
-- Name: COLUMN refresh_tokens.jti; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.refresh_tokens.jti IS 'The token''s JWT id; the token itself is never stored.';

--
-- Name: COLUMN refresh_tokens.family; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.refresh_tokens.family IS 'The session: every token rotated from one login shares it; logout revokes it whole.';

--
-- Name: COLUMN refresh_tokens.user_id; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.refresh_tokens.user_id IS 'The account the session belongs to.';

--
-- Name: COLUMN refresh_tokens.issued_at; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.refresh_tokens.issued_at IS 'When the token was issued.';

--
-- Name: COLUMN refresh_tokens.expires_at; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.refresh_tokens.expires_at IS 'After this the token is refused.';

--
-- Name: COLUMN refresh_tokens.replaced_by; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.refresh_tokens.replaced_by IS 'jti of the token this one was rotated into; a second use of a rotated token revokes the family.';

--
-- Name: COLUMN refresh_tokens.revoked_at; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.refresh_tokens.revoked_at IS 'When the session was logged out or its family revoked for reuse; NULL while valid.';

--
-- Name: reporting_settings; Type: TABLE; Schema: app; Owner: healthcare_owner
--

CREATE TABLE app.reporting_settings (
    singleton boolean DEFAULT true NOT NULL,
    min_cell integer DEFAULT 10 NOT NULL,
    CONSTRAINT reporting_settings_min_cell_check CHECK ((min_cell >= 3)),
    CONSTRAINT reporting_settings_singleton_check CHECK (singleton)
);

ALTER TABLE ONLY app.reporting_settings FORCE ROW LEVEL SECURITY;

ALTER TABLE app.reporting_settings OWNER TO healthcare_owner;

--
-- Name: TABLE reporting_settings; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON TABLE app.reporting_settings IS 'Settings of the reporting door (one row). Change with `update app.reporting_settings set min_cell = N` over the privileged connection.';

--
-- Name: COLUMN reporting_settings.singleton; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.reporting_settings.singleton IS 'Always true: the table holds one row.';

--
-- Name: COLUMN reporting_settings.min_cell; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.reporting_settings.min_cell IS 'A cell is published only when it holds at least this many records besides those of its largest contributor.';

--
-- Name: users; Type: TABLE; Schema: app; Owner: healthcare_owner
--

CREATE TABLE app.users (
    id bigint NOT NULL,
    username text NOT NULL,
    email text DEFAULT ''::text NOT NULL,
    password_hash text NOT NULL,
    is_admin boolean DEFAULT false NOT NULL,
    is_active boolean DEFAULT true NOT NULL,
    db_role name,
    date_joined timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT users_email_check CHECK (((email = ''::text) OR ((length(email) <= 254) AND (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'::text)))),
    CONSTRAINT users_password_hash_check CHECK ((password_hash ~~ '$argon2id$%'::text)),
    CONSTRAINT users_username_check CHECK ((username ~ '^[A-Za-z0-9_.@+-]{1,150}$'::text))
);

ALTER TABLE ONLY app.users FORCE ROW LEVEL SECURITY;

ALTER TABLE app.users OWNER TO healthcare_owner;

--
-- Name: TABLE users; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON TABLE app.users IS 'Application accounts. Usernames are unique regardless of case.';

--
-- Name: COLUMN users.username; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.users.username IS 'Login name, unique regardless of case; personal data.';

--
-- Name: COLUMN users.email; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.users.email IS 'Contact address; personal data.';

--
-- Name: COLUMN users.password_hash; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.users.password_hash IS 'argon2id PHC string computed by the server; never readable by runtime roles.';

--
-- Name: COLUMN users.is_admin; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.users.is_admin IS 'Admins may read, change and delete every patient, doctor and mapping (see the *_admin policies).';

--
-- Name: COLUMN users.is_active; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.users.is_active IS 'False when the account is deactivated: it then has no identity at any door.';

--
-- Name: COLUMN users.db_role; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.users.db_role IS 'Personal PostgreSQL login linked to this account (psql door); NULL when none.';

--
-- Name: COLUMN users.date_joined; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON COLUMN app.users.date_joined IS 'When the account was created.';

--
-- Name: users_id_seq; Type: SEQUENCE; Schema: app; Owner: healthcare_owner
--

ALTER TABLE app.users ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app.users_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: events_default; Type: TABLE; Schema: audit; Owner: healthcare_audit
--

CREATE TABLE audit.events_default (
    id bigint DEFAULT nextval('audit.events_id_seq'::regclass) NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    xact bigint DEFAULT ((pg_current_xact_id())::text)::bigint NOT NULL,
    user_id bigint,
    db_role name DEFAULT SESSION_USER NOT NULL,
    door text NOT NULL,
    action text NOT NULL,
    outcome text NOT NULL,
    patient_id bigint,
    patients bigint[],
    request_id text,
    client_addr inet,
    detail jsonb,
    CONSTRAINT events_action_check CHECK ((action = ANY (ARRAY['read'::text, 'list'::text, 'create'::text, 'update'::text, 'delete'::text, 'prune'::text]))),
    CONSTRAINT events_door_check CHECK ((door = ANY (ARRAY['rest'::text, 'psql'::text, 'admin'::text]))),
    CONSTRAINT events_outcome_check CHECK ((outcome = ANY (ARRAY['ok'::text, 'not_found'::text, 'forbidden'::text])))
);

ALTER TABLE audit.events_default OWNER TO healthcare_audit;

--
-- Name: TABLE events_default; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON TABLE audit.events_default IS 'Events outside every monthly partition (should stay empty: audit.seal creates the months ahead).';

--
-- Name: seal_state; Type: TABLE; Schema: audit; Owner: healthcare_audit
--

CREATE TABLE audit.seal_state (
    singleton boolean DEFAULT true NOT NULL,
    next_xact bigint NOT NULL,
    current_month date NOT NULL,
    chain_from_seal bigint DEFAULT 1 NOT NULL,
    CONSTRAINT seal_state_singleton_check CHECK (singleton)
);

ALTER TABLE ONLY audit.seal_state FORCE ROW LEVEL SECURITY;

ALTER TABLE audit.seal_state OWNER TO healthcare_audit;

--
-- Name: TABLE seal_state; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON TABLE audit.seal_state IS 'Where the next seal starts, and which month audit.events_current holds. Its row lock lets one sealer at a time work, whatever the number of server copies; no login can lock it.';

--
-- Name: COLUMN seal_state.singleton; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.seal_state.singleton IS 'Always true: the table holds one row.';

--
-- Name: COLUMN seal_state.next_xact; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.seal_state.next_xact IS 'xact_from of the next seal.';

--
-- Name: COLUMN seal_state.current_month; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.seal_state.current_month IS 'The month of audit.events_current (audit.roll_current renames it when the month ends).';

--
-- Name: COLUMN seal_state.chain_from_seal; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.seal_state.chain_from_seal IS 'The first seal `healthcare audit verify` can recheck: audit.prune moves it past the seals whose events it dropped.';

--
-- Name: seals; Type: TABLE; Schema: audit; Owner: healthcare_audit
--

CREATE TABLE audit.seals (
    id bigint NOT NULL,
    xact_from bigint NOT NULL,
    xact_to bigint NOT NULL,
    events bigint NOT NULL,
    first_event bigint,
    last_event bigint,
    prev_hash bytea,
    hash bytea NOT NULL,
    sealed_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT seals_range_check CHECK ((xact_from < xact_to))
);

ALTER TABLE ONLY audit.seals FORCE ROW LEVEL SECURITY;

ALTER TABLE audit.seals OWNER TO healthcare_audit;

--
-- Name: TABLE seals; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON TABLE audit.seals IS 'The hash chain: each seal covers the events of the transactions with ids in [xact_from, xact_to), all finished when it was made, and the previous seal''s hash.';

--
-- Name: COLUMN seals.xact_from; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.seals.xact_from IS 'First transaction id covered; equal to the previous seal''s xact_to.';

--
-- Name: COLUMN seals.xact_to; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.seals.xact_to IS 'Transaction ids below this were all finished when the seal was made.';

--
-- Name: COLUMN seals.events; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.seals.events IS 'Number of events covered.';

--
-- Name: COLUMN seals.first_event; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.seals.first_event IS 'Smallest event id covered.';

--
-- Name: COLUMN seals.last_event; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.seals.last_event IS 'Largest event id covered.';

--
-- Name: COLUMN seals.prev_hash; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.seals.prev_hash IS 'The previous seal''s hash (NULL for the first).';

--
-- Name: COLUMN seals.hash; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.seals.hash IS 'sha256(prev_hash || the covered events'' lines in id order, one per line).';

--
-- Name: COLUMN seals.sealed_at; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON COLUMN audit.seals.sealed_at IS 'When the seal was made.';

--
-- Name: seals_id_seq; Type: SEQUENCE; Schema: audit; Owner: healthcare_audit
--

ALTER TABLE audit.seals ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME audit.seals_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: care_patients; Type: VIEW; Schema: records; Owner: healthcare_owner
--

CREATE VIEW records.care_patients AS
 SELECT visible_care_patients.id,
    visible_care_patients.owner_id,
    visible_care_patients.name,
    visible_care_patients.age,
    visible_care_patients.gender,
    visible_care_patients.gender_fhir,
    visible_care_patients.created_at,
    visible_care_patients.updated_at,
    visible_care_patients.mapping_id,
    visible_care_patients.mapped_at
   FROM app.visible_care_patients() visible_care_patients(id, owner_id, name, age, gender, gender_fhir, created_at, updated_at, mapping_id, mapped_at);

ALTER TABLE records.care_patients OWNER TO healthcare_owner;

--
-- Name: VIEW care_patients; Type: COMMENT; Schema: records; Owner: healthcare_owner
--

COMMENT ON VIEW records.care_patients IS 'The patients in your care: those mapped to the doctor record linked to your account, with the mapping''s id and date. Read-only.';

--
-- Name: doctors; Type: VIEW; Schema: records; Owner: healthcare_owner
--

CREATE VIEW records.doctors AS
 SELECT visible_doctors.id,
    visible_doctors.name,
    visible_doctors.specialization,
    visible_doctors.created_by,
    visible_doctors.version,
    visible_doctors.created_at,
    visible_doctors.updated_at
   FROM app.visible_doctors() visible_doctors(id, name, specialization, created_by, version, created_at, updated_at);

ALTER TABLE records.doctors OWNER TO healthcare_owner;

--
-- Name: VIEW doctors; Type: COMMENT; Schema: records; Owner: healthcare_owner
--

COMMENT ON VIEW records.doctors IS 'The public doctor directory, with versions. Write with api.create_doctor, api.update_doctor and api.delete_doctor (p_version: the version you read); history with api.doctor_history.';

--
-- Name: mappings; Type: VIEW; Schema: records; Owner: healthcare_owner
--

CREATE VIEW records.mappings AS
 SELECT visible_mappings.id,
    visible_mappings.patient_id,
    visible_mappings.doctor_id,
    visible_mappings.created_at
   FROM app.visible_mappings() visible_mappings(id, patient_id, doctor_id, created_at);

ALTER TABLE records.mappings OWNER TO healthcare_owner;

--
-- Name: VIEW mappings; Type: COMMENT; Schema: records; Owner: healthcare_owner
--

COMMENT ON VIEW records.mappings IS 'Which doctors treat your patients. Write with api.create_mapping and api.delete_mapping.';

--
-- Name: patients; Type: VIEW; Schema: records; Owner: healthcare_owner
--

CREATE VIEW records.patients AS
 SELECT visible_patients.id,
    visible_patients.owner_id,
    visible_patients.name,
    visible_patients.age,
    visible_patients.gender,
    visible_patients.gender_fhir,
    visible_patients.version,
    visible_patients.created_at,
    visible_patients.updated_at
   FROM app.visible_patients() visible_patients(id, owner_id, name, age, gender, gender_fhir, version, created_at, updated_at);

ALTER TABLE records.patients OWNER TO healthcare_owner;

--
-- Name: VIEW patients; Type: COMMENT; Schema: records; Owner: healthcare_owner
--

COMMENT ON VIEW records.patients IS 'The patient profiles you may read: your own, those in your care (records.care_patients lists them apart), every one for admins; gender as sent, gender_fhir derived from it. Write with api.create_patient, api.update_patient and api.delete_patient.';

--
-- Name: mappings_per_doctor; Type: VIEW; Schema: reporting; Owner: healthcare_reporter
--

CREATE VIEW reporting.mappings_per_doctor AS
 SELECT report_mappings_per_doctor.doctor_id,
    report_mappings_per_doctor.specialization,
    report_mappings_per_doctor.mappings,
    report_mappings_per_doctor.suppressed
   FROM app.report_mappings_per_doctor() report_mappings_per_doctor(doctor_id, specialization, mappings, suppressed);

ALTER TABLE reporting.mappings_per_doctor OWNER TO healthcare_reporter;

--
-- Name: VIEW mappings_per_doctor; Type: COMMENT; Schema: reporting; Owner: healthcare_reporter
--

COMMENT ON VIEW reporting.mappings_per_doctor IS 'Patients mapped to each doctor (by id and specialization, never name), published as reporting.patients_by_age_band is.';

--
-- Name: patients_by_age_band; Type: VIEW; Schema: reporting; Owner: healthcare_reporter
--

CREATE VIEW reporting.patients_by_age_band AS
 SELECT report_patients_by_age_band.age_band,
    report_patients_by_age_band.gender,
    report_patients_by_age_band.patients,
    report_patients_by_age_band.suppressed
   FROM app.report_patients_by_age_band() report_patients_by_age_band(age_band, gender, patients, suppressed);

ALTER TABLE reporting.patients_by_age_band OWNER TO healthcare_reporter;

--
-- Name: VIEW patients_by_age_band; Type: COMMENT; Schema: reporting; Owner: healthcare_reporter
--

COMMENT ON VIEW reporting.patients_by_age_band IS 'Patients by age band (0-17, 18-29, 30-44, 45-64, 65+) and FHIR administrative gender (male, female, other, unknown). Published cells only: suppressed (NULL) below the threshold besides the largest contributor, with complementary suppression; published counts carry a fixed perturbation of -2..+2.';

--
-- Name: patients_per_specialization; Type: VIEW; Schema: reporting; Owner: healthcare_reporter
--

CREATE VIEW reporting.patients_per_specialization AS
 SELECT report_patients_per_specialization.specialization,
    report_patients_per_specialization.patients,
    report_patients_per_specialization.suppressed
   FROM app.report_patients_per_specialization() report_patients_per_specialization(specialization, patients, suppressed);

ALTER TABLE reporting.patients_per_specialization OWNER TO healthcare_reporter;

--
-- Name: VIEW patients_per_specialization; Type: COMMENT; Schema: reporting; Owner: healthcare_reporter
--

COMMENT ON VIEW reporting.patients_per_specialization IS 'Distinct patients treated per doctor specialization, published as reporting.patients_by_age_band is.';

--
-- Name: events_default; Type: TABLE ATTACH; Schema: audit; Owner: healthcare_audit
--

ALTER TABLE ONLY audit.events ATTACH PARTITION audit.events_default DEFAULT;

--
-- Name: doctors doctors_account_id_key; Type: CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.doctors
    ADD CONSTRAINT doctors_account_id_key UNIQUE (account_id);

--
-- Name: doctors doctors_pkey; Type: CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.doctors
    ADD CONSTRAINT doctors_pkey PRIMARY KEY (id);

--
-- Name: login_failures login_failures_pkey; Type: CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.login_failures
    ADD CONSTRAINT login_failures_pkey PRIMARY KEY (scope, key);

--
-- Name: patient_doctors patient_doctors_patient_id_doctor_id_key; Type: CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.patient_doctors
    ADD CONSTRAINT patient_doctors_patient_id_doctor_id_key UNIQUE (patient_id, doctor_id);

--
-- Name: patient_doctors patient_doctors_pkey; Type: CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.patient_doctors
    ADD CONSTRAINT patient_doctors_pkey PRIMARY KEY (id);

--
-- Name: patients patients_pkey; Type: CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.patients
    ADD CONSTRAINT patients_pkey PRIMARY KEY (id);

--
-- Name: refresh_tokens refresh_tokens_pkey; Type: CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.refresh_tokens
    ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY (jti);

--
-- Name: reporting_settings reporting_settings_pkey; Type: CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.reporting_settings
    ADD CONSTRAINT reporting_settings_pkey PRIMARY KEY (singleton);

--
-- Name: users users_db_role_key; Type: CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.users
    ADD CONSTRAINT users_db_role_key UNIQUE (db_role);

--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: audit; Owner: healthcare_audit
--

ALTER TABLE ONLY audit.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id, at);

--
-- Name: events_default events_default_pkey; Type: CONSTRAINT; Schema: audit; Owner: healthcare_audit
--

ALTER TABLE ONLY audit.events_default
    ADD CONSTRAINT events_default_pkey PRIMARY KEY (id, at);

--
-- Name: seal_state seal_state_pkey; Type: CONSTRAINT; Schema: audit; Owner: healthcare_audit
--

ALTER TABLE ONLY audit.seal_state
    ADD CONSTRAINT seal_state_pkey PRIMARY KEY (singleton);

--
-- Name: seals seals_pkey; Type: CONSTRAINT; Schema: audit; Owner: healthcare_audit
--

ALTER TABLE ONLY audit.seals
    ADD CONSTRAINT seals_pkey PRIMARY KEY (id);

--
-- Name: doctors_created_by_idx; Type: INDEX; Schema: app; Owner: healthcare_owner
--

CREATE INDEX doctors_created_by_idx ON app.doctors USING btree (created_by);

--
-- Name: doctors_specialization_lower_idx; Type: INDEX; Schema: app; Owner: healthcare_owner
--

CREATE INDEX doctors_specialization_lower_idx ON app.doctors USING btree (lower(specialization), id);

--
-- Name: patient_doctors_doctor_id_patient_id_idx; Type: INDEX; Schema: app; Owner: healthcare_owner
--

CREATE INDEX patient_doctors_doctor_id_patient_id_idx ON app.patient_doctors USING btree (doctor_id, patient_id);

--
-- Name: patients_owner_id_id_idx; Type: INDEX; Schema: app; Owner: healthcare_owner
--

CREATE INDEX patients_owner_id_id_idx ON app.patients USING btree (owner_id, id);

--
-- Name: refresh_tokens_expires_at_idx; Type: INDEX; Schema: app; Owner: healthcare_owner
--

CREATE INDEX refresh_tokens_expires_at_idx ON app.refresh_tokens USING btree (expires_at);

--
-- Name: refresh_tokens_family_idx; Type: INDEX; Schema: app; Owner: healthcare_owner
--

CREATE INDEX refresh_tokens_family_idx ON app.refresh_tokens USING btree (family);

--
-- Name: refresh_tokens_user_id_idx; Type: INDEX; Schema: app; Owner: healthcare_owner
--

CREATE INDEX refresh_tokens_user_id_idx ON app.refresh_tokens USING btree (user_id);

--
-- Name: users_username_lower_idx; Type: INDEX; Schema: app; Owner: healthcare_owner
--

CREATE UNIQUE INDEX users_username_lower_idx ON app.users USING btree (lower(username));

--
-- Name: events_doctor_changes_idx; Type: INDEX; Schema: audit; Owner: healthcare_audit
--

CREATE INDEX events_doctor_changes_idx ON ONLY audit.events USING btree (((detail ->> 'doctor'::text)), id) WHERE ((action = ANY (ARRAY['create'::text, 'update'::text, 'delete'::text])) AND (outcome = 'ok'::text) AND ((detail ->> 'object'::text) = 'doctor'::text));

--
-- Name: events_default_expr_id_idx; Type: INDEX; Schema: audit; Owner: healthcare_audit
--

CREATE INDEX events_default_expr_id_idx ON audit.events_default USING btree (((detail ->> 'doctor'::text)), id) WHERE ((action = ANY (ARRAY['create'::text, 'update'::text, 'delete'::text])) AND (outcome = 'ok'::text) AND ((detail ->> 'object'::text) = 'doctor'::text));

--
-- Name: events_patient_idx; Type: INDEX; Schema: audit; Owner: healthcare_audit
--

CREATE INDEX events_patient_idx ON ONLY audit.events USING btree (patient_id, id) WHERE (patient_id IS NOT NULL);

--
-- Name: events_default_patient_id_id_idx; Type: INDEX; Schema: audit; Owner: healthcare_audit
--

CREATE INDEX events_default_patient_id_id_idx ON audit.events_default USING btree (patient_id, id) WHERE (patient_id IS NOT NULL);

--
-- Name: events_patient_changes_idx; Type: INDEX; Schema: audit; Owner: healthcare_audit
--

CREATE INDEX events_patient_changes_idx ON ONLY audit.events USING btree (patient_id, id) WHERE ((action = ANY (ARRAY['create'::text, 'update'::text, 'delete'::text])) AND (outcome = 'ok'::text) AND ((detail ->> 'object'::text) = 'patient'::text));

--
-- Name: events_default_patient_id_id_idx1; Type: INDEX; Schema: audit; Owner: healthcare_audit
--

CREATE INDEX events_default_patient_id_id_idx1 ON audit.events_default USING btree (patient_id, id) WHERE ((action = ANY (ARRAY['create'::text, 'update'::text, 'delete'::text])) AND (outcome = 'ok'::text) AND ((detail ->> 'object'::text) = 'patient'::text));

--
-- Name: events_patients_idx; Type: INDEX; Schema: audit; Owner: healthcare_audit
--

CREATE INDEX events_patients_idx ON ONLY audit.events USING gin (patients) WITH (gin_pending_list_limit='256') WHERE (patients IS NOT NULL);

--
-- Name: events_default_patients_idx; Type: INDEX; Schema: audit; Owner: healthcare_audit
--

CREATE INDEX events_default_patients_idx ON audit.events_default USING gin (patients) WITH (gin_pending_list_limit='256') WHERE (patients IS NOT NULL);

--
-- Name: events_xact_idx; Type: INDEX; Schema: audit; Owner: healthcare_audit
--

CREATE INDEX events_xact_idx ON ONLY audit.events USING brin (xact) WITH (pages_per_range='16');

--
-- Name: events_default_xact_idx; Type: INDEX; Schema: audit; Owner: healthcare_audit
--

CREATE INDEX events_default_xact_idx ON audit.events_default USING brin (xact) WITH (pages_per_range='16');

--
-- Name: events_default_expr_id_idx; Type: INDEX ATTACH; Schema: audit; Owner: healthcare_audit
--

ALTER INDEX audit.events_doctor_changes_idx ATTACH PARTITION audit.events_default_expr_id_idx;

--
-- Name: events_default_patient_id_id_idx; Type: INDEX ATTACH; Schema: audit; Owner: healthcare_audit
--

ALTER INDEX audit.events_patient_idx ATTACH PARTITION audit.events_default_patient_id_id_idx;

--
-- Name: events_default_patient_id_id_idx1; Type: INDEX ATTACH; Schema: audit; Owner: healthcare_audit
--

ALTER INDEX audit.events_patient_changes_idx ATTACH PARTITION audit.events_default_patient_id_id_idx1;

--
-- Name: events_default_patients_idx; Type: INDEX ATTACH; Schema: audit; Owner: healthcare_audit
--

ALTER INDEX audit.events_patients_idx ATTACH PARTITION audit.events_default_patients_idx;

--
-- Name: events_default_pkey; Type: INDEX ATTACH; Schema: audit; Owner: healthcare_audit
--

ALTER INDEX audit.events_pkey ATTACH PARTITION audit.events_default_pkey;

--
-- Name: events_default_xact_idx; Type: INDEX ATTACH; Schema: audit; Owner: healthcare_audit
--

ALTER INDEX audit.events_xact_idx ATTACH PARTITION audit.events_default_xact_idx;

--
-- Name: doctors doctors_audit; Type: TRIGGER; Schema: app; Owner: healthcare_owner
--

CREATE TRIGGER doctors_audit AFTER INSERT OR DELETE OR UPDATE ON app.doctors FOR EACH ROW EXECUTE FUNCTION app.audit_doctor_change();

--
-- Name: doctors doctors_check_delete; Type: TRIGGER; Schema: app; Owner: healthcare_owner
--

CREATE TRIGGER doctors_check_delete BEFORE DELETE ON app.doctors FOR EACH ROW EXECUTE FUNCTION app.check_doctor_delete();

--
-- Name: doctors doctors_touch_version; Type: TRIGGER; Schema: app; Owner: healthcare_owner
--

CREATE TRIGGER doctors_touch_version BEFORE UPDATE ON app.doctors FOR EACH ROW EXECUTE FUNCTION app.touch_version();

--
-- Name: patient_doctors patient_doctors_audit; Type: TRIGGER; Schema: app; Owner: healthcare_owner
--

CREATE TRIGGER patient_doctors_audit AFTER INSERT OR DELETE OR UPDATE ON app.patient_doctors FOR EACH ROW EXECUTE FUNCTION app.audit_mapping_change();

--
-- Name: patient_doctors patient_doctors_no_truncate; Type: TRIGGER; Schema: app; Owner: healthcare_owner
--

CREATE TRIGGER patient_doctors_no_truncate BEFORE TRUNCATE ON app.patient_doctors FOR EACH STATEMENT EXECUTE FUNCTION app.refuse_truncate();

--
-- Name: patients patients_audit; Type: TRIGGER; Schema: app; Owner: healthcare_owner
--

CREATE TRIGGER patients_audit AFTER INSERT OR DELETE OR UPDATE ON app.patients FOR EACH ROW EXECUTE FUNCTION app.audit_patient_change();

--
-- Name: patients patients_no_truncate; Type: TRIGGER; Schema: app; Owner: healthcare_owner
--

CREATE TRIGGER patients_no_truncate BEFORE TRUNCATE ON app.patients FOR EACH STATEMENT EXECUTE FUNCTION app.refuse_truncate();

--
-- Name: patients patients_touch_version; Type: TRIGGER; Schema: app; Owner: healthcare_owner
--

CREATE TRIGGER patients_touch_version BEFORE UPDATE ON app.patients FOR EACH ROW EXECUTE FUNCTION app.touch_version();

--
-- Name: users users_touch_updated_at; Type: TRIGGER; Schema: app; Owner: healthcare_owner
--

CREATE TRIGGER users_touch_updated_at BEFORE UPDATE ON app.users FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();

--
-- Name: events events_append_only; Type: TRIGGER; Schema: audit; Owner: healthcare_audit
--

CREATE TRIGGER events_append_only BEFORE DELETE OR UPDATE ON audit.events FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();

--
-- Name: events events_no_truncate; Type: TRIGGER; Schema: audit; Owner: healthcare_audit
--

CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

--
-- Name: events_default events_no_truncate; Type: TRIGGER; Schema: audit; Owner: healthcare_audit
--

CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events_default FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

--
-- Name: seals seals_append_only; Type: TRIGGER; Schema: audit; Owner: healthcare_audit
--

CREATE TRIGGER seals_append_only BEFORE DELETE OR UPDATE ON audit.seals FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();

--
-- Name: seals seals_no_truncate; Type: TRIGGER; Schema: audit; Owner: healthcare_audit
--

CREATE TRIGGER seals_no_truncate BEFORE TRUNCATE ON audit.seals FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

--
-- Name: doctors doctors_account_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.doctors
    ADD CONSTRAINT doctors_account_id_fkey FOREIGN KEY (account_id) REFERENCES app.users(id) ON DELETE SET NULL;

--
-- Name: doctors doctors_created_by_fkey; Type: FK CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.doctors
    ADD CONSTRAINT doctors_created_by_fkey FOREIGN KEY (created_by) REFERENCES app.users(id) ON DELETE SET NULL;

--
-- Name: patient_doctors patient_doctors_doctor_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.patient_doctors
    ADD CONSTRAINT patient_doctors_doctor_id_fkey FOREIGN KEY (doctor_id) REFERENCES app.doctors(id) ON DELETE CASCADE;

--
-- Name: patient_doctors patient_doctors_patient_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.patient_doctors
    ADD CONSTRAINT patient_doctors_patient_id_fkey FOREIGN KEY (patient_id) REFERENCES app.patients(id) ON DELETE CASCADE;

--
-- Name: patients patients_owner_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.patients
    ADD CONSTRAINT patients_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES app.users(id) ON DELETE CASCADE;

--
-- Name: refresh_tokens refresh_tokens_user_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: healthcare_owner
--

ALTER TABLE ONLY app.refresh_tokens
    ADD CONSTRAINT refresh_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES app.users(id) ON DELETE CASCADE;

--
-- Name: login_failures all_auth; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY all_auth ON app.login_failures TO healthcare_auth USING (true) WITH CHECK (true);

--
-- Name: POLICY all_auth ON login_failures; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY all_auth ON app.login_failures IS 'Only the login functions owned by healthcare_auth (app.login_attempt, app.complete_login) touch the counters; no runtime role has any grant on this table.';

--
-- Name: refresh_tokens all_auth; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY all_auth ON app.refresh_tokens TO healthcare_auth USING (true) WITH CHECK (true);

--
-- Name: POLICY all_auth ON refresh_tokens; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY all_auth ON app.refresh_tokens IS 'Only the token functions owned by healthcare_auth touch refresh tokens; no runtime role has any grant on this table.';

--
-- Name: reporting_settings all_owner; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY all_owner ON app.reporting_settings TO healthcare_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY all_owner ON reporting_settings; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY all_owner ON app.reporting_settings IS 'The owner (privileged connection) changes the settings.';

--
-- Name: users all_owner; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY all_owner ON app.users TO healthcare_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY all_owner ON users; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY all_owner ON app.users IS 'The owner (migrations and createsuperuser/db-access over the privileged connection) manages accounts; no runtime role is the owner.';

--
-- Name: doctors delete_admin; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY delete_admin ON app.doctors FOR DELETE TO healthcare_access USING (( SELECT app.current_user_is_admin() AS current_user_is_admin));

--
-- Name: POLICY delete_admin ON doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY delete_admin ON app.doctors IS 'Admins remove any doctor.';

--
-- Name: patients delete_admin; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY delete_admin ON app.patients FOR DELETE TO healthcare_access USING (( SELECT app.current_user_is_admin() AS current_user_is_admin));

--
-- Name: POLICY delete_admin ON patients; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY delete_admin ON app.patients IS 'Admins delete any profile.';

--
-- Name: doctors delete_creator; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY delete_creator ON app.doctors FOR DELETE TO healthcare_access USING ((created_by = ( SELECT app.current_user_id() AS current_user_id)));

--
-- Name: POLICY delete_creator ON doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY delete_creator ON app.doctors IS 'The creator may remove a doctor while it is linked to no other account and no other user''s patient is mapped to it (app.check_doctor_delete).';

--
-- Name: doctors delete_linked; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY delete_linked ON app.doctors FOR DELETE TO healthcare_access USING ((account_id = ( SELECT app.current_user_id() AS current_user_id)));

--
-- Name: POLICY delete_linked ON doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY delete_linked ON app.doctors IS 'The linked account may remove its own doctor record (see app.check_doctor_delete).';

--
-- Name: patients delete_own; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY delete_own ON app.patients FOR DELETE TO healthcare_access USING ((owner_id = ( SELECT app.current_user_id() AS current_user_id)));

--
-- Name: POLICY delete_own ON patients; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY delete_own ON app.patients IS 'Only the owner deletes a profile.';

--
-- Name: patient_doctors delete_patient_owner; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY delete_patient_owner ON app.patient_doctors FOR DELETE TO healthcare_access USING ((( SELECT app.current_user_is_admin() AS current_user_is_admin) OR (EXISTS ( SELECT
   FROM app.patients p
  WHERE ((p.id = patient_doctors.patient_id) AND (p.owner_id = ( SELECT app.current_user_id() AS current_user_id)))))));

--
-- Name: POLICY delete_patient_owner ON patient_doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY delete_patient_owner ON app.patient_doctors IS 'Only the patient''s owner and admins remove a mapping; the care team cannot.';

--
-- Name: doctors; Type: ROW SECURITY; Schema: app; Owner: healthcare_owner
--

ALTER TABLE app.doctors ENABLE ROW LEVEL SECURITY;

--
-- Name: users insert_auth; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY insert_auth ON app.users FOR INSERT TO healthcare_auth WITH CHECK ((NOT is_admin));

--
-- Name: POLICY insert_auth ON users; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY insert_auth ON app.users IS 'Self-registration through app.register_user; it can never create an admin.';

--
-- Name: patients insert_own; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY insert_own ON app.patients FOR INSERT TO healthcare_access WITH CHECK ((owner_id = ( SELECT app.current_user_id() AS current_user_id)));

--
-- Name: POLICY insert_own ON patients; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY insert_own ON app.patients IS 'A signed-in user creates profiles they own; anonymous callers create none.';

--
-- Name: patient_doctors insert_patient_owner; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY insert_patient_owner ON app.patient_doctors FOR INSERT TO healthcare_access WITH CHECK ((( SELECT app.current_user_is_admin() AS current_user_is_admin) OR (EXISTS ( SELECT
   FROM app.patients p
  WHERE ((p.id = patient_doctors.patient_id) AND (p.owner_id = ( SELECT app.current_user_id() AS current_user_id)))))));

--
-- Name: POLICY insert_patient_owner ON patient_doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY insert_patient_owner ON app.patient_doctors IS 'Only the patient''s owner (any patient, for admins) maps it; the care team cannot.';

--
-- Name: doctors insert_signed_in; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY insert_signed_in ON app.doctors FOR INSERT TO healthcare_access WITH CHECK ((created_by = ( SELECT app.current_user_id() AS current_user_id)));

--
-- Name: POLICY insert_signed_in ON doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY insert_signed_in ON app.doctors IS 'Any signed-in user lists a doctor, recorded as its creator.';

--
-- Name: login_failures; Type: ROW SECURITY; Schema: app; Owner: healthcare_owner
--

ALTER TABLE app.login_failures ENABLE ROW LEVEL SECURITY;

--
-- Name: patient_doctors; Type: ROW SECURITY; Schema: app; Owner: healthcare_owner
--

ALTER TABLE app.patient_doctors ENABLE ROW LEVEL SECURITY;

--
-- Name: patients; Type: ROW SECURITY; Schema: app; Owner: healthcare_owner
--

ALTER TABLE app.patients ENABLE ROW LEVEL SECURITY;

--
-- Name: refresh_tokens; Type: ROW SECURITY; Schema: app; Owner: healthcare_owner
--

ALTER TABLE app.refresh_tokens ENABLE ROW LEVEL SECURITY;

--
-- Name: reporting_settings; Type: ROW SECURITY; Schema: app; Owner: healthcare_owner
--

ALTER TABLE app.reporting_settings ENABLE ROW LEVEL SECURITY;

--
-- Name: patients select_admin; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_admin ON app.patients FOR SELECT TO healthcare_access USING (( SELECT app.current_user_is_admin() AS current_user_is_admin));

--
-- Name: POLICY select_admin ON patients; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_admin ON app.patients IS 'Admins read every patient profile.';

--
-- Name: users select_admin; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_admin ON app.users FOR SELECT TO healthcare_access USING (( SELECT app.current_user_is_admin() AS current_user_is_admin));

--
-- Name: POLICY select_admin ON users; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_admin ON app.users IS 'Admins see every account.';

--
-- Name: doctors select_all; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_all ON app.doctors FOR SELECT TO healthcare_access USING (true);

--
-- Name: POLICY select_all ON doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_all ON app.doctors IS 'The directory is public, anonymous REST callers included.';

--
-- Name: doctors select_auth; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_auth ON app.doctors FOR SELECT TO healthcare_auth USING (true);

--
-- Name: POLICY select_auth ON doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_auth ON app.doctors IS 'app.current_doctor_id() (owner healthcare_auth) finds the caller''s doctor record; the role reads only id and account_id, and nobody can become it.';

--
-- Name: patient_doctors select_auth; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_auth ON app.patient_doctors FOR SELECT TO healthcare_auth USING (true);

--
-- Name: POLICY select_auth ON patient_doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_auth ON app.patient_doctors IS 'app.care_patient_ids() (owner healthcare_auth) reads the mappings of the caller''s doctor record; the role reads only patient_id and doctor_id, and nobody can become it.';

--
-- Name: users select_auth; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_auth ON app.users FOR SELECT TO healthcare_auth USING (true);

--
-- Name: POLICY select_auth ON users; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_auth ON app.users IS 'Narrow door for the security definer functions owned by healthcare_auth (identity lookup, login credentials, registration); no login role is a member of healthcare_auth.';

--
-- Name: patients select_care_team; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_care_team ON app.patients FOR SELECT TO healthcare_access USING ((id IN ( SELECT c.patient_id
   FROM app.care_patient_ids() c(patient_id))));

--
-- Name: POLICY select_care_team ON patients; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_care_team ON app.patients IS 'The account linked to a doctor record reads the patients mapped to it, read-only, while the mapping exists. No update or delete policy goes with it.';

--
-- Name: patients select_own; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_own ON app.patients FOR SELECT TO healthcare_access USING ((owner_id = ( SELECT app.current_user_id() AS current_user_id)));

--
-- Name: POLICY select_own ON patients; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_own ON app.patients IS 'A patient profile is visible only to the user who created it.';

--
-- Name: doctors select_owner; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_owner ON app.doctors FOR SELECT TO healthcare_owner USING (true);

--
-- Name: POLICY select_owner ON doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_owner ON app.doctors IS 'The privileged connection (acting as healthcare_owner) finds doctor records to link; no runtime role is the owner.';

--
-- Name: patient_doctors select_patient_owner; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_patient_owner ON app.patient_doctors FOR SELECT TO healthcare_access USING ((( SELECT app.current_user_is_admin() AS current_user_is_admin) OR (EXISTS ( SELECT
   FROM app.patients p
  WHERE ((p.id = patient_doctors.patient_id) AND (p.owner_id = ( SELECT app.current_user_id() AS current_user_id)))))));

--
-- Name: POLICY select_patient_owner ON patient_doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_patient_owner ON app.patient_doctors IS 'The patient''s owner and admins see every mapping of the patient.';

--
-- Name: doctors select_reporter; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_reporter ON app.doctors FOR SELECT TO healthcare_reporter USING (true);

--
-- Name: POLICY select_reporter ON doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_reporter ON app.doctors IS 'Reporting views (owner healthcare_reporter) count by specialization; the role cannot read names.';

--
-- Name: patient_doctors select_reporter; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_reporter ON app.patient_doctors FOR SELECT TO healthcare_reporter USING (true);

--
-- Name: POLICY select_reporter ON patient_doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_reporter ON app.patient_doctors IS 'Reporting views (owner healthcare_reporter) count mappings.';

--
-- Name: patients select_reporter; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_reporter ON app.patients FOR SELECT TO healthcare_reporter USING (true);

--
-- Name: POLICY select_reporter ON patients; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_reporter ON app.patients IS 'Reporting views (owner healthcare_reporter) count all patients; the role can read only id, age and gender and nobody can become it.';

--
-- Name: reporting_settings select_reporter; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_reporter ON app.reporting_settings FOR SELECT TO healthcare_reporter USING (true);

--
-- Name: POLICY select_reporter ON reporting_settings; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_reporter ON app.reporting_settings IS 'The reporting functions read the threshold.';

--
-- Name: users select_self; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_self ON app.users FOR SELECT TO healthcare_access USING ((id = ( SELECT app.current_user_id() AS current_user_id)));

--
-- Name: POLICY select_self ON users; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_self ON app.users IS 'A user sees their own account.';

--
-- Name: patient_doctors select_treating_doctor; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY select_treating_doctor ON app.patient_doctors FOR SELECT TO healthcare_access USING ((doctor_id = ( SELECT app.current_doctor_id() AS current_doctor_id)));

--
-- Name: POLICY select_treating_doctor ON patient_doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY select_treating_doctor ON app.patient_doctors IS 'The account linked to a doctor record sees that record''s mappings (read-only).';

--
-- Name: doctors update_admin; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY update_admin ON app.doctors FOR UPDATE TO healthcare_access USING (( SELECT app.current_user_is_admin() AS current_user_is_admin)) WITH CHECK (( SELECT app.current_user_is_admin() AS current_user_is_admin));

--
-- Name: POLICY update_admin ON doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY update_admin ON app.doctors IS 'Admins change any doctor.';

--
-- Name: patients update_admin; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY update_admin ON app.patients FOR UPDATE TO healthcare_access USING (( SELECT app.current_user_is_admin() AS current_user_is_admin)) WITH CHECK (( SELECT app.current_user_is_admin() AS current_user_is_admin));

--
-- Name: POLICY update_admin ON patients; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY update_admin ON app.patients IS 'Admins change any profile.';

--
-- Name: doctors update_creator; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY update_creator ON app.doctors FOR UPDATE TO healthcare_access USING (((created_by = ( SELECT app.current_user_id() AS current_user_id)) AND (account_id IS NULL) AND (NOT app.doctor_serves_others(id, ( SELECT app.current_user_id() AS current_user_id))))) WITH CHECK (((created_by = ( SELECT app.current_user_id() AS current_user_id)) AND (account_id IS NULL)));

--
-- Name: POLICY update_creator ON doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY update_creator ON app.doctors IS 'The creator changes a doctor only while it is linked to no account and no other user''s patient is mapped to it.';

--
-- Name: doctors update_linked; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY update_linked ON app.doctors FOR UPDATE TO healthcare_access USING ((account_id = ( SELECT app.current_user_id() AS current_user_id))) WITH CHECK ((account_id = ( SELECT app.current_user_id() AS current_user_id)));

--
-- Name: POLICY update_linked ON doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY update_linked ON app.doctors IS 'The linked account changes its own doctor record (never its link).';

--
-- Name: patients update_own; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY update_own ON app.patients FOR UPDATE TO healthcare_access USING ((owner_id = ( SELECT app.current_user_id() AS current_user_id))) WITH CHECK ((owner_id = ( SELECT app.current_user_id() AS current_user_id)));

--
-- Name: POLICY update_own ON patients; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY update_own ON app.patients IS 'Only the owner changes a profile.';

--
-- Name: doctors update_owner; Type: POLICY; Schema: app; Owner: healthcare_owner
--

CREATE POLICY update_owner ON app.doctors FOR UPDATE TO healthcare_owner USING (true) WITH CHECK (true);

--
-- Name: POLICY update_owner ON doctors; Type: COMMENT; Schema: app; Owner: healthcare_owner
--

COMMENT ON POLICY update_owner ON app.doctors IS 'The privileged connection (acting as healthcare_owner) links and unlinks doctor accounts.';

--
-- Name: users; Type: ROW SECURITY; Schema: app; Owner: healthcare_owner
--

ALTER TABLE app.users ENABLE ROW LEVEL SECURITY;

--
-- Name: seal_state all_audit; Type: POLICY; Schema: audit; Owner: healthcare_audit
--

CREATE POLICY all_audit ON audit.seal_state TO healthcare_audit USING (true) WITH CHECK (true);

--
-- Name: POLICY all_audit ON seal_state; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON POLICY all_audit ON audit.seal_state IS 'The sealer keeps its place.';

--
-- Name: seals all_audit; Type: POLICY; Schema: audit; Owner: healthcare_audit
--

CREATE POLICY all_audit ON audit.seals TO healthcare_audit USING (true) WITH CHECK (true);

--
-- Name: POLICY all_audit ON seals; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON POLICY all_audit ON audit.seals IS 'The sealer writes seals.';

--
-- Name: events; Type: ROW SECURITY; Schema: audit; Owner: healthcare_audit
--

ALTER TABLE audit.events ENABLE ROW LEVEL SECURITY;

--
-- Name: events insert_writers; Type: POLICY; Schema: audit; Owner: healthcare_audit
--

CREATE POLICY insert_writers ON audit.events FOR INSERT TO healthcare_owner, healthcare_access, healthcare_audit WITH CHECK (true);

--
-- Name: POLICY insert_writers ON events; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON POLICY insert_writers ON audit.events IS 'Events are written by the api functions (healthcare_access), by the triggers on app tables whoever writes them, and by audit.prune.';

--
-- Name: seal_state; Type: ROW SECURITY; Schema: audit; Owner: healthcare_audit
--

ALTER TABLE audit.seal_state ENABLE ROW LEVEL SECURITY;

--
-- Name: seals; Type: ROW SECURITY; Schema: audit; Owner: healthcare_audit
--

ALTER TABLE audit.seals ENABLE ROW LEVEL SECURITY;

--
-- Name: seals select_auditor; Type: POLICY; Schema: audit; Owner: healthcare_audit
--

CREATE POLICY select_auditor ON audit.seals FOR SELECT TO healthcare_auditor USING (true);

--
-- Name: POLICY select_auditor ON seals; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON POLICY select_auditor ON audit.seals IS 'Auditors read the chain.';

--
-- Name: events select_readers; Type: POLICY; Schema: audit; Owner: healthcare_audit
--

CREATE POLICY select_readers ON audit.events FOR SELECT TO healthcare_access, healthcare_auditor, healthcare_audit USING (true);

--
-- Name: POLICY select_readers ON events; Type: COMMENT; Schema: audit; Owner: healthcare_audit
--

COMMENT ON POLICY select_readers ON audit.events IS 'The access log and event functions (healthcare_access) filter what they return; auditors read everything; the sealer hashes everything.';

--
-- Name: SCHEMA api; Type: ACL; Schema: -; Owner: healthcare_owner
--

GRANT USAGE ON SCHEMA api TO healthcare_api;
GRANT USAGE ON SCHEMA api TO healthcare_user;
GRANT ALL ON SCHEMA api TO healthcare_access;
GRANT ALL ON SCHEMA api TO healthcare_auth;

--
-- Name: SCHEMA app; Type: ACL; Schema: -; Owner: healthcare_owner
--

GRANT ALL ON SCHEMA app TO healthcare_auth;
GRANT ALL ON SCHEMA app TO healthcare_reporter;
GRANT ALL ON SCHEMA app TO healthcare_access;

--
-- Name: SCHEMA audit; Type: ACL; Schema: -; Owner: healthcare_owner
--

GRANT ALL ON SCHEMA audit TO healthcare_audit;
GRANT USAGE ON SCHEMA audit TO healthcare_access;
GRANT USAGE ON SCHEMA audit TO healthcare_auditor;
GRANT USAGE ON SCHEMA audit TO healthcare_api;

--
-- Name: SCHEMA records; Type: ACL; Schema: -; Owner: healthcare_owner
--

GRANT CREATE ON SCHEMA records TO healthcare_access;
GRANT USAGE ON SCHEMA records TO healthcare_user;

--
-- Name: SCHEMA reporting; Type: ACL; Schema: -; Owner: healthcare_owner
--

GRANT USAGE ON SCHEMA reporting TO healthcare_reporting;
GRANT ALL ON SCHEMA reporting TO healthcare_reporter;

--
-- Name: FUNCTION audit_events(p_patient bigint, p_user bigint, p_since timestamp with time zone, p_limit integer, p_offset integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.audit_events(p_patient bigint, p_user bigint, p_since timestamp with time zone, p_limit integer, p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.audit_events(p_patient bigint, p_user bigint, p_since timestamp with time zone, p_limit integer, p_offset integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.audit_events(p_patient bigint, p_user bigint, p_since timestamp with time zone, p_limit integer, p_offset integer) TO healthcare_user;

--
-- Name: FUNCTION complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION api.complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) TO healthcare_api;

--
-- Name: FUNCTION create_doctor(p_name text, p_specialization text); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.create_doctor(p_name text, p_specialization text) FROM PUBLIC;
GRANT ALL ON FUNCTION api.create_doctor(p_name text, p_specialization text) TO healthcare_api;
GRANT ALL ON FUNCTION api.create_doctor(p_name text, p_specialization text) TO healthcare_user;

--
-- Name: FUNCTION create_mapping(p_patient bigint, p_doctor bigint); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.create_mapping(p_patient bigint, p_doctor bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION api.create_mapping(p_patient bigint, p_doctor bigint) TO healthcare_api;
GRANT ALL ON FUNCTION api.create_mapping(p_patient bigint, p_doctor bigint) TO healthcare_user;

--
-- Name: FUNCTION create_patient(p_name text, p_age integer, p_gender text); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.create_patient(p_name text, p_age integer, p_gender text) FROM PUBLIC;
GRANT ALL ON FUNCTION api.create_patient(p_name text, p_age integer, p_gender text) TO healthcare_api;
GRANT ALL ON FUNCTION api.create_patient(p_name text, p_age integer, p_gender text) TO healthcare_user;

--
-- Name: FUNCTION delete_doctor(p_id bigint, p_version integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.delete_doctor(p_id bigint, p_version integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.delete_doctor(p_id bigint, p_version integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.delete_doctor(p_id bigint, p_version integer) TO healthcare_user;

--
-- Name: FUNCTION delete_mapping(p_id bigint); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.delete_mapping(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION api.delete_mapping(p_id bigint) TO healthcare_api;
GRANT ALL ON FUNCTION api.delete_mapping(p_id bigint) TO healthcare_user;

--
-- Name: FUNCTION delete_patient(p_id bigint, p_version integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.delete_patient(p_id bigint, p_version integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.delete_patient(p_id bigint, p_version integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.delete_patient(p_id bigint, p_version integer) TO healthcare_user;

--
-- Name: FUNCTION doctor_history(p_id bigint, p_limit integer, p_offset integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.doctor_history(p_id bigint, p_limit integer, p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.doctor_history(p_id bigint, p_limit integer, p_offset integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.doctor_history(p_id bigint, p_limit integer, p_offset integer) TO healthcare_user;

--
-- Name: FUNCTION doctor_version(p_id bigint, p_version integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.doctor_version(p_id bigint, p_version integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.doctor_version(p_id bigint, p_version integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.doctor_version(p_id bigint, p_version integer) TO healthcare_user;

--
-- Name: FUNCTION get_care_patient(p_id bigint); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.get_care_patient(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION api.get_care_patient(p_id bigint) TO healthcare_api;
GRANT ALL ON FUNCTION api.get_care_patient(p_id bigint) TO healthcare_user;

--
-- Name: FUNCTION get_doctor(p_id bigint); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.get_doctor(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION api.get_doctor(p_id bigint) TO healthcare_api;
GRANT ALL ON FUNCTION api.get_doctor(p_id bigint) TO healthcare_user;

--
-- Name: FUNCTION get_mapping(p_id bigint); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.get_mapping(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION api.get_mapping(p_id bigint) TO healthcare_api;
GRANT ALL ON FUNCTION api.get_mapping(p_id bigint) TO healthcare_user;

--
-- Name: FUNCTION get_patient(p_id bigint); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.get_patient(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION api.get_patient(p_id bigint) TO healthcare_api;
GRANT ALL ON FUNCTION api.get_patient(p_id bigint) TO healthcare_user;

--
-- Name: FUNCTION link_doctor_account(p_doctor bigint, p_user bigint); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.link_doctor_account(p_doctor bigint, p_user bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION api.link_doctor_account(p_doctor bigint, p_user bigint) TO healthcare_api;
GRANT ALL ON FUNCTION api.link_doctor_account(p_doctor bigint, p_user bigint) TO healthcare_user;

--
-- Name: FUNCTION list_care_patients(p_limit integer, p_offset integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.list_care_patients(p_limit integer, p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.list_care_patients(p_limit integer, p_offset integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.list_care_patients(p_limit integer, p_offset integer) TO healthcare_user;

--
-- Name: FUNCTION list_doctors(p_specialization text, p_search text, p_limit integer, p_offset integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.list_doctors(p_specialization text, p_search text, p_limit integer, p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.list_doctors(p_specialization text, p_search text, p_limit integer, p_offset integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.list_doctors(p_specialization text, p_search text, p_limit integer, p_offset integer) TO healthcare_user;

--
-- Name: FUNCTION list_mappings(p_limit integer, p_offset integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.list_mappings(p_limit integer, p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.list_mappings(p_limit integer, p_offset integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.list_mappings(p_limit integer, p_offset integer) TO healthcare_user;

--
-- Name: FUNCTION list_patient_doctors(p_patient_id bigint, p_limit integer, p_offset integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.list_patient_doctors(p_patient_id bigint, p_limit integer, p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.list_patient_doctors(p_patient_id bigint, p_limit integer, p_offset integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.list_patient_doctors(p_patient_id bigint, p_limit integer, p_offset integer) TO healthcare_user;

--
-- Name: FUNCTION list_patients(p_limit integer, p_offset integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.list_patients(p_limit integer, p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.list_patients(p_limit integer, p_offset integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.list_patients(p_limit integer, p_offset integer) TO healthcare_user;

--
-- Name: FUNCTION login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer) TO healthcare_api;

--
-- Name: FUNCTION me(); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.me() FROM PUBLIC;
GRANT ALL ON FUNCTION api.me() TO healthcare_api;
GRANT ALL ON FUNCTION api.me() TO healthcare_user;

--
-- Name: FUNCTION patient_access_log(p_patient_id bigint, p_limit integer, p_offset integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.patient_access_log(p_patient_id bigint, p_limit integer, p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.patient_access_log(p_patient_id bigint, p_limit integer, p_offset integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.patient_access_log(p_patient_id bigint, p_limit integer, p_offset integer) TO healthcare_user;

--
-- Name: FUNCTION patient_history(p_id bigint, p_limit integer, p_offset integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.patient_history(p_id bigint, p_limit integer, p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.patient_history(p_id bigint, p_limit integer, p_offset integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.patient_history(p_id bigint, p_limit integer, p_offset integer) TO healthcare_user;

--
-- Name: FUNCTION patient_version(p_id bigint, p_version integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.patient_version(p_id bigint, p_version integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.patient_version(p_id bigint, p_version integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.patient_version(p_id bigint, p_version integer) TO healthcare_user;

--
-- Name: FUNCTION register(p_username text, p_email text, p_password_hash text); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.register(p_username text, p_email text, p_password_hash text) FROM PUBLIC;
GRANT ALL ON FUNCTION api.register(p_username text, p_email text, p_password_hash text) TO healthcare_api;

--
-- Name: FUNCTION require_session(p_family uuid); Type: ACL; Schema: api; Owner: healthcare_auth
--

REVOKE ALL ON FUNCTION api.require_session(p_family uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION api.require_session(p_family uuid) TO healthcare_api;

--
-- Name: FUNCTION revoke_refresh_token(p_jti uuid); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.revoke_refresh_token(p_jti uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION api.revoke_refresh_token(p_jti uuid) TO healthcare_api;

--
-- Name: FUNCTION rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION api.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone) TO healthcare_api;

--
-- Name: FUNCTION unlink_doctor_account(p_doctor bigint); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.unlink_doctor_account(p_doctor bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION api.unlink_doctor_account(p_doctor bigint) TO healthcare_api;
GRANT ALL ON FUNCTION api.unlink_doctor_account(p_doctor bigint) TO healthcare_user;

--
-- Name: FUNCTION update_doctor(p_id bigint, p_name text, p_specialization text, p_version integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.update_doctor(p_id bigint, p_name text, p_specialization text, p_version integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.update_doctor(p_id bigint, p_name text, p_specialization text, p_version integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.update_doctor(p_id bigint, p_name text, p_specialization text, p_version integer) TO healthcare_user;

--
-- Name: FUNCTION update_patient(p_id bigint, p_name text, p_age integer, p_gender text, p_version integer); Type: ACL; Schema: api; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION api.update_patient(p_id bigint, p_name text, p_age integer, p_gender text, p_version integer) FROM PUBLIC;
GRANT ALL ON FUNCTION api.update_patient(p_id bigint, p_name text, p_age integer, p_gender text, p_version integer) TO healthcare_api;
GRANT ALL ON FUNCTION api.update_patient(p_id bigint, p_name text, p_age integer, p_gender text, p_version integer) TO healthcare_user;

--
-- Name: FUNCTION audit(p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.audit(p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION app.audit(p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb) TO healthcare_access;

--
-- Name: FUNCTION audit_as(p_user bigint, p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.audit_as(p_user bigint, p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION app.audit_as(p_user bigint, p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb) TO healthcare_access;

--
-- Name: FUNCTION audit_doctor_change(); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.audit_doctor_change() FROM PUBLIC;
GRANT ALL ON FUNCTION app.audit_doctor_change() TO healthcare_access;

--
-- Name: FUNCTION audit_mapping_change(); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.audit_mapping_change() FROM PUBLIC;
GRANT ALL ON FUNCTION app.audit_mapping_change() TO healthcare_access;

--
-- Name: FUNCTION audit_patient_change(); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.audit_patient_change() FROM PUBLIC;
GRANT ALL ON FUNCTION app.audit_patient_change() TO healthcare_access;

--
-- Name: FUNCTION care_patient_ids(); Type: ACL; Schema: app; Owner: healthcare_auth
--

REVOKE ALL ON FUNCTION app.care_patient_ids() FROM PUBLIC;
GRANT ALL ON FUNCTION app.care_patient_ids() TO healthcare_access;

--
-- Name: FUNCTION current_user_id(); Type: ACL; Schema: app; Owner: healthcare_auth
--

REVOKE ALL ON FUNCTION app.current_user_id() FROM PUBLIC;
GRANT ALL ON FUNCTION app.current_user_id() TO healthcare_access;
GRANT ALL ON FUNCTION app.current_user_id() TO healthcare_owner;

--
-- Name: FUNCTION gender_fhir(p_gender text); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.gender_fhir(p_gender text) FROM PUBLIC;
GRANT ALL ON FUNCTION app.gender_fhir(p_gender text) TO healthcare_access;

--
-- Name: TABLE patient_doctors; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT,DELETE ON TABLE app.patient_doctors TO healthcare_access;

--
-- Name: COLUMN patient_doctors.patient_id; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(patient_id) ON TABLE app.patient_doctors TO healthcare_reporter;
GRANT INSERT(patient_id) ON TABLE app.patient_doctors TO healthcare_access;
GRANT SELECT(patient_id) ON TABLE app.patient_doctors TO healthcare_auth;

--
-- Name: COLUMN patient_doctors.doctor_id; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(doctor_id) ON TABLE app.patient_doctors TO healthcare_reporter;
GRANT INSERT(doctor_id) ON TABLE app.patient_doctors TO healthcare_access;
GRANT SELECT(doctor_id) ON TABLE app.patient_doctors TO healthcare_auth;

--
-- Name: COLUMN patient_doctors.record_key; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(record_key) ON TABLE app.patient_doctors TO healthcare_reporter;

--
-- Name: TABLE patients; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT,DELETE ON TABLE app.patients TO healthcare_access;

--
-- Name: COLUMN patients.id; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(id) ON TABLE app.patients TO healthcare_reporter;

--
-- Name: COLUMN patients.owner_id; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(owner_id) ON TABLE app.patients TO healthcare_reporter;

--
-- Name: COLUMN patients.name; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT INSERT(name),UPDATE(name) ON TABLE app.patients TO healthcare_access;

--
-- Name: COLUMN patients.age; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(age) ON TABLE app.patients TO healthcare_reporter;
GRANT INSERT(age),UPDATE(age) ON TABLE app.patients TO healthcare_access;

--
-- Name: COLUMN patients.gender; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT INSERT(gender),UPDATE(gender) ON TABLE app.patients TO healthcare_access;

--
-- Name: COLUMN patients.record_key; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(record_key) ON TABLE app.patients TO healthcare_reporter;

--
-- Name: COLUMN patients.gender_fhir; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(gender_fhir) ON TABLE app.patients TO healthcare_reporter;

--
-- Name: FUNCTION care_patient_json(p app.patients, m app.patient_doctors); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.care_patient_json(p app.patients, m app.patient_doctors) FROM PUBLIC;
GRANT ALL ON FUNCTION app.care_patient_json(p app.patients, m app.patient_doctors) TO healthcare_access;

--
-- Name: FUNCTION cell_perturbation(p_cell_key bigint); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.cell_perturbation(p_cell_key bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app.cell_perturbation(p_cell_key bigint) TO healthcare_reporter;

--
-- Name: FUNCTION check_age(p_age integer); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.check_age(p_age integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app.check_age(p_age integer) TO healthcare_access;

--
-- Name: FUNCTION check_doctor_delete(); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.check_doctor_delete() FROM PUBLIC;
GRANT ALL ON FUNCTION app.check_doctor_delete() TO healthcare_access;

--
-- Name: FUNCTION check_gender(p_gender text); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.check_gender(p_gender text) FROM PUBLIC;
GRANT ALL ON FUNCTION app.check_gender(p_gender text) TO healthcare_access;

--
-- Name: FUNCTION check_name(p_value text, p_field text, p_max integer); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.check_name(p_value text, p_field text, p_max integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app.check_name(p_value text, p_field text, p_max integer) TO healthcare_access;

--
-- Name: FUNCTION complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone); Type: ACL; Schema: app; Owner: healthcare_auth
--

REVOKE ALL ON FUNCTION app.complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app.complete_login(p_username text, p_address text, p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) TO healthcare_access;

--
-- Name: FUNCTION current_doctor_id(); Type: ACL; Schema: app; Owner: healthcare_auth
--

REVOKE ALL ON FUNCTION app.current_doctor_id() FROM PUBLIC;
GRANT ALL ON FUNCTION app.current_doctor_id() TO healthcare_access;

--
-- Name: FUNCTION current_door(); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.current_door() FROM PUBLIC;
GRANT ALL ON FUNCTION app.current_door() TO healthcare_access;

--
-- Name: FUNCTION current_user_is_admin(); Type: ACL; Schema: app; Owner: healthcare_auth
--

REVOKE ALL ON FUNCTION app.current_user_is_admin() FROM PUBLIC;
GRANT ALL ON FUNCTION app.current_user_is_admin() TO healthcare_access;

--
-- Name: TABLE doctors; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT,DELETE ON TABLE app.doctors TO healthcare_access;

--
-- Name: COLUMN doctors.id; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(id) ON TABLE app.doctors TO healthcare_reporter;
GRANT SELECT(id) ON TABLE app.doctors TO healthcare_auth;

--
-- Name: COLUMN doctors.name; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT INSERT(name),UPDATE(name) ON TABLE app.doctors TO healthcare_access;

--
-- Name: COLUMN doctors.specialization; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(specialization) ON TABLE app.doctors TO healthcare_reporter;
GRANT INSERT(specialization),UPDATE(specialization) ON TABLE app.doctors TO healthcare_access;

--
-- Name: COLUMN doctors.account_id; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT UPDATE(account_id) ON TABLE app.doctors TO healthcare_access;
GRANT SELECT(account_id) ON TABLE app.doctors TO healthcare_auth;

--
-- Name: FUNCTION doctor_json(d app.doctors); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.doctor_json(d app.doctors) FROM PUBLIC;
GRANT ALL ON FUNCTION app.doctor_json(d app.doctors) TO healthcare_access;

--
-- Name: FUNCTION doctor_json_for(d app.doctors, p_uid bigint, p_admin boolean); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.doctor_json_for(d app.doctors, p_uid bigint, p_admin boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION app.doctor_json_for(d app.doctors, p_uid bigint, p_admin boolean) TO healthcare_access;

--
-- Name: FUNCTION doctor_serves_others(p_doctor bigint, p_user bigint); Type: ACL; Schema: app; Owner: healthcare_reporter
--

REVOKE ALL ON FUNCTION app.doctor_serves_others(p_doctor bigint, p_user bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app.doctor_serves_others(p_doctor bigint, p_user bigint) TO healthcare_access;

--
-- Name: SEQUENCE events_id_seq; Type: ACL; Schema: audit; Owner: healthcare_audit
--

GRANT USAGE ON SEQUENCE audit.events_id_seq TO healthcare_access;
GRANT USAGE ON SEQUENCE audit.events_id_seq TO healthcare_owner;

--
-- Name: TABLE events; Type: ACL; Schema: audit; Owner: healthcare_audit
--

GRANT SELECT,INSERT ON TABLE audit.events TO healthcare_access;
GRANT INSERT ON TABLE audit.events TO healthcare_owner;
GRANT SELECT ON TABLE audit.events TO healthcare_auditor;

--
-- Name: FUNCTION event_json(e audit.events); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.event_json(e audit.events) FROM PUBLIC;
GRANT ALL ON FUNCTION app.event_json(e audit.events) TO healthcare_access;

--
-- Name: FUNCTION history_json(e audit.events); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.history_json(e audit.events) FROM PUBLIC;
GRANT ALL ON FUNCTION app.history_json(e audit.events) TO healthcare_access;

--
-- Name: FUNCTION issue_refresh_token(p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone); Type: ACL; Schema: app; Owner: healthcare_auth
--

REVOKE ALL ON FUNCTION app.issue_refresh_token(p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION json_append(p_doc json, p_more json); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.json_append(p_doc json, p_more json) FROM PUBLIC;
GRANT ALL ON FUNCTION app.json_append(p_doc json, p_more json) TO healthcare_access;

--
-- Name: FUNCTION login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer); Type: ACL; Schema: app; Owner: healthcare_auth
--

REVOKE ALL ON FUNCTION app.login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app.login_attempt(p_username text, p_address text, p_max_pair integer, p_max_address integer, p_max_flood integer, p_window_seconds integer) TO healthcare_access;

--
-- Name: FUNCTION mapping_json(m app.patient_doctors); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.mapping_json(m app.patient_doctors) FROM PUBLIC;
GRANT ALL ON FUNCTION app.mapping_json(m app.patient_doctors) TO healthcare_access;

--
-- Name: FUNCTION normalize_gender(p_gender text); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.normalize_gender(p_gender text) FROM PUBLIC;
GRANT ALL ON FUNCTION app.normalize_gender(p_gender text) TO healthcare_access;

--
-- Name: FUNCTION page(p_count bigint, p_results json, p_path text, p_limit integer, p_offset integer, p_query text); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.page(p_count bigint, p_results json, p_path text, p_limit integer, p_offset integer, p_query text) FROM PUBLIC;
GRANT ALL ON FUNCTION app.page(p_count bigint, p_results json, p_path text, p_limit integer, p_offset integer, p_query text) TO healthcare_access;

--
-- Name: FUNCTION page_limit(p_limit integer); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.page_limit(p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app.page_limit(p_limit integer) TO healthcare_access;

--
-- Name: FUNCTION page_offset(p_offset integer); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.page_offset(p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app.page_offset(p_offset integer) TO healthcare_access;

--
-- Name: FUNCTION patient_exists(p_id bigint); Type: ACL; Schema: app; Owner: healthcare_reporter
--

REVOKE ALL ON FUNCTION app.patient_exists(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app.patient_exists(p_id bigint) TO healthcare_access;

--
-- Name: FUNCTION patient_json(p app.patients); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.patient_json(p app.patients) FROM PUBLIC;
GRANT ALL ON FUNCTION app.patient_json(p app.patients) TO healthcare_access;

--
-- Name: FUNCTION publish_cells(p_cells app.report_cell[], p_min_cell integer); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.publish_cells(p_cells app.report_cell[], p_min_cell integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app.publish_cells(p_cells app.report_cell[], p_min_cell integer) TO healthcare_reporter;

--
-- Name: FUNCTION raise_doctor_not_writable(p_id bigint); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.raise_doctor_not_writable(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app.raise_doctor_not_writable(p_id bigint) TO healthcare_access;

--
-- Name: FUNCTION refuse(p_action text, p_patient bigint, p_detail jsonb, p_code text, p_message text, p_field text); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.refuse(p_action text, p_patient bigint, p_detail jsonb, p_code text, p_message text, p_field text) FROM PUBLIC;
GRANT ALL ON FUNCTION app.refuse(p_action text, p_patient bigint, p_detail jsonb, p_code text, p_message text, p_field text) TO healthcare_access;

--
-- Name: FUNCTION refuse_truncate(); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.refuse_truncate() FROM PUBLIC;

--
-- Name: FUNCTION register_user(p_username text, p_email text, p_password_hash text); Type: ACL; Schema: app; Owner: healthcare_auth
--

REVOKE ALL ON FUNCTION app.register_user(p_username text, p_email text, p_password_hash text) FROM PUBLIC;
GRANT ALL ON FUNCTION app.register_user(p_username text, p_email text, p_password_hash text) TO healthcare_access;

--
-- Name: FUNCTION report_mappings_per_doctor(); Type: ACL; Schema: app; Owner: healthcare_reporter
--

REVOKE ALL ON FUNCTION app.report_mappings_per_doctor() FROM PUBLIC;
GRANT ALL ON FUNCTION app.report_mappings_per_doctor() TO healthcare_reporting;

--
-- Name: FUNCTION report_patients_by_age_band(); Type: ACL; Schema: app; Owner: healthcare_reporter
--

REVOKE ALL ON FUNCTION app.report_patients_by_age_band() FROM PUBLIC;
GRANT ALL ON FUNCTION app.report_patients_by_age_band() TO healthcare_reporting;

--
-- Name: FUNCTION report_patients_per_specialization(); Type: ACL; Schema: app; Owner: healthcare_reporter
--

REVOKE ALL ON FUNCTION app.report_patients_per_specialization() FROM PUBLIC;
GRANT ALL ON FUNCTION app.report_patients_per_specialization() TO healthcare_reporting;

--
-- Name: FUNCTION require_user(); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.require_user() FROM PUBLIC;
GRANT ALL ON FUNCTION app.require_user() TO healthcare_access;

--
-- Name: FUNCTION revoke_refresh_token(p_jti uuid); Type: ACL; Schema: app; Owner: healthcare_auth
--

REVOKE ALL ON FUNCTION app.revoke_refresh_token(p_jti uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app.revoke_refresh_token(p_jti uuid) TO healthcare_access;

--
-- Name: FUNCTION rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone); Type: ACL; Schema: app; Owner: healthcare_auth
--

REVOKE ALL ON FUNCTION app.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app.rotate_refresh_token(p_old_jti uuid, p_new_jti uuid, p_expires_at timestamp with time zone) TO healthcare_access;

--
-- Name: FUNCTION touch_updated_at(); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.touch_updated_at() FROM PUBLIC;

--
-- Name: FUNCTION touch_version(); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.touch_version() FROM PUBLIC;

--
-- Name: FUNCTION url_encode(p_value text); Type: ACL; Schema: app; Owner: healthcare_owner
--

REVOKE ALL ON FUNCTION app.url_encode(p_value text) FROM PUBLIC;
GRANT ALL ON FUNCTION app.url_encode(p_value text) TO healthcare_access;

--
-- Name: FUNCTION user_credentials(p_username text); Type: ACL; Schema: app; Owner: healthcare_auth
--

REVOKE ALL ON FUNCTION app.user_credentials(p_username text) FROM PUBLIC;

--
-- Name: FUNCTION visible_care_patients(); Type: ACL; Schema: app; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION app.visible_care_patients() FROM PUBLIC;
GRANT ALL ON FUNCTION app.visible_care_patients() TO healthcare_user;

--
-- Name: FUNCTION visible_doctors(); Type: ACL; Schema: app; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION app.visible_doctors() FROM PUBLIC;
GRANT ALL ON FUNCTION app.visible_doctors() TO healthcare_user;

--
-- Name: FUNCTION visible_mappings(); Type: ACL; Schema: app; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION app.visible_mappings() FROM PUBLIC;
GRANT ALL ON FUNCTION app.visible_mappings() TO healthcare_user;

--
-- Name: FUNCTION visible_patients(); Type: ACL; Schema: app; Owner: healthcare_access
--

REVOKE ALL ON FUNCTION app.visible_patients() FROM PUBLIC;
GRANT ALL ON FUNCTION app.visible_patients() TO healthcare_user;

--
-- Name: FUNCTION create_partitions(p_from date, p_months integer); Type: ACL; Schema: audit; Owner: healthcare_audit
--

REVOKE ALL ON FUNCTION audit.create_partitions(p_from date, p_months integer) FROM PUBLIC;

--
-- Name: FUNCTION current_from(); Type: ACL; Schema: audit; Owner: healthcare_audit
--

REVOKE ALL ON FUNCTION audit.current_from() FROM PUBLIC;
GRANT ALL ON FUNCTION audit.current_from() TO healthcare_access;
GRANT ALL ON FUNCTION audit.current_from() TO healthcare_owner;

--
-- Name: FUNCTION current_until(); Type: ACL; Schema: audit; Owner: healthcare_audit
--

REVOKE ALL ON FUNCTION audit.current_until() FROM PUBLIC;
GRANT ALL ON FUNCTION audit.current_until() TO healthcare_access;
GRANT ALL ON FUNCTION audit.current_until() TO healthcare_owner;

--
-- Name: FUNCTION prune(p_older_than interval); Type: ACL; Schema: audit; Owner: healthcare_audit
--

REVOKE ALL ON FUNCTION audit.prune(p_older_than interval) FROM PUBLIC;
GRANT ALL ON FUNCTION audit.prune(p_older_than interval) TO healthcare_owner;

--
-- Name: FUNCTION refuse_change(); Type: ACL; Schema: audit; Owner: healthcare_audit
--

REVOKE ALL ON FUNCTION audit.refuse_change() FROM PUBLIC;

--
-- Name: FUNCTION roll_current(p_now timestamp with time zone); Type: ACL; Schema: audit; Owner: healthcare_audit
--

REVOKE ALL ON FUNCTION audit.roll_current(p_now timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION seal(); Type: ACL; Schema: audit; Owner: healthcare_audit
--

REVOKE ALL ON FUNCTION audit.seal() FROM PUBLIC;
GRANT ALL ON FUNCTION audit.seal() TO healthcare_api;
GRANT ALL ON FUNCTION audit.seal() TO healthcare_owner;

--
-- Name: TABLE login_failures; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE app.login_failures TO healthcare_auth;

--
-- Name: TABLE refresh_tokens; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE app.refresh_tokens TO healthcare_auth;

--
-- Name: TABLE reporting_settings; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT ON TABLE app.reporting_settings TO healthcare_reporter;

--
-- Name: TABLE users; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT,INSERT,UPDATE ON TABLE app.users TO healthcare_auth;

--
-- Name: COLUMN users.id; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(id) ON TABLE app.users TO healthcare_access;

--
-- Name: COLUMN users.username; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(username) ON TABLE app.users TO healthcare_access;

--
-- Name: COLUMN users.email; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(email) ON TABLE app.users TO healthcare_access;

--
-- Name: COLUMN users.is_admin; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(is_admin) ON TABLE app.users TO healthcare_access;

--
-- Name: COLUMN users.is_active; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(is_active) ON TABLE app.users TO healthcare_access;

--
-- Name: COLUMN users.db_role; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(db_role) ON TABLE app.users TO healthcare_access;

--
-- Name: COLUMN users.date_joined; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(date_joined) ON TABLE app.users TO healthcare_access;

--
-- Name: COLUMN users.updated_at; Type: ACL; Schema: app; Owner: healthcare_owner
--

GRANT SELECT(updated_at) ON TABLE app.users TO healthcare_access;

--
-- Name: TABLE seals; Type: ACL; Schema: audit; Owner: healthcare_audit
--

GRANT SELECT ON TABLE audit.seals TO healthcare_auditor;

--
-- Name: TABLE care_patients; Type: ACL; Schema: records; Owner: healthcare_owner
--

GRANT SELECT ON TABLE records.care_patients TO healthcare_user;

--
-- Name: TABLE doctors; Type: ACL; Schema: records; Owner: healthcare_owner
--

GRANT SELECT ON TABLE records.doctors TO healthcare_user;

--
-- Name: TABLE mappings; Type: ACL; Schema: records; Owner: healthcare_owner
--

GRANT SELECT ON TABLE records.mappings TO healthcare_user;

--
-- Name: TABLE patients; Type: ACL; Schema: records; Owner: healthcare_owner
--

GRANT SELECT ON TABLE records.patients TO healthcare_user;

--
-- Name: TABLE mappings_per_doctor; Type: ACL; Schema: reporting; Owner: healthcare_reporter
--

GRANT SELECT ON TABLE reporting.mappings_per_doctor TO healthcare_reporting;

--
-- Name: TABLE patients_by_age_band; Type: ACL; Schema: reporting; Owner: healthcare_reporter
--

GRANT SELECT ON TABLE reporting.patients_by_age_band TO healthcare_reporting;

--
-- Name: TABLE patients_per_specialization; Type: ACL; Schema: reporting; Owner: healthcare_reporter
--

GRANT SELECT ON TABLE reporting.patients_per_specialization TO healthcare_reporting;

--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: -; Owner: healthcare_auth
--

ALTER DEFAULT PRIVILEGES FOR ROLE healthcare_auth REVOKE ALL ON FUNCTIONS  FROM PUBLIC;

--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: -; Owner: healthcare_owner
--

ALTER DEFAULT PRIVILEGES FOR ROLE healthcare_owner REVOKE ALL ON FUNCTIONS  FROM PUBLIC;

--
-- PostgreSQL database dump complete
--
