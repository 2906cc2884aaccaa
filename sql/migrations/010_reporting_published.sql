-- The reporting door shows only published numbers.
--
-- Until now the reporting views were plain aggregate views: EXPLAIN ANALYZE
-- on them printed the scan of app.patients with its actual row count (the
-- exact count behind a suppressed cell), and a user who added patients of
-- their own to a small cell could subtract them from the published count.
-- Now each view is a scan of a security definer function owned by
-- healthcare_reporter, which returns only the published cells, and the
-- cells are protected the way statistical offices protect tables:
--
--   * Threshold with dominance: a cell is published only when it holds at
--     least min_cell records *besides those of its largest contributor*
--     (the owning app user). Padding a small cell with one's own patients
--     therefore never publishes it.
--   * Complementary suppression: a row or column of a table never has
--     exactly one suppressed cell (the next smallest is suppressed too), so
--     no suppressed cell follows from a margin minus the published cells.
--   * Cell key perturbation: every patient and mapping carries a fixed
--     random record key; a cell's key is the sum of its records' keys, and
--     a fixed table turns it into a perturbation of -2..+2 (mean 0). The
--     same records always give the same published value, while any change
--     to a cell's records moves it unpredictably, so differences between
--     two publications do not reveal the records that changed.
--
-- min_cell is a setting in app.reporting_settings (default 10, never
-- below 3); docs/design.md says what this door promises and what it does
-- not.

set local role healthcare_owner;

create table app.reporting_settings (
  singleton boolean primary key default true
    constraint reporting_settings_singleton_check check (singleton),
  min_cell integer not null default 10
    constraint reporting_settings_min_cell_check check (min_cell >= 3)
);
insert into app.reporting_settings default values;
comment on table app.reporting_settings is
  'Settings of the reporting door (one row). Change with `update app.reporting_settings set min_cell = N` over the privileged connection.';
comment on column app.reporting_settings.singleton is 'Always true: the table holds one row.';
comment on column app.reporting_settings.min_cell is
  'A cell is published only when it holds at least this many records besides those of its largest contributor.';

alter table app.reporting_settings enable row level security;
alter table app.reporting_settings force row level security;
grant select on app.reporting_settings to healthcare_reporter;
create policy select_reporter on app.reporting_settings for select to healthcare_reporter using (true);
comment on policy select_reporter on app.reporting_settings is 'The reporting functions read the threshold.';
create policy all_owner on app.reporting_settings for all to healthcare_owner using (true) with check (true);
comment on policy all_owner on app.reporting_settings is 'The owner (privileged connection) changes the settings.';

-- Fixed random keys; the volatile default fills existing rows one by one.
alter table app.patients add column record_key integer not null
  default (floor(random() * 1000000))::integer
  constraint patients_record_key_check check (record_key between 0 and 999999);
comment on column app.patients.record_key is
  'Fixed random key for cell key perturbation of the reporting door; readable by healthcare_reporter only.';
alter table app.patient_doctors add column record_key integer not null
  default (floor(random() * 1000000))::integer
  constraint patient_doctors_record_key_check check (record_key between 0 and 999999);
comment on column app.patient_doctors.record_key is
  'Fixed random key for cell key perturbation of the reporting door; readable by healthcare_reporter only.';

grant select (owner_id, record_key) on app.patients to healthcare_reporter;
grant select (record_key) on app.patient_doctors to healthcare_reporter;

-- One cell of a table before publication.
create type app.report_cell as (
  row_label text,   -- the cell's row (for a one-way table: its category)
  col_label text,   -- the cell's column ('' for a one-way table)
  n bigint,         -- records in the cell
  dominant bigint,  -- records of its largest contributor
  cell_key bigint   -- sum of its records' keys
);
comment on type app.report_cell is 'A cell of a reporting table before suppression and perturbation.';

create function app.cell_perturbation(p_cell_key bigint) returns integer
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

create function app.publish_cells(p_cells app.report_cell[], p_min_cell integer)
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
comment on function app.publish_cells(app.report_cell[], integer) is
  'Publishes a table of cells: primary suppression with dominance (n minus the largest contributor below p_min_cell), complementary suppression per row and column, cell key perturbation of what is published.';

grant create on schema app to healthcare_reporter;
grant usage on schema reporting to healthcare_reporter;
grant execute on function app.cell_perturbation(bigint), app.publish_cells(app.report_cell[], integer) to healthcare_reporter;

