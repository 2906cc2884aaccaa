-- Moving from the Django system (`healthcare import django`, docs/django-import.md).
--
-- * app.users.password_hash also holds the Django system's formats until
--   the first login replaces them with argon2id (pbkdf2_sha256,
--   pbkdf2_sha1, Django's argon2), and unusable hashes starting with "!"
--   (Django's set_unusable_password, and the importer's for a format no
--   login can verify).
-- * audit.events gains the action 'import': one summary event per imported
--   table (counts and id ranges), instead of one event per row.
-- * app.complete_login and api.complete_login gain the hash to store when
--   login upgrades it (arguments with defaults, so servers of the previous
--   release keep calling them with six); the definitions recreate them.

set local role healthcare_owner;

alter table app.users drop constraint users_password_hash_check;
alter table app.users add constraint users_password_hash_check check (
  password_hash like '$argon2id$%'
  or password_hash like 'pbkdf2\_sha256$%' or password_hash like 'pbkdf2\_sha1$%'
  or password_hash like 'argon2$argon2i%$%'
  or password_hash like '!%');

create table app.imports (
    source text not null,
    app_label text not null,
    counts jsonb not null,
    imported_at timestamptz not null default now(),
    imported_by name not null default session_user,
    xact bigint not null default pg_catalog.pg_current_xact_id()::text::bigint,
    constraint imports_one primary key (source)
);
comment on table app.imports is
  'Each Django database imported into this one (healthcare import django): at most one import per database, ever; a second run finds its row and refuses.';
comment on column app.imports.source is
  'The Django database imported, as system identifier, database name and app label; never its password.';
comment on column app.imports.app_label is 'The Django app whose tables were imported (core in the original layout).';
comment on column app.imports.counts is 'Rows imported per table, and the users whose passwords could not be carried over.';
comment on column app.imports.imported_at is 'When the import transaction started.';
comment on column app.imports.imported_by is 'The privileged login that ran it.';
comment on column app.imports.xact is 'The import''s transaction id, as in its audit.events summary rows.';
alter table app.imports enable row level security;
alter table app.imports force row level security;

set local role healthcare_audit;

alter domain audit.event_action drop constraint events_action_check;
alter domain audit.event_action add constraint events_action_check
  check (value in ('read', 'list', 'create', 'update', 'delete', 'prune', 'import'));
comment on domain audit.event_action is 'What an audit event records: read (one patient), list, create, update, delete, prune (of the trail itself), or import (a summary per table of an import).';

-- The imported-entry lookup of a record's history reads the few import
-- summaries, not the month's events.
create index events_import_idx on audit.events (id) where action = 'import';

set local role healthcare_auth;

drop function app.complete_login(text, text, bigint, uuid, uuid, timestamptz);

set local role healthcare_access;

drop function api.complete_login(text, text, bigint, uuid, uuid, timestamptz);

reset role;
