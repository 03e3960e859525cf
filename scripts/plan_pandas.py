"""What a user would write instead of `qm-migrate extract` + `plan`: a short pandas script that reads
the wide Calabrio CSV, normalises scores, resolves people, links conversations and gives each row a
disposition. The benchmark (scripts/bench-plan.sh) times it beside qm-migrate on the same input.

It is given every advantage: the Genesys directory and the conversations are read from the
emulator's fixture file (a real script would have to page them out of the API), and it keeps no raw
text, no ledger and no history. Usage: plan_pandas.py WORKDIR (a folder written by `qm-migrate
sample`); writes WORKDIR/pandas-plan.csv.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

work = Path(sys.argv[1])
# Malformed rows are skipped, as such scripts do (qm-migrate quarantines them with file and line).
df = pd.read_csv(
    work / "calabrio-export.csv",
    dtype=str,
    keep_default_na=False,
    on_bad_lines="skip",
    encoding_errors="replace",
)
n = len(df)
disposition = np.full(n, "", dtype=object)
reason = np.full(n, "", dtype=object)


def decide(mask, what, why):
    """Gives undecided rows of `mask` a disposition."""
    m = mask & (disposition == "")
    disposition[m] = what
    reason[m] = why


# Invalid input.
decide((df["evaluation_id"].str.strip() == "").to_numpy(), "quarantined", "no evaluation id")
total = pd.to_numeric(df["total_score"], errors="coerce")
decide(total.isna().to_numpy(), "quarantined", "total_score is not a number")
dates = {c: pd.to_datetime(df[c], errors="coerce", utc=True) for c in ["evaluated_at", "created_at", "contact_start_utc"]}
when = dates["evaluated_at"].fillna(dates["created_at"]).fillna(dates["contact_start_utc"])
decide(when.isna().to_numpy(), "quarantined", "no readable date")

# Duplicates: the newest version of an evaluation wins.
order = df.assign(_when=when, _pos=np.arange(n)).sort_values(["_when", "_pos"])
newest = ~order.duplicated("evaluation_id", keep="last")
superseded = np.zeros(n, dtype=bool)
superseded[order["_pos"].to_numpy()[~newest.to_numpy()]] = True
decide(superseded & (df["evaluation_id"] != "").to_numpy(), "excluded", "superseded duplicate")

# Policy.
decide((df["kind"].str.lower() == "calibration").to_numpy(), "excluded", "calibration")
decide((~df["state"].str.lower().isin(["scored", "approved", ""])).to_numpy(), "excluded", "not scored")

# Normalise: percent, or 1-5 as ratio for the one form that uses it.
ratio = df["form_name"] == "Sales Call (1-5)"
percent = np.where(ratio, total / 5.0 * 100.0, total)
decide((percent < 0) | (percent > 100), "quarantined", "score out of its scale")

# People: the directory, by e-mail, user name, Windows login, employee id, or the mapping file.
fixture = json.loads((work / "genesys-fixture.json").read_text())
users = pd.DataFrame(fixture["users"])
users["email_l"] = users["email"].fillna("").str.lower()
users["username_l"] = users["username"].fillna("").str.lower()
users["login_l"] = users["username_l"].str.split("@").str[0]
people_map = pd.read_csv(work / "people-map.csv", dtype=str)
mapped = dict(zip(people_map["calabrio"].str.lower(), people_map["genesys"].str.lower()))


def index(col):
    counts = users.groupby(col)["id"].agg(list)
    return {k: v for k, v in counts.items() if k}


by_email, by_user, by_login = index("email_l"), index("username_l"), index("login_l")
by_employee = index("employee_id") if "employee_id" in users else {}
by_id = dict(zip(users["id"], users["state"]))


def resolve(row):
    keys = [
        (by_email, row["agent_email"].lower()),
        (by_user, row["agent_username"].lower()),
        (by_login, row["agent_windows_login"].lower().split("\\")[-1]),
        (by_employee, row["agent_employee_id"]),
    ]
    for table, key in keys:
        hits = table.get(key, []) if key else []
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            return "ambiguous"
    target = mapped.get(row["agent_person_id"].lower())
    if target:
        hits = by_email.get(target, []) or ([target] if target in by_id else [])
        if len(hits) == 1:
            return hits[0]
    return None


agent = df.apply(resolve, axis=1)
decide((agent == "ambiguous").to_numpy(), "quarantined", "ambiguous agent")
decide(agent.isna().to_numpy(), "history", "agent not in Genesys")
active = agent.map(lambda a: by_id.get(a) == "active")
decide((~active).to_numpy(), "history", "agent not active in Genesys")

# Links: the conversation id field, else the recording migration's map; it must exist with the
# agent on it.
rec = pd.read_csv(work / "recording-map.csv", dtype=str)
rec_map = dict(zip(rec["contact_id"], rec["conversation_id"]))
conversation = df["assoc_call_id"].where(df["assoc_call_id"] != "", df["contact_id"].map(rec_map))
agents_on = {
    c["conversation_id"]: {p["user_id"] for p in c["participants"] if p["purpose"] == "agent"}
    for c in fixture["conversations"]
}
on_it = [a in agents_on.get(c, ()) for a, c in zip(agent, conversation.fillna(""))]
decide(conversation.isna().to_numpy(), "history", "no conversation")
decide(~np.array(on_it), "history", "agent not on the conversation")
decide(np.ones(n, dtype=bool), "evaluation", "linked")

out = pd.DataFrame(
    {"evaluation_id": df["evaluation_id"], "disposition": disposition, "reason": reason, "percent": percent}
)
out.to_csv(work / "pandas-plan.csv", index=False)
print(out["disposition"].value_counts().to_dict())
