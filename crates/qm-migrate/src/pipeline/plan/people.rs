//! People: the Genesys directory snapshot with its lookups (id, e-mail, user name, login, employee
//! id, `[users] mapping_file`), and how a Calabrio person resolves against it.

use super::*;

/// One person resolved against the directory.
#[derive(Debug, Clone)]
pub(super) enum Resolved {
    Found { user: User, how: String },
    Ambiguous { how: String, ids: Vec<String> },
    NotFound { tried: String },
}

/// The directory snapshot with its lookups. Each user is held once; the lookups hold positions (a
/// 40,000-user org held six copies of every user before, most of plan's memory at 1M records).
pub(super) struct Directory {
    pub(super) users: Vec<User>,
    pub(super) by_id: HashMap<String, u32>,
    pub(super) by_email: HashMap<String, Vec<u32>>,
    pub(super) by_username: HashMap<String, Vec<u32>>,
    /// The login part of user names and e-mail addresses (before `@`), for `DOMAIN\user` logins.
    pub(super) by_login: HashMap<String, Vec<u32>>,
    pub(super) by_employee_id: HashMap<String, Vec<u32>>,
    /// `[users] mapping_file`: any Calabrio identifier (lower case) → Genesys user id or e-mail.
    pub(super) mapping: HashMap<String, Vec<String>>,
}

/// The user part of a Windows login, lower case: `CORP\JDoe` and `jdoe` are both `jdoe`.
pub(super) fn login_part(v: &str) -> String {
    v.rsplit('\\').next().unwrap_or(v).trim().to_lowercase()
}

