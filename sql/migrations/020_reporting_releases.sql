-- The reporting door publishes releases, not live figures. The cell key
-- method draws new noise whenever a cell's members change, so a person who
-- pads a suppressed cell with their own accounts and swaps one pad between
-- readings averages the noise away and reads the true count. Statistical
-- offices defeat that by publishing rarely: a release is a fixed snapshot,
-- read as often as one likes, and the next comes only after
-- app.reporting_settings.release_interval (a day by default).
-- app.release_reports (sql/definitions/reporting.sql) makes them.

set local role healthcare_owner;

create table app.reporting_releases (
    id bigint generated always as identity primary key,
    released_at timestamptz not null default now(),
    patients_by_age_band jsonb not null,
    patients_per_specialization jsonb not null,
    mappings_per_doctor jsonb not null
);
comment on table app.reporting_releases is
  'Each release of the reporting door: its three published tables as they were computed at released_at. The reporting views show the latest.';
comment on column app.reporting_releases.released_at is 'When the release was computed.';
comment on column app.reporting_releases.patients_by_age_band is 'reporting.patients_by_age_band of this release, as JSON rows in order.';
comment on column app.reporting_releases.patients_per_specialization is 'reporting.patients_per_specialization of this release, as JSON rows in order.';
comment on column app.reporting_releases.mappings_per_doctor is 'reporting.mappings_per_doctor of this release, as JSON rows in order.';
alter table app.reporting_releases enable row level security;
alter table app.reporting_releases force row level security;

alter table app.reporting_settings add column release_interval interval not null default '1 day'
  constraint reporting_settings_release_interval_check check (release_interval >= interval '1 hour');
comment on column app.reporting_settings.release_interval is
  'How long a release of the reporting door stands before the next is made (at least an hour).';

-- The live tables are for app.release_reports alone now; the reporting
-- views read releases (app.released_*).
set local role healthcare_reporter;
revoke execute on function app.report_patients_by_age_band(), app.report_patients_per_specialization(),
  app.report_mappings_per_doctor() from healthcare_reporting;

reset role;
