-- Health records: patient profiles, the public doctor directory, and the
-- mappings between them, each with its whole security contract.
--
-- Ownership (docs/design.md): a patient profile is visible only to the user who
-- created it and to admins; doctors are a public directory that any signed-in
-- user extends and only the creator or an admin changes; a mapping is visible
-- exactly when its patient is (its policies ask app.patients, whose own
-- policies then apply), so ownership is written once.
--
-- Gender is stored as one of the FHIR administrative genders: male, female,
-- other, unknown. app.normalize_gender maps the free text of the old system
-- (M/F/Male/woman/...) onto them; anything else is refused.

set local role healthcare_owner;

create table app.patients (
  id bigint generated always as identity primary key,
  owner_id bigint not null default app.current_user_id()
    references app.users (id) on delete cascade,
  name text not null
    constraint patients_name_check check (name = btrim(name) and length(name) between 1 and 200),
  age integer not null
    constraint patients_age_check check (age between 0 and 150),
  gender text not null default 'unknown'
    constraint patients_gender_check check (gender in ('male', 'female', 'other', 'unknown')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Every policy and list filters by owner and orders by id.
create index patients_owner_id_id_idx on app.patients (owner_id, id);

comment on table app.patients is 'Patient health-record profiles. Owned by the app user who created them; removing the user removes them.';
comment on column app.patients.owner_id is 'Owning app user; defaults to the caller, so psql users need not (and cannot usefully) set it.';
comment on column app.patients.name is 'Patient name: identifying health data, never exposed to reporting.';
comment on column app.patients.age is 'Age in years, 0 to 150.';
comment on column app.patients.gender is 'male, female, other or unknown (FHIR administrative gender).';

create trigger patients_touch_updated_at before update on app.patients
  for each row execute function app.touch_updated_at();

create table app.doctors (
  id bigint generated always as identity primary key,
  name text not null
    constraint doctors_name_check check (name = btrim(name) and length(name) between 1 and 200),
  specialization text not null
    constraint doctors_specialization_check check (specialization = btrim(specialization) and length(specialization) between 1 and 100),
  -- A doctor outlives the account that listed it: the directory is shared.
  created_by bigint default app.current_user_id()
    references app.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index doctors_specialization_lower_idx on app.doctors (lower(specialization), id);
create index doctors_created_by_idx on app.doctors (created_by);

comment on table app.doctors is 'Public doctor directory. Anyone lists it; the creator or an admin changes it.';
comment on column app.doctors.created_by is 'App user who listed the doctor; NULL once that account is removed.';
comment on column app.doctors.name is 'The doctor''s name, public in the directory; personal data of the doctor.';
comment on column app.doctors.specialization is 'Specialty as listed, 1 to 100 characters; reporting counts by it.';

create trigger doctors_touch_updated_at before update on app.doctors
  for each row execute function app.touch_updated_at();

create table app.patient_doctors (
  id bigint generated always as identity primary key,
  patient_id bigint not null references app.patients (id) on delete cascade,
  doctor_id bigint not null references app.doctors (id) on delete cascade,
  created_at timestamptz not null default now(),
  constraint patient_doctors_patient_id_doctor_id_key unique (patient_id, doctor_id)
);

create index patient_doctors_doctor_id_idx on app.patient_doctors (doctor_id);

comment on table app.patient_doctors is 'Which doctors treat which patient. Removing either side removes the mapping.';
comment on column app.patient_doctors.patient_id is 'The patient; the mapping is visible exactly when this patient is.';
comment on column app.patient_doctors.doctor_id is 'The doctor treating the patient; health data, since it tells a patient''s care.';

-- Row-level security, forced so that even the owner role meets it.
alter table app.patients enable row level security;
alter table app.patients force row level security;
alter table app.doctors enable row level security;
alter table app.doctors force row level security;
alter table app.patient_doctors enable row level security;
alter table app.patient_doctors force row level security;

grant select, delete on app.patients to healthcare_api, healthcare_user;
grant insert (name, age, gender), update (name, age, gender) on app.patients to healthcare_api, healthcare_user;
grant select, delete on app.doctors to healthcare_api, healthcare_user;
grant insert (name, specialization), update (name, specialization) on app.doctors to healthcare_api, healthcare_user;
grant select, insert (patient_id, doctor_id), delete on app.patient_doctors to healthcare_api, healthcare_user;

-- patients
create policy select_own on app.patients for select to healthcare_api, healthcare_user
  using (owner_id = (select app.current_user_id()));
comment on policy select_own on app.patients is 'A patient profile is visible only to the user who created it.';
create policy select_admin on app.patients for select to healthcare_api, healthcare_user
  using ((select app.current_user_is_admin()));
comment on policy select_admin on app.patients is 'Admins read every patient profile.';
create policy insert_own on app.patients for insert to healthcare_api, healthcare_user
  with check (owner_id = (select app.current_user_id()));
comment on policy insert_own on app.patients is 'A signed-in user creates profiles they own; anonymous callers create none.';
create policy update_own on app.patients for update to healthcare_api, healthcare_user
  using (owner_id = (select app.current_user_id()))
  with check (owner_id = (select app.current_user_id()));
comment on policy update_own on app.patients is 'Only the owner changes a profile.';
create policy update_admin on app.patients for update to healthcare_api, healthcare_user
  using ((select app.current_user_is_admin())) with check ((select app.current_user_is_admin()));
comment on policy update_admin on app.patients is 'Admins change any profile.';
create policy delete_own on app.patients for delete to healthcare_api, healthcare_user
  using (owner_id = (select app.current_user_id()));
comment on policy delete_own on app.patients is 'Only the owner deletes a profile.';
create policy delete_admin on app.patients for delete to healthcare_api, healthcare_user
  using ((select app.current_user_is_admin()));
comment on policy delete_admin on app.patients is 'Admins delete any profile.';

-- doctors
create policy select_all on app.doctors for select to healthcare_api, healthcare_user
  using (true);
comment on policy select_all on app.doctors is 'The directory is public, anonymous REST callers included.';
create policy insert_signed_in on app.doctors for insert to healthcare_api, healthcare_user
  with check (created_by = (select app.current_user_id()));
comment on policy insert_signed_in on app.doctors is 'Any signed-in user lists a doctor, recorded as its creator.';
create policy update_creator on app.doctors for update to healthcare_api, healthcare_user
  using (created_by = (select app.current_user_id()))
  with check (created_by = (select app.current_user_id()));
comment on policy update_creator on app.doctors is 'Only the creator changes a doctor.';
create policy update_admin on app.doctors for update to healthcare_api, healthcare_user
  using ((select app.current_user_is_admin())) with check ((select app.current_user_is_admin()));
comment on policy update_admin on app.doctors is 'Admins change any doctor.';
create policy delete_creator on app.doctors for delete to healthcare_api, healthcare_user
  using (created_by = (select app.current_user_id()));
comment on policy delete_creator on app.doctors is 'Only the creator removes a doctor.';
create policy delete_admin on app.doctors for delete to healthcare_api, healthcare_user
  using ((select app.current_user_is_admin()));
comment on policy delete_admin on app.doctors is 'Admins remove any doctor.';

-- mappings: visible, creatable and deletable exactly when the patient is visible
-- to the caller (the sub-select meets app.patients' policies).
create policy select_patient_visible on app.patient_doctors for select to healthcare_api, healthcare_user
  using (exists (select from app.patients p where p.id = patient_id));
comment on policy select_patient_visible on app.patient_doctors is 'A mapping is visible to whoever sees its patient: the owner and admins.';
create policy insert_patient_visible on app.patient_doctors for insert to healthcare_api, healthcare_user
  with check (exists (select from app.patients p where p.id = patient_id));
comment on policy insert_patient_visible on app.patient_doctors is 'Only a patient you can see (your own; any, for admins) can be mapped.';
create policy delete_patient_visible on app.patient_doctors for delete to healthcare_api, healthcare_user
  using (exists (select from app.patients p where p.id = patient_id));
comment on policy delete_patient_visible on app.patient_doctors is 'Only mappings of patients you can see can be removed.';

-- Maps the old system's free-text gender onto the stored set; NULL when
-- unrecognised. No search_path clause (it names pg_catalog itself) so the
-- planner can inline it into every patient write.
create function app.normalize_gender(p_gender text) returns text
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
grant execute on function app.normalize_gender(text) to healthcare_api, healthcare_user;

reset role;

---- create above / drop below ----

set local role healthcare_owner;
drop table app.patient_doctors;
drop table app.doctors;
drop table app.patients;
drop function app.normalize_gender(text);
reset role;
