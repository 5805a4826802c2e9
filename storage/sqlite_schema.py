"""The SQLite schema and the `calls` upsert, generated from the models: do not edit.

Written by ``python -m storage.sqlite_gen``; `tests/storage/test_lite.py` fails when this differs
from what the models generate. Used by `storage.lite` (and by the Core writer on SQLite).
"""

# Every table a new database holds (alembic_version included).
TABLES = (
    "alembic_version",
    "announcements",
    "calls",
    "live_snapshots",
    "survey",
    "survey_attempt",
    "survey_dnc",
    "work_orders",
)

# The statements that create them and their indexes, as sqlite_master keeps them.
SCHEMA = (
    "CREATE TABLE alembic_version (\n\tversion_num VARCHAR(32) NOT NULL, \n\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n)",
    "CREATE TABLE announcements (\n\tid INTEGER NOT NULL, \n\tqueue VARCHAR, \n\ttext_zh VARCHAR NOT NULL, \n\ttext_en VARCHAR, \n\tvalid_from DATETIME NOT NULL, \n\tvalid_to DATETIME NOT NULL, \n\taudio JSON NOT NULL, \n\tcreated_at DATETIME NOT NULL, \n\tPRIMARY KEY (id)\n)",
    "CREATE INDEX ix_announcements_valid_to ON announcements (valid_to)",
    "CREATE TABLE calls (\n\tcall_id VARCHAR NOT NULL, \n\tpbx VARCHAR NOT NULL, \n\tlinkedid VARCHAR NOT NULL, \n\tdirection VARCHAR NOT NULL, \n\tkind VARCHAR NOT NULL, \n\tcaller VARCHAR, \n\tdialed VARCHAR, \n\tstarted_at DATETIME, \n\tivr_path JSON NOT NULL, \n\tqueue VARCHAR, \n\tqueued_at DATETIME, \n\tanswered_at DATETIME, \n\tagent VARCHAR, \n\tended_at DATETIME, \n\twait_s FLOAT, \n\ttalk_s FLOAT, \n\toutcome VARCHAR NOT NULL, \n\thangup_cause INTEGER, \n\thangup_by VARCHAR, \n\trecording VARCHAR, \n\tdisposition VARCHAR, \n\twork_order_id VARCHAR, \n\tsurvey_rating INTEGER, \n\tclose_reason VARCHAR NOT NULL, \n\ttransfers INTEGER NOT NULL, \n\thold_s FLOAT NOT NULL, \n\tnotes JSON NOT NULL, \n\tupdated_at DATETIME NOT NULL, \n\ttransferred BOOLEAN DEFAULT 0 NOT NULL, \n\tcategory VARCHAR, \n\tPRIMARY KEY (call_id)\n)",
    "CREATE INDEX ix_calls_kind_started_at ON calls (kind, started_at)",
    "CREATE INDEX ix_calls_pbx_linkedid ON calls (pbx, linkedid)",
    "CREATE INDEX ix_calls_started_at ON calls (started_at)",
    "CREATE TABLE live_snapshots (\n\tpbx VARCHAR NOT NULL, \n\tpublished_at DATETIME NOT NULL, \n\tbody VARCHAR NOT NULL, \n\tPRIMARY KEY (pbx)\n)",
    "CREATE TABLE survey (\n\tid INTEGER NOT NULL, \n\tcall_id VARCHAR NOT NULL, \n\tpbx VARCHAR NOT NULL, \n\tnumber VARCHAR NOT NULL, \n\tagent VARCHAR, \n\tqueue VARCHAR, \n\tcontact_ended_at DATETIME NOT NULL, \n\tstate VARCHAR NOT NULL, \n\tdue_at DATETIME NOT NULL, \n\texpires_at DATETIME NOT NULL, \n\tattempts INTEGER NOT NULL, \n\towner VARCHAR, \n\theartbeat_at DATETIME, \n\tchannel_id VARCHAR, \n\tlast_result VARCHAR, \n\trating INTEGER, \n\tfollow_up BOOLEAN NOT NULL, \n\tcomment VARCHAR, \n\tcreated_at DATETIME NOT NULL, \n\tupdated_at DATETIME NOT NULL, \n\tfinished_at DATETIME, \n\tkind VARCHAR DEFAULT 'survey' NOT NULL, \n\tPRIMARY KEY (id)\n)",
    "CREATE UNIQUE INDEX ix_survey_call_id_kind ON survey (call_id, kind)",
    "CREATE INDEX ix_survey_contact_ended ON survey (contact_ended_at)",
    "CREATE INDEX ix_survey_number_created ON survey (number, created_at)",
    "CREATE INDEX ix_survey_state_due ON survey (state, due_at)",
    "CREATE TABLE survey_attempt (\n\tid INTEGER NOT NULL, \n\tsurvey_id INTEGER NOT NULL, \n\tn INTEGER NOT NULL, \n\towner VARCHAR NOT NULL, \n\tchannel_id VARCHAR NOT NULL, \n\tstarted_at DATETIME NOT NULL, \n\tsent_at DATETIME, \n\taction_id VARCHAR, \n\tanswered_at DATETIME, \n\tended_at DATETIME, \n\tresult VARCHAR, \n\treason INTEGER, \n\thangup_cause INTEGER, \n\tnote VARCHAR, \n\tPRIMARY KEY (id), \n\tFOREIGN KEY(survey_id) REFERENCES survey (id)\n)",
    "CREATE UNIQUE INDEX ix_survey_attempt_channel ON survey_attempt (channel_id)",
    "CREATE INDEX ix_survey_attempt_survey ON survey_attempt (survey_id)",
    "CREATE TABLE survey_dnc (\n\tnumber VARCHAR NOT NULL, \n\tadded_at DATETIME NOT NULL, \n\tnote VARCHAR, \n\tPRIMARY KEY (number)\n)",
    "CREATE TABLE work_orders (\n\twork_order_id VARCHAR NOT NULL, \n\tcall_id VARCHAR, \n\tpbx VARCHAR, \n\tstate VARCHAR NOT NULL, \n\tcreated_at DATETIME NOT NULL, \n\tdue_at DATETIME, \n\tclosed_at DATETIME, \n\treopened INTEGER NOT NULL, \n\tupdated_at DATETIME NOT NULL, \n\tPRIMARY KEY (work_order_id)\n)",
    "CREATE INDEX ix_work_orders_call_id ON work_orders (call_id)",
    "CREATE INDEX ix_work_orders_created_at ON work_orders (created_at)",
)

