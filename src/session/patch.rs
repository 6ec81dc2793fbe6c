//! A partial update (`PUT`/`PATCH …/sessions/{uuid}`): only the given fields and points
//! change. What is given obeys the same rules as in a create; `saved` defaults to the receive
//! time, as the contract says.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    FieldErrors, Limits, PointName, PointValue, RawSession, SessionUuid, UnitId, check_points,
    check_unix_seconds, field_name, parse_points, parse_unix_seconds, record,
};

/// A checked partial update of one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patch {
    /// The session to change (from the path).
    pub uuid: SessionUuid,
    /// A new unit id, if given.
    pub unit_id: Option<UnitId>,
    /// A new creation time, if given.
    pub created: Option<i64>,
    /// The new save time (the receive time when not given).
    pub saved: i64,
    /// The points to set, by lower-cased name; other points are left alone.
    pub points: BTreeMap<PointName, PointValue>,
}

impl RawSession {
    /// Applies the rules to an update of session `uuid`; `now` (unix seconds) is the default
    /// for `saved`. A `session[uuid]` in the body must name the same session.
    pub fn parse_patch(
        self,
        uuid: &SessionUuid,
        limits: &Limits,
        now: i64,
    ) -> Result<Patch, FieldErrors> {
        let mut errors = self.errors;
        if self
            .uuid
            .as_deref()
            .is_some_and(|given| given != uuid.as_str())
        {
            errors.add(
                field_name("uuid"),
                "must be the uuid of the path, or be left out",
            );
        }
        let unit_id = self
            .unit_id
            .as_deref()
            .and_then(|text| record(&mut errors, "unit_id", UnitId::parse(text)));
        let created = self
            .created
            .as_deref()
            .and_then(|text| record(&mut errors, "created", parse_unix_seconds(text)));
        let saved = match self.saved.as_deref() {
            None => Some(now),
            Some(text) => record(&mut errors, "saved", parse_unix_seconds(text)),
        };
        let points = parse_points(self.points, limits, &mut errors);
        match saved {
            Some(saved) => errors.into_result(Patch {
                uuid: uuid.clone(),
                unit_id,
                created,
                saved,
                points,
            }),
            None => Err(errors),
        }
    }
}

impl Patch {
    /// Re-applies the rules to an update that arrived from the queue.
    pub fn check(&self, limits: &Limits) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        if let Err(message) = SessionUuid::parse(self.uuid.as_str()) {
            errors.add(field_name("uuid"), message);
        }
        if let Some(Err(message)) = self.unit_id.as_ref().map(|u| UnitId::parse(u.as_str())) {
            errors.add(field_name("unit_id"), message);
        }
        if let Some(Err(message)) = self.created.map(check_unix_seconds) {
            errors.add(field_name("created"), message);
        }
        if let Err(message) = check_unix_seconds(self.saved) {
            errors.add(field_name("saved"), message);
        }
        check_points(&self.points, limits, &mut errors);
        errors.into_result(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::session::RawValue;

    fn uuid() -> SessionUuid {
        SessionUuid::parse("s-1").unwrap()
    }

    #[test]
    fn only_what_is_given_is_set_and_saved_defaults_to_now() {
        let raw = RawSession {
            points: vec![("Photo".into(), RawValue::RawData("AAE=".into()))],
            ..RawSession::default()
        };
        let patch = raw.parse_patch(&uuid(), &Limits::default(), 77).unwrap();
        assert_eq!(patch.unit_id, None);
        assert_eq!(patch.created, None);
        assert_eq!(patch.saved, 77);
        let photo = PointName::parse("photo").unwrap();
        assert_eq!(patch.points[&photo], PointValue::Raw(vec![0, 1]));
        assert_eq!(patch.check(&Limits::default()), Ok(()));
    }

    #[test]
    fn given_fields_obey_the_create_rules() {
        let raw = RawSession {
            uuid: Some("other".into()),
            unit_id: Some(String::new()),
            created: Some("yesterday".into()),
            saved: Some("-1".into()),
            points: vec![("a[b]".into(), RawValue::Text("x".into()))],
            ..RawSession::default()
        };
        let errors = raw.parse_patch(&uuid(), &Limits::default(), 1).unwrap_err();
        let fields: Vec<&String> = errors.iter().map(|(field, _)| field).collect();
        assert_eq!(
            fields,
            [
                "session[created]",
                "session[data][a[b]]",
                "session[saved]",
                "session[unit_id]",
                "session[uuid]"
            ]
        );
    }

    #[test]
    fn the_same_uuid_in_the_body_is_fine_and_bad_queue_values_are_caught() {
        let raw = RawSession {
            uuid: Some("s-1".into()),
            ..RawSession::default()
        };
        let mut patch = raw.parse_patch(&uuid(), &Limits::default(), 5).unwrap();
        patch.saved = -3;
        let errors = patch.check(&Limits::default()).unwrap_err();
        assert!(errors.summary().contains("session[saved]"));
    }
}
