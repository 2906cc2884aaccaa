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

set local role healthcare_access;

-- The one write the psql door's refusal connection may make: one refusal
-- event, door psql, for the login and app user of the refused session.
create or replace function app.write_refusal(p_user bigint, p_db_role name, p_action text, p_outcome text,
                                             p_patient bigint, p_addr inet, p_detail jsonb, p_at timestamptz)
returns void
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if p_outcome not in ('forbidden', 'not_found') then
    raise exception 'a refusal is forbidden or not_found, not %', p_outcome using errcode = 'RINVL';
  end if;
  if now() < audit.current_until() and now() >= audit.current_from() then
    insert into audit.events_current (at, user_id, db_role, door, action, outcome, patient_id, client_addr, detail)
    values (coalesce(p_at, now()), p_user, p_db_role, 'psql', p_action, p_outcome, p_patient, p_addr, p_detail);
  else
    insert into audit.events (at, user_id, db_role, door, action, outcome, patient_id, client_addr, detail)
    values (coalesce(p_at, now()), p_user, p_db_role, 'psql', p_action, p_outcome, p_patient, p_addr, p_detail);
  end if;
end
$$;
comment on function app.write_refusal(bigint,name,text,text,bigint,inet,jsonb,timestamp with time zone) is
  'Writes one refused attempt at the psql door (outcome forbidden or not_found) for the login p_db_role. Run by healthcare_refusal_writer, the login app.record_refusal_elsewhere connects back as, so the event commits whatever the refused session does. Security definer (owner healthcare_access).';
revoke all on function app.write_refusal(bigint,name,text,text,bigint,inet,jsonb,timestamp with time zone) from public;
grant execute on function app.write_refusal(bigint,name,text,text,bigint,inet,jsonb,timestamp with time zone) to healthcare_refusal_writer;

set local role healthcare_refusal_link;

-- A refusal at the psql door raises, and the raise rolls the caller's
-- transaction back with anything it wrote: its event is written by a
-- connection of its own (dblink, migration 021), which commits at once.
-- A new connection each time: refusals are rare, and a held one would
-- cost a connection slot for every psql session that was ever refused.
create or replace function app.record_refusal_elsewhere(p_user bigint, p_action text, p_outcome text, p_patient bigint, p_detail jsonb)
returns boolean
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_host text;
  v_conn text;
  v_sql text;
  v_try integer;