# INSERT … ON CONFLICT (call_id) DO UPDATE … WHERE a value changed (storage.writer).
CALLS_UPSERT = "INSERT INTO calls (call_id, pbx, linkedid, direction, kind, caller, dialed, started_at, ivr_path, queue, queued_at, answered_at, agent, ended_at, wait_s, talk_s, outcome, hangup_cause, hangup_by, recording, disposition, work_order_id, survey_rating, close_reason, transfers, hold_s, notes, updated_at, transferred) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (call_id) DO UPDATE SET pbx = excluded.pbx, linkedid = excluded.linkedid, direction = excluded.direction, kind = excluded.kind, caller = excluded.caller, dialed = excluded.dialed, started_at = excluded.started_at, ivr_path = excluded.ivr_path, queue = excluded.queue, queued_at = excluded.queued_at, answered_at = excluded.answered_at, agent = excluded.agent, ended_at = excluded.ended_at, wait_s = excluded.wait_s, talk_s = excluded.talk_s, outcome = excluded.outcome, hangup_cause = excluded.hangup_cause, hangup_by = excluded.hangup_by, recording = excluded.recording, disposition = coalesce(excluded.disposition, calls.disposition), work_order_id = coalesce(excluded.work_order_id, calls.work_order_id), survey_rating = coalesce(excluded.survey_rating, calls.survey_rating), close_reason = excluded.close_reason, transfers = excluded.transfers, hold_s = excluded.hold_s, notes = excluded.notes, updated_at = excluded.updated_at, transferred = excluded.transferred, category = coalesce(excluded.category, calls.category) WHERE calls.pbx IS NOT excluded.pbx OR calls.linkedid IS NOT excluded.linkedid OR calls.direction IS NOT excluded.direction OR calls.kind IS NOT excluded.kind OR calls.caller IS NOT excluded.caller OR calls.dialed IS NOT excluded.dialed OR calls.started_at IS NOT excluded.started_at OR calls.ivr_path IS NOT excluded.ivr_path OR calls.queue IS NOT excluded.queue OR calls.queued_at IS NOT excluded.queued_at OR calls.answered_at IS NOT excluded.answered_at OR calls.agent IS NOT excluded.agent OR calls.ended_at IS NOT excluded.ended_at OR calls.wait_s IS NOT excluded.wait_s OR calls.talk_s IS NOT excluded.talk_s OR calls.outcome IS NOT excluded.outcome OR calls.hangup_cause IS NOT excluded.hangup_cause OR calls.hangup_by IS NOT excluded.hangup_by OR calls.recording IS NOT excluded.recording OR calls.disposition IS NOT coalesce(excluded.disposition, calls.disposition) OR calls.work_order_id IS NOT coalesce(excluded.work_order_id, calls.work_order_id) OR calls.survey_rating IS NOT coalesce(excluded.survey_rating, calls.survey_rating) OR calls.close_reason IS NOT excluded.close_reason OR calls.transfers IS NOT excluded.transfers OR calls.hold_s IS NOT excluded.hold_s OR calls.notes IS NOT excluded.notes OR calls.transferred IS NOT excluded.transferred OR calls.category IS NOT coalesce(excluded.category, calls.category)"

# Its parameters in order; those stored as naive-UTC text, as JSON text, as floats.
CALLS_UPSERT_PARAMS = (
    "call_id",
    "pbx",
    "linkedid",
    "direction",
    "kind",
    "caller",
    "dialed",
    "started_at",
    "ivr_path",
    "queue",
    "queued_at",
    "answered_at",
    "agent",
    "ended_at",
    "wait_s",
    "talk_s",
    "outcome",
    "hangup_cause",
    "hangup_by",
    "recording",
    "disposition",
    "work_order_id",
    "survey_rating",
    "close_reason",
    "transfers",
    "hold_s",
    "notes",
    "updated_at",
    "transferred",
)
CALLS_TIME_PARAMS = (
    "started_at",
    "queued_at",
    "answered_at",
    "ended_at",
    "updated_at",
)
CALLS_JSON_PARAMS = (
    "ivr_path",
    "notes",
)
CALLS_FLOAT_PARAMS = (
    "wait_s",
    "talk_s",
    "hold_s",
)
