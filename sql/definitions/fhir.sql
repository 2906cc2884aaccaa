-- The FHIR R4 face (issue 26): resources and Bundles built from the same rows, under the same policies, recorded in the same trail.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.
--
-- Every interaction is one function of schema fhir, a security definer
-- owned by healthcare_access like the api functions, so the policies decide
-- what it sees. The REST server's /fhir routes call them with the request's
-- identity; a psql login calls the same functions and gets the same JSON
-- (docs/fhir.md has the mapping). Bundles hold absolute URLs: the base is
-- the last argument, and over psql the setting app.fhir_base supplies it.
-- Every read, search, create, update and delete is an audit event whose
-- detail says "via": "fhir" (writes through the row triggers, which read
-- app.via, set here for the one statement).
--
-- The Patient, Practitioner and CareTeam searches run on generic plans
-- (plan_cache_mode = force_generic_plan): left to choose, PL/pgSQL planned
-- their statements, policies and all, again on every call, which cost more
-- than running them. So they write their conditions for a plan made once
-- per session: the caller's id on its index, _id as a range of the primary
-- key, and no optional condition where an index has to be chosen. The
-- other searches and histories keep custom plans.

set local role healthcare_owner;

-- The canonical URLs of this server's extensions, and of its code
-- systems: fixed, so a resource is the same at every door and base.
create or replace function fhir.canonical(p_name text) returns text
language sql immutable
as $$
  select 'https://healthcare.example.org/fhir/StructureDefinition/' || p_name
$$;
comment on function fhir.canonical(text) is
  'The canonical URL of one of this server''s definitions (extensions patient-gender-text and patient-age, docs/fhir.md): the same whatever base the server answers at.';
revoke all on function fhir.canonical(text) from public;
grant execute on function fhir.canonical(text) to healthcare_access;

-- JSON's own timestamp output (ISO 8601 whatever DateStyle says, and much
-- cheaper than to_char) of the UTC time.
create or replace function fhir.instant(p_at timestamptz) returns text
language sql stable
as $$
  select pg_catalog.btrim(pg_catalog.to_json(p_at at time zone 'UTC')::text, '"') || 'Z'
$$;
comment on function fhir.instant(timestamp with time zone) is
  'A FHIR instant in UTC (fractional seconds as stored, trailing zeros left out), as meta.lastUpdated carries it (the server''s Last-Modified is read from it); the same whatever the session''s DateStyle and TimeZone.';
revoke all on function fhir.instant(timestamp with time zone) from public;
grant execute on function fhir.instant(timestamp with time zone) to healthcare_access;

-- Why a base URL is refused. Stable, not immutable, so no plan folds a
-- call in ahead of the check that makes it (and fhir.base stays inlinable).
create or replace function fhir.refuse_base(p_base text) returns text
language plpgsql stable
as $$
begin
  if p_base is null then
    raise exception 'a Bundle needs the server''s base URL: pass it, or set app.fhir_base (for example set app.fhir_base = ''https://records.example.org/fhir'')'
      using errcode = 'RINVL', column = 'base';
  end if;
  raise exception 'the FHIR base URL must be an absolute http(s) URL without query or fragment' using errcode = 'RINVL', column = 'base';
end
$$;
comment on function fhir.refuse_base(text) is
  'Raises RINVL (column base) for a missing or malformed FHIR base URL; fhir.base calls it.';
revoke all on function fhir.refuse_base(text) from public;
grant execute on function fhir.refuse_base(text) to healthcare_access;

-- One expression, which the searches' PL/pgSQL inlines (no call per search).
create or replace function fhir.base(p_base text) returns text
language sql stable
as $$
  select case when coalesce(nullif(pg_catalog.btrim(p_base), ''), nullif(pg_catalog.current_setting('app.fhir_base', true), ''))
                   operator(pg_catalog.~) '^https?://[^\s/?#]+(/[^\s?#]*)?$'
              then pg_catalog.rtrim(coalesce(nullif(pg_catalog.btrim(p_base), ''), nullif(pg_catalog.current_setting('app.fhir_base', true), '')), '/')
              else fhir.refuse_base(coalesce(nullif(pg_catalog.btrim(p_base), ''), nullif(pg_catalog.current_setting('app.fhir_base', true), ''))) end
$$;
comment on function fhir.base(text) is
  'The absolute base URL Bundles link to: p_base (the server passes its public base) or else the setting app.fhir_base; error RINVL when neither is set or it is not an absolute http(s) URL without query or fragment.';
revoke all on function fhir.base(text) from public;
grant execute on function fhir.base(text) to healthcare_access;

create or replace function fhir.page_count(p_count integer) returns integer
language plpgsql immutable
as $$
begin
  if p_count is null then
    return 50;
  elsif p_count < 0 then
    raise exception '_count must not be negative' using errcode = 'RINVL', column = '_count';
  end if;
  return least(p_count, 100);
end
$$;
comment on function fhir.page_count(integer) is
  'A search''s page size: _count, 50 by default, at most 100 like the REST lists; 0 asks for the total only.';
revoke all on function fhir.page_count(integer) from public;
grant execute on function fhir.page_count(integer) to healthcare_access;

-- One entry of a searchset Bundle, as JSON text: the searches join their
-- entries with string_agg and fhir.page_bundle parses the Bundle once.
-- Building each entry as json would parse it once more. The builders are
-- one concat() each: a chain of || is one expression step per piece, which
-- the executor sets up again for every statement.
create or replace function fhir.match(p_full_url text, p_resource text) returns text
language sql stable
as $$
  select pg_catalog.concat('{"fullUrl" : ', pg_catalog.to_json(p_full_url), ', "resource" : ', p_resource, ', "search" : {"mode" : "match"}}')
$$;
comment on function fhir.match(text,text) is
  'A searchset Bundle entry as JSON text: fullUrl, the resource (JSON text), search.mode match.';
revoke all on function fhir.match(text,text) from public;
grant execute on function fhir.match(text,text) to healthcare_access;

-- A page of a search or history: the Bundle with its self link and, when
-- there are more, next and previous (_count=0 has neither). One
-- expression, so PL/pgSQL inlines it into the caller's plan; a SQL
-- function it cannot inline is parsed and planned in every transaction.
create or replace function fhir.page_bundle(p_type text, p_total bigint, p_url text, p_count integer, p_offset integer, p_entries text)
returns json
language sql stable
as $$
  select pg_catalog.concat(
           '{"resourceType" : "Bundle", "type" : ', pg_catalog.to_json(p_type), ', "total" : ', p_total,
           ', "link" : [{"relation" : "self", "url" : ',
           pg_catalog.to_json(pg_catalog.concat(p_url, '_count=', p_count, '&_offset=', p_offset)), '}',
           case when p_count > 0 and p_offset + p_count < p_total
                then pg_catalog.concat(', {"relation" : "next", "url" : ',
                       pg_catalog.to_json(pg_catalog.concat(p_url, '_count=', p_count, '&_offset=', p_offset + p_count)), '}') end,
           case when p_count > 0 and p_offset > 0
                then pg_catalog.concat(', {"relation" : "previous", "url" : ',
                       pg_catalog.to_json(pg_catalog.concat(p_url, '_count=', p_count, '&_offset=', greatest(p_offset - p_count, 0))), '}') end,
           ']',
           case when p_entries is not null then pg_catalog.concat(', "entry" : [', p_entries, ']') end,
           '}')::json
$$;
comment on function fhir.page_bundle(text,bigint,text,integer,integer,text) is
  'A searchset or history Bundle of one page: total, the self link (p_url, ending in ? or &, with _count and _offset), next and previous when there are more (none for _count=0), and the entries (JSON text joined by commas; left out when NULL: FHIR has no empty arrays).';
revoke all on function fhir.page_bundle(text,bigint,text,integer,integer,text) from public;
grant execute on function fhir.page_bundle(text,bigint,text,integer,integer,text) to healthcare_access;

-- What a name search compares, worked out once per search rather than
-- for every row: [1] the whole name (:exact), [2] a pattern for the start
-- of the name (or, for :contains, anywhere in it), [3] one for the start
-- of a later word; NULL where unused, which matches nothing.
create or replace function fhir.name_patterns(p_value text, p_match text) returns text[]
language sql immutable
as $$
  select array[case when p_match = 'exact' then p_value end,
               case when p_match = 'contains' then '%' || app.like_literal(p_value) || '%'
                    when p_match is null then app.like_literal(p_value) || '%' end,
               case when p_match is null then '% ' || app.like_literal(p_value) || '%' end]
$$;
comment on function fhir.name_patterns(text,text) is
  'A FHIR string search on a name as {exact, pattern, word pattern} for = and ILIKE: p_match exact (all of it, case-sensitive), contains (anywhere), or NULL (the start of any word); case-insensitive but for exact.';
revoke all on function fhir.name_patterns(text,text) from public;
grant execute on function fhir.name_patterns(text,text) to healthcare_access;

