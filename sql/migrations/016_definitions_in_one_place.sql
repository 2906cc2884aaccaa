-- From here on, functions, views, triggers, policies and grants live in
-- sql/definitions, one file per topic, and `healthcare migrate` applies
-- them after the migrations, in the same transaction. Migrations keep what
-- must happen once and in order: roles, tables, columns, indexes, data
-- moves and drops. They are forward-only: there is no down part, and a
-- database goes back by restoring a backup.
--
-- What this migration drops, the definitions recreate:
--   * audit.prune(interval) becomes audit.prune(interval, timestamptz):
--     the clock it prunes against is an argument (default now()), so its
--     tests pin dates.
--   * app.raise_doctor_not_writable(bigint) goes: nothing calls it since
--     the doctors' writes answer their refusals themselves.

create table public.healthcare_definitions (
    hash text primary key,
    applied_at timestamptz not null default now()
);
comment on table public.healthcare_definitions is
  'The hash of every block of sql/definitions applied to this database; `healthcare migrate` re-runs only blocks whose hash is missing here. Deleting the rows makes the next migrate re-apply every definition.';

set local role healthcare_audit;
drop function audit.prune(interval);
reset role;

drop function app.raise_doctor_not_writable(bigint);
