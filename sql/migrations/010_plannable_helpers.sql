-- Let the planner inline the JSON and paging helpers, and cache the admin
-- check's plan.
--
-- Profiling the benchmark (docs/benchmarks.md) showed PostgreSQL spending
-- most of a patient list on helpers rather than on the query: a
-- `language sql` function that cannot be inlined is parsed and planned
-- again every time the statement calling it runs, and a `set search_path`
-- clause (or a declared volatility lower than its body's) prevents
-- inlining. app.patient_json ran that way once per row, app.page once per
-- list, app.current_user_is_admin once per policy-filtered statement. After
-- this migration the patient list runs about twice as fast in pgbench.
--
-- * app.patient_json, app.doctor_json, app.mapping_json, app.page: `stable`
--   (json_build_object is stable: it formats timestamps by the session's
--   settings, so `immutable` was never quite true) and without their own
--   search_path, so they are inlined into the calling statement. They are
--   security invoker and only ever called from functions that pin
--   search_path; they name pg_catalog.json_build_object explicitly.
-- * app.normalize_gender: the same for an immutable helper of every patient
--   write.
-- * app.current_user_is_admin: plpgsql, so its lookup is planned once per
--   session; still a security definer owned by healthcare_auth with its
--   search_path pinned, reading app.users through policy users.select_auth.
--
-- Same results for every input; only how PostgreSQL plans them changes.

set local role healthcare_owner;

create or replace function app.patient_json(p app.patients) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', p.id, 'name', p.name, 'age', p.age, 'gender', p.gender,
                                      'user', p.owner_id, 'created_at', p.created_at, 'updated_at', p.updated_at)
$$;

create or replace function app.doctor_json(d app.doctors) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', d.id, 'name', d.name, 'specialization', d.specialization,
                                      'created_by', d.created_by, 'created_at', d.created_at, 'updated_at', d.updated_at)
$$;

create or replace function app.mapping_json(m app.patient_doctors) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', m.id, 'patient', m.patient_id, 'doctor', m.doctor_id, 'created_at', m.created_at)
$$;

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

reset role;

set local role healthcare_auth;

create or replace function app.current_user_is_admin() returns boolean
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  return coalesce((select u.is_admin from app.users u where u.id = app.current_user_id()), false);
end
$$;

reset role;

---- create above / drop below ----

set local role healthcare_owner;

create or replace function app.patient_json(p app.patients) returns json
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
  select json_build_object('id', p.id, 'name', p.name, 'age', p.age, 'gender', p.gender,
                           'user', p.owner_id, 'created_at', p.created_at, 'updated_at', p.updated_at)
$$;

create or replace function app.doctor_json(d app.doctors) returns json
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
  select json_build_object('id', d.id, 'name', d.name, 'specialization', d.specialization,
                           'created_by', d.created_by, 'created_at', d.created_at, 'updated_at', d.updated_at)
$$;

create or replace function app.mapping_json(m app.patient_doctors) returns json
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
  select json_build_object('id', m.id, 'patient', m.patient_id, 'doctor', m.doctor_id, 'created_at', m.created_at)
$$;

create or replace function app.page(p_count bigint, p_results json, p_path text, p_limit integer, p_offset integer, p_query text) returns json
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
  select json_build_object(
    'count', p_count,
    'next', case when p_offset + p_limit < p_count
                 then p_path || '?limit=' || p_limit || '&offset=' || (p_offset + p_limit) || coalesce(p_query, '') end,
    'previous', case when p_offset > 0
                     then p_path || '?limit=' || p_limit || '&offset=' || greatest(p_offset - p_limit, 0) || coalesce(p_query, '') end,
    'results', coalesce(p_results, '[]'::json))
$$;

create or replace function app.normalize_gender(p_gender text) returns text
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
  select case lower(btrim(coalesce(p_gender, '')))
    when 'm' then 'male' when 'male' then 'male' when 'man' then 'male'
    when 'f' then 'female' when 'female' then 'female' when 'woman' then 'female'
    when 'o' then 'other' when 'other' then 'other'
    when 'u' then 'unknown' when 'unknown' then 'unknown' when '' then 'unknown'
  end
$$;

reset role;

set local role healthcare_auth;

create or replace function app.current_user_is_admin() returns boolean
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select coalesce((select u.is_admin from app.users u where u.id = app.current_user_id()), false)
$$;

reset role;
