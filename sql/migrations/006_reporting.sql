-- Reporting views for BI tools (the reporting door).
--
-- healthcare_reporting logins read these views and nothing else. The views
-- count across all owners, which no user's policy allows, so they are owned by
-- healthcare_reporter: a role nobody can log in as or become, granted SELECT on
-- only the columns the views aggregate (never a name, username or e-mail) and
-- given one narrow select policy per table. Views run with their owner's
-- privileges, so that policy opens exactly these views.
--
-- Small-cell suppression: any count from 1 to 4 is reported as NULL with
-- suppressed = true, so a single patient cannot be singled out by age band,
-- gender or doctor. Zero is never reported (groups without rows do not appear).

set local role healthcare_owner;

grant select (id, age, gender) on app.patients to healthcare_reporter;
grant select (id, specialization) on app.doctors to healthcare_reporter;
grant select (patient_id, doctor_id) on app.patient_doctors to healthcare_reporter;

create policy select_reporter on app.patients for select to healthcare_reporter using (true);
comment on policy select_reporter on app.patients is
  'Reporting views (owner healthcare_reporter) count all patients; the role can read only id, age and gender and nobody can become it.';
create policy select_reporter on app.doctors for select to healthcare_reporter using (true);
comment on policy select_reporter on app.doctors is
  'Reporting views (owner healthcare_reporter) count by specialization; the role cannot read names.';
create policy select_reporter on app.patient_doctors for select to healthcare_reporter using (true);
comment on policy select_reporter on app.patient_doctors is
  'Reporting views (owner healthcare_reporter) count mappings.';

-- Suppression is written inline rather than as a helper function: functions in
-- a view are executed with the privileges of the view's user, and the
-- reporting role must need nothing in app.

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

-- Grant first: the owner role keeps no rights over a view it hands away.
grant select on reporting.patients_per_specialization, reporting.patients_by_age_band,
  reporting.mappings_per_doctor to healthcare_reporting;

alter view reporting.patients_per_specialization owner to healthcare_reporter;
alter view reporting.patients_by_age_band owner to healthcare_reporter;
alter view reporting.mappings_per_doctor owner to healthcare_reporter;

reset role;

---- create above / drop below ----

set local role healthcare_owner;
drop view reporting.patients_per_specialization, reporting.patients_by_age_band, reporting.mappings_per_doctor;
drop policy select_reporter on app.patients;
drop policy select_reporter on app.doctors;
drop policy select_reporter on app.patient_doctors;
revoke all on app.patients, app.doctors, app.patient_doctors from healthcare_reporter;
reset role;
