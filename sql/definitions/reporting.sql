-- The reporting door: published cells with perturbation and suppression, and the reporting views.
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_owner;

grant select on app.reporting_settings to healthcare_reporter;

drop policy if exists all_owner on app.reporting_settings;
create policy all_owner on app.reporting_settings for all to healthcare_owner using (true) with check (true);
comment on policy all_owner on app.reporting_settings is
  'The owner (privileged connection) changes the settings.';

grant select, insert on app.reporting_releases to healthcare_reporter;

drop policy if exists all_owner on app.reporting_releases;
create policy all_owner on app.reporting_releases for all to healthcare_owner using (true) with check (true);
comment on policy all_owner on app.reporting_releases is
  'The owner (privileged connection) may remove releases.';

drop policy if exists select_reporter on app.reporting_releases;
create policy select_reporter on app.reporting_releases for select to healthcare_reporter using (true);
comment on policy select_reporter on app.reporting_releases is
  'The reporting views (owner healthcare_reporter) read the latest release.';

drop policy if exists insert_reporter on app.reporting_releases;
create policy insert_reporter on app.reporting_releases for insert to healthcare_reporter with check (true);
comment on policy insert_reporter on app.reporting_releases is
  'app.release_reports (owner healthcare_reporter) adds releases.';

drop policy if exists select_reporter on app.reporting_settings;
create policy select_reporter on app.reporting_settings for select to healthcare_reporter using (true);
comment on policy select_reporter on app.reporting_settings is
  'The reporting functions read the threshold.';

create or replace function app.cell_perturbation(p_cell_key bigint) returns integer
language sql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select case
           when k < 50000 then -2
           when k < 250000 then -1
           when k < 750000 then 0
           when k < 950000 then 1
           else 2
         end
    from (select p_cell_key % 1000000 as k) s
$$;
comment on function app.cell_perturbation(bigint) is
  'The perturbation table of the cell key method: a cell key (sum of record keys) modulo 10^6 gives -2 (5%), -1 (20%), 0 (50%), +1 (20%) or +2 (5%).';
revoke all on function app.cell_perturbation(bigint) from public;
grant execute on function app.cell_perturbation(bigint) to healthcare_reporter;

create or replace function app.publish_cells(p_cells app.report_cell[], p_min_cell integer)
returns table (row_label text, col_label text, published bigint, suppressed boolean)
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
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
comment on function app.publish_cells(app.report_cell[],integer) is
  'Publishes a table of cells: primary suppression with dominance (n minus the largest contributor below p_min_cell), complementary suppression per row and column, cell key perturbation of what is published.';
revoke all on function app.publish_cells(app.report_cell[],integer) from public;
grant execute on function app.publish_cells(app.report_cell[],integer) to healthcare_reporter;

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
revoke all on function app.report_patients_by_age_band() from public;

create or replace function app.report_patients_per_specialization()
returns table (specialization text, patients bigint, suppressed boolean)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
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
comment on function app.report_patients_per_specialization() is
  'Published cells of reporting.patients_per_specialization. Security definer (owner healthcare_reporter, policies select_reporter).';
revoke all on function app.report_patients_per_specialization() from public;

create or replace function app.report_mappings_per_doctor()
returns table (doctor_id bigint, specialization text, mappings bigint, suppressed boolean)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
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
comment on function app.report_mappings_per_doctor() is
  'Published cells of reporting.mappings_per_doctor. Security definer (owner healthcare_reporter, policies select_reporter).';
revoke all on function app.report_mappings_per_doctor() from public;

-- Whether a patient exists at all, for telling not_found from forbidden in
-- refused attempts. Security definer (owner healthcare_reporter, whose
-- policy select_reporter sees every row's id and owner).
create or replace function app.patient_exists(p_id bigint)
returns boolean
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select exists (select from app.patients p where p.id = p_id)
$$;
comment on function app.patient_exists(bigint) is
  'True when the patient exists, whoever owns it; only for recording refused attempts. Security definer (owner healthcare_reporter, policy patients.select_reporter).';
revoke all on function app.patient_exists(bigint) from public;
grant execute on function app.patient_exists(bigint) to healthcare_access;

-- Whether other users' patients are mapped to a doctor: the mappings and
-- owners the caller cannot see. Owner healthcare_reporter, whose
-- select_reporter policies read ids, owners and mappings (never names).
create or replace function app.doctor_serves_others(p_doctor bigint, p_user bigint)
returns boolean
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select exists (select from app.patient_doctors m join app.patients p on p.id = m.patient_id
                  where m.doctor_id = p_doctor and p.owner_id is distinct from p_user)
$$;
comment on function app.doctor_serves_others(bigint,bigint) is
  'True when a patient not owned by p_user is mapped to the doctor. Security definer (owner healthcare_reporter, policies select_reporter): the caller cannot see those mappings.';
revoke all on function app.doctor_serves_others(bigint,bigint) from public;
grant execute on function app.doctor_serves_others(bigint,bigint) to healthcare_access;

-- A release: the three tables as they stand, computed once and kept. Made
-- when the latest is older than app.reporting_settings.release_interval
-- (or always with p_force, for the privileged connection). No lock: any
-- login can take an advisory lock and hold it, and two server copies
-- releasing at once cost only a second, identical release.
create or replace function app.release_reports(p_force boolean default false)
returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id bigint;
begin
  if not p_force and exists (select from app.reporting_releases r
                              where r.released_at > now() - (select s.release_interval from app.reporting_settings s)) then
    return json_build_object('released', false, 'reason', 'the latest release is recent');
  end if;
  insert into app.reporting_releases (patients_by_age_band, patients_per_specialization, mappings_per_doctor)
  values ((select coalesce(jsonb_agg(to_jsonb(r) - 'o' order by o), '[]') from app.report_patients_by_age_band() with ordinality r(age_band, gender, patients, suppressed, o)),
          (select coalesce(jsonb_agg(to_jsonb(r) - 'o' order by o), '[]') from app.report_patients_per_specialization() with ordinality r(specialization, patients, suppressed, o)),
          (select coalesce(jsonb_agg(to_jsonb(r) - 'o' order by o), '[]') from app.report_mappings_per_doctor() with ordinality r(doctor_id, specialization, mappings, suppressed, o)))
  returning id into v_id;
  return json_build_object('released', true, 'release', v_id);
end
$$;
comment on function app.release_reports(boolean) is
  'Makes a release of the reporting door when the latest is older than release_interval (always with p_force), taking no lock a login could hold. Security definer (owner healthcare_reporter, policies select_reporter). The server calls it periodically; `healthcare report release` forces one.';
revoke all on function app.release_reports(boolean) from public;
grant execute on function app.release_reports(boolean) to healthcare_access, healthcare_owner;

set local role healthcare_access;

-- The server's door to releases: it may ask for one, never force one (a
-- forced release per reading would bring the averaging back).
create or replace function api.release_reports()
returns json
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  return app.release_reports(false);
end
$$;
comment on function api.release_reports() is
  'Makes a release of the reporting door when the latest is older than app.reporting_settings.release_interval; the server asks every minute. Never forced: that is for the privileged connection (app.release_reports(true)). Security definer (owner healthcare_access).';
