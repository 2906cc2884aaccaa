-- Administrative acts are never held hostage (issue 24, finding 2).
--
-- A foreign key check takes FOR KEY SHARE on the row it references: a new
-- patient on its owner's app.users row, a new mapping on its doctor's
-- app.doctors row. An update conflicts with that lock only when it changes
-- a key column, and PostgreSQL counts a column as a key when it is in a
-- unique index a foreign key could reference: one without a predicate or
-- an expression. app.doctors.account_id and app.users.db_role were such
-- columns (unique constraints), so unlinking a doctor record or revoking a
-- login waited, with no limit, for any open transaction of the person it
-- acted on that had created a patient or a mapping.
--
-- Both become partial unique indexes (where ... is not null), under the
-- constraints' old names: the same uniqueness (NULLs never conflicted), the
-- same lookups (the planner proves `account_id = $1` implies the
-- predicate), but no longer key columns, so unlinking and revoking are
-- FOR NO KEY UPDATE writes that go past key-share locks. No foreign key
-- references either column.

set local role healthcare_owner;

alter table app.doctors drop constraint doctors_account_id_key;
create unique index doctors_account_id_key on app.doctors (account_id) where account_id is not null;
comment on index app.doctors_account_id_key is
  'One doctor record per account. Partial (migration 023), so account_id is not a key column: linking and unlinking go past the key-share locks new mappings take on the doctor''s row.';

alter table app.users drop constraint users_db_role_key;
create unique index users_db_role_key on app.users (db_role) where db_role is not null;
comment on index app.users_db_role_key is
  'One app user per login role. Partial (migration 023), so db_role is not a key column: granting and revoking a login go past the key-share locks new patients, doctors and sessions take on the account''s row.';

reset role;
