-- Schema fhir: the FHIR R4 face of the same records (issue 26). Its
-- functions build FHIR JSON beside the api ones, under the same policies
-- (sql/definitions/fhir.sql); the REST server's /fhir routes call them, and
-- a psql login calls the same functions and gets the same resources.

create schema fhir authorization healthcare_owner;
comment on schema fhir is
  'One function per FHIR R4 interaction (read, vread, history, search, create, update, delete) building the resource or Bundle in PostgreSQL; psql users call the same functions and get the same JSON. Bundles take their absolute base URL as an argument or from the setting app.fhir_base.';

grant usage on schema fhir to healthcare_api, healthcare_user, healthcare_access;
grant create on schema fhir to healthcare_access;
