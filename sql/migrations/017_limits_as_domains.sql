-- Each text limit is written once, as a domain, and everything relies on
-- it: the column has the domain's type, and app.check_text casts to it to
-- turn a violation into the field's RINVL error (migration 003 and 012 had
-- the limits in table constraints, and the api functions repeated 200 and
-- 100). Each domain's constraint keeps the table constraint's old name, so
-- a write that breaks it still names patients_name_check and friends.
--
-- gender_fhir is generated from gender, and PostgreSQL cannot change the
-- type of a column a generated column reads: it is dropped and added again,
-- which rewrites app.patients once, under this migration's lock.
--
-- app.check_name(text, text, integer) gives way to app.check_text(text,
-- regtype, text) (sql/definitions/base.sql).

set local role healthcare_owner;

create domain app.patient_name as text
  constraint patients_name_check check (value = pg_catalog.btrim(value) and pg_catalog.length(value) between 1 and 200);
comment on domain app.patient_name is 'A patient''s name: trimmed, 1 to 200 characters.';

create domain app.patient_gender as text
  constraint patients_gender_check check (value = pg_catalog.btrim(value) and pg_catalog.length(value) <= 100);
comment on domain app.patient_gender is 'Gender as the client sent it: trimmed, at most 100 characters.';

create domain app.doctor_name as text
  constraint doctors_name_check check (value = pg_catalog.btrim(value) and pg_catalog.length(value) between 1 and 200);
comment on domain app.doctor_name is 'A doctor''s name: trimmed, 1 to 200 characters.';

create domain app.doctor_specialization as text
  constraint doctors_specialization_check check (value = pg_catalog.btrim(value) and pg_catalog.length(value) between 1 and 100);
comment on domain app.doctor_specialization is 'A doctor''s specialization: trimmed, 1 to 100 characters.';

alter table app.patients
  drop column gender_fhir,
  drop constraint patients_name_check,
  drop constraint patients_gender_check;
alter table app.patients
  alter column name type app.patient_name,
  alter column gender type app.patient_gender,
  add column gender_fhir text not null
    generated always as (app.gender_fhir(gender)) stored
    constraint patients_gender_fhir_check check (gender_fhir in ('male', 'female', 'other', 'unknown'));
comment on column app.patients.gender_fhir is
  'FHIR administrative gender derived from gender (app.gender_fhir): male, female, other or unknown. For reporting and interoperability.';

alter table app.doctors
  drop constraint doctors_name_check,
  drop constraint doctors_specialization_check;
alter table app.doctors
  alter column name type app.doctor_name,
  alter column specialization type app.doctor_specialization;

drop function app.check_name(text, text, integer);

reset role;
