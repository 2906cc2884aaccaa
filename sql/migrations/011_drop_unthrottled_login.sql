-- Drop the login functions that the throttled ones replaced.
--
-- Migration 007 made login go through api.login_attempt (throttle check,
-- attempt counted, credentials returned) and api.complete_login (count
-- reset, refresh token recorded). api.credentials and api.issue_refresh_token
-- stayed callable by healthcare_api although the server no longer calls
-- them: a second way to read a password hash and start a token family that
-- skips the throttle. The app.* definers behind them remain; 007's
-- functions use them.

set local role healthcare_owner;

drop function api.credentials(text);
drop function api.issue_refresh_token(bigint, uuid, uuid, timestamptz);

reset role;

---- create above / drop below ----

set local role healthcare_owner;

create function api.credentials(p_username text) returns json
language sql stable
set search_path = pg_catalog, pg_temp
as $$ select app.user_credentials(p_username) $$;
comment on function api.credentials(text) is 'Login: id, password hash and active flag, or NULL for an unknown user (REST server only).';

create function api.issue_refresh_token(p_user_id bigint, p_jti uuid, p_family uuid, p_expires_at timestamptz) returns json
language sql volatile
set search_path = pg_catalog, pg_temp
as $$ select app.issue_refresh_token(p_user_id, p_jti, p_family, p_expires_at) $$;
comment on function api.issue_refresh_token(bigint, uuid, uuid, timestamptz) is 'Login: records the new refresh token (REST server only).';

grant execute on function api.credentials(text), api.issue_refresh_token(bigint, uuid, uuid, timestamptz)
  to healthcare_api;

reset role;
