-- Who asked for a manual diagnosis (schemas/requester.py): the audit trail's "who" on the task's own history row.
-- Empty for alert- and event-triggered tasks (no person asked; their tool calls ran with tasks.service_role).
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS requested_by String DEFAULT '' AFTER budget_usd;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS requester_role LowCardinality(String) DEFAULT '' AFTER requested_by;
