//! Signing and publishing from the console: the same library calls as `loaxa-district publish`,
//! with each publication and the boxes' answers recorded.

use std::collections::BTreeMap;

use crate::console::Staff;
use crate::console::content::{BoxAnswer, Bulletin};
use crate::console::db;
use crate::console::pages::bulletins::{NewPublicationOwned, record};
use crate::console::targets::Organisation;

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
    let mut failures = Vec::new();
    for scope in &scopes {
        let spec = crate::publish::BulletinSpec {
            file: &file,
            id: &bulletin.id,
            title: &bulletin.title,
            scope,
            approver: &approver,
            valid_until: bulletin.valid_until,
        };
        let published =
            crate::publish::publish_bulletin(&broker, &staff.app.key, &spec, |_, _| {}).await;
        let outcome = match &published {
            Ok(_) => "published".to_owned(),
            Err(e) => {
                failures.push(format!("{scope}: {e}"));
                format!("failed: {e}")
            }
        };
        let answers: BTreeMap<String, BoxAnswer> = BTreeMap::new();
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
