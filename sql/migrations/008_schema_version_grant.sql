-- Let the server's runtime role read the migration version.
--
-- GET /readyz and the start-up check compare the version recorded by tern in
-- public.healthcare_schema_version with the latest migration the binary embeds. The
-- table belongs to whoever migrated (tern creates it), so the runtime group
-- is granted SELECT on it here, in every database the migrations reach, not
-- only by the `healthcare migrate` command. It holds one integer; nothing
-- else is granted.

grant select on public.healthcare_schema_version to healthcare_api;

---- create above / drop below ----

revoke select on public.healthcare_schema_version from healthcare_api;
