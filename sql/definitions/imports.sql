-- Moving from the Django system: the record of imports, and how the audit triggers recognise one (docs/django-import.md).
--
-- The current definitions, applied by `healthcare migrate` after the migrations
-- (see sql/README.md): edit them here, never in a migration.

set local role healthcare_owner;

drop policy if exists all_owner on app.imports;
create policy all_owner on app.imports for all to healthcare_owner
  using (true) with check (true);
comment on policy all_owner on app.imports is
  'Only the privileged connection (acting as healthcare_owner: `healthcare import django`) records and reads imports; no runtime role has any grant on this table.';

grant select on app.imports to healthcare_auth;

drop policy if exists select_auth on app.imports;
create policy select_auth on app.imports for select to healthcare_auth
  using (true);
comment on policy select_auth on app.imports is
  'Narrow door for app.importing (owner healthcare_auth), which the audit triggers ask; no login role is a member of healthcare_auth.';

set local role healthcare_auth;

-- The import writes every row with the row triggers on, so the tables'
-- rules and constraints all apply; what it spares is one audit event per
-- row (a million events in one transaction, which the sealer must hash as
-- one text). A transaction is an import when it set app.import = 'django'
-- AND holds the app.imports row it inserted: only healthcare_owner may
-- insert one, so a login that sets the variable (any login may set any
-- app.* variable) is still audited row by row.
create or replace function app.importing() returns boolean
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  return exists (select from app.imports i
                  where i.xact = pg_catalog.pg_current_xact_id()::text::bigint);
end
$$;
comment on function app.importing() is
  'True inside the transaction of `healthcare import django` (it inserted its app.imports row); the audit triggers of patients, doctors and mappings then leave the rows to the import''s summary events. They call it only when app.import is ''django''. Security definer (owner healthcare_auth, policy imports.select_auth).';
revoke all on function app.importing() from public;
grant execute on function app.importing() to healthcare_access, healthcare_owner;

reset role;