begin
  -- Back to this server through its first socket directory (or TCP to
  -- localhost without one), as healthcare_refusal_writer.
  v_host := coalesce(nullif(btrim(split_part(current_setting('unix_socket_directories'), ',', 1)), ''), 'localhost');
  v_conn := format('host=''%s'' port=''%s'' dbname=''%s'' user=healthcare_refusal_writer application_name=healthcare_refusal connect_timeout=5',
                   replace(replace(v_host, '\', '\\'), '''', '\'''), current_setting('port'),
                   replace(replace(current_database(), '\', '\\'), '''', '\'''));
  v_sql := format('select app.write_refusal(%L, %L, %L, %L, %L, %L, %L, %L)',
                  p_user, session_user, p_action, p_outcome, p_patient, inet_client_addr(), p_detail, now());
  begin
    -- A connection refused (the writer's five connections in use by other
    -- refusals at that moment) is tried twice more, 20 and 40 ms later.
    for v_try in 1..3 loop
      begin
        perform refusal_link.dblink_connect_u('healthcare_refusal', v_conn);
        exit;
      exception when sqlclient_unable_to_establish_sqlconnection then
        if v_try = 3 then
          raise;
        end if;
        perform pg_sleep(0.02 * v_try);
      end;
    end loop;
    perform from refusal_link.dblink('healthcare_refusal', v_sql) as w(written text);
    perform refusal_link.dblink_disconnect('healthcare_refusal');
    return true;
  exception when others then
    -- Not written: dblink missing, the writer not a login, no connection
    -- slot, a timeout. The attempt goes to the server log instead, and the
    -- call still fails with its refusal (docs/design.md, "The audit trail").
    if 'healthcare_refusal' = any (coalesce(refusal_link.dblink_get_connections(), '{}')) then
      perform refusal_link.dblink_disconnect('healthcare_refusal');
    end if;
    raise log 'audit: refusal at the psql door not recorded in audit.events (%: %): login %, user %, action %, outcome %, patient %, detail %',
      sqlstate, sqlerrm, session_user, p_user, p_action, p_outcome, p_patient, p_detail;
    return false;
  end;
exception when others then
  -- dblink itself is missing, or the socket directory cannot be read.
  raise log 'audit: refusal at the psql door not recorded in audit.events (%: %): login %, user %, action %, outcome %, patient %, detail %',
    sqlstate, sqlerrm, session_user, p_user, p_action, p_outcome, p_patient, p_detail;
  return false;
end
$$;
comment on function app.record_refusal_elsewhere(bigint,text,text,bigint,jsonb) is
  'Records a refused attempt at the psql door through a connection of its own (dblink as healthcare_refusal_writer, app.write_refusal), which commits whatever the caller''s transaction does. Returns false, and logs the attempt to the server log, when that write cannot be made. Security definer (owner healthcare_refusal_link).';
revoke all on function app.record_refusal_elsewhere(bigint,text,text,bigint,jsonb) from public;
grant execute on function app.record_refusal_elsewhere(bigint,text,text,bigint,jsonb) to healthcare_access;

set local role healthcare_owner;

-- The FHIR door's mark on change events: the row triggers add
-- {"via": "fhir"} while a fhir function writes.
create or replace function app.audit_via() returns jsonb
language sql stable
as $$
  select case when pg_catalog.current_setting('app.via', true) is distinct from 'fhir' then '{}'::jsonb
              when app.current_door() = 'rest' then '{"via": "fhir"}'::jsonb
              else '{}'::jsonb end
$$;
comment on function app.audit_via() is
  'The detail members the row triggers add to a change event: {"via": "fhir"} while a fhir function writes at the REST door (app.via, set for that statement; a psql login setting it changes nothing), else nothing.';
revoke all on function app.audit_via() from public;
grant execute on function app.audit_via() to healthcare_access;

-- A refused change of a patient the caller can read (one in their care) is
-- forbidden, not missing: 403 where the record is visible, 404 where not.
-- At the REST door (and the privileged connection) the refusal is
-- returned, so its event commits with the request. At the psql door it is
-- raised, so that a script stops (psql -v ON_ERROR_STOP=1 exits non-zero),
-- and its event is written by app.record_refusal_elsewhere, which no
-- rollback undoes.
create or replace function app.refuse(p_action text, p_patient bigint, p_detail jsonb, p_code text, p_message text, p_field text default null)
returns json
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_code text := p_code;
  v_message text := p_message;
  v_outcome text;
begin
  if p_code = 'RNTFD' and p_action in ('update', 'delete') and p_patient is not null
     and exists (select from app.patients p where p.id = p_patient) then
    v_code := 'RFRBD';
    v_message := 'you may read this patient but not change it';
  end if;
  v_outcome := case when v_code = 'RFRBD' or (p_patient is not null and app.patient_exists(p_patient))
                    then 'forbidden' else 'not_found' end;
  if app.current_door() = 'psql' then
    perform app.record_refusal_elsewhere(app.current_user_id(), p_action, v_outcome, p_patient, p_detail);
    if p_field is null then
      raise exception using errcode = v_code, message = v_message;
    end if;
    raise exception using errcode = v_code, message = v_message, column = p_field;
  end if;
  perform app.audit(p_action, v_outcome, p_patient, null, p_detail);
  return pg_catalog.json_build_object('error', pg_catalog.json_build_object('code', v_code, 'message', v_message, 'field', p_field));
end
$$;
comment on function app.refuse(text,bigint,jsonb,text,text,text) is
  'Records a refused attempt (forbidden when the patient exists, else not_found). At the REST door and the privileged connection it returns {"error": {"code", "message", "field"}}, which the REST server answers as the error it names, and the event commits with the request; at the psql door it raises that SQLSTATE, and the event is written by app.record_refusal_elsewhere, which no rollback undoes. A refused update or delete of a patient the caller can read (in their care) is RFRBD, not RNTFD.';
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
  v_patients bigint[];
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
  -- The page, read once: its events as JSON, and every patient they name,
  -- for the event below.
  with page as (
    select e from audit.events e
     where (p_patient is null or e.patient_id = p_patient or e.patients @> array[p_patient])
       and (p_user is null or e.user_id = p_user)
       and (p_since is null or e.at >= p_since)
     order by e.id desc limit v_limit offset v_offset)
  select (select json_agg(app.event_json(p.e) order by (p.e).id desc) from page p),
         (select array_agg(distinct x order by x)
            from page p, unnest(array[(p.e).patient_id] || coalesce((p.e).patients, '{}')) x
           where x is not null)
    into v_rows, v_patients;
  -- Reading the trail is an access too (its details hold patient data):
  -- the event names every patient whose events were returned, so each
  -- owner's access log shows that an admin read its record's trail.
  perform app.audit('list', 'ok', p_patient, v_patients,
                    pg_catalog.jsonb_build_object('object', 'audit_events', 'user', p_user, 'since', p_since));
  return app.page(v_count, v_rows, '/api/audit/events/', v_limit, v_offset, v_query);
end
$$;
comment on function api.audit_events(bigint,bigint,timestamp with time zone,integer,integer) is
  'GET /api/audit/events/?patient=&user=&since=: the trail, newest first (admins only); the read is an event naming every patient whose events it returned (patients), so it appears in their owners'' access logs.';
revoke all on function api.audit_events(bigint,bigint,timestamp with time zone,integer,integer) from public;
grant execute on function api.audit_events(bigint,bigint,timestamp with time zone,integer,integer) to healthcare_api, healthcare_user;

set local role healthcare_owner;

-- One entry of a history: the version an event made (or deleted), when,
-- who, through which door, and the values as the REST API shows them.
-- changed_by can name an account a caller may not learn (a doctor record's
-- linked account, which only admins and that account see): the doctors'
-- history asks for it to be left out.
create or replace function app.history_json_as(e audit.events, p_show_changed_by boolean) returns json
language sql stable
as $$
  select pg_catalog.json_build_object(
           'version', (coalesce(e.detail -> 'after', e.detail -> 'before') ->> 'version')::integer,
           'action', e.action, 'at', e.at, 'changed_by', case when p_show_changed_by then e.user_id end, 'door', e.door,
           'values', case
                       when e.action = 'delete' then null
                       when e.detail ->> 'object' = 'patient'
                         then app.patient_json(pg_catalog.jsonb_populate_record(null::app.patients, e.detail -> 'after'))
                       else app.doctor_json(pg_catalog.jsonb_populate_record(null::app.doctors, e.detail -> 'after'))
                     end)
$$;
comment on function app.history_json_as(audit.events,boolean) is
  'A change event as a history entry (app.history_json), with changed_by null unless p_show_changed_by.';
revoke all on function app.history_json_as(audit.events,boolean) from public;
grant execute on function app.history_json_as(audit.events,boolean) to healthcare_access;

create or replace function app.history_json(e audit.events) returns json
language sql stable
as $$
  select app.history_json_as(e, true)
$$;
comment on function app.history_json(audit.events) is
  'A change event as a history entry: version, action (create, update, delete, or import for app.imported_entry), at, changed_by (app user), door, values (null for a delete).';
revoke all on function app.history_json(audit.events) from public;
grant execute on function app.history_json(audit.events) to healthcare_access;

reset role;
