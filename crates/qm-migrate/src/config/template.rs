//! The commented configuration `init` writes: every section with its defaults.

/// The commented file `init` writes.
pub const TEMPLATE: &str = r#"# qm-migrate configuration. Paths are relative to this file.
# Credentials never go here: set GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET in the environment
# (or GENESYS_CLIENT_ID_FILE / GENESYS_CLIENT_SECRET_FILE naming files that hold them).

[source]
kind = "csv"                      # csv (one row per evaluation) | csv-long (one row per question) | json (array, object or JSON Lines) | tables (directory) | calabrio-api
path = "calabrio-export.csv"      # the file, or the tables directory
# For kind = "calabrio-api" (user and password from CALABRIO_USER and CALABRIO_PASSWORD or CALABRIO_PASSWORD_FILE):
# url = "https://uswest2.calabriocloud.com/api/rest"
# from = "2021-01-01"             # first contact day (UTC); to = "YYYY-MM-DD" (default today)
# page_size = 500
# contact_filter = "evalState=scored"   # search only contacts that hold a scored evaluation ("" : every recorded contact)
# ca_bundle = "corp-ca.pem"       # extra CAs for an on-premises server; TLS is always verified
# time_zone = "America/New_York"  # zone of timestamps written without offset; unset refuses them
encoding = "utf-8"                # utf-8 | windows-1252 | latin-1 | auto (UTF-8 if valid, else Windows-1252)
system = "calabrio_one"           # part of every idempotency key: keep it stable for the whole migration

[scoring]
tolerance = 0.5                   # largest |Genesys total - Calabrio total| accepted, in points
default = { method = "percent" }  # percent | ratio (max) | linear (min, max) | points (÷ applicable points)
# [scoring.forms]
# "Sales Call 1-5" = { method = "ratio", max = 5 }

[form]
mode = "container"
name = "Legacy Migration Form (Calabrio)"
score_step = 1.0                  # 1 => options 0..100; 0.5 => 0, 0.5, ..., 100
sections = []                     # Calabrio sections shown as their own (weight 0) question groups
status = "FINISHED"               # unverified #3: FINISHED with full answers in one call
release_policy = "immediate"      # immediate | never | omit (unverified #4)
comment_limit = 4000              # Genesys' limit on overall comments (help pages); longer ones are shortened, the full text kept in the history
answer_comment_limit = 2000       # Genesys' limit on private comments and each answer's comments

[users]
match_keys = ["email", "username"]  # also windows_login (DOMAIN\user), employee_id, mapping (needs mapping_file)
# mapping_file = "people-map.csv"  # calabrio,genesys: a Calabrio person id or any key -> a Genesys user id or e-mail
inactive_policy = "history"       # history | allow (unverified #5: does Genesys accept inactive users?)
# default_evaluator = "migration_admin@example.com"
evaluator_mode = "original"       # original | service_user (unverified #6)

[link]
strategies = ["field"]            # add "mapping" with mapping_file (the recording migration's map) and "match" (analytics)
match_tolerance_s = 120           # "match": conversation start within this many seconds of the contact start
# mapping_file = "recording-map.csv"   # contact_id,conversation_id
conversation_id_fields = ["conversation_id", "assoc_call_id"]   # unverified #17
# match_from = "2025-06-01"       # "match": the org's first day on Genesys; unset, plan finds its first conversation
match_max_age_days = 1826         # "match": Genesys' analytics search conversations at most this old (help pages: 5 years)
# match_budget = 5000             # "match": at most this many analytics requests; the rest stays in the history

[genesys]
region = "us-east-1"              # or api_url = "https://api.mypurecloud.com"
requests_per_minute = 300
per_agent_daily_cap = 50          # 200 when raised by Genesys Care (unverified #7)
park_threshold_s = 180            # a longer Retry-After parks the agent
concurrency = 4                   # creates in flight at once
timeout_s = 30
max_attempts = 5
use_idempotency_key = true        # unverified #12
on_existing_evaluation = "create" # create | skip | fail: a conversation already evaluated by someone else (unverified #2)
# reconcile_after_s = 300         # an unknown create is declared absent (and sent again) only this long after it left (unverified: query lag)
# query_lag_s = 2.0               # measured by `qm-migrate probe`; sets reconcile_after_s when that is unset
cap_recheck_s = 3600              # after a per-agent cap answer we cannot explain, try that agent again this much later
query_page_size = 100             # evaluations per page when reading ours back (verify, adoption); halved on response.entity.too.large

[history]
dir = "history"
legacy_group = "Legacy Team"      # where the history site lists agents without a Genesys account
# client_app_url = "https://intranet.example.com/qm-history/index.html"   # provision registers it as a Genesys client app
client_app_name = "QM history (Calabrio)"

[scorecard]
enabled = false                   # one line turns it on: External Metrics accept only recent days (unverified #19)
metric_name = "Legacy QA score (Calabrio)"
time_zone = "UTC"                 # the zone in which a day is a day for the scorecard
days_back = 7                     # accepted dateOccurred window, relative to today
days_ahead = 30
sections = []                     # Calabrio sections with a metric of their own ("<metric_name>: <section>")

[sync]
on_change = "update"              # a record changed in Calabrio after its evaluation was created: update | flag
on_withdraw = "flag"              # a record gone from Calabrio whose evaluation exists: flag | delete
edit_window_days = 90             # Genesys refuses re-scores and deletions this many days after creation: past it, changes are listed, not sent

[verify]
timeline = true                   # compare what Genesys' evaluation analytics show per agent and month (by conversation date)
analytics_lag_s = 3600            # a difference younger than this is pending (analytics may lag a fresh load)
audit = true                      # cross-check Genesys' audit trail of evaluations with the ledger's writes
audit_timeout_s = 300             # longest wait for the asynchronous audit queries
audit_lag_s = 900                 # a write of ours younger than this, not yet in the trail, is pending
audit_window_days = 30            # the migration's interval is queried in windows this long

[ledger]
path = "qm-migrate.db"
"#;
