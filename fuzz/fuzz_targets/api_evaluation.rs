#![no_main]
//! Fuzzes the mapping of REST API responses: the input (JSON) is used as the evaluation detail,
//! its `comments` member as the comment list and its `contact` member as the contact, against a
//! catalog built from its `forms` and `persons` members.

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mut catalog = calabrio::catalog::Catalog::default();
    for f in v
        .get("forms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(form) = calabrio::api::form_from_json(f) {
            catalog.forms.insert(form.id.clone(), form);
        }
    }
    for p in v
        .get("persons")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(person) = calabrio::api::person_from_json(p) {
            let id = person.calabrio_person_id.clone().unwrap_or_default();
            catalog.persons.insert(id, person);
        }
    }
    let null = Value::Null;
    let contact = v.get("contact").unwrap_or(&null);
    let comments = v.get("comments").unwrap_or(&null);
    if let Err(e) = calabrio::api::canonical(&catalog, contact, "1", &v, comments, None) {
        assert!(!e.message.is_empty());
    }
});