-- Patient. The resource carries meta (versionId, lastUpdated) right after
-- its id, where the server finds the ETag and Last-Modified without
-- parsing the body. FHIR has no age element and the product stores no
-- birth date, so the age and the gender as sent are extensions. The
-- builders return JSON text: a search joins its entries as text and parses
-- its Bundle once, a read casts its one resource. A version rebuilt from
-- the trail that lacks a field is no resource (NULL), as with ||, never
-- JSON with a hole in it (concat() skips NULLs).
create or replace function fhir.patient_resource(p app.patients) returns text
language sql stable
as $$
  select case when pg_catalog.num_nulls(p.id, p.version, p.updated_at, p.age, p.name, p.gender, p.gender_fhir) = 0 then
         pg_catalog.concat('{"resourceType" : "Patient", "id" : "', p.id, '", "meta" : {"versionId" : "', p.version,
           '", "lastUpdated" : "', fhir.instant(p.updated_at), '"}, "extension" : [',
           case when p.gender <> '' then pg_catalog.concat('{"url" : "', fhir.canonical('patient-gender-text'), '", "valueString" : ',
                                                            pg_catalog.to_json(p.gender::text), '}, ') end,
           '{"url" : "', fhir.canonical('patient-age'), '", "valueAge" : {"value" : ', p.age,
           ', "unit" : "a", "system" : "http://unitsofmeasure.org", "code" : "a"}}], "name" : [{"text" : ',
           pg_catalog.to_json(p.name::text), '}], "gender" : ', pg_catalog.to_json(p.gender_fhir), '}') end
$$;
comment on function fhir.patient_resource(app.patients) is
  'A patient as a FHIR R4 Patient, in JSON text (a read casts it; a search splices it into its Bundle): id, meta (versionId, lastUpdated), the extensions patient-gender-text (gender as sent, left out when empty) and patient-age (valueAge in years), name[0].text, gender (gender_fhir). No birthDate: none is stored.';
revoke all on function fhir.patient_resource(app.patients) from public;
grant execute on function fhir.patient_resource(app.patients) to healthcare_access;

