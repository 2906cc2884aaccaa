-- Look the caller up by index.
--
-- app.current_user_id() is evaluated several times in every request (by
-- app.require_user and once per statement by each policy's sub-select). Its
-- first version chose between the two doors with a CASE inside the WHERE
-- clause, which no index can serve: every call scanned all of app.users, so
-- each request cost grew with the number of accounts (about 0.4 ms per call
-- at 2,000 users, and it is called five times for one patient list).
--
-- Same contract, same answers: members of healthcare_api are identified by
-- the transaction-local app.user_id (primary key lookup), everyone else by
-- the account linked to their login role (users_db_role_key lookup); only
-- active accounts count; NULL when there is none. It stays a security
-- definer owned by healthcare_auth, which reads app.users through the narrow
-- policy users.select_auth. plpgsql keeps each branch's plan cached in the
-- session, so the lookup is neither re-planned nor a scan.

set local role healthcare_auth;

create or replace function app.current_user_id() returns bigint
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if pg_catalog.pg_has_role(session_user, 'healthcare_api', 'member') then
    return (select u.id
              from app.users u
             where u.id = nullif(pg_catalog.current_setting('app.user_id', true), '')::bigint
               and u.is_active);
  end if;
  return (select u.id
            from app.users u
           where u.db_role = session_user
             and u.is_active);
end
$$;

reset role;

---- create above / drop below ----

set local role healthcare_auth;

create or replace function app.current_user_id() returns bigint
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select u.id
    from app.users u
   where u.is_active
     and case
           when pg_catalog.pg_has_role(session_user, 'healthcare_api', 'member')
             then u.id = nullif(pg_catalog.current_setting('app.user_id', true), '')::bigint
           else u.db_role = session_user
         end
$$;

reset role;
