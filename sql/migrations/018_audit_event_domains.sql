-- An audit event's action, door and outcome keep their allowed values in
-- domains instead of table check constraints, under the same constraint
-- names. PostgreSQL reads a table's check constraints back from their
-- stored text at every INSERT statement, while a domain's checks are
-- prepared once per session: with one event written by every request,
-- this is about a sixth of the read path's cost in the database
-- (docs/benchmarks.md). text to a domain over text needs no rewrite; the
-- existing rows are checked once, here.

set local role healthcare_audit;

create domain audit.event_action as text
  constraint events_action_check check (value in ('read', 'list', 'create', 'update', 'delete', 'prune'));
comment on domain audit.event_action is 'What an audit event records: read (one patient), list, create, update, delete, or prune (of the trail itself).';

create domain audit.event_door as text
  constraint events_door_check check (value in ('rest', 'psql', 'admin'));
comment on domain audit.event_door is 'The door an audit event came through: rest (the server''s login), psql (a personal login) or admin (the privileged connection).';

create domain audit.event_outcome as text
  constraint events_outcome_check check (value in ('ok', 'not_found', 'forbidden'));
comment on domain audit.event_outcome is 'How the attempt an audit event records ended: ok, not_found or forbidden.';

alter table audit.events
  drop constraint events_action_check,
  drop constraint events_door_check,
  drop constraint events_outcome_check,
  alter column action type audit.event_action,
  alter column door type audit.event_door,
  alter column outcome type audit.event_outcome;

reset role;