impl Directory {
    /// Takes the directory whole: a copy held every user twice for the whole plan (at 1,000,000
    /// records and 40,000 users, peak RSS 239 MB with the copy, about 225 MB without).
    pub(super) fn new(users: Vec<User>, mapping: HashMap<String, Vec<String>>) -> Self {
        let mut by_id = HashMap::new();
        let mut by_email = HashMap::new();
        let mut by_username = HashMap::new();
        let mut by_login = HashMap::new();
        let mut by_employee_id = HashMap::new();
        // A user listed twice (the same id) counts once under each key.
        let add = |m: &mut HashMap<String, Vec<u32>>, k: String, i: u32| {
            let list = m.entry(k).or_default();
            if !list
                .iter()
                .any(|&j| users[j as usize].id == users[i as usize].id)
            {
                list.push(i);
            }
        };
        for (i, u) in users.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            by_id.insert(u.id.clone(), i);
            if let Some(e) = &u.email {
                add(&mut by_email, e.trim().to_lowercase(), i);
                if let Some((local, _)) = e.split_once('@') {
                    add(&mut by_login, local.trim().to_lowercase(), i);
                }
            }
            if let Some(n) = &u.username {
                add(&mut by_username, n.trim().to_lowercase(), i);
                let local = n.split_once('@').map_or(n.as_str(), |(l, _)| l);
                add(&mut by_login, local.trim().to_lowercase(), i);
            }
            if let Some(e) = u
                .employer_info
                .as_ref()
                .and_then(|i| i.employee_id.as_ref())
            {
                add(&mut by_employee_id, e.trim().to_lowercase(), i);
            }
        }
        Directory {
            users,
            by_id,
            by_email,
            by_username,
            by_login,
            by_employee_id,
            mapping,
        }
    }

    /// The users a lookup lists under `key`.
    pub(super) fn listed(&self, lookup: &HashMap<String, Vec<u32>>, key: &str) -> Vec<User> {
        lookup
            .get(key)
            .into_iter()
            .flatten()
            .map(|&i| self.users[i as usize].clone())
            .collect()
    }

    /// Users a `mapping` target names (a Genesys user id, else an e-mail or user name).
    pub(super) fn mapped(&self, target: &str) -> Vec<User> {
        let t = target.trim();
        if let Some(&i) = self.by_id.get(t) {
            return vec![self.users[i as usize].clone()];
        }
        let k = t.to_lowercase();
        let mut out: Vec<User> = self.listed(&self.by_email, &k);
        out.extend(self.listed(&self.by_username, &k));
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        out
    }

    pub(super) fn resolve(&self, p: &Person, keys: &[String]) -> Resolved {
        let mut tried = Vec::new();
        for key in keys {
            let values: Vec<&str> = match key.as_str() {
                "email" => vec![
                    p.email.as_deref(),
                    p.key.as_deref().filter(|k| k.contains('@')),
                ],
                "username" => vec![p.username.as_deref(), p.key.as_deref()],
                "windows_login" => vec![
                    p.windows_login.as_deref(),
                    p.key.as_deref().filter(|k| k.contains('\\')),
                ],
                "employee_id" => vec![p.employee_id.as_deref()],
                _ => vec![
                    p.calabrio_person_id.as_deref(),
                    p.email.as_deref(),
                    p.username.as_deref(),
                    p.windows_login.as_deref(),
                    p.employee_id.as_deref(),
                    p.key.as_deref(),
                ],
            }
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .fold(Vec::new(), |mut acc, v| {
                if !acc.iter().any(|x: &&str| x.eq_ignore_ascii_case(v)) {
                    acc.push(v);
                }
                acc
            });
            for v in values {
                tried.push(format!("{key}={v}"));
                let users: Vec<User> = match key.as_str() {
                    "email" => self.listed(&self.by_email, &v.to_lowercase()),
                    "username" => self.listed(&self.by_username, &v.to_lowercase()),
                    "windows_login" => self.listed(&self.by_login, &login_part(v)),
                    "employee_id" => self.listed(&self.by_employee_id, &v.to_lowercase()),
                    _ => {
                        let targets = self.mapping.get(&v.to_lowercase());
                        let mut all: Vec<User> = targets
                            .into_iter()
                            .flatten()
                            .flat_map(|t| self.mapped(t))
                            .collect();
                        all.sort_by(|a, b| a.id.cmp(&b.id));
                        all.dedup_by(|a, b| a.id == b.id);
                        if all.is_empty()
                            && let Some(t) = targets
                        {
                            return Resolved::NotFound {
                                tried: format!(
                                    "{}; the mapping file maps {key}={v} to {} which is not in the Genesys directory",
                                    tried.join(", "),
                                    t.join(", ")
                                ),
                            };
                        }
                        all
                    }
                };
                let how = if key == "mapping" {
                    format!("mapping file: {v}")
                } else {
                    format!("{key}={v}")
                };
                match users.as_slice() {
                    [] => continue,
                    [one] => {
                        return Resolved::Found {
                            user: one.clone(),
                            how,
                        };
                    }
                    many => {
                        let mut ids: Vec<String> = many.iter().map(|u| u.id.clone()).collect();
                        ids.sort();
                        return Resolved::Ambiguous { how, ids };
                    }
                }
            }
        }
        if tried.is_empty() {
            tried.push(format!("no {} in the export", keys.join(" or ")));
        }
        Resolved::NotFound {
            tried: tried.join(", "),
        }
    }

    pub(super) fn find_default(&self, key: &str) -> Option<User> {
        let k = key.trim().to_lowercase();
        let mut all: Vec<&User> = self
            .by_email
            .get(&k)
            .into_iter()
            .flatten()
            .chain(self.by_username.get(&k).into_iter().flatten())
            .map(|&i| &self.users[i as usize])
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all.dedup_by(|a, b| a.id == b.id);
        match all.as_slice() {
            [one] if one.state.as_deref() == Some("active") => Some((*one).clone()),
            _ => None,
        }
    }
}

/// `[users] mapping_file`: Calabrio identifier (lower case) → Genesys user ids or e-mails, with
/// conflicting rows kept (they make the person ambiguous, never a guess).
pub(super) fn read_people_mapping(path: &std::path::Path) -> Result<HashMap<String, Vec<String>>> {
    read_pairs(
        path,
        "people mapping file",
        (
            &[
                "calabrio",
                "calabriopersonid",
                "personid",
                "calabriokey",
                "source",
            ],
            "calabrio column (calabrio, calabrio_person_id, person_id)",
        ),
        (
            &[
                "genesys",
                "genesysuserid",
                "userid",
                "genesysemail",
                "target",
            ],
            "genesys column (genesys, genesys_user_id, user_id)",
        ),
        true,
    )
}
