-- A patient's gender comes back as it was sent.
--
-- Until now app.patients.gender held one of the FHIR administrative genders
-- and the api functions refused anything app.normalize_gender did not
-- recognise, so a client of the system this one replaces that posted
-- "Male" read back "male", and "Non-binary" or "Prefer not to say" were
-- 400s. Now:
--
--   * gender stores the text as sent, trimmed, up to 100 characters (the
--     limit of the other free-text fields of the directory). Left out on
--     create (NULL), it is 'unknown', as before; an empty string is stored
--     as the empty string.
--   * gender_fhir is derived from it by app.gender_fhir, a generated column,
--     so it never drifts from what was sent: male, female, other or
--     unknown. Recognised spellings map as app.normalize_gender did
--     (m/male/man, f/female/woman, o/other, u/unknown/empty); a refusal to
--     answer (prefer not to say, not stated, declined, ...) is unknown;
--     any other text is a gender given that is neither male nor female,
--     so it is other.
--   * the REST JSON keeps gender as sent and adds gender_fhir; the psql
--     view records.patients gains the column too.
--   * the reporting door counts by gender_fhir, never by the free text
--     (free text would make small cells that can point at one person), and
--     healthcare_reporter can no longer read the free text at all.
--
-- Existing rows hold one of the four FHIR values, which are valid free text
-- too: they keep their value and derive the same gender_fhir.

set local role healthcare_owner;

create function app.gender_fhir(p_gender text) returns text
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

alter table app.patients drop constraint patients_gender_check;
alter table app.patients add constraint patients_gender_check
  check (gender = pg_catalog.btrim(gender) and pg_catalog.length(gender) <= 100);
comment on column app.patients.gender is
  'Gender as the client sent it, trimmed, at most 100 characters (''unknown'' when left out). Identifying free text: reporting reads gender_fhir instead.';

alter table app.patients add column gender_fhir text not null
  generated always as (app.gender_fhir(gender)) stored
  constraint patients_gender_fhir_check check (gender_fhir in ('male', 'female', 'other', 'unknown'));
comment on column app.patients.gender_fhir is
  'FHIR administrative gender derived from gender (app.gender_fhir): male, female, other or unknown. For reporting and interoperability.';

create or replace function app.check_gender(p_gender text) returns text
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
begin
  if p_gender is null then
    return 'unknown';
  elsif length(btrim(p_gender)) > 100 then
    raise exception 'gender must be at most 100 characters' using errcode = 'RINVL', column = 'gender';
  end if;
  return btrim(p_gender);
end
$$;
comment on function app.check_gender(text) is
  'Trims a gender as sent; ''unknown'' for NULL; error RINVL (field gender) when longer than 100 characters.';

create or replace function app.patient_json(p app.patients) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', p.id, 'name', p.name, 'age', p.age, 'gender', p.gender,
                                      'gender_fhir', p.gender_fhir,
                                      'user', p.owner_id, 'created_at', p.created_at, 'updated_at', p.updated_at)
$$;

-- The reporting functions read the derived gender, never the free text.
grant select (gender_fhir) on app.patients to healthcare_reporter;
revoke select (gender) on app.patients from healthcare_reporter;

-- records.patients shows the derived gender too: its function's result
-- type changes, so the view and the function are made again.
drop view records.patients;
drop function app.visible_patients();

create function app.visible_patients()
returns table (id bigint, owner_id bigint, name text, age integer, gender text, gender_fhir text,
               created_at timestamptz, updated_at timestamptz)
language sql stable security definer rows 100
set search_path = pg_catalog, pg_temp
as $$
  select p.id, p.owner_id, p.name, p.age, p.gender, p.gender_fhir, p.created_at, p.updated_at
    from app.patients p
   order by p.id
$$;
comment on function app.visible_patients() is
  'The patients the caller may see (their own; every one for admins), for records.patients. Security definer (owner healthcare_access): the caller has no privilege on app.patients, so nothing of other rows reaches EXPLAIN or statistics.';
revoke all on function app.visible_patients() from public;
grant execute on function app.visible_patients() to healthcare_user;
alter function app.visible_patients() owner to healthcare_access;

