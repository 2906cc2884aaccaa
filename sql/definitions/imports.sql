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

set local role healthcare_owner;

-- The import writes no event per record, so a record's history starts
-- from its table's summary event: the entry is made from it when its id
-- ranges hold the record. Its values are version 1 as imported: the
-- "before" of the record's first change event, or the record itself while
-- it has none.
create or replace function app.imported_entry(p_object text, p_id bigint)
returns setof audit.events
language sql stable
as $$
  select i.id, i.at, i.xact, i.user_id, i.db_role, i.door, i.action, i.outcome,
         case when p_object = 'patient' then p_id end, null::bigint[], i.request_id, i.client_addr,
         pg_catalog.jsonb_build_object('object', p_object, 'from', i.detail -> 'from', 'table', i.detail -> 'table',
           'after', case p_object
             when 'patient' then coalesce(
               (select c.detail -> 'before' from audit.events c
                 where c.patient_id = p_id and c.detail ->> 'object' = 'patient' and c.action in ('create', 'update', 'delete')
                   and c.outcome = 'ok' order by c.id limit 1),
               (select pg_catalog.to_jsonb(p) - 'record_key' from app.patients p where p.id = p_id))
             else coalesce(
               (select c.detail -> 'before' from audit.events c
                 where c.detail ->> 'doctor' = p_id::text and c.detail ->> 'object' = 'doctor' and c.action in ('create', 'update', 'delete')
                   and c.outcome = 'ok' order by c.id limit 1),
               (select pg_catalog.to_jsonb(d) from app.doctors d where d.id = p_id))
           end) || case when p_object = 'doctor' then pg_catalog.jsonb_build_object('doctor', p_id) else '{}' end
    from audit.events i
   where i.action = 'import' and i.detail ->> 'object' = p_object
     and exists (select from pg_catalog.jsonb_array_elements(i.detail -> 'ranges') r
                  where p_id between (r ->> 0)::bigint and (r ->> 1)::bigint)
$$;
comment on function app.imported_entry(text,bigint) is
  'The first entry of an imported patient''s or doctor''s history (action import, version 1 as imported), made from the import''s summary event of its table; no row when the record was not imported. Used by api.patient_history, api.doctor_history and their _version routes.';
revoke all on function app.imported_entry(text,bigint) from public;
grant execute on function app.imported_entry(text,bigint) to healthcare_access;

reset role;
