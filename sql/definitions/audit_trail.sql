-- The audit schema: the events and seals tables' rules, partitions, sealing and pruning.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_audit;

grant select, insert on audit.events to healthcare_access;
grant insert on audit.events to healthcare_owner;
grant select on audit.events to healthcare_auditor;

grant usage on sequence audit.events_id_seq to healthcare_access, healthcare_owner;

grant select on audit.seals to healthcare_auditor;
-- `healthcare audit verify` reads where the chain starts (chain_from_seal);
-- the row holds only the sealer's place, nothing of any patient.
grant select on audit.seal_state to healthcare_auditor;

drop policy if exists insert_writers on audit.events;
create policy insert_writers on audit.events for insert to healthcare_access, healthcare_audit, healthcare_owner
  with check (true);
comment on policy insert_writers on audit.events is
  'Events are written by the api functions (healthcare_access), by the triggers on app tables whoever writes them, and by audit.prune.';

drop policy if exists select_readers on audit.events;
create policy select_readers on audit.events for select to healthcare_access, healthcare_audit, healthcare_auditor
  using (true);
comment on policy select_readers on audit.events is
  'The access log and event functions (healthcare_access) filter what they return; auditors read everything; the sealer hashes everything.';

drop policy if exists all_audit on audit.seal_state;
create policy all_audit on audit.seal_state for all to healthcare_audit using (true) with check (true);
comment on policy all_audit on audit.seal_state is
  'The sealer keeps its place.';

drop policy if exists select_auditor on audit.seal_state;
create policy select_auditor on audit.seal_state for select to healthcare_auditor using (true);
comment on policy select_auditor on audit.seal_state is
  'Auditors read where the chain starts, to verify it.';

drop policy if exists all_audit on audit.seals;
create policy all_audit on audit.seals for all to healthcare_audit using (true) with check (true);
comment on policy all_audit on audit.seals is
  'The sealer writes seals.';

drop policy if exists select_auditor on audit.seals;
create policy select_auditor on audit.seals for select to healthcare_auditor using (true);
comment on policy select_auditor on audit.seals is
  'Auditors read the chain.';

create or replace trigger events_no_truncate before truncate on audit.events
  for each statement execute function audit.refuse_change();

create or replace trigger events_append_only before update or delete on audit.events
  for each row execute function audit.refuse_change();

create or replace trigger seals_no_truncate before truncate on audit.seals
  for each statement execute function audit.refuse_change();

create or replace trigger seals_append_only before update or delete on audit.seals
  for each row execute function audit.refuse_change();

create or replace function audit.refuse_change() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception 'audit events are append-only' using errcode = 'RFRBD';
end
$$;
comment on function audit.refuse_change() is
  'Trigger: refuses UPDATE, DELETE and TRUNCATE of audit events, to everyone.';
revoke all on function audit.refuse_change() from public;

create or replace function audit.create_partitions(p_from date, p_months integer) returns integer
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
comment on function audit.create_partitions(date,integer) is
  'Creates the monthly partitions of p_months months from p_from''s month, skipping those that exist; returns how many it made.';
revoke all on function audit.create_partitions(date,integer) from public;

-- audit.current_until() and audit.current_from(), where app.audit may
-- write straight into audit.events_current, are constants of the current
-- month: migration 013 made them and audit.roll_current below rewrites
-- them when the month turns. They are data, not definitions, so no file
-- holds them: applying a file would set them back to the month it was
-- written in.

-- When the month changes, the current partition takes its month's name and
-- the new month's partition becomes audit.events_current. Until this runs
-- (the next seal), app.audit writes through the parent, which routes by
-- date: no event is refused at the turn of the month.
create or replace function audit.roll_current(p_now timestamptz default now()) returns boolean
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
comment on function audit.roll_current(timestamp with time zone) is
  'At a new month: renames audit.events_current to its month and the new month''s partition to events_current, and moves audit.current_until on. Called by audit.seal.';
revoke all on function audit.roll_current(timestamp with time zone) from public;

-- The line an event contributes to its seal is the row's own text form
-- (one C call, unambiguous composite syntax) under the output settings
-- audit.seal() fixes; `healthcare audit verify` sends the same expression
-- under the same settings in its own query.
create or replace function audit.seal() returns json
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
    -- The xact index is a BRIN: a page range it has not summarized yet
    -- matches every search, so between two vacuums each seal would read
    -- every event written since the last vacuum rather than since the
    -- last seal. Summarize the ranges filled since, here.
    perform pg_catalog.brin_summarize_new_values(i.indexrelid)
       from pg_catalog.pg_index i
       join pg_catalog.pg_class c on c.oid = i.indexrelid
       join pg_catalog.pg_am a on a.oid = c.relam
      where i.indrelid = 'audit.events_current'::regclass and a.amname = 'brin';
    perform pg_catalog.set_config('lock_timeout', '0', true);
  exception when lock_not_available then
    perform pg_catalog.set_config('lock_timeout', '0', true);
  end;
  -- At most a million events per seal, so one seal's text stays far below
  -- PostgreSQL's 1 GB limit after a long pause; the next seal goes on.
  -- Counted first (no sort), capped only when there are more.
  if (select count(*) from (select from audit.events e where e.xact >= v_from and e.xact < v_to limit 1000001) c) > 1000000 then
    select e.xact into v_cap
      from audit.events e
     where e.xact >= v_from and e.xact < v_to
     order by e.xact offset 1000000 limit 1;
    if v_cap is not null and v_cap > v_from then
      v_to := v_cap;
    end if;
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
revoke all on function audit.seal() from public;
grant execute on function audit.seal() to healthcare_api, healthcare_owner;

