-- Writing and reading the audit trail from the app side: app.audit and app.refuse, the event's JSON, and the access-log routes.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_owner;

-- Neither has a search_path clause: they are called only from functions
-- that pin it, and a clause would cost a setting saved and restored on
-- every call (every read writes one event).
create or replace function app.audit_as(p_user bigint, p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb)
returns void
language plpgsql volatile
as $$
declare
  v_door text := app.current_door();
  v_request text;
  v_client_request text;
  v_addr inet;
begin
  if v_door = 'rest' then
    v_request := nullif(pg_catalog.current_setting('app.request_id', true), '');
    v_addr := nullif(pg_catalog.current_setting('app.client_addr', true), '')::inet;
    -- The X-Request-Id a client sent is its own claim: kept in the
    -- detail, never as the server's request_id.
    v_client_request := nullif(pg_catalog.current_setting('app.client_request_id', true), '');
    if v_client_request is not null then
      p_detail := coalesce(p_detail, '{}'::jsonb) || pg_catalog.jsonb_build_object('client_request_id', v_client_request);
    end if;
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
comment on function app.audit_as(bigint,text,text,bigint,bigint[],jsonb) is
  'Writes one audit event for the app user p_user, already identified by the caller (door, request id and client address from the session; a REST client''s own X-Request-Id goes into detail as client_request_id).';
revoke all on function app.audit_as(bigint,text,text,bigint,bigint[],jsonb) from public;
grant execute on function app.audit_as(bigint,text,text,bigint,bigint[],jsonb) to healthcare_access;

create or replace function app.audit(p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb)
returns void
language plpgsql volatile
as $$
begin
  perform app.audit_as(app.current_user_id(), p_action, p_outcome, p_patient, p_patients, p_detail);
end
$$;
comment on function app.audit(text,text,bigint,bigint[],jsonb) is
  'Writes one audit event for the caller (identity, door, request id and client address from the session).';
revoke all on function app.audit(text,text,bigint,bigint[],jsonb) from public;
grant execute on function app.audit(text,text,bigint,bigint[],jsonb) to healthcare_access;

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
comment on function app.refuse(text,bigint,jsonb,text,text,text) is
  'Records a refused attempt (forbidden when the patient exists, else not_found) and returns {"error": {"code", "message", "field"}}, which the REST server answers as the error it names. A refused update or delete of a patient the caller can read (in their care) is RFRBD, not RNTFD.';
revoke all on function app.refuse(text,bigint,jsonb,text,text,text) from public;
grant execute on function app.refuse(text,bigint,jsonb,text,text,text) to healthcare_access;

create or replace function app.event_json(e audit.events) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', e.id, 'at', e.at, 'user', e.user_id, 'db_role', e.db_role, 'door', e.door,
                                      'action', e.action, 'outcome', e.outcome, 'patient', e.patient_id,
                                      'patients', e.patients, 'request_id', e.request_id, 'client_addr', e.client_addr,
                                      'detail', e.detail)
$$;
comment on function app.event_json(audit.events) is
  'An audit event as the REST API shows it.';
revoke all on function app.event_json(audit.events) from public;
grant execute on function app.event_json(audit.events) to healthcare_access;

set local role healthcare_access;

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
                                               null, null, e.detail - 'client_request_id')::audit.events) end
                  order by e.id desc) into v_rows
    from (select * from audit.events e
           where (e.patient_id = p_patient_id or e.patients @> array[p_patient_id])
             and (v_admin or e.outcome = 'ok' or e.user_id = v_uid)
           order by e.id desc limit v_limit offset v_offset) e;
  perform app.audit('read', 'ok', p_patient_id, null, '{"object": "access_log"}');
  return app.page(v_count, v_rows, '/api/patients/' || p_patient_id || '/access-log/', v_limit, v_offset, null);
end
$$;
comment on function api.patient_access_log(bigint,integer,integer) is
  'GET /api/patients/<id>/access-log/: who accessed the patient, newest first (owner and admins; refused attempts by others for admins only). Reading it is itself recorded.';
revoke all on function api.patient_access_log(bigint,integer,integer) from public;
grant execute on function api.patient_access_log(bigint,integer,integer) to healthcare_api, healthcare_user;

create or replace function api.audit_events(p_patient bigint default null, p_user bigint default null, p_since timestamptz default null,
                                 p_limit integer default null, p_offset integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
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
comment on function api.audit_events(bigint,bigint,timestamp with time zone,integer,integer) is
  'GET /api/audit/events/?patient=&user=&since=: the trail, newest first (admins only).';
revoke all on function api.audit_events(bigint,bigint,timestamp with time zone,integer,integer) from public;
grant execute on function api.audit_events(bigint,bigint,timestamp with time zone,integer,integer) to healthcare_api, healthcare_user;

set local role healthcare_owner;

-- One entry of a history: the version an event made (or deleted), when,
-- who, through which door, and the values as the REST API shows them.
create or replace function app.history_json(e audit.events) returns json
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