create view records.patients as select * from app.visible_patients();
comment on view records.patients is
  'Your patient profiles (every one, for admins): gender as sent, gender_fhir derived from it. Write with api.create_patient, api.update_patient and api.delete_patient.';
grant select on records.patients to healthcare_user;

reset role;

set local role healthcare_reporter;

create or replace function app.report_patients_by_age_band()
returns table (age_band text, gender text, patients bigint, suppressed boolean)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
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
comment on function app.report_patients_by_age_band() is
  'Published cells of reporting.patients_by_age_band, by age band and FHIR administrative gender (gender_fhir, never the free text). Security definer (owner healthcare_reporter, policies select_reporter).';

comment on view reporting.patients_by_age_band is
  'Patients by age band (0-17, 18-29, 30-44, 45-64, 65+) and FHIR administrative gender (male, female, other, unknown). Published cells only: suppressed (NULL) below the threshold besides the largest contributor, with complementary suppression; published counts carry a fixed perturbation of -2..+2.';

reset role;

---- create above / drop below ----

set local role healthcare_reporter;

create or replace function app.report_patients_by_age_band()
returns table (age_band text, gender text, patients bigint, suppressed boolean)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  with per_owner as (
    select case
             when p.age < 18 then '0-17'
             when p.age < 30 then '18-29'
             when p.age < 45 then '30-44'
             when p.age < 65 then '45-64'
             else '65+'
           end as age_band,
           p.gender, p.owner_id, count(*) as n, sum(p.record_key) as k
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
comment on function app.report_patients_by_age_band() is
  'Published cells of reporting.patients_by_age_band. Security definer (owner healthcare_reporter, policies select_reporter).';
comment on view reporting.patients_by_age_band is
  'Patients by age band (0-17, 18-29, 30-44, 45-64, 65+) and gender. Published cells only: suppressed (NULL) below the threshold besides the largest contributor, with complementary suppression; published counts carry a fixed perturbation of -2..+2.';

reset role;

set local role healthcare_owner;

drop view records.patients;
drop function app.visible_patients();
create function app.visible_patients()
returns table (id bigint, owner_id bigint, name text, age integer, gender text,
               created_at timestamptz, updated_at timestamptz)
language sql stable security definer rows 100
set search_path = pg_catalog, pg_temp
as $$
  select p.id, p.owner_id, p.name, p.age, p.gender, p.created_at, p.updated_at
    from app.patients p
   order by p.id
$$;
comment on function app.visible_patients() is
  'The patients the caller may see (their own; every one for admins), for records.patients. Security definer (owner healthcare_access): the caller has no privilege on app.patients, so nothing of other rows reaches EXPLAIN or statistics.';
revoke all on function app.visible_patients() from public;
grant execute on function app.visible_patients() to healthcare_user;
alter function app.visible_patients() owner to healthcare_access;
create view records.patients as select * from app.visible_patients();
comment on view records.patients is
  'Your patient profiles (every one, for admins). Write with api.create_patient, api.update_patient and api.delete_patient.';
grant select on records.patients to healthcare_user;

grant select (gender) on app.patients to healthcare_reporter;
revoke select (gender_fhir) on app.patients from healthcare_reporter;

create or replace function app.patient_json(p app.patients) returns json
language sql stable
as $$
  select pg_catalog.json_build_object('id', p.id, 'name', p.name, 'age', p.age, 'gender', p.gender,
                                      'user', p.owner_id, 'created_at', p.created_at, 'updated_at', p.updated_at)
$$;

create or replace function app.check_gender(p_gender text) returns text
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

-- Back to the four values: the free text becomes its FHIR gender (the only
-- loss of going down).
alter table app.patients drop column gender_fhir;
alter table app.patients drop constraint patients_gender_check;
alter table app.patients alter column gender type text using (app.gender_fhir(gender));
alter table app.patients add constraint patients_gender_check
  check (gender in ('male', 'female', 'other', 'unknown'));
comment on column app.patients.gender is 'male, female, other or unknown (FHIR administrative gender).';
drop function app.gender_fhir(text);

reset role;