reset role;

-- The views, now scans of definer functions that return published cells.
set local role healthcare_reporter;

drop view reporting.patients_per_specialization, reporting.patients_by_age_band, reporting.mappings_per_doctor;

create function app.report_patients_by_age_band()
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

create function app.report_patients_per_specialization()
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

create function app.report_mappings_per_doctor()
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

revoke all on function app.report_patients_by_age_band(), app.report_patients_per_specialization(),
  app.report_mappings_per_doctor() from public;
grant execute on function app.report_patients_by_age_band(), app.report_patients_per_specialization(),
  app.report_mappings_per_doctor() to healthcare_reporting;

create view reporting.patients_by_age_band as select * from app.report_patients_by_age_band();
comment on view reporting.patients_by_age_band is
  'Patients by age band (0-17, 18-29, 30-44, 45-64, 65+) and gender. Published cells only: suppressed (NULL) below the threshold besides the largest contributor, with complementary suppression; published counts carry a fixed perturbation of -2..+2.';
create view reporting.patients_per_specialization as select * from app.report_patients_per_specialization();
comment on view reporting.patients_per_specialization is
  'Distinct patients treated per doctor specialization, published as reporting.patients_by_age_band is.';
create view reporting.mappings_per_doctor as select * from app.report_mappings_per_doctor();
comment on view reporting.mappings_per_doctor is
  'Patients mapped to each doctor (by id and specialization, never name), published as reporting.patients_by_age_band is.';

grant select on reporting.patients_per_specialization, reporting.patients_by_age_band,
  reporting.mappings_per_doctor to healthcare_reporting;

reset role;

---- create above / drop below ----

set local role healthcare_reporter;
drop view reporting.patients_per_specialization, reporting.patients_by_age_band, reporting.mappings_per_doctor;
drop function app.report_patients_by_age_band(), app.report_patients_per_specialization(), app.report_mappings_per_doctor();

create view reporting.patients_per_specialization with (security_barrier) as
  select specialization,
         case when n >= 5 then n end as patients,
         n < 5 as suppressed
    from (select d.specialization, count(distinct m.patient_id) as n
            from app.doctors d
            join app.patient_doctors m on m.doctor_id = d.id
           group by d.specialization) s;
comment on view reporting.patients_per_specialization is
  'Distinct patients treated per doctor specialization; counts below 5 are NULL (suppressed).';

create view reporting.patients_by_age_band with (security_barrier) as
  select age_band,
         gender,
         case when n >= 5 then n end as patients,
         n < 5 as suppressed
    from (select case
                   when p.age < 18 then '0-17'
                   when p.age < 30 then '18-29'
                   when p.age < 45 then '30-44'
                   when p.age < 65 then '45-64'
                   else '65+'
                 end as age_band,
                 p.gender,
                 count(*) as n
            from app.patients p
           group by 1, 2) s;
comment on view reporting.patients_by_age_band is
  'Patients by age band (0-17, 18-29, 30-44, 45-64, 65+) and gender; counts below 5 are NULL (suppressed).';

create view reporting.mappings_per_doctor with (security_barrier) as
  select doctor_id,
         specialization,
         case when n >= 5 then n end as mappings,
         n < 5 as suppressed
    from (select d.id as doctor_id, d.specialization, count(*) as n
            from app.doctors d
            join app.patient_doctors m on m.doctor_id = d.id
           group by d.id, d.specialization) s;
comment on view reporting.mappings_per_doctor is
  'Patients mapped to each doctor (by id and specialization, never name); counts below 5 are NULL (suppressed).';

grant select on reporting.patients_per_specialization, reporting.patients_by_age_band,
  reporting.mappings_per_doctor to healthcare_reporting;
reset role;

set local role healthcare_owner;
revoke select (owner_id, record_key) on app.patients from healthcare_reporter;
revoke select (record_key) on app.patient_doctors from healthcare_reporter;
revoke create on schema app from healthcare_reporter;
revoke usage on schema reporting from healthcare_reporter;
drop function app.publish_cells(app.report_cell[], integer), app.cell_perturbation(bigint);
drop type app.report_cell;
alter table app.patients drop column record_key;
alter table app.patient_doctors drop column record_key;
drop table app.reporting_settings;
reset role;
