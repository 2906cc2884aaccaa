-- The FHIR searches build their entries as JSON text and parse the Bundle
-- once (sql/definitions/fhir.sql): the resource builders return text, the
-- entry and page builders take it, and the SQL-language link helpers,
-- which PL/pgSQL planned again in every transaction, are gone, as is
-- fhir.name_matches, which escaped the searched name again for every row
-- (fhir.name_patterns works the patterns out once per search). A new
-- return or argument type is a new function, so the old ones are dropped
-- here and the definitions recreate them in the same transaction. A fresh
-- database has none yet (the definitions come after the migrations),
-- hence "if exists".

drop function if exists fhir.page_bundle(text, bigint, text, integer, integer, json);
drop function if exists fhir.bundle(text, bigint, text, text, text, json);
drop function if exists fhir.links(text, text, text);
drop function if exists fhir.page_link(text, integer, integer);
drop function if exists fhir.match(text, json);
drop function if exists fhir.patient_resource(app.patients);
drop function if exists fhir.practitioner_resource(app.doctors);
drop function if exists fhir.practitioner_role_resource(app.doctors);
drop function if exists fhir.care_team_resource(app.patient_doctors);
drop function if exists fhir.name_matches(text, text, text);
