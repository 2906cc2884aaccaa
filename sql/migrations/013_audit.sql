-- The audit trail: who accessed which patient, when, from where, through
-- which door, and what changed.
--
-- Every event is written in the same transaction as the access it records
-- (no record, no data):
--   * writes to app.patients and app.patient_doctors by row triggers, for
--     every door and every code path (before and after values);
--   * reads and lists by the api functions and the records views' functions;
--   * refused attempts (an id that exists but is not the caller's, or that
--     does not exist; a forbidden write) by the api functions, which then
--     return a refusal object instead of raising, so the refusal and its
--     event commit together. The REST server turns the object into the
--     same error it always answered (database.Call); a psql user sees it as
--     the function's JSON.
--
-- Append-only: no runtime role may update, delete or truncate events, and
-- triggers refuse it even to the table's owner. Old months go only by
-- dropping whole partitions (audit.prune). Committed events are sealed in
-- order into a hash chain (audit.seal), verified by `healthcare audit
-- verify`.

do $$
declare
  v_role text;
begin
  foreach v_role in array array['healthcare_auditor', 'healthcare_audit']
  loop
    if not exists (select from pg_catalog.pg_roles where rolname = v_role) then
      begin
        execute format('create role %I nologin nosuperuser nocreatedb nocreaterole noinherit nobypassrls', v_role);
      exception when duplicate_object or unique_violation then
        null;
      end;
    end if;
  end loop;
end
$$;

