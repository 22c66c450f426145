//! Signing and publishing from the console: the same library calls as `loaxa-district publish`,
//! with each publication and the boxes' answers recorded.

use std::collections::BTreeMap;

use crate::console::Staff;
use crate::console::content::Bulletin;
use crate::console::db;
use crate::console::pages::bulletins::{NewPublicationOwned, record};
use crate::console::targets::Organisation;

/// How long a publication waits for the boxes' answers (less once every online box answered).
pub const ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Who signs: the person and the office, as boxes show it and reports keep it.
pub fn approver(staff: &Staff) -> String {
    format!(
        "{}, {}",
        staff.account.display_name, staff.app.config.office.name
    )
}

/// Publishes an approved bulletin's audio and signed manifest to every scope of its targets.
pub async fn bulletin(staff: &Staff, bulletin: &Bulletin) -> Result<(), String> {
    let groups = staff
        .app
        .db
        .call(|conn| db::groups(conn))
        .await
        .map_err(|e| e.to_string())?;
    let box_commune = super::box_commune_lookup(&staff.app).await;
    let scopes = Organisation {
        office_id: &staff.app.config.office.id,
        groups: &groups,
        box_commune: &box_commune,
    }
    .all_scopes(&bulletin.targets);
    if scopes.is_empty() {
        return Err(staff.t("publish-no-scopes"));
    }
    let file = staff.app.config.media_dir.join(bulletin.file_name());
    let broker = staff.app.config.broker();
    let approver = approver(staff);
    let registry = super::registry(&staff.app).await;
    let mut failures = Vec::new();
    for scope in &scopes {
        let spec = crate::publish::BulletinSpec {
            file: &file,
            id: &bulletin.id,
            title: &bulletin.title,
            scope,
            approver: &approver,
            valid_until: bulletin.valid_until,
            force: false,
            answer_wait: ANSWER_WAIT,
            registry: &registry,
        };
        let published =
            crate::publish::publish_bulletin(&broker, &staff.app.key, &spec, |_, _| {}).await;
        let (outcome, answers) = match published {
            Ok(report) if report.withdrawn.is_some() => {
                failures.push(format!("{scope}: {}", staff.t("publish-withdrawn")));
                ("withdrawn".to_owned(), report.feedback.per_box)
            }
            Ok(report) => ("published".to_owned(), report.feedback.per_box),
            Err(e) => {
                failures.push(format!("{scope}: {e}"));
                (format!("failed: {e}"), BTreeMap::new())
            }
        };
        record(
            staff,
            NewPublicationOwned {
                what: format!("bulletin {}", bulletin.id),
                scope: scope.to_string(),
                revision: None,
                outcome,
                answers,
            },
        )
        .await
        .map_err(|_| "the publication could not be recorded".to_owned())?;
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}
