-- Shared helpers: JSON paging, input checks, gender mapping, and the touch and refuse triggers' functions.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_owner;

-- Keeps updated_at honest on every table that has one.
create or replace function app.touch_updated_at() returns trigger
language plpgsql volatile
as $$
begin
  new.updated_at := now();
  return new;
end
$$;
comment on function app.touch_updated_at() is
  'Trigger: sets updated_at on every update.';
revoke all on function app.touch_updated_at() from public;

-- Maps the old system's free-text gender onto the stored set; NULL when
-- unrecognised. No search_path clause (it names pg_catalog itself) so the
-- planner can inline it into every patient write.
create or replace function app.normalize_gender(p_gender text) returns text
language sql immutable
as $$
  select case pg_catalog.lower(pg_catalog.btrim(coalesce(p_gender, '')))
    when 'm' then 'male' when 'male' then 'male' when 'man' then 'male'
    when 'f' then 'female' when 'female' then 'female' when 'woman' then 'female'
    when 'o' then 'other' when 'other' then 'other'
    when 'u' then 'unknown' when 'unknown' then 'unknown' when '' then 'unknown'
  end
$$;
comment on function app.normalize_gender(text) is
  'Maps gender free text (case-insensitive m/male/man, f/female/woman, o/other, u/unknown/empty) to male|female|other|unknown; NULL when unrecognised.';
revoke all on function app.normalize_gender(text) from public;
grant execute on function app.normalize_gender(text) to healthcare_access;

create or replace function app.page_limit(p_limit integer) returns integer
language plpgsql immutable
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
comment on function app.page_limit(integer) is
  'Page size: 50 by default, at most 100.';
revoke all on function app.page_limit(integer) from public;
grant execute on function app.page_limit(integer) to healthcare_access;

create or replace function app.page_offset(p_offset integer) returns integer
language plpgsql immutable
as $$
begin
  if coalesce(p_offset, 0) < 0 then
    raise exception 'offset must not be negative' using errcode = 'RINVL', column = 'offset';
  end if;
  return coalesce(p_offset, 0);
end
$$;
comment on function app.page_offset(integer) is
  'Page offset: 0 by default, never negative.';
revoke all on function app.page_offset(integer) from public;
grant execute on function app.page_offset(integer) to healthcare_access;