grant healthcare_audit to healthcare_owner;
do $$
begin
  if not (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then
    execute format('grant healthcare_audit to %I', current_user);
  end if;
end
$$;

create schema audit authorization healthcare_owner;
comment on schema audit is
  'The audit trail: one event per access to patient data, append-only, partitioned by month and sealed into a hash chain.';
grant usage, create on schema audit to healthcare_audit;
grant usage on schema audit to healthcare_access, healthcare_auditor, healthcare_api;
-- healthcare_access owns the api functions it (re)defines below.
grant usage on schema api to healthcare_access;

set local role healthcare_audit;

create sequence audit.events_id_seq;
comment on sequence audit.events_id_seq is 'Event ids, in the order events were written.';

create table audit.events (
  id bigint not null default nextval('audit.events_id_seq'),
  at timestamptz not null default now(),
  xact bigint not null default (pg_catalog.pg_current_xact_id()::text::bigint),
  user_id bigint,
  db_role name not null default session_user,
  door text not null
    constraint events_door_check check (door in ('rest', 'psql', 'admin')),
  action text not null
    constraint events_action_check check (action in ('read', 'list', 'create', 'update', 'delete', 'prune')),
  outcome text not null
    constraint events_outcome_check check (outcome in ('ok', 'not_found', 'forbidden')),
  patient_id bigint,
  patients bigint[],
  request_id text,
  client_addr inet,
  detail jsonb,
  primary key (id, at)
) partition by range (at);

comment on table audit.events is
  'One event per access to patient data, written in the same transaction as the access. Append-only (trigger events_append_only); partitioned by month.';
comment on column audit.events.id is 'Event id, increasing in the order events were written.';
comment on column audit.events.at is 'When the accessing transaction started.';
comment on column audit.events.xact is 'Id of the transaction that wrote the event; seals cover ranges of it.';
comment on column audit.events.user_id is 'The app user (NULL when anonymous or over the privileged connection). No foreign key: events outlive accounts.';
comment on column audit.events.db_role is 'The database login (session_user): the server''s login for REST, the person''s for psql.';
comment on column audit.events.door is 'rest, psql, or admin (the privileged connection).';
comment on column audit.events.action is 'read (one patient), list, create, update, delete, or prune (of the trail itself).';
comment on column audit.events.outcome is 'ok, not_found (no such record), or forbidden (it exists but is not the caller''s, or may not be changed by them).';
comment on column audit.events.patient_id is 'The patient read or changed (a mapping''s patient for mapping events).';
comment on column audit.events.patients is 'For lists: the ids of the patients returned.';
comment on column audit.events.request_id is 'The REST server''s request id (X-Request-Id); NULL for psql.';
comment on column audit.events.client_addr is 'The client address the server saw (through trusted proxies), or inet_client_addr() for psql.';
comment on column audit.events.detail is 'What was accessed and how: the object, its before and after values for writes; personal data.';

create index events_patient_idx on audit.events (patient_id, id) where patient_id is not null;
-- A small pending list: the insert that fills it merges it into the index,
-- and with the default 4 MB that merge could hold one request for seconds.
create index events_patients_idx on audit.events using gin (patients) with (gin_pending_list_limit = 256)
  where patients is not null;
create index events_xact_idx on audit.events using brin (xact) with (pages_per_range = 16);

create table audit.events_default partition of audit.events default;
comment on table audit.events_default is
  'Events outside every monthly partition (should stay empty: audit.seal creates the months ahead).';

create function audit.refuse_change() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception 'audit events are append-only' using errcode = 'RFRBD';
end
$$;
comment on function audit.refuse_change() is 'Trigger: refuses UPDATE, DELETE and TRUNCATE of audit events, to everyone.';

create trigger events_append_only before update or delete on audit.events
  for each row execute function audit.refuse_change();
create trigger events_no_truncate before truncate on audit.events
  for each statement execute function audit.refuse_change();
create trigger events_no_truncate before truncate on audit.events_default
  for each statement execute function audit.refuse_change();

create table audit.seal_state (
  singleton boolean primary key default true
    constraint seal_state_singleton_check check (singleton),
  next_xact bigint not null,
  current_month date not null,
  chain_from_seal bigint not null default 1
);
comment on table audit.seal_state is
  'Where the next seal starts, and which month audit.events_current holds. Its row lock lets one sealer at a time work, whatever the number of server copies; no login can lock it.';
comment on column audit.seal_state.singleton is 'Always true: the table holds one row.';
comment on column audit.seal_state.next_xact is 'xact_from of the next seal.';
comment on column audit.seal_state.current_month is 'The month of audit.events_current (audit.roll_current renames it when the month ends).';
comment on column audit.seal_state.chain_from_seal is
  'The first seal `healthcare audit verify` can recheck: audit.prune moves it past the seals whose events it dropped.';
insert into audit.seal_state (next_xact, current_month) values (0, date_trunc('month', now())::date);

create function audit.create_partitions(p_from date, p_months integer) returns integer
language plpgsql volatile
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
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
comment on function audit.create_partitions(date, integer) is
  'Creates the monthly partitions of p_months months from p_from''s month, skipping those that exist; returns how many it made.';

-- A year back (for imported or seeded history) and three months ahead.
select audit.create_partitions((now() - interval '12 months')::date, 16);

-- Where app.audit may write directly: the end of audit.events_current's
-- month. An insert through the partitioned parent costs more with every
-- partition it has (PostgreSQL 15 sets up routing to all of them); one
-- straight into the current month's partition does not. Redefined by
-- audit.roll_current; an immutable constant, folded into cached plans.
create function audit.current_until() returns timestamptz
language sql immutable
as $$ select '2000-01-01 00:00:00+00'::timestamptz $$;
comment on function audit.current_until() is
  'The end of the month audit.events_current holds (redefined by audit.roll_current when the month changes).';
create function audit.current_from() returns timestamptz
language sql immutable
as $$ select '2000-01-01 00:00:00+00'::timestamptz $$;
comment on function audit.current_from() is
  'The start of the month audit.events_current holds (redefined by audit.roll_current when the month changes).';

-- When the month changes, the current partition takes its month's name and
-- the new month's partition becomes audit.events_current. Until this runs
-- (the next seal), app.audit writes through the parent, which routes by
-- date: no event is refused at the turn of the month.
create function audit.roll_current(p_now timestamptz default now()) returns boolean
language plpgsql volatile
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
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
comment on function audit.roll_current(timestamptz) is
  'At a new month: renames audit.events_current to its month and the new month''s partition to events_current, and moves audit.current_until on. Called by audit.seal.';
select audit.roll_current();

create table audit.seals (
  id bigint generated always as identity primary key,
  xact_from bigint not null,
  xact_to bigint not null,
  events bigint not null,
  first_event bigint,
  last_event bigint,
  prev_hash bytea,
  hash bytea not null,
  sealed_at timestamptz not null default now(),
  constraint seals_range_check check (xact_from < xact_to)
);
comment on table audit.seals is
  'The hash chain: each seal covers the events of the transactions with ids in [xact_from, xact_to), all finished when it was made, and the previous seal''s hash.';
comment on column audit.seals.xact_from is 'First transaction id covered; equal to the previous seal''s xact_to.';
comment on column audit.seals.xact_to is 'Transaction ids below this were all finished when the seal was made.';
comment on column audit.seals.events is 'Number of events covered.';
comment on column audit.seals.first_event is 'Smallest event id covered.';
comment on column audit.seals.last_event is 'Largest event id covered.';
comment on column audit.seals.prev_hash is 'The previous seal''s hash (NULL for the first).';
comment on column audit.seals.hash is 'sha256(prev_hash || the covered events'' lines in id order, one per line).';
comment on column audit.seals.sealed_at is 'When the seal was made.';

create trigger seals_append_only before update or delete on audit.seals
  for each row execute function audit.refuse_change();
create trigger seals_no_truncate before truncate on audit.seals
  for each statement execute function audit.refuse_change();



-- The line an event contributes to its seal is the row's own text form
-- (one C call, unambiguous composite syntax) under the output settings
-- audit.seal() fixes; `healthcare audit verify` sends the same expression
-- under the same settings in its own query.
create function audit.seal() returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set extra_float_digits = 1
as $$
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
comment on function audit.seal() is
  'Seals the events of every transaction finished since the last seal into the hash chain; returns the new hash. One sealer at a time (row lock on audit.seal_state). Security definer (owner healthcare_audit); the server calls it every AUDIT_SEAL_INTERVAL.';

reset role;

-- Who may do what with the trail.
alter table audit.events enable row level security;
alter table audit.events force row level security;
alter table audit.seals enable row level security;
alter table audit.seals force row level security;
alter table audit.seal_state enable row level security;
alter table audit.seal_state force row level security;

set local role healthcare_audit;

grant insert on audit.events to healthcare_access, healthcare_owner;
grant usage on sequence audit.events_id_seq to healthcare_access, healthcare_owner;
grant select on audit.events to healthcare_access, healthcare_auditor;
grant select on audit.seals to healthcare_auditor;

create policy insert_writers on audit.events for insert to healthcare_access, healthcare_owner, healthcare_audit
  with check (true);
comment on policy insert_writers on audit.events is
  'Events are written by the api functions (healthcare_access), by the triggers on app tables whoever writes them, and by audit.prune.';
create policy select_readers on audit.events for select to healthcare_access, healthcare_auditor, healthcare_audit
  using (true);
comment on policy select_readers on audit.events is
  'The access log and event functions (healthcare_access) filter what they return; auditors read everything; the sealer hashes everything.';
create policy all_audit on audit.seals for all to healthcare_audit using (true) with check (true);
comment on policy all_audit on audit.seals is 'The sealer writes seals.';
create policy select_auditor on audit.seals for select to healthcare_auditor using (true);
comment on policy select_auditor on audit.seals is 'Auditors read the chain.';
create policy all_audit on audit.seal_state for all to healthcare_audit using (true) with check (true);
comment on policy all_audit on audit.seal_state is 'The sealer keeps its place.';

revoke all on function audit.seal(), audit.create_partitions(date, integer),
  audit.refuse_change(), audit.roll_current(timestamptz), audit.current_until(), audit.current_from() from public;
grant execute on function audit.current_until(), audit.current_from() to healthcare_access, healthcare_owner;
grant execute on function audit.seal() to healthcare_api, healthcare_owner;

reset role;

-- The triggers write events whoever writes, the owner role over the
-- privileged connection included: it needs the identity function too.
set local role healthcare_auth;
grant execute on function app.current_user_id() to healthcare_owner;
reset role;

-- Writing events. (app.audit and app.refuse survive a migration down, as
-- a no-op and as the old raise, hence `or replace`.)
set local role healthcare_owner;

-- plpgsql, so its catalog lookups are planned once per session: it runs
-- for every event.
create function app.current_door() returns text
language plpgsql stable
as $$
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
comment on function app.current_door() is
  'The door of the current session: rest (the server''s login), psql (a personal login) or admin (a superuser or the privileged connection).';

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
comment on function app.audit_as(bigint, text, text, bigint, bigint[], jsonb) is
  'Writes one audit event for the app user p_user, already identified by the caller (door, request id and client address from the session).';

create or replace function app.audit(p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb)
returns void
language plpgsql volatile
as $$
begin
  perform app.audit_as(app.current_user_id(), p_action, p_outcome, p_patient, p_patients, p_detail);
end
$$;
comment on function app.audit(text, text, bigint, bigint[], jsonb) is
  'Writes one audit event for the caller (identity, door, request id and client address from the session).';

-- Whether a patient exists at all, for telling not_found from forbidden in
-- refused attempts. Security definer (owner healthcare_reporter, whose
-- policy select_reporter sees every row's id and owner).
create function app.patient_exists(p_id bigint) returns boolean
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select exists (select from app.patients p where p.id = p_id)
$$;
comment on function app.patient_exists(bigint) is
  'True when the patient exists, whoever owns it; only for recording refused attempts. Security definer (owner healthcare_reporter, policy patients.select_reporter).';

-- A refused attempt: the event, then the answer the REST server turns into
-- its error (database.Call), instead of an exception that would roll the
-- event back.
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

-- Writes, for every door: row triggers on the tables.
create function app.audit_patient_change() returns trigger
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
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
comment on function app.audit_patient_change() is 'Trigger: an audit event for every insert, update and delete of a patient.';

create function app.audit_mapping_change() returns trigger
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
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
comment on function app.audit_mapping_change() is 'Trigger: an audit event for every mapping created or removed (with its patient).';

create trigger patients_audit after insert or update or delete on app.patients
  for each row execute function app.audit_patient_change();
create trigger patient_doctors_audit after insert or update or delete on app.patient_doctors
  for each row execute function app.audit_mapping_change();

-- TRUNCATE fires no row trigger: refuse it, so every removal is recorded.
create function app.refuse_truncate() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception 'truncate is refused on % so that every removal is recorded: delete the rows', tg_table_name
    using errcode = 'RFRBD';
end
$$;
comment on function app.refuse_truncate() is 'Trigger: refuses TRUNCATE of the audited tables (rows removed that way would leave no event).';
create trigger patients_no_truncate before truncate on app.patients
  for each statement execute function app.refuse_truncate();
create trigger patient_doctors_no_truncate before truncate on app.patient_doctors
  for each statement execute function app.refuse_truncate();

revoke all on function app.current_door(), app.audit(text, text, bigint, bigint[], jsonb),
  app.audit_as(bigint, text, text, bigint, bigint[], jsonb),
  app.refuse(text, bigint, jsonb, text, text, text), app.audit_patient_change(), app.audit_mapping_change(),
  app.refuse_truncate() from public;
grant execute on function app.current_door(), app.audit(text, text, bigint, bigint[], jsonb),
  app.audit_as(bigint, text, text, bigint, bigint[], jsonb),
  app.refuse(text, bigint, jsonb, text, text, text), app.audit_patient_change(), app.audit_mapping_change()
  to healthcare_access, healthcare_owner;
grant execute on function app.patient_exists(bigint) to healthcare_access;
alter function app.patient_exists(bigint) owner to healthcare_reporter;

reset role;

-- Reads and refusals in the api functions. Same signatures, owners
-- (healthcare_access, security definer) and grants; reads become volatile
-- because they write their event.
set local role healthcare_access;

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

create or replace function api.update_patient(p_id bigint, p_name text default null, p_age integer default null, p_gender text default null) returns json
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

create or replace function api.delete_patient(p_id bigint) returns json
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

create or replace function api.update_doctor(p_id bigint, p_name text default null, p_specialization text default null) returns json
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

create or replace function api.delete_doctor(p_id bigint) returns json
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
begin
  perform app.require_user();
  delete from app.patient_doctors m where m.id = p_id returning m.id into v_id;
  if v_id is null then
    return app.refuse('delete', null, pg_catalog.jsonb_build_object('object', 'mapping', 'mapping', p_id), 'RNTFD', 'mapping not found');
  end if;
  return json_build_object('id', v_id);
end
$$;

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

-- The psql door's reads: the records views' functions record what they
-- return (a view over a volatile function runs it once per query).
create or replace function app.visible_patients()
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

reset role;


-- Reading the trail.
set local role healthcare_owner;

create function app.event_json(e audit.events) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', e.id, 'at', e.at, 'user', e.user_id, 'db_role', e.db_role, 'door', e.door,
                                      'action', e.action, 'outcome', e.outcome, 'patient', e.patient_id,
                                      'patients', e.patients, 'request_id', e.request_id, 'client_addr', e.client_addr,
                                      'detail', e.detail)
$$;
comment on function app.event_json(audit.events) is 'An audit event as the REST API shows it.';
revoke all on function app.event_json(audit.events) from public;
grant execute on function app.event_json(audit.events) to healthcare_access;

reset role;

set local role healthcare_access;

create function api.patient_access_log(p_patient_id bigint, p_limit integer default null, p_offset integer default null) returns json
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
  -- Refused attempts by others are for admins; the owner sees every
  -- access that happened and their own attempts.
  select count(*) into v_count
    from audit.events e
   where (e.patient_id = p_patient_id or e.patients @> array[p_patient_id])
     and (v_admin or e.outcome = 'ok' or e.user_id = v_uid);
  -- Owners see who (user and door), when and what was done, but not other
  -- people's logins, addresses and request ids, nor the other patients a
  -- list returned (an admin's list names everyone's).
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
comment on function api.patient_access_log(bigint, integer, integer) is
  'GET /api/patients/<id>/access-log/: who accessed the patient, newest first (owner and admins; refused attempts by others for admins only). Reading it is itself recorded.';

create function api.audit_events(p_patient bigint default null, p_user bigint default null, p_since timestamptz default null,
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
comment on function api.audit_events(bigint, bigint, timestamptz, integer, integer) is
  'GET /api/audit/events/?patient=&user=&since=: the trail, newest first (admins only).';

revoke all on function api.patient_access_log(bigint, integer, integer),
  api.audit_events(bigint, bigint, timestamptz, integer, integer) from public;
grant execute on function api.patient_access_log(bigint, integer, integer),
  api.audit_events(bigint, bigint, timestamptz, integer, integer) to healthcare_api, healthcare_user;

reset role;

-- Retention: old months go only by dropping whole partitions.
set local role healthcare_audit;

create function audit.prune(p_older_than interval) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
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
comment on function audit.prune(interval) is
  'Drops the monthly partitions whose every event is older than p_older_than (at least a month) and records the prune as an event. Security definer (owner healthcare_audit); the privileged connection runs it (`healthcare audit prune`).';
revoke all on function audit.prune(interval) from public;
grant execute on function audit.prune(interval) to healthcare_owner;

reset role;
---- create above / drop below ----

-- Without the trail the api functions answer as before: app.audit writes
-- nothing and app.refuse raises the error it used to return.
set local role healthcare_owner;
create or replace function app.audit(p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb)
returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
end
$$;
create or replace function app.audit_as(p_user bigint, p_action text, p_outcome text, p_patient bigint, p_patients bigint[], p_detail jsonb)
returns void
language plpgsql volatile
as $$
begin
end
$$;
create or replace function app.refuse(p_action text, p_patient bigint, p_detail jsonb, p_code text, p_message text, p_field text default null)
returns json
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception '%', p_message using errcode = p_code, column = coalesce(p_field, '');
end
$$;
drop trigger patients_audit on app.patients;
drop trigger patient_doctors_audit on app.patient_doctors;
drop trigger patients_no_truncate on app.patients;
drop trigger patient_doctors_no_truncate on app.patient_doctors;
drop function app.audit_patient_change(), app.audit_mapping_change(), app.current_door(), app.refuse_truncate();
reset role;
set local role healthcare_reporter;
drop function app.patient_exists(bigint);
reset role;
set local role healthcare_access;
drop function api.patient_access_log(bigint, integer, integer), api.audit_events(bigint, bigint, timestamptz, integer, integer);
reset role;
set local role healthcare_owner;
drop function app.event_json(audit.events);
reset role;
revoke usage on schema api from healthcare_access;
drop schema audit cascade;
