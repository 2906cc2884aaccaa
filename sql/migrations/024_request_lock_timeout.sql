-- api.begin_request gains two arguments with defaults: the request's
-- lock_timeout and the client's own X-Request-Id, kept apart from the
-- server's request id (sql/definitions/identity.sql). A new argument is a
-- new signature, so the six-argument function is dropped here and the
-- definitions recreate it, in the same transaction, with eight; calls of
-- servers of the previous release, which send six arguments, resolve to it
-- through the defaults. A fresh database has no function yet (the
-- definitions come after the migrations), hence "if exists".

drop function if exists api.begin_request(text, text, text, uuid, text, text);