revoke all on function api.release_reports() from public;
grant execute on function api.release_reports() to healthcare_api;

set local role healthcare_reporter;

create or replace function app.released_patients_per_specialization()
returns table (specialization text, patients bigint, suppressed boolean)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select x.specialization, x.patients, x.suppressed
    from app.reporting_releases r,
         rows from (jsonb_to_recordset(r.patients_per_specialization) as (specialization text, patients bigint, suppressed boolean)) with ordinality x(specialization, patients, suppressed, o)
   where r.id = (select max(l.id) from app.reporting_releases l)
   order by x.o
$$;
comment on function app.released_patients_per_specialization() is
  'reporting.patients_per_specialization of the latest release. Security definer (owner healthcare_reporter, policy reporting_releases.select_reporter).';
revoke all on function app.released_patients_per_specialization() from public;
grant execute on function app.released_patients_per_specialization() to healthcare_reporting;

create or replace view reporting.patients_per_specialization as select * from app.released_patients_per_specialization();
comment on view reporting.patients_per_specialization is
  'Distinct patients treated per doctor specialization, published as reporting.patients_by_age_band is, as of the latest release.';
grant select on reporting.patients_per_specialization to healthcare_reporting;

create or replace function app.released_patients_by_age_band()
returns table (age_band text, gender text, patients bigint, suppressed boolean)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select x.age_band, x.gender, x.patients, x.suppressed
    from app.reporting_releases r,
         rows from (jsonb_to_recordset(r.patients_by_age_band) as (age_band text, gender text, patients bigint, suppressed boolean)) with ordinality x(age_band, gender, patients, suppressed, o)
   where r.id = (select max(l.id) from app.reporting_releases l)
   order by x.o
$$;
comment on function app.released_patients_by_age_band() is
  'reporting.patients_by_age_band of the latest release. Security definer (owner healthcare_reporter, policy reporting_releases.select_reporter).';
revoke all on function app.released_patients_by_age_band() from public;
grant execute on function app.released_patients_by_age_band() to healthcare_reporting;

create or replace view reporting.patients_by_age_band as select * from app.released_patients_by_age_band();
comment on view reporting.patients_by_age_band is
  'Patients by age band (0-17, 18-29, 30-44, 45-64, 65+) and FHIR administrative gender (male, female, other, unknown), as of the latest release (app.reporting_releases). Published cells only: suppressed (NULL) below the threshold besides the largest contributor, with complementary suppression; published counts carry a fixed perturbation of -2..+2.';
grant select on reporting.patients_by_age_band to healthcare_reporting;

create or replace function app.released_mappings_per_doctor()
returns table (doctor_id bigint, specialization text, mappings bigint, suppressed boolean)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select x.doctor_id, x.specialization, x.mappings, x.suppressed
    from app.reporting_releases r,
         rows from (jsonb_to_recordset(r.mappings_per_doctor) as (doctor_id bigint, specialization text, mappings bigint, suppressed boolean)) with ordinality x(doctor_id, specialization, mappings, suppressed, o)
   where r.id = (select max(l.id) from app.reporting_releases l)
   order by x.o
$$;
comment on function app.released_mappings_per_doctor() is
  'reporting.mappings_per_doctor of the latest release. Security definer (owner healthcare_reporter, policy reporting_releases.select_reporter).';
revoke all on function app.released_mappings_per_doctor() from public;
grant execute on function app.released_mappings_per_doctor() to healthcare_reporting;

create or replace view reporting.mappings_per_doctor as select * from app.released_mappings_per_doctor();
comment on view reporting.mappings_per_doctor is
  'Patients mapped to each doctor (by id and specialization, never name), published as reporting.patients_by_age_band is, as of the latest release.';
grant select on reporting.mappings_per_doctor to healthcare_reporting;

reset role;
