//! Where the office sends something: the whole office, a commune, a group of boxes or one box,
//! and which protocol scopes that is. A group is the console's own idea (the protocol has no
//! group scope), so a group stands for the `box/ID` scopes of its members.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use loaxa_core::ids::is_name;
use loaxa_core::protocol::Scope;

use super::db::Group;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// Every box of the office: the scope `district/OFFICE`.
    Office,
    Commune(String),
    Group(String),
    Box(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a target (office, commune/ID, group/ID or box/ID)")]
pub struct BadTarget(String);

impl FromStr for Target {
    type Err = BadTarget;

    fn from_str(text: &str) -> Result<Target, BadTarget> {
        let bad = || BadTarget(text.to_owned());
        if text == "office" {
            return Ok(Target::Office);
        }
        let (kind, id) = text.split_once('/').ok_or_else(bad)?;
        if !is_name(id) {
            return Err(bad());
        }
        match kind {
            "commune" => Ok(Target::Commune(id.to_owned())),
            "group" => Ok(Target::Group(id.to_owned())),
            "box" => Ok(Target::Box(id.to_owned())),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Office => f.write_str("office"),
            Target::Commune(id) => write!(f, "commune/{id}"),
            Target::Group(id) => write!(f, "group/{id}"),
            Target::Box(id) => write!(f, "box/{id}"),
        }
    }
}

/// What the console knows of the organisation, to resolve and check targets.
pub struct Organisation<'a> {
    pub office_id: &'a str,
    pub groups: &'a [Group],
    /// The commune of each known box (from its status).
    pub box_commune: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

impl Organisation<'_> {
    /// The protocol scopes a target stands for. An unknown group stands for nothing.
    pub fn scopes(&self, target: &Target) -> Vec<Scope> {
        match target {
            Target::Office => vec![Scope::District(self.office_id.to_owned())],
            Target::Commune(id) => vec![Scope::Commune(id.clone())],
            Target::Box(id) => vec![Scope::Box(id.clone())],
            Target::Group(id) => self
                .groups
                .iter()
                .find(|g| &g.id == id)
                .map(|g| g.boxes.iter().map(|b| Scope::Box(b.clone())).collect())
                .unwrap_or_default(),
        }
    }

    /// The scopes of several targets, each once.
    pub fn all_scopes(&self, targets: &[Target]) -> Vec<Scope> {
        let mut seen = BTreeSet::new();
        targets
            .iter()
            .flat_map(|t| self.scopes(t))
            .filter(|s| seen.insert(s.to_string()))
            .collect()
    }

    /// Whether an account bound to `commune` (None: the whole office) may address `target`: a
    /// commune account reaches its own commune, its boxes, and groups made only of its boxes.
    pub fn within(&self, commune: Option<&str>, target: &Target) -> bool {
        let Some(own) = commune else {
            return true;
        };
        let box_in = |b: &str| (self.box_commune)(b).as_deref() == Some(own);
        match target {
            Target::Office => false,
            Target::Commune(id) => id == own,
            Target::Box(id) => box_in(id),
            Target::Group(id) => self
                .groups
                .iter()
                .find(|g| &g.id == id)
                .is_some_and(|g| !g.boxes.is_empty() && g.boxes.iter().all(|b| box_in(b))),
        }
    }

    /// The targets whose programmes belong in the schedule document of `scope`: for a box's
    /// own scope, its groups' too.
    pub fn targets_of_scope(&self, scope: &Scope) -> Vec<Target> {
        match scope {
            Scope::District(id) if id == self.office_id => vec![Target::Office],
            Scope::Commune(id) => vec![Target::Commune(id.clone())],
            Scope::Box(id) => std::iter::once(Target::Box(id.clone()))
                .chain(
                    self.groups
                        .iter()
                        .filter(|g| g.boxes.contains(id))
                        .map(|g| Target::Group(g.id.clone())),
                )
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn organisation<'a>(
        groups: &'a [Group],
        lookup: &'a (dyn Fn(&str) -> Option<String> + Sync),
    ) -> Organisation<'a> {
        Organisation {
            office_id: "gia-lam",
            groups,
            box_commune: lookup,
        }
    }

    fn groups() -> Vec<Group> {
        vec![
            Group {
                id: "thon-1".into(),
                name: "Thôn 1".into(),
                boxes: vec!["pd-01".into(), "pd-02".into()],
            },
            Group {
                id: "mixed".into(),
                name: "Hỗn hợp".into(),
                boxes: vec!["pd-01".into(), "kh-01".into()],
            },
        ]
    }

    fn commune_of(box_id: &str) -> Option<String> {
        Some(
            if box_id.starts_with("pd") {
                "phu-dong"
            } else {
                "kim-hoa"
            }
            .into(),
        )
    }

    #[test]
    fn targets_read_and_write_the_same() {
        for text in ["office", "commune/phu-dong", "group/thon-1", "box/pd-01"] {
            assert_eq!(text.parse::<Target>().unwrap().to_string(), text);
        }
        for bad in ["", "district/x", "commune/", "box/a b", "commune/../x"] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_group_stands_for_its_boxes_and_the_office_for_its_district_scope() {
        let groups = groups();
        let org = organisation(&groups, &commune_of);
        let scopes = org.all_scopes(&[
            Target::Group("thon-1".into()),
            Target::Box("pd-01".into()),
            Target::Office,
        ]);
        let names: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        assert_eq!(names, ["box/pd-01", "box/pd-02", "district/gia-lam"]);
    }

    #[test]
    fn a_commune_account_reaches_only_its_commune() {
        let groups = groups();
        let org = organisation(&groups, &commune_of);
        let own = Some("phu-dong");
        assert!(org.within(own, &Target::Commune("phu-dong".into())));
        assert!(org.within(own, &Target::Box("pd-02".into())));
        assert!(org.within(own, &Target::Group("thon-1".into())));
        assert!(!org.within(own, &Target::Group("mixed".into())));
        assert!(!org.within(own, &Target::Commune("kim-hoa".into())));
        assert!(!org.within(own, &Target::Box("kh-01".into())));
        assert!(!org.within(own, &Target::Office));
        assert!(org.within(None, &Target::Office));
    }

    #[test]
    fn a_box_schedule_carries_its_groups_programmes() {
        let groups = groups();
        let org = organisation(&groups, &commune_of);
        let targets = org.targets_of_scope(&Scope::Box("pd-01".into()));
        assert_eq!(
            targets,
            [
                Target::Box("pd-01".into()),
                Target::Group("thon-1".into()),
                Target::Group("mixed".into())
            ]
        );
    }
}