-- What every resource a client writes is checked for: a JSON object of the
-- route's type, carrying the URL's id on an update (FHIR's 400s).
create or replace function fhir.check_resource(p_resource jsonb, p_type text, p_id bigint) returns void
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
begin
  if p_resource is null or jsonb_typeof(p_resource) <> 'object' then
    raise exception 'the body must be a % resource (a JSON object)', p_type using errcode = 'RINVL', column = p_type;
  end if;
  if p_resource -> 'resourceType' is distinct from to_jsonb(p_type) then
    raise exception 'resourceType must be "%"', p_type using errcode = 'RINVL', column = p_type || '.resourceType';
  end if;
  if p_id is not null and p_resource -> 'id' is distinct from to_jsonb(p_id::text) then
    raise exception 'the resource''s id must be the id in the URL (%)', p_id using errcode = 'RINVL', column = p_type || '.id';
  end if;
end
$$;
comment on function fhir.check_resource(jsonb,text,bigint) is
  'RINVL (400) unless p_resource is a JSON object of resourceType p_type whose id, when p_id is given (an update), is p_id.';
revoke all on function fhir.check_resource(jsonb,text,bigint) from public;
grant execute on function fhir.check_resource(jsonb,text,bigint) to healthcare_access;

-- The first HumanName of a resource: its text, else given and family.
create or replace function fhir.human_name(p_resource jsonb, p_type text) returns text
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_name jsonb;
begin
  if not p_resource ? 'name' then
    return null;
  end if;
  if jsonb_typeof(p_resource -> 'name') <> 'array' or jsonb_typeof(p_resource -> 'name' -> 0) <> 'object' then
    raise exception 'name must be an array of HumanName objects' using errcode = 'RINVL', column = p_type || '.name';
  end if;
  v_name := p_resource -> 'name' -> 0;
  if v_name ? 'text' then
    if jsonb_typeof(v_name -> 'text') <> 'string' then
      raise exception 'name.text must be a string' using errcode = 'RINVL', column = p_type || '.name';
    end if;
    return v_name ->> 'text';
  end if;
  if (v_name ? 'given' and (jsonb_typeof(v_name -> 'given') <> 'array'
                            or exists (select from jsonb_array_elements(v_name -> 'given') g where jsonb_typeof(g) <> 'string')))
     or (v_name ? 'family' and jsonb_typeof(v_name -> 'family') <> 'string') then
    raise exception 'name.given must be an array of strings and name.family a string' using errcode = 'RINVL', column = p_type || '.name';
  end if;
  return nullif(btrim(concat_ws(' ', (select string_agg(g, ' ') from jsonb_array_elements_text(v_name -> 'given') g), v_name ->> 'family')), '');
end
$$;
comment on function fhir.human_name(jsonb,text) is
  'The name a resource a client wrote carries: name[0].text, else name[0].given and family joined by spaces; NULL without a name; RINVL (400) when its shape is wrong.';
revoke all on function fhir.human_name(jsonb,text) from public;
grant execute on function fhir.human_name(jsonb,text) to healthcare_access;

-- The extensions of a resource a client wrote, checked for shape.
create or replace function fhir.extensions(p_resource jsonb, p_type text) returns setof jsonb
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
begin
  if not p_resource ? 'extension' then
    return;
  end if;
  if jsonb_typeof(p_resource -> 'extension') <> 'array'
     or exists (select from jsonb_array_elements(p_resource -> 'extension') x where jsonb_typeof(x) <> 'object' or jsonb_typeof(x -> 'url') is distinct from 'string') then
    raise exception 'extension must be an array of objects with a url' using errcode = 'RINVL', column = p_type || '.extension';
  end if;
  return query select x from jsonb_array_elements(p_resource -> 'extension') x;
end
$$;
comment on function fhir.extensions(jsonb,text) is
  'The extensions of a resource a client wrote, one row each; RINVL (400) unless extension is an array of objects with a url.';
revoke all on function fhir.extensions(jsonb,text) from public;
grant execute on function fhir.extensions(jsonb,text) to healthcare_access;

-- The fields of a Patient a client sent, checked for shape (RINVL: 400)
-- and for this server's rules (RUNPR: 422). Unknown elements are ignored.
create or replace function fhir.patient_input(p_resource jsonb, p_id bigint, out name text, out age integer, out gender text)
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_code text;
  v_ext jsonb;
  v_age jsonb;
  v_birth text;
begin
  perform fhir.check_resource(p_resource, 'Patient', p_id);
  name := fhir.human_name(p_resource, 'Patient');
  -- gender: a code of administrative-gender.
  if p_resource ? 'gender' then
    if jsonb_typeof(p_resource -> 'gender') <> 'string' or p_resource ->> 'gender' not in ('male', 'female', 'other', 'unknown') then
      raise exception 'gender must be one of male, female, other, unknown' using errcode = 'RINVL', column = 'Patient.gender';
    end if;
    v_code := p_resource ->> 'gender';
  end if;
  -- extensions: the gender as sent, the age.
  for v_ext in select x from fhir.extensions(p_resource, 'Patient') x loop
    if v_ext ->> 'url' = fhir.canonical('patient-gender-text') then
      if jsonb_typeof(v_ext -> 'valueString') is distinct from 'string' then
        raise exception 'the patient-gender-text extension needs a valueString' using errcode = 'RINVL', column = 'Patient.extension';
      end if;
      gender := v_ext ->> 'valueString';
    elsif v_ext ->> 'url' = fhir.canonical('patient-age') then
      v_age := coalesce(v_ext -> 'valueAge' -> 'value', v_ext -> 'valueInteger');
      if jsonb_typeof(v_age) is distinct from 'number' or v_age::text !~ '^-?[0-9]{1,9}$'
         or (v_ext ? 'valueAge' and coalesce(v_ext -> 'valueAge' ->> 'code', 'a') <> 'a') then
        raise exception 'the patient-age extension needs a valueAge with a whole number of years (code a)' using errcode = 'RINVL', column = 'Patient.extension';
      end if;
      age := v_age::text::integer;
    end if;
  end loop;
  -- No age extension: the age a full birthDate gives today (the date itself is not kept).
  if age is null and p_resource ? 'birthDate' then
    v_birth := p_resource ->> 'birthDate';
    if jsonb_typeof(p_resource -> 'birthDate') <> 'string' or v_birth !~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' then
      raise exception 'birthDate must be a full date (YYYY-MM-DD) when no patient-age extension is sent' using errcode = 'RUNPR', column = 'Patient.birthDate';
    end if;
    begin
      age := extract(year from pg_catalog.age(current_date, v_birth::date))::integer;
    exception when datetime_field_overflow or invalid_datetime_format then
      raise exception 'birthDate % is not a date', v_birth using errcode = 'RUNPR', column = 'Patient.birthDate';
    end;
  end if;
  if gender is null then
    gender := v_code;
  elsif v_code is not null and app.gender_fhir(gender) <> v_code then
    raise exception 'gender (%) does not match the patient-gender-text extension (%, which is %)', v_code, gender, app.gender_fhir(gender)
      using errcode = 'RUNPR', column = 'Patient.gender';
  end if;
  if name is null then
    raise exception 'a Patient needs a name (name[0].text, or given and family)' using errcode = 'RUNPR', column = 'Patient.name';
  end if;
  if age is null then
    raise exception 'a Patient needs an age: the patient-age extension (or a birthDate)' using errcode = 'RUNPR', column = 'Patient.extension';
  end if;
  -- The product's own checks, as this server's rules (422).
  begin
    name := app.check_text(name, 'app.patient_name', 'name');
    age := app.check_age(age);
    gender := app.check_gender(gender);
  exception when sqlstate 'RINVL' then
    raise exception '%', sqlerrm using errcode = 'RUNPR', column = 'Patient.' || case when sqlerrm like 'age%' then 'extension' else split_part(sqlerrm, ' ', 1) end;
  end;
end
$$;
comment on function fhir.patient_input(jsonb,bigint) is
  'The name, age and gender as sent of a Patient a client wrote: name[0].text (or given and family), the patient-age extension (or the age a birthDate gives), the patient-gender-text extension (or the gender code). Shape errors are RINVL (400), rule errors RUNPR (422). p_id, for an update, must be the resource''s id.';
revoke all on function fhir.patient_input(jsonb,bigint) from public;
grant execute on function fhir.patient_input(jsonb,bigint) to healthcare_access;

-- Whether the caller could read the deleted patient p_id before its delete:
-- its owner, or an admin. They get 410 Gone; everyone else 404.
create or replace function fhir.patient_gone(p_id bigint, p_uid bigint) returns boolean
language sql stable
as $$
  select exists (select from audit.events e
                  where e.patient_id = p_id
                    and e.detail ->> 'object' = 'patient' and e.action = 'delete' and e.outcome = 'ok'
                    and ((e.detail -> 'before' ->> 'owner_id')::bigint = p_uid or app.current_user_is_admin()))
$$;
comment on function fhir.patient_gone(bigint,bigint) is
  'True when patient p_id was deleted and p_uid could read it before (its owner, or an admin): they are answered 410 Gone, everyone else 404.';
revoke all on function fhir.patient_gone(bigint,bigint) from public;
grant execute on function fhir.patient_gone(bigint,bigint) to healthcare_access;

-- One entry of a history Bundle, from a change event.
create or replace function fhir.patient_history_entry(e audit.events, p_base text) returns json
language sql stable
as $$
  select case when e.action = 'delete'
    then pg_catalog.json_build_object('fullUrl', p_base || '/Patient/' || e.patient_id,
           'request', pg_catalog.json_build_object('method', 'DELETE', 'url', 'Patient/' || e.patient_id),
           'response', pg_catalog.json_build_object('status', '204', 'lastModified', fhir.instant(e.at)))
    else pg_catalog.json_build_object('fullUrl', p_base || '/Patient/' || e.patient_id,
           'resource', fhir.patient_resource(pg_catalog.jsonb_populate_record(null::app.patients, e.detail -> 'after'))::json,
           'request', pg_catalog.json_build_object('method', case e.action when 'create' then 'POST' else 'PUT' end,
                                                   'url', case e.action when 'create' then 'Patient' else 'Patient/' || e.patient_id end),
           'response', pg_catalog.json_build_object('status', case e.action when 'create' then '201' else '200' end,
                                                    'etag', 'W/"' || (e.detail -> 'after' ->> 'version') || '"',
                                                    'lastModified', fhir.instant((e.detail -> 'after' ->> 'updated_at')::timestamptz))) end
$$;
comment on function fhir.patient_history_entry(audit.events,text) is
  'A patient change event as an entry of a history Bundle: the version''s resource with request and response, or for a delete the request alone.';
revoke all on function fhir.patient_history_entry(audit.events,text) from public;
grant execute on function fhir.patient_history_entry(audit.events,text) to healthcare_access;

-- After a conditional write matched nothing: FOR UPDATE meets the update
-- policies, so only a caller who may change the record learns that it
-- changed (RSTAL, 412); anyone else goes on to the refusal they always meet.
create or replace function fhir.check_version(p_object text, p_id bigint, p_version integer) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
  v_current integer;
begin
  if p_version is null then
    return;
  elsif p_object = 'patient' then
    select p.version into v_current from app.patients p where p.id = p_id for update;
  else
    select d.version into v_current from app.doctors d where d.id = p_id for update;
  end if;
  if v_current is not null then
    raise exception '% % has changed: it is at version %, not %', p_object, p_id, v_current, p_version
      using errcode = 'RSTAL', detail = 'current_version=' || v_current;
  end if;
end
$$;
comment on function fhir.check_version(text,bigint,integer) is
  'Raises RSTAL (current_version=N) when a conditional write of the patient or doctor (p_object) p_id expected p_version and the caller may change it; nothing otherwise.';
revoke all on function fhir.check_version(text,bigint,integer) from public;
grant execute on function fhir.check_version(text,bigint,integer) to healthcare_access;

set local role healthcare_access;

create or replace function fhir.patient(p_id bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_result json;
begin
  select fhir.patient_resource(p)::json into v_result from app.patients p where p.id = p_id;
  if v_result is null then
    if fhir.patient_gone(p_id, v_uid) then
      return app.refuse('read', p_id, '{"object": "patient", "via": "fhir"}', 'RGONE', 'patient deleted');
    end if;
    return app.refuse('read', p_id, '{"object": "patient", "via": "fhir"}', 'RNTFD', 'patient not found');
  end if;
  perform app.audit_as(v_uid, 'read', 'ok', p_id, null, '{"object": "patient", "via": "fhir"}');
  return v_result;
end
$$;
comment on function fhir.patient(bigint) is
  'GET /fhir/Patient/<id>: the Patient the caller may read (owner, care team, admin); a deleted one is RGONE (410) for its owner and admins, RNTFD (404) for everyone else. Recorded with via fhir.';
revoke all on function fhir.patient(bigint) from public;
grant execute on function fhir.patient(bigint) to healthcare_api, healthcare_user;

create or replace function fhir.patient_vread(p_id bigint, p_version integer) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_detail jsonb := jsonb_build_object('object', 'patient_history', 'version', p_version, 'via', 'fhir');
  v_result json;
begin
  if not exists (select from app.patients p where p.id = p_id) and not fhir.patient_gone(p_id, v_uid) then
    return app.refuse('read', p_id, v_detail, 'RNTFD', 'patient not found');
  end if;
  select fhir.patient_resource(jsonb_populate_record(null::app.patients, e.detail -> 'after'))::json into v_result
    from audit.events e
   where e.patient_id = p_id
     and e.detail ->> 'object' = 'patient' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok'
     and e.action <> 'delete' and (e.detail -> 'after' ->> 'version')::integer = p_version
   order by e.id desc
   limit 1;
  if v_result is null then
    raise exception 'patient % has no version %', p_id, p_version using errcode = 'RNTFD';
  end if;
  perform app.audit_as(v_uid, 'read', 'ok', p_id, null, v_detail);
  return v_result;
end
$$;
comment on function fhir.patient_vread(bigint,integer) is
  'GET /fhir/Patient/<id>/_history/<vid>: one version of the Patient from the audit trail''s change events. Whoever may read the patient; a deleted one''s owner and admins. Recorded with via fhir.';
revoke all on function fhir.patient_vread(bigint,integer) from public;
grant execute on function fhir.patient_vread(bigint,integer) to healthcare_api, healthcare_user;

create or replace function fhir.patient_history(p_id bigint, p_count integer default null, p_offset integer default null, p_base text default null)
returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_base text := fhir.base(p_base);
  v_limit integer := fhir.page_count(p_count);
  v_offset integer := app.page_offset(p_offset);
  v_url text;
  v_count bigint;
  v_rows text;
begin
  if not exists (select from app.patients p where p.id = p_id) and not fhir.patient_gone(p_id, v_uid) then
    return app.refuse('read', p_id, '{"object": "patient_history", "via": "fhir"}', 'RNTFD', 'patient not found');
  end if;
  v_url := v_base || '/Patient/' || p_id || '/_history?';
  select count(*) into v_count
    from audit.events e
   where e.patient_id = p_id
     and e.detail ->> 'object' = 'patient' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok'
     and coalesce(e.detail -> 'after', e.detail -> 'before') ? 'version';
  select string_agg(fhir.patient_history_entry(e, v_base)::text, ', ' order by e.id desc) into v_rows
    from (select * from audit.events e
           where e.patient_id = p_id
             and e.detail ->> 'object' = 'patient' and e.action in ('create', 'update', 'delete') and e.outcome = 'ok'
             and coalesce(e.detail -> 'after', e.detail -> 'before') ? 'version'
           order by e.id desc limit v_limit offset v_offset) e;
  perform app.audit_as(v_uid, 'read', 'ok', p_id, null, '{"object": "patient_history", "via": "fhir"}');
  return fhir.page_bundle('history', v_count, v_url, v_limit, v_offset, v_rows);
end
$$;
comment on function fhir.patient_history(bigint,integer,integer,text) is
  'GET /fhir/Patient/<id>/_history: a history Bundle of every version since versions exist, newest first, from the audit trail (a delete is an entry without resource). Whoever may read the patient; a deleted one''s owner and admins. Recorded with via fhir.';
revoke all on function fhir.patient_history(bigint,integer,integer,text) from public;
grant execute on function fhir.patient_history(bigint,integer,integer,text) to healthcare_api, healthcare_user;

create or replace function fhir.patient_search(p_id bigint default null, p_name text default null, p_name_match text default null,
                                               p_gender text default null, p_updated_from timestamptz default null,
                                               p_updated_before timestamptz default null, p_count integer default null,
                                               p_offset integer default null, p_base text default null)
returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
as $$
declare
  v_uid bigint := app.require_user();
  -- A search covers the caller's own patients, as the REST list does
  -- (those in a doctor's care are its CareTeams' subjects, read one by
  -- one; an admin reads any patient by id); the policies still decide.
  v_base text := fhir.base(p_base);
  v_limit integer := fhir.page_count(p_count);
  v_offset integer := app.page_offset(p_offset);
  v_name text := nullif(btrim(p_name), '');
  v_names text[] := case when v_name is not null then fhir.name_patterns(v_name, p_name_match) end;
  v_gender text := nullif(btrim(p_gender), '');
  v_query text := '';
  v_url text;
  v_count bigint;
  v_rows text;
  v_found bigint[];
begin
  if p_name_match is not null and p_name_match not in ('exact', 'contains') then
    raise exception 'name takes the modifiers :exact and :contains' using errcode = 'RINVL', column = 'name';
  end if;
  -- The URL of this search, its parameters in a fixed order.
  if p_id is not null then
    v_query := v_query || '_id=' || p_id || '&';
  end if;
  if v_name is not null then
    v_query := v_query || 'name' || coalesce(':' || p_name_match, '') || '=' || app.url_encode(v_name) || '&';
  end if;
  if v_gender is not null then
    v_query := v_query || 'gender=' || app.url_encode(v_gender) || '&';
  end if;
  if p_updated_from is not null then
    v_query := v_query || '_lastUpdated=ge' || app.url_encode(fhir.instant(p_updated_from)) || '&';
  end if;
  if p_updated_before is not null then
    v_query := v_query || '_lastUpdated=lt' || app.url_encode(fhir.instant(p_updated_before)) || '&';
  end if;
  v_url := v_base || '/Patient?' || v_query;
  if v_query = '' then
    -- No filter: the statements of the REST list, whose generic plans read
    -- the count from the index alone and the page in index order (the
    -- filters' conditions would make both visit the table).
    select count(*) into v_count from app.patients p where p.owner_id = v_uid;
    if v_limit > 0 then
      select string_agg(fhir.match(v_base || '/Patient/' || p.id, fhir.patient_resource(p)), ', ' order by p.id),
             array_agg(p.id order by p.id)
        into v_rows, v_found
        from (select * from app.patients p where p.owner_id = v_uid order by p.id limit v_limit offset v_offset) p;
    end if;
  else
    select count(*) into v_count from app.patients p
     where p.owner_id = v_uid
       and p.id between coalesce(p_id, 1) and coalesce(p_id, 9223372036854775807)
       and (v_name is null or p.name = v_names[1] or p.name ilike v_names[2] or p.name ilike v_names[3])
       and (v_gender is null or p.gender_fhir = v_gender)
       and (p_updated_from is null or p.updated_at >= p_updated_from)
       and (p_updated_before is null or p.updated_at < p_updated_before);
    if v_limit > 0 then
      select string_agg(fhir.match(v_base || '/Patient/' || p.id, fhir.patient_resource(p)), ', ' order by p.id),
             array_agg(p.id order by p.id)
        into v_rows, v_found
        from (select * from app.patients p
               where p.owner_id = v_uid
                 and p.id between coalesce(p_id, 1) and coalesce(p_id, 9223372036854775807)
                 and (v_name is null or p.name = v_names[1] or p.name ilike v_names[2] or p.name ilike v_names[3])
                 and (v_gender is null or p.gender_fhir = v_gender)
                 and (p_updated_from is null or p.updated_at >= p_updated_from)
                 and (p_updated_before is null or p.updated_at < p_updated_before)
               order by p.id limit v_limit offset v_offset) p;
    end if;
  end if;
  perform app.audit_as(v_uid, 'list', 'ok', null, coalesce(v_found, '{}'), '{"object": "patient", "via": "fhir"}');
  return fhir.page_bundle('searchset', v_count, v_url, v_limit, v_offset, v_rows);
end
$$;
comment on function fhir.patient_search(bigint,text,text,text,timestamp with time zone,timestamp with time zone,integer,integer,text) is
  'GET /fhir/Patient?_id=&name=&gender=&_lastUpdated=&_count=&_offset=: a searchset Bundle of the caller''s own Patients, as the REST list, by id. name matches the start of any word (:contains anywhere, :exact all of it), gender the administrative gender, _lastUpdated the range [p_updated_from, p_updated_before). Recorded with via fhir and the ids returned.';
revoke all on function fhir.patient_search(bigint,text,text,text,timestamp with time zone,timestamp with time zone,integer,integer,text) from public;
grant execute on function fhir.patient_search(bigint,text,text,text,timestamp with time zone,timestamp with time zone,integer,integer,text) to healthcare_api, healthcare_user;

create or replace function fhir.patient_create(p_resource jsonb) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_in record;
  v_patient app.patients;
begin
  perform app.require_user();
  v_in := fhir.patient_input(p_resource, null);
  perform set_config('app.via', 'fhir', true);
  insert into app.patients (name, age, gender) values (v_in.name, v_in.age, v_in.gender)
  returning * into v_patient;
  perform set_config('app.via', '', true);
  return fhir.patient_resource(v_patient)::json;
end
$$;
comment on function fhir.patient_create(jsonb) is
  'POST /fhir/Patient: a patient owned by the caller from a Patient resource (fhir.patient_input); the change event says via fhir.';
revoke all on function fhir.patient_create(jsonb) from public;
grant execute on function fhir.patient_create(jsonb) to healthcare_api, healthcare_user;

create or replace function fhir.patient_update(p_id bigint, p_resource jsonb, p_version integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_in record;
  v_patient app.patients;
begin
  perform app.require_user();
  v_in := fhir.patient_input(p_resource, p_id);
  perform set_config('app.via', 'fhir', true);
  update app.patients p set name = v_in.name, age = v_in.age, gender = v_in.gender
   where p.id = p_id and (p_version is null or p.version = p_version)
  returning * into v_patient;
  perform set_config('app.via', '', true);
  if v_patient.id is null then
    perform fhir.check_version('patient', p_id, p_version);
    return app.refuse('update', p_id, '{"object": "patient", "via": "fhir"}', 'RNTFD', 'patient not found');
  end if;
  return fhir.patient_resource(v_patient)::json;
end
$$;
comment on function fhir.patient_update(bigint,jsonb,integer) is
  'PUT /fhir/Patient/<id>: replaces name, age and gender from a Patient resource (owner or admin); p_version, when given (If-Match), must be the current version (else RSTAL, nothing written). The change event says via fhir.';
revoke all on function fhir.patient_update(bigint,jsonb,integer) from public;
grant execute on function fhir.patient_update(bigint,jsonb,integer) to healthcare_api, healthcare_user;

create or replace function fhir.patient_delete(p_id bigint, p_version integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_id bigint;
begin
  perform set_config('app.via', 'fhir', true);
  delete from app.patients p where p.id = p_id and (p_version is null or p.version = p_version) returning p.id into v_id;
  perform set_config('app.via', '', true);
  if v_id is null then
    perform fhir.check_version('patient', p_id, p_version);
    if fhir.patient_gone(p_id, v_uid) then
      return app.refuse('delete', p_id, '{"object": "patient", "via": "fhir"}', 'RGONE', 'patient deleted');
    end if;
    return app.refuse('delete', p_id, '{"object": "patient", "via": "fhir"}', 'RNTFD', 'patient not found');
  end if;
  return json_build_object('id', v_id);
end
$$;
comment on function fhir.patient_delete(bigint,integer) is
  'DELETE /fhir/Patient/<id>: removes the patient and its mappings (owner or admin); p_version, when given (If-Match), must be the current version (else RSTAL). A patient already deleted is RGONE for its owner and admins. The change event says via fhir.';
revoke all on function fhir.patient_delete(bigint,integer) from public;
grant execute on function fhir.patient_delete(bigint,integer) to healthcare_api, healthcare_user;

set local role healthcare_owner;

-- Practitioner and PractitionerRole: the public directory. A doctor is a
-- Practitioner (name, and its specialization in an extension so a client
-- can write it) and one PractitionerRole with the same id whose specialty
-- is the specialization. Reading the directory is no access to patient
-- data and is not recorded, as on /api; its changes are, by the doctors'
-- row trigger, with via fhir.
create or replace function fhir.practitioner_resource(d app.doctors) returns text
language sql stable
as $$
  select pg_catalog.concat('{"resourceType" : "Practitioner", "id" : "', d.id, '", "meta" : {"versionId" : "', d.version,
           '", "lastUpdated" : "', fhir.instant(d.updated_at), '"}, "extension" : [{"url" : "',
           fhir.canonical('practitioner-specialization'), '", "valueString" : ', pg_catalog.to_json(d.specialization::text),
           '}], "active" : true, "name" : [{"text" : ', pg_catalog.to_json(d.name::text), '}]}')
$$;
comment on function fhir.practitioner_resource(app.doctors) is
  'A doctor as a FHIR R4 Practitioner, in JSON text: id, meta (versionId, lastUpdated), the extension practitioner-specialization (valueString), active, name[0].text.';
revoke all on function fhir.practitioner_resource(app.doctors) from public;
grant execute on function fhir.practitioner_resource(app.doctors) to healthcare_access;

create or replace function fhir.practitioner_role_resource(d app.doctors) returns text
language sql stable
as $$
  select pg_catalog.concat('{"resourceType" : "PractitionerRole", "id" : "', d.id, '", "meta" : {"versionId" : "', d.version,
           '", "lastUpdated" : "', fhir.instant(d.updated_at), '"}, "active" : true, "practitioner" : {"reference" : "Practitioner/',
           d.id, '"}, "specialty" : [{"text" : ', pg_catalog.to_json(d.specialization::text), '}]}')
$$;
comment on function fhir.practitioner_role_resource(app.doctors) is
  'A doctor''s one PractitionerRole, in JSON text (same id and version as its Practitioner): practitioner, and specialty[0].text the specialization.';
revoke all on function fhir.practitioner_role_resource(app.doctors) from public;
grant execute on function fhir.practitioner_role_resource(app.doctors) to healthcare_access;

-- The name and specialization of a Practitioner a client wrote.
create or replace function fhir.practitioner_input(p_resource jsonb, p_id bigint, out name text, out specialization text)
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ext jsonb;
begin
  perform fhir.check_resource(p_resource, 'Practitioner', p_id);
  name := fhir.human_name(p_resource, 'Practitioner');
  for v_ext in select x from fhir.extensions(p_resource, 'Practitioner') x loop
    if v_ext ->> 'url' = fhir.canonical('practitioner-specialization') then
      if jsonb_typeof(v_ext -> 'valueString') is distinct from 'string' then
        raise exception 'the practitioner-specialization extension needs a valueString' using errcode = 'RINVL', column = 'Practitioner.extension';
      end if;
      specialization := v_ext ->> 'valueString';
    end if;
  end loop;
  if name is null then
    raise exception 'a Practitioner needs a name (name[0].text, or given and family)' using errcode = 'RUNPR', column = 'Practitioner.name';
  end if;
  if specialization is null then
    raise exception 'a Practitioner needs the practitioner-specialization extension' using errcode = 'RUNPR', column = 'Practitioner.extension';
  end if;
  begin
    name := app.check_text(name, 'app.doctor_name', 'name');
    specialization := app.check_text(specialization, 'app.doctor_specialization', 'specialization');
  exception when sqlstate 'RINVL' then
    raise exception '%', sqlerrm
      using errcode = 'RUNPR', column = case when sqlerrm like 'name%' then 'Practitioner.name' else 'Practitioner.extension' end;
  end;
end
$$;
comment on function fhir.practitioner_input(jsonb,bigint) is
  'The name and specialization of a Practitioner a client wrote: name[0].text (or given and family) and the practitioner-specialization extension. Shape errors are RINVL (400), rule errors RUNPR (422). p_id, for an update, must be the resource''s id.';
revoke all on function fhir.practitioner_input(jsonb,bigint) from public;
grant execute on function fhir.practitioner_input(jsonb,bigint) to healthcare_access;

-- A doctor that was removed: the directory is public, so everyone who
-- asks could read it before and is told it is gone.
create or replace function fhir.doctor_gone(p_id bigint) returns boolean
language sql stable
as $$
  select exists (select from audit.events e
                  where e.detail ->> 'doctor' = p_id::text
                    and e.action in ('create', 'update', 'delete') and e.outcome = 'ok' and e.detail ->> 'object' = 'doctor'
                    and e.action = 'delete')
$$;
comment on function fhir.doctor_gone(bigint) is
  'True when doctor p_id was removed (its delete event is in the trail); the public directory answers it 410 Gone.';
revoke all on function fhir.doctor_gone(bigint) from public;
grant execute on function fhir.doctor_gone(bigint) to healthcare_access;

-- CareTeam: one per mapping, with the patient as subject and the doctor as
-- its one participant. Mappings have no versions: every CareTeam is at
-- version 1, last updated when it was made.
create or replace function fhir.care_team_resource(m app.patient_doctors) returns text
language sql stable
as $$
  select pg_catalog.concat('{"resourceType" : "CareTeam", "id" : "', m.id, '", "meta" : {"versionId" : "1", "lastUpdated" : "',
           fhir.instant(m.created_at), '"}, "status" : "active", "subject" : {"reference" : "Patient/', m.patient_id,
           '"}, "participant" : [{"member" : {"reference" : "Practitioner/', m.doctor_id, '"}}]}')
$$;
comment on function fhir.care_team_resource(app.patient_doctors) is
  'A mapping as a FHIR R4 CareTeam, in JSON text: id, meta (version 1, lastUpdated the mapping''s date), status active, subject the patient, participant[0].member the doctor''s Practitioner.';
revoke all on function fhir.care_team_resource(app.patient_doctors) from public;
grant execute on function fhir.care_team_resource(app.patient_doctors) to healthcare_access;

-- The id in a reference a client wrote ("Patient/7"), or RINVL naming it.
create or replace function fhir.reference_id(p_ref jsonb, p_type text, p_field text) returns bigint
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ref text;
begin
  if jsonb_typeof(p_ref) is distinct from 'object' or jsonb_typeof(p_ref -> 'reference') is distinct from 'string' then
    raise exception '% must be a reference to a % (such as {"reference": "%/1"})', p_field, p_type, p_type using errcode = 'RINVL', column = p_field;
  end if;
  v_ref := p_ref ->> 'reference';
  if v_ref !~ ('^' || p_type || '/[1-9][0-9]{0,17}$') then
    raise exception '% must reference a % by id, such as %/1', p_field, p_type, p_type using errcode = 'RINVL', column = p_field;
  end if;
  return split_part(v_ref, '/', 2)::bigint;
end
$$;
comment on function fhir.reference_id(jsonb,text,text) is
  'The id of a literal reference p_type/<id> a client wrote at p_field; RINVL otherwise.';
revoke all on function fhir.reference_id(jsonb,text,text) from public;
grant execute on function fhir.reference_id(jsonb,text,text) to healthcare_access;

set local role healthcare_access;

create or replace function fhir.practitioner(p_id bigint) returns json
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result json;
begin
  select fhir.practitioner_resource(d)::json into v_result from app.doctors d where d.id = p_id;
  if v_result is null then
    if fhir.doctor_gone(p_id) then
      raise exception 'practitioner deleted' using errcode = 'RGONE';
    end if;
    raise exception 'practitioner not found' using errcode = 'RNTFD';
  end if;
  return v_result;
end
$$;
comment on function fhir.practitioner(bigint) is
  'GET /fhir/Practitioner/<id> (public, like the directory): a removed doctor is RGONE (410).';
revoke all on function fhir.practitioner(bigint) from public;
grant execute on function fhir.practitioner(bigint) to healthcare_api, healthcare_user;

create or replace function fhir.practitioner_role(p_id bigint) returns json
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result json;
begin
  select fhir.practitioner_role_resource(d)::json into v_result from app.doctors d where d.id = p_id;
  if v_result is null then
    if fhir.doctor_gone(p_id) then
      raise exception 'practitioner role deleted' using errcode = 'RGONE';
    end if;
    raise exception 'practitioner role not found' using errcode = 'RNTFD';
  end if;
  return v_result;
end
$$;
comment on function fhir.practitioner_role(bigint) is
  'GET /fhir/PractitionerRole/<id> (public): the doctor''s one role, derived from its specialization; a removed doctor''s is RGONE (410).';
revoke all on function fhir.practitioner_role(bigint) from public;
grant execute on function fhir.practitioner_role(bigint) to healthcare_api, healthcare_user;

create or replace function fhir.practitioner_search(p_id bigint default null, p_name text default null, p_name_match text default null,
                                                    p_count integer default null, p_offset integer default null, p_base text default null)
returns json
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
as $$
declare
  v_base text := fhir.base(p_base);
  v_limit integer := fhir.page_count(p_count);
  v_offset integer := app.page_offset(p_offset);
  v_name text := nullif(btrim(p_name), '');
  v_names text[] := case when v_name is not null then fhir.name_patterns(v_name, p_name_match) end;
  v_url text;
  v_count bigint;
  v_rows text;
begin
  if p_name_match is not null and p_name_match not in ('exact', 'contains') then
    raise exception 'name takes the modifiers :exact and :contains' using errcode = 'RINVL', column = 'name';
  end if;
  v_url := v_base || '/Practitioner?'
           || case when p_id is not null then '_id=' || p_id || '&' else '' end
           || case when v_name is not null then 'name' || coalesce(':' || p_name_match, '') || '=' || app.url_encode(v_name) || '&' else '' end;
  if p_id is null and v_name is null then
    -- No filter: the directory's pages, as the REST list reads them (see
    -- fhir.patient_search).
    select count(*) into v_count from app.doctors d;
    if v_limit > 0 then
      select string_agg(fhir.match(v_base || '/Practitioner/' || d.id, fhir.practitioner_resource(d)), ', ' order by d.id)
        into v_rows
        from (select * from app.doctors d order by d.id limit v_limit offset v_offset) d;
    end if;
  else
    select count(*) into v_count from app.doctors d
     where d.id between coalesce(p_id, 1) and coalesce(p_id, 9223372036854775807)
       and (v_name is null or d.name = v_names[1] or d.name ilike v_names[2] or d.name ilike v_names[3]);
    if v_limit > 0 then
      select string_agg(fhir.match(v_base || '/Practitioner/' || d.id, fhir.practitioner_resource(d)), ', ' order by d.id)
        into v_rows
        from (select * from app.doctors d
               where d.id between coalesce(p_id, 1) and coalesce(p_id, 9223372036854775807)
                 and (v_name is null or d.name = v_names[1] or d.name ilike v_names[2] or d.name ilike v_names[3])
               order by d.id limit v_limit offset v_offset) d;
    end if;
  end if;
  return fhir.page_bundle('searchset', v_count, v_url, v_limit, v_offset, v_rows);
end
$$;
comment on function fhir.practitioner_search(bigint,text,text,integer,integer,text) is
  'GET /fhir/Practitioner?_id=&name=&_count=&_offset= (public): a searchset Bundle of the directory, by id; name as fhir.name_patterns.';
revoke all on function fhir.practitioner_search(bigint,text,text,integer,integer,text) from public;
grant execute on function fhir.practitioner_search(bigint,text,text,integer,integer,text) to healthcare_api, healthcare_user;

create or replace function fhir.practitioner_role_search(p_practitioner bigint default null, p_specialty text default null,
                                                         p_count integer default null, p_offset integer default null, p_base text default null)
returns json
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_base text := fhir.base(p_base);
  v_limit integer := fhir.page_count(p_count);
  v_offset integer := app.page_offset(p_offset);
  v_spec text := nullif(btrim(p_specialty), '');
  v_url text;
  v_count bigint;
  v_rows text;
begin
  v_url := v_base || '/PractitionerRole?'
           || case when p_practitioner is not null then 'practitioner=Practitioner%2F' || p_practitioner || '&' else '' end
           || case when v_spec is not null then 'specialty:text=' || app.url_encode(v_spec) || '&' else '' end;
  select count(*) into v_count from app.doctors d
   where (p_practitioner is null or d.id = p_practitioner) and (v_spec is null or lower(d.specialization) = lower(v_spec));
  if v_limit > 0 then
    select string_agg(fhir.match(v_base || '/PractitionerRole/' || d.id, fhir.practitioner_role_resource(d)), ', ' order by d.id)
      into v_rows
      from (select * from app.doctors d
             where (p_practitioner is null or d.id = p_practitioner) and (v_spec is null or lower(d.specialization) = lower(v_spec))
             order by d.id limit v_limit offset v_offset) d;
  end if;
  return fhir.page_bundle('searchset', v_count, v_url, v_limit, v_offset, v_rows);
end
$$;
comment on function fhir.practitioner_role_search(bigint,text,integer,integer,text) is
  'GET /fhir/PractitionerRole?practitioner=&specialty=&_count=&_offset= (public): the roles of the directory; specialty matches the specialization''s text, case-insensitive, as /api/doctors/?specialization= does.';
revoke all on function fhir.practitioner_role_search(bigint,text,integer,integer,text) from public;
grant execute on function fhir.practitioner_role_search(bigint,text,integer,integer,text) to healthcare_api, healthcare_user;

create or replace function fhir.practitioner_create(p_resource jsonb) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_in record;
  v_doctor app.doctors;
begin
  perform app.require_user();
  v_in := fhir.practitioner_input(p_resource, null);
  perform set_config('app.via', 'fhir', true);
  insert into app.doctors (name, specialization) values (v_in.name, v_in.specialization)
  returning * into v_doctor;
  perform set_config('app.via', '', true);
  return fhir.practitioner_resource(v_doctor)::json;
end
$$;
comment on function fhir.practitioner_create(jsonb) is
  'POST /fhir/Practitioner: any signed-in user lists a doctor, recorded as its creator (the directory''s rule); the change event says via fhir.';
revoke all on function fhir.practitioner_create(jsonb) from public;
grant execute on function fhir.practitioner_create(jsonb) to healthcare_api, healthcare_user;

create or replace function fhir.practitioner_update(p_id bigint, p_resource jsonb, p_version integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_in record;
  v_doctor app.doctors;
begin
  perform app.require_user();
  v_in := fhir.practitioner_input(p_resource, p_id);
  perform set_config('app.via', 'fhir', true);
  update app.doctors d set name = v_in.name, specialization = v_in.specialization
   where d.id = p_id and (p_version is null or d.version = p_version)
  returning * into v_doctor;
  perform set_config('app.via', '', true);
  if v_doctor.id is null then
    perform fhir.check_version('doctor', p_id, p_version);
    if exists (select from app.doctors d where d.id = p_id) then
      return app.refuse('update', null, jsonb_build_object('object', 'doctor', 'doctor', p_id, 'via', 'fhir'),
                        'RFRBD', 'only the doctor''s creator, its linked account or an admin may change it');
    end if;
    raise exception 'practitioner not found' using errcode = 'RNTFD';
  end if;
  return fhir.practitioner_resource(v_doctor)::json;
end
$$;
comment on function fhir.practitioner_update(bigint,jsonb,integer) is
  'PUT /fhir/Practitioner/<id>: the directory''s rules (the linked account, an admin, the creator while unlinked and serving no one else''s patient); p_version (If-Match) must be current (else RSTAL). The change event says via fhir.';
revoke all on function fhir.practitioner_update(bigint,jsonb,integer) from public;
grant execute on function fhir.practitioner_update(bigint,jsonb,integer) to healthcare_api, healthcare_user;

create or replace function fhir.practitioner_delete(p_id bigint, p_version integer default null) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
begin
  perform app.require_user();
  perform set_config('app.via', 'fhir', true);
  delete from app.doctors d where d.id = p_id and (p_version is null or d.version = p_version) returning d.id into v_id;
  perform set_config('app.via', '', true);
  if v_id is null then
    perform fhir.check_version('doctor', p_id, p_version);
    if exists (select from app.doctors d where d.id = p_id) then
      return app.refuse('delete', null, jsonb_build_object('object', 'doctor', 'doctor', p_id, 'via', 'fhir'),
                        'RFRBD', 'only the doctor''s creator, its linked account or an admin may remove it');
    end if;
    if fhir.doctor_gone(p_id) then
      raise exception 'practitioner deleted' using errcode = 'RGONE';
    end if;
    raise exception 'practitioner not found' using errcode = 'RNTFD';
  end if;
  return json_build_object('id', v_id);
end
$$;
comment on function fhir.practitioner_delete(bigint,integer) is
  'DELETE /fhir/Practitioner/<id>: the directory''s rules (a doctor other users'' patients are mapped to is RCNFL, 409, for all but admins); removes its CareTeams. The change event says via fhir.';
revoke all on function fhir.practitioner_delete(bigint,integer) from public;
grant execute on function fhir.practitioner_delete(bigint,integer) to healthcare_api, healthcare_user;

create or replace function fhir.care_team(p_id bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_mapping app.patient_doctors;
  v_detail jsonb := jsonb_build_object('object', 'mapping', 'mapping', p_id, 'via', 'fhir');
begin
  select * into v_mapping from app.patient_doctors m where m.id = p_id;
  if not found then
    return app.refuse('read', null, v_detail, 'RNTFD', 'care team not found');
  end if;
  perform app.audit_as(v_uid, 'read', 'ok', v_mapping.patient_id, null, v_detail);
  return fhir.care_team_resource(v_mapping)::json;
end
$$;
comment on function fhir.care_team(bigint) is
  'GET /fhir/CareTeam/<id>: a mapping the caller may see (the patient''s owner, an admin, the doctor''s linked account). Recorded with via fhir.';
revoke all on function fhir.care_team(bigint) from public;
grant execute on function fhir.care_team(bigint) to healthcare_api, healthcare_user;

create or replace function fhir.care_team_search(p_patient bigint default null, p_participant bigint default null,
                                                 p_count integer default null, p_offset integer default null, p_base text default null)
returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
as $$
declare
  v_uid bigint := app.require_user();
  v_base text := fhir.base(p_base);
  v_limit integer := fhir.page_count(p_count);
  v_offset integer := app.page_offset(p_offset);
  v_own bigint := app.current_doctor_id();
  -- Which care teams a search covers, in two parts, each one index's
  -- range: those of doctor v_doc, and those of the patients v_mine with
  -- any other doctor (p_participant, when given). The policies still
  -- decide what is read.
  v_doc bigint;
  v_mine bigint[];
  v_url text;
  v_count bigint;
  v_rows text;
  v_ids bigint[];
begin
  v_url := v_base || '/CareTeam?'
           || case when p_patient is not null then 'subject=Patient%2F' || p_patient || '&' else '' end
           || case when p_participant is not null then 'participant=Practitioner%2F' || p_participant || '&' else '' end;
  if p_patient is not null then
    -- One patient's care teams: all of them for its owner and admins, its
    -- own for the doctor's account (the policies).
    v_mine := array[p_patient];
  elsif p_participant is not null and (p_participant = v_own or app.current_user_is_admin()) then
    -- A doctor's care teams: its account's, or any one's for admins.
    v_doc := p_participant;
    v_mine := '{}';
  else
    -- The caller's: its doctor record's (as the REST care view), and its
    -- patients' (as the REST mappings list), with p_participant only.
    v_doc := case when p_participant is null then v_own end;
    v_mine := array(select p.id from app.patients p where p.owner_id = v_uid);
  end if;
  -- Counted from the indexes alone, and paged in patient order (then
  -- practitioner's) as the REST care view is, so a page reads its own rows.
  select (select count(*) from app.patient_doctors m where m.doctor_id = v_doc)
       + (select count(*) from app.patient_doctors m
           where m.patient_id = any (v_mine) and m.doctor_id is distinct from v_doc
             and (p_participant is null or m.doctor_id = p_participant))
    into v_count;
  if v_limit > 0 then
    select string_agg(fhir.match(v_base || '/CareTeam/' || m.id, fhir.care_team_resource(m)), ', ' order by m.patient_id, m.doctor_id),
           array_agg(distinct m.patient_id)
      into v_rows, v_ids
      from (select * from ((select * from app.patient_doctors m where m.doctor_id = v_doc
                             order by m.patient_id limit v_limit + v_offset)
                           union all
                           (select * from app.patient_doctors m
                             where m.patient_id = any (v_mine) and m.doctor_id is distinct from v_doc
                               and (p_participant is null or m.doctor_id = p_participant)
                             order by m.patient_id, m.doctor_id limit v_limit + v_offset)) m
             order by m.patient_id, m.doctor_id limit v_limit offset v_offset) m;
  end if;
  perform app.audit_as(v_uid, 'list', 'ok', null, coalesce(v_ids, '{}'), '{"object": "mapping", "via": "fhir"}');
  return fhir.page_bundle('searchset', v_count, v_url, v_limit, v_offset, v_rows);
end
$$;
comment on function fhir.care_team_search(bigint,bigint,integer,integer,text) is
  'GET /fhir/CareTeam?subject=&patient=&participant=&_count=&_offset=: a searchset Bundle of care teams in patient order, then practitioner''s. Without subject or participant, the caller''s: its doctor record''s and its patients'' (admins too). By subject, that patient''s, as the policies show them (all for its owner and admins, its own for a doctor''s account); by participant, that doctor''s for its account and admins, else those of the caller''s patients. Recorded with via fhir and the patients returned.';
revoke all on function fhir.care_team_search(bigint,bigint,integer,integer,text) from public;
grant execute on function fhir.care_team_search(bigint,bigint,integer,integer,text) to healthcare_api, healthcare_user;

create or replace function fhir.care_team_create(p_resource jsonb) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_patient bigint;
  v_doctor bigint;
  v_mapping app.patient_doctors;
begin
  perform fhir.check_resource(p_resource, 'CareTeam', null);
  if jsonb_typeof(p_resource -> 'participant') is distinct from 'array' or jsonb_array_length(p_resource -> 'participant') <> 1 then
    raise exception 'a CareTeam here has exactly one participant, the practitioner (one CareTeam per doctor of a patient)'
      using errcode = 'RUNPR', column = 'CareTeam.participant';
  end if;
  if not p_resource ? 'subject' then
    raise exception 'a CareTeam needs its subject, the patient' using errcode = 'RUNPR', column = 'CareTeam.subject';
  end if;
  v_patient := fhir.reference_id(p_resource -> 'subject', 'Patient', 'CareTeam.subject');
  v_doctor := fhir.reference_id(p_resource -> 'participant' -> 0 -> 'member', 'Practitioner', 'CareTeam.participant.member');
  -- The mapping rules, as api.create_mapping has them.
  if not exists (select from app.patients p where p.id = v_patient) then
    return app.refuse('create', v_patient, jsonb_build_object('object', 'mapping', 'doctor', v_doctor, 'via', 'fhir'),
                      'RNTFD', 'patient not found', 'CareTeam.subject');
  end if;
  if not app.current_user_is_admin() and not exists (select from app.patients p where p.id = v_patient and p.owner_id = v_uid) then
    return app.refuse('create', v_patient, jsonb_build_object('object', 'mapping', 'doctor', v_doctor, 'via', 'fhir'),
                      'RFRBD', 'only the patient''s owner or an admin may assign its doctors', 'CareTeam.subject');
  end if;
  if not exists (select from app.doctors d where d.id = v_doctor) then
    raise exception 'practitioner not found' using errcode = 'RUNPR', column = 'CareTeam.participant.member';
  end if;
  perform set_config('app.via', 'fhir', true);
  insert into app.patient_doctors (patient_id, doctor_id) values (v_patient, v_doctor)
  on conflict (patient_id, doctor_id) do nothing
  returning * into v_mapping;
  perform set_config('app.via', '', true);
  if v_mapping.id is null then
    raise exception 'this practitioner is already in a care team of this patient' using errcode = 'RCNFL', column = 'CareTeam.participant.member';
  end if;
  return fhir.care_team_resource(v_mapping)::json;
end
$$;
comment on function fhir.care_team_create(jsonb) is
  'POST /fhir/CareTeam: assigns the participant (a Practitioner) to the subject (a Patient of the caller''s, or any for admins), the mapping rules; a pair is one CareTeam (RCNFL, 409). The change event says via fhir.';
revoke all on function fhir.care_team_create(jsonb) from public;
grant execute on function fhir.care_team_create(jsonb) to healthcare_api, healthcare_user;

create or replace function fhir.care_team_delete(p_id bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
  v_patient bigint;
begin
  perform app.require_user();
  perform set_config('app.via', 'fhir', true);
  delete from app.patient_doctors m where m.id = p_id returning m.id into v_id;
  perform set_config('app.via', '', true);
  if v_id is null then
    select m.patient_id into v_patient from app.patient_doctors m where m.id = p_id;
    if found then
      return app.refuse('delete', v_patient, jsonb_build_object('object', 'mapping', 'mapping', p_id, 'via', 'fhir'),
                        'RFRBD', 'only the patient''s owner or an admin may remove a doctor from its care team');
    end if;
    return app.refuse('delete', null, jsonb_build_object('object', 'mapping', 'mapping', p_id, 'via', 'fhir'), 'RNTFD', 'care team not found');
  end if;
  return json_build_object('id', v_id);
end
$$;
comment on function fhir.care_team_delete(bigint) is
  'DELETE /fhir/CareTeam/<id>: removes the mapping (the patient''s owner or an admin; the doctor''s account sees it but may not, 403). The change event says via fhir.';
revoke all on function fhir.care_team_delete(bigint) from public;
grant execute on function fhir.care_team_delete(bigint) to healthcare_api, healthcare_user;

set local role healthcare_owner;

-- AuditEvent: an event of the trail in the shape of the IHE Basic Audit Log
-- Patterns. p_mine, when not NULL, redacts it as the owner's access log
-- does: someone else's event loses their login, address and request id,
-- and names only the caller's patients (p_mine) of those a list returned.
create or replace function fhir.audit_event_resource(e audit.events, p_mine bigint[], p_uid bigint) returns json
language sql stable
as $$
  select pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'resourceType', 'AuditEvent', 'id', e.id::text,
    'meta', pg_catalog.json_build_object('versionId', '1', 'lastUpdated', fhir.instant(e.at)),
    'type', pg_catalog.json_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-event-type', 'code', 'rest',
                                         'display', 'RESTful Operation'),
    'subtype', pg_catalog.json_build_array(pg_catalog.json_build_object('system', 'http://hl7.org/fhir/restful-interaction',
      'code', case e.action when 'list' then 'search-type' when 'prune' then 'delete' else e.action end)),
    'action', case e.action when 'create' then 'C' when 'import' then 'C' when 'read' then 'R' when 'update' then 'U' when 'list' then 'E' else 'D' end,
    'recorded', fhir.instant(e.at),
    'outcome', case when e.outcome = 'ok' then '0' else '4' end,
    'outcomeDesc', e.outcome,
    'agent', pg_catalog.json_build_array(case
      when p_mine is not null and e.user_id is distinct from p_uid
        then pg_catalog.json_build_object(
               'who', case when e.user_id is not null then pg_catalog.json_build_object('identifier', pg_catalog.json_build_object(
                        'system', 'https://healthcare.example.org/fhir/sid/user', 'value', e.user_id::text)) end,
               'name', case when e.user_id is null then 'anonymous' end,
               'requestor', true)
      else pg_catalog.json_build_object(
               'who', case when e.user_id is not null then pg_catalog.json_build_object('identifier', pg_catalog.json_build_object(
                        'system', 'https://healthcare.example.org/fhir/sid/user', 'value', e.user_id::text)) end,
               'name', case when e.user_id is null then 'anonymous' end,
               'altId', e.db_role,
               'requestor', true,
               'network', case when e.client_addr is not null then pg_catalog.json_build_object(
                            'address', pg_catalog.host(e.client_addr), 'type', '2') end) end),
    'source', pg_catalog.json_build_object(
      'site', e.door,
      'observer', pg_catalog.json_build_object('display', 'healthcare (' || e.door || ' door)'),
      'type', pg_catalog.json_build_array(pg_catalog.json_build_object(
        'system', 'http://terminology.hl7.org/CodeSystem/security-source-type', 'code', '4', 'display', 'Application Server'))),
    'entity', (select pg_catalog.json_agg(x.entity order by x.n) from (
        select 1 as n, 0::bigint as k, pg_catalog.json_build_object(
                 'what', pg_catalog.json_build_object('reference', 'Patient/' || e.patient_id),
                 'type', pg_catalog.json_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-entity-type', 'code', '1', 'display', 'Person'),
                 'role', pg_catalog.json_build_object('system', 'http://terminology.hl7.org/CodeSystem/object-role', 'code', '1', 'display', 'Patient')) as entity
         where e.patient_id is not null
        union all
        select 2, l.p, pg_catalog.json_build_object(
                 'what', pg_catalog.json_build_object('reference', 'Patient/' || l.p),
                 'type', pg_catalog.json_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-entity-type', 'code', '1', 'display', 'Person'),
                 'role', pg_catalog.json_build_object('system', 'http://terminology.hl7.org/CodeSystem/object-role', 'code', '1', 'display', 'Patient'))
          from pg_catalog.unnest(e.patients) l (p)
         where p_mine is null or e.user_id is not distinct from p_uid or l.p = any (p_mine)
        union all
        select 3, 0, pg_catalog.json_build_object(
                 'what', pg_catalog.json_build_object('reference', 'Practitioner/' || (e.detail ->> 'doctor')),
                 'type', pg_catalog.json_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-entity-type', 'code', '2', 'display', 'System Object'))
         where e.detail ->> 'object' = 'doctor' and e.detail ->> 'doctor' ~ '^[0-9]+$'
        union all
        select 4, 0, pg_catalog.json_build_object(
                 'type', pg_catalog.json_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-entity-type', 'code', '2', 'display', 'System Object'),
                 'description', e.detail ->> 'object',
                 'detail', (select pg_catalog.json_agg(pg_catalog.json_build_object('type', d.key, 'valueString', d.value) order by d.key)
                              from pg_catalog.jsonb_each_text(e.detail) d
                             where d.key in ('via', 'version', 'mapping', 'doctor') and d.value <> ''))
         where e.detail ? 'object'
        order by 1, 2) x)))
$$;
comment on function fhir.audit_event_resource(audit.events,bigint[],bigint) is
  'An audit event as a FHIR R4 AuditEvent (IHE Basic Audit Log Patterns): action C/R/U/D/E, recorded, outcome (0 ok, 4 refused) and outcomeDesc, agent (who: the app user''s identifier, requestor; altId and network for admins and the caller''s own events), source (observer: the door), entity (what: the patient or patients, the doctor; detail: via, version, mapping, doctor). With p_mine (an owner''s patients) it is redacted as the access log is, but for p_uid''s own events.';
revoke all on function fhir.audit_event_resource(audit.events,bigint[],bigint) from public;
grant execute on function fhir.audit_event_resource(audit.events,bigint[],bigint) to healthcare_access;

set local role healthcare_access;

create or replace function fhir.audit_event(p_id bigint) returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_admin boolean := app.current_user_is_admin();
  v_mine bigint[];
  v_event audit.events;
begin
  select * into v_event from audit.events e where e.id = p_id;
  if not v_admin and v_event.id is not null then
    select array_agg(p.id) into v_mine from app.patients p
     where p.owner_id = v_uid and (p.id = v_event.patient_id or p.id = any (v_event.patients));
    if v_mine is null or not (v_event.outcome = 'ok' or v_event.user_id = v_uid) then
      v_event := null;
    end if;
  end if;
  if v_event.id is null then
    return app.refuse('read', null, jsonb_build_object('object', 'audit_event', 'event', p_id, 'via', 'fhir'), 'RNTFD', 'audit event not found');
  end if;
  perform app.audit_as(v_uid, 'read', 'ok', v_event.patient_id, null, jsonb_build_object('object', 'audit_event', 'event', p_id, 'via', 'fhir'));
  return fhir.audit_event_resource(v_event, case when v_admin then null else v_mine end, v_uid);
end
$$;
comment on function fhir.audit_event(bigint) is
  'GET /fhir/AuditEvent/<id>: admins read any event; an owner an event of their patients (others'' refused attempts excepted), redacted as the access log is. Reading it is recorded with via fhir.';
revoke all on function fhir.audit_event(bigint) from public;
grant execute on function fhir.audit_event(bigint) to healthcare_api, healthcare_user;

create or replace function fhir.audit_event_search(p_patient bigint default null, p_agent bigint default null,
                                                   p_from timestamptz default null, p_before timestamptz default null,
                                                   p_until bigint default null,
                                                   p_count integer default null, p_offset integer default null, p_base text default null)
returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_uid bigint := app.require_user();
  v_admin boolean := app.current_user_is_admin();
  v_base text := fhir.base(p_base);
  v_limit integer := fhir.page_count(p_count);
  v_offset integer := app.page_offset(p_offset);
  v_mine bigint[];
  -- The newest event a page may show: the pages of one search stay put
  -- while reading them adds events (each read is one).
  v_until bigint := coalesce(p_until, (select max(e.id) from audit.events e), 0);
  v_url text;
  v_count bigint;
  v_rows text;
begin
  -- An owner's events are those of their patients (the one asked for, or all).
  if not v_admin then
    select coalesce(array_agg(p.id), '{}') into v_mine from app.patients p
     where p.owner_id = v_uid and (p_patient is null or p.id = p_patient);
  end if;
  v_url := v_base || '/AuditEvent?'
           || case when p_patient is not null then 'entity=Patient%2F' || p_patient || '&' else '' end
           || case when p_agent is not null then 'agent=' || p_agent || '&' else '' end
           || case when p_from is not null then 'date=ge' || app.url_encode(fhir.instant(p_from)) || '&' else '' end
           || case when p_before is not null then 'date=lt' || app.url_encode(fhir.instant(p_before)) || '&' else '' end
           || '_until=' || v_until || '&';
  select count(*) into v_count from audit.events e
   where e.id <= v_until and (v_admin or e.outcome = 'ok' or e.user_id = v_uid)
     and (case when v_admin then p_patient is null or e.patient_id = p_patient or e.patients @> array[p_patient]
               else e.patient_id = any (v_mine) or e.patients && v_mine end)
     and (p_agent is null or e.user_id = p_agent)
     and (p_from is null or e.at >= p_from) and (p_before is null or e.at < p_before);
  if v_limit > 0 then
    select string_agg(fhir.match(v_base || '/AuditEvent/' || e.id, fhir.audit_event_resource(e, v_mine, v_uid)::text), ', ' order by e.id desc)
      into v_rows
      from (select * from audit.events e
             where e.id <= v_until and (v_admin or e.outcome = 'ok' or e.user_id = v_uid)
               and (case when v_admin then p_patient is null or e.patient_id = p_patient or e.patients @> array[p_patient]
                         else e.patient_id = any (v_mine) or e.patients && v_mine end)
               and (p_agent is null or e.user_id = p_agent)
               and (p_from is null or e.at >= p_from) and (p_before is null or e.at < p_before)
             order by e.id desc limit v_limit offset v_offset) e;
  end if;
  -- Reading the trail is an access too (its details hold patient data).
  -- The patient is recorded only where the caller may read its trail: a
  -- name of someone else's patient must not put a read in its owner's log.
  perform app.audit_as(v_uid, 'list', 'ok',
                       case when v_admin or p_patient = any (v_mine) then p_patient end, null,
                       jsonb_build_object('object', 'audit_events', 'user', p_agent, 'via', 'fhir'));
  return fhir.page_bundle('searchset', v_count, v_url, v_limit, v_offset, v_rows);
end
$$;
comment on function fhir.audit_event_search(bigint,bigint,timestamp with time zone,timestamp with time zone,bigint,integer,integer,text) is
  'GET /fhir/AuditEvent?entity=&patient=&agent=&date=: the trail newest first, up to event p_until (the newest when the first page was read, which the page links carry as _until). Admins search every event; anyone else the events of their own patients (all of them, or the one named), redacted as the access log is, refused attempts by others left out. Recorded with via fhir.';
revoke all on function fhir.audit_event_search(bigint,bigint,timestamp with time zone,timestamp with time zone,bigint,integer,integer,text) from public;
grant execute on function fhir.audit_event_search(bigint,bigint,timestamp with time zone,timestamp with time zone,bigint,integer,integer,text) to healthcare_api, healthcare_user;

reset role;