-- Dropping a partition takes an exclusive lock on it and on audit.events,
-- which any open read of the trail holds off. A DROP that simply waited
-- would queue every later reader of the trail (the REST server's access
-- logs and histories) behind it for as long as that read stays open. So
-- the prune asks for the locks without queueing (NOWAIT), again and again
-- for at most p_lock_wait, and then gives up naming the sessions that hold
-- the trail; readers never wait behind it.
create or replace function audit.prune(p_older_than interval, p_now timestamptz default now()) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_cutoff timestamptz := p_now - p_older_than;
  v_part record;
  v_parts regclass[] := '{}';
  v_names text[] := '{}';
  v_dropped text[] := '{}';
  v_max_xact bigint;
  v_part_max bigint;
  v_lock_wait interval := coalesce(nullif(pg_catalog.current_setting('audit.prune_lock_wait', true), '')::interval,
                                   interval '3 seconds');
  v_deadline timestamptz := pg_catalog.clock_timestamp() + v_lock_wait;
  v_holders text;
  v_previous text := pg_catalog.current_setting('lock_timeout');
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
    v_parts := v_parts || v_part.rel;
    v_names := v_names || v_part.relname::text;
  end loop;
  if pg_catalog.cardinality(v_parts) > 0 then
    loop
      begin
        execute pg_catalog.format('lock table only audit.events, %s in access exclusive mode nowait',
                                  (select pg_catalog.string_agg('only ' || r::text, ', ') from pg_catalog.unnest(v_parts) r));
        exit;
      exception when lock_not_available then
        if pg_catalog.clock_timestamp() >= v_deadline then
          -- Inline rather than app.describe_sessions: healthcare_audit has
          -- no use of schema app.
          select pg_catalog.string_agg(pg_catalog.format('pid %s (login %s, %s)', a.pid, coalesce(a.usename::text, 'unknown'),
                                                         coalesce('in a transaction since ' || a.xact_start::text,
                                                                  'transaction start not visible to this login')),
                                       '; ' order by a.pid)
            into v_holders
            from pg_catalog.pg_stat_activity a
           where a.pid <> pg_catalog.pg_backend_pid()
             and a.pid in (select l.pid from pg_catalog.pg_locks l
                            where l.locktype = 'relation' and l.granted
                              and l.database = (select d.oid from pg_catalog.pg_database d where d.datname = pg_catalog.current_database())
                              and l.relation = any (array['audit.events'::regclass::oid] || v_parts::oid[]));
          raise exception 'the audit trail is held open by another session: %', coalesce(v_holders, 'a session that has ended since')
            using errcode = 'lock_not_available',
                  detail = 'waited ' || v_lock_wait || ' to drop ' || pg_catalog.array_to_string(v_names, ', '),
                  hint = 'run the prune again once that transaction ends, or end it (pg_terminate_backend)';
        end if;
        perform pg_catalog.pg_sleep(0.05);
      end;
    end loop;
  end if;
  -- Anything else the drops need is waited for briefly, never for long.
  perform pg_catalog.set_config('lock_timeout', '1s', true);
  foreach v_part.rel in array v_parts loop
    execute format('select max(xact) from %s', v_part.rel) into v_part_max;
    v_max_xact := greatest(v_max_xact, v_part_max);
    execute format('drop table %s', v_part.rel);
  end loop;
  perform pg_catalog.set_config('lock_timeout', v_previous, true);
  v_dropped := v_names;
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
comment on function audit.prune(interval, timestamptz) is
  'Drops the monthly partitions whose every event is older than p_older_than (at least a month) before p_now and records the prune as an event. It never queues for the trail: it asks for its locks without waiting, for at most audit.prune_lock_wait (default 3 seconds), then fails (55P03) naming the sessions holding the trail. Security definer (owner healthcare_audit); the privileged connection runs it (`healthcare audit prune`).';
revoke all on function audit.prune(interval, timestamptz) from public;
grant execute on function audit.prune(interval, timestamptz) to healthcare_owner;

reset role;