-- A text a LIKE pattern matches literally: its wildcards and the escape
-- character escaped.
create or replace function app.like_literal(p_value text) returns text
language sql immutable
as $$
  select pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(p_value, '\', '\\'), '%', '\%'), '_', '\_')
$$;
comment on function app.like_literal(text) is
  'p_value with \, % and _ escaped, to put in a LIKE or ILIKE pattern as it is.';
revoke all on function app.like_literal(text) from public;
grant execute on function app.like_literal(text) to healthcare_access;

create or replace function app.url_encode(p_value text) returns text
language sql immutable strict
as $$
  select coalesce(string_agg(
           case when c ~ '^[A-Za-z0-9_.~-]$' then c
                else upper(regexp_replace(encode(convert_to(c, 'UTF8'), 'hex'), '(..)', '%\1', 'g'))
           end, '' order by n), '')
    from regexp_split_to_table(p_value, '') with ordinality as t(c, n)
$$;
comment on function app.url_encode(text) is
  'Percent-encodes a query parameter value for page links.';
revoke all on function app.url_encode(text) from public;
grant execute on function app.url_encode(text) to healthcare_access;

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
create or replace function app.page(p_count bigint, p_results json, p_path text, p_limit integer, p_offset integer, p_query text) returns json
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
comment on function app.page(bigint,json,text,integer,integer,text) is
  'Builds a list response: count, next, previous, results.';
revoke all on function app.page(bigint,json,text,integer,integer,text) from public;
grant execute on function app.page(bigint,json,text,integer,integer,text) to healthcare_access;

-- Field checks with messages a client can show. The limits live in the
-- columns' domains (app.patient_name and friends) and nowhere else: a value
-- is cast to its domain, and a violation becomes the field's RINVL, with
-- the limit read from the domain's constraint (only when refusing).
create or replace function app.check_text(p_value text, p_type regtype, p_field text) returns text
language plpgsql immutable
as $$
declare
  v_value text := btrim(p_value);
begin
  begin
    case p_type
      when 'app.patient_name'::regtype then perform v_value::app.patient_name;
      when 'app.patient_gender'::regtype then perform v_value::app.patient_gender;
      when 'app.doctor_name'::regtype then perform v_value::app.doctor_name;
      when 'app.doctor_specialization'::regtype then perform v_value::app.doctor_specialization;
    end case;
  exception when check_violation or not_null_violation then
    if v_value is null or v_value = '' then
      raise exception '% may not be blank', p_field using errcode = 'RINVL', column = p_field;
    end if;
    raise exception '% must be at most % characters', p_field,
      (select max(m[1]::integer) from pg_catalog.pg_constraint c, pg_catalog.regexp_matches(pg_catalog.pg_get_constraintdef(c.oid), '<= (\d+)', 'g') m
        where c.contypid = p_type)
      using errcode = 'RINVL', column = p_field;
  end;
  return v_value;
end
$$;
comment on function app.check_text(text,regtype,text) is
  'Trims a text field and checks it against its column''s domain (p_type); error RINVL naming p_field when blank or too long. The domain''s constraint is the only place the limit is written.';
revoke all on function app.check_text(text,regtype,text) from public;
grant execute on function app.check_text(text,regtype,text) to healthcare_access;

create or replace function app.check_age(p_age integer) returns integer
language plpgsql immutable
as $$
begin
  if p_age is null or p_age not between 0 and 150 then
    raise exception 'age must be between 0 and 150' using errcode = 'RINVL', column = 'age';
  end if;
  return p_age;
end
$$;
comment on function app.check_age(integer) is
  'Error RINVL (field age) unless 0 to 150.';
revoke all on function app.check_age(integer) from public;
grant execute on function app.check_age(integer) to healthcare_access;

-- Plain SQL with no settings, so the planner inlines it into the write.
create or replace function app.check_gender(p_gender text) returns text
language sql immutable
as $$
  select case when p_gender is null then 'unknown'
              else app.check_text(p_gender, 'app.patient_gender', 'gender') end
$$;
comment on function app.check_gender(text) is
  'Trims a gender as sent; ''unknown'' for NULL; error RINVL (field gender) when longer than app.patient_gender allows.';
revoke all on function app.check_gender(text) from public;
grant execute on function app.check_gender(text) to healthcare_access;

create or replace function app.gender_fhir(p_gender text) returns text
language sql immutable
as $$
  select coalesce(app.normalize_gender(p_gender),
    case when pg_catalog.regexp_replace(pg_catalog.lower(pg_catalog.btrim(p_gender)), '[^a-z?]', '', 'g') in
              ('?', 'na', 'none', 'notknown', 'notstated', 'notspecified', 'unspecified', 'undisclosed',
               'declined', 'declinedtoanswer', 'prefernottosay', 'prefernottoanswer', 'prefernottodisclose',
               'asked', 'askedbutdeclined', 'askeddeclined', 'withheld')
         then 'unknown' else 'other' end)
$$;
comment on function app.gender_fhir(text) is
  'FHIR administrative gender (male|female|other|unknown) of a gender as sent: app.normalize_gender''s spellings; a refusal to answer (prefer not to say, not stated, declined, n/a, ...) is unknown; any other text other. Never NULL.';
revoke all on function app.gender_fhir(text) from public;
grant execute on function app.gender_fhir(text) to healthcare_access;

-- TRUNCATE fires no row trigger: refuse it, so every removal is recorded.
create or replace function app.refuse_truncate() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception 'truncate is refused on % so that every removal is recorded: delete the rows', tg_table_name
    using errcode = 'RFRBD';
end
$$;
comment on function app.refuse_truncate() is
  'Trigger: refuses TRUNCATE of the audited tables (rows removed that way would leave no event).';
revoke all on function app.refuse_truncate() from public;

-- One trigger keeps both updated_at and version, so an update costs no
-- more triggers than before.
create or replace function app.touch_version() returns trigger
language plpgsql volatile
as $$
begin
  new.updated_at := now();
  new.version := old.version + 1;
  return new;
end
$$;
comment on function app.touch_version() is
  'Trigger: sets updated_at and the next version on every update.';
revoke all on function app.touch_version() from public;

-- JSON helpers. Like app.page and the *_json helpers of 005: no
-- search_path clause, so they inline into the lists that call them.
create or replace function app.json_append(p_doc json, p_more json) returns json
language sql immutable
as $$
  select (pg_catalog.left(p_doc::text, -1) || ', ' || pg_catalog.substr(p_more::text, 2))::json
$$;
comment on function app.json_append(json,json) is
  'Appends the members of the object p_more to the object p_doc, keeping the order of both.';
revoke all on function app.json_append(json,json) from public;
grant execute on function app.json_append(json,json) to healthcare_access;

-- Administrative acts never wait long for a lock (issue 24): an admin's
-- unlink, revocation or removal takes the row it changes with a short
-- lock_timeout, and when another session holds it, fails naming that
-- session. Once the wait has ended PostgreSQL no longer reports who blocked
-- it (pg_blocking_pids), so the holders are found from the row itself: its
-- xmax is the transaction (or the multixact of transactions) that locked
-- or changed it, and each transaction holds an exclusive lock on its own
-- id, which pg_locks ties to a pid.
create or replace function app.describe_sessions(p_pids integer[]) returns text
language sql stable
as $$
  select pg_catalog.string_agg(pg_catalog.format('pid %s (login %s, %s)', a.pid, coalesce(a.usename::text, 'unknown'),
                                                 coalesce('in a transaction since ' || a.xact_start::text,
                                                          'transaction start not visible to this login')),
                               '; ' order by a.pid)
    from pg_catalog.pg_stat_activity a
   where a.pid = any (p_pids) and a.pid <> pg_catalog.pg_backend_pid()
$$;
comment on function app.describe_sessions(integer[]) is
  'Names the sessions p_pids (pid, login, and the start of the open transaction where pg_stat_activity shows it to the caller) for an error saying who holds a lock; NULL when none is running.';
revoke all on function app.describe_sessions(integer[]) from public;
grant execute on function app.describe_sessions(integer[]) to healthcare_access;

create or replace function app.xact_holders(p_xmax xid) returns text
language plpgsql volatile
as $$
declare
  v_xids xid[] := array[p_xmax];
  v_names text;
begin
  if p_xmax is null or p_xmax::text = '0' then
    return null;
  end if;
  -- A row locked by several transactions names a multixact instead.
  begin
    v_xids := v_xids || array(select m.xid from pg_catalog.pg_get_multixact_members(p_xmax) m);
  exception when others then
    null;
  end;
  select app.describe_sessions(array(select l.pid from pg_catalog.pg_locks l
                                      where l.locktype = 'transactionid' and l.mode = 'ExclusiveLock' and l.granted
                                        and l.transactionid = any (v_xids)))
    into v_names;
  return v_names;
end
$$;
comment on function app.xact_holders(xid) is
  'The sessions (pid, login, transaction start when visible) of the transaction p_xmax, or of the members when it is a multixact, that are still running; NULL when none is. Names the blocker of a row lock after a lock timeout.';
revoke all on function app.xact_holders(xid) from public;
grant execute on function app.xact_holders(xid) to healthcare_access;

create or replace function app.lock_for_admin(p_table regclass, p_id bigint, p_mode text, p_what text,
                                              p_timeout text default '2s') returns boolean
language plpgsql volatile
as $$
declare
  v_previous text := pg_catalog.current_setting('lock_timeout');
  v_xmax xid;
  v_holders text;
  v_rows bigint;
begin
  if p_mode not in ('update', 'no key update') then
    raise exception 'app.lock_for_admin: mode % is neither update nor no key update', p_mode;
  end if;
  perform pg_catalog.set_config('lock_timeout', p_timeout, true);
  begin
    execute pg_catalog.format('select 1 from %s where id = $1 for %s', p_table, p_mode) using p_id;
    get diagnostics v_rows = row_count;
  exception when lock_not_available then
    perform pg_catalog.set_config('lock_timeout', v_previous, true);
    execute pg_catalog.format('select xmax from %s where id = $1', p_table) into v_xmax using p_id;
    v_holders := coalesce(app.xact_holders(v_xmax), 'a session that has ended since');
    raise exception '% is locked by another session: %', p_what, v_holders
      using errcode = 'lock_not_available',
            detail = 'waited ' || p_timeout || ' for ' || p_what || '; blocked by ' || v_holders,
            hint = 'try again once that transaction ends, or end it (pg_terminate_backend)';
  end;
  perform pg_catalog.set_config('lock_timeout', v_previous, true);
  return v_rows > 0;
end
$$;
comment on function app.lock_for_admin(regclass,bigint,text,text,text) is
  'Locks row p_id of p_table (FOR UPDATE or FOR NO KEY UPDATE) waiting at most p_timeout; when another session holds it, raises lock_not_available (55P03) naming that session (app.xact_holders). For administrative acts only: it names other people''s logins. True when the row exists and is visible.';
revoke all on function app.lock_for_admin(regclass,bigint,text,text,text) from public;
grant execute on function app.lock_for_admin(regclass,bigint,text,text,text) to healthcare_access;

reset role;
