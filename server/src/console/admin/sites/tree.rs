//! A site's zones as the model nests them: lines in depth-first order, each knowing how
//! many levels of the nested list close after it, so the template writes a tree of plain
//! `<ul>` without recursion.

use crate::console::names::Names;
use crate::store::ZoneRecord;
use gatehouse_core::model::{AntiPassback, Assurance};
use std::collections::HashMap;
use uuid::Uuid;

pub struct ZoneLine {
    pub id: Uuid,
    pub name: String,
    /// The zone with its enclosing zones, `Building › Floor 2 › Lab`, for choosers.
    pub path: String,
    pub has_children: bool,
    /// How many open levels of the list end after this zone.
    pub closes: usize,
    /// The zone's rules, each in words.
    pub rules: Vec<String>,
}

/// The rules a zone applies, in words.
pub fn rules(zone: &ZoneRecord) -> Vec<String> {
    let rules = &zone.rules;
    let mut words = vec![if zone.level == 0 {
        "public (level 0)".to_owned()
    } else {
        format!("clearance level {} or higher", zone.level)
    }];
    if rules.vetting_required {
        words.push("valid vetting required".to_owned());
    }
    if rules.escort_required {
        words.push("visitors need an escort".to_owned());
    }
    if rules.two_person {
        words.push("two people required".to_owned());
    }
    if rules.pin_required {
        words.push("card and PIN".to_owned());
    }
    let timeout = rules
        .anti_passback_timeout_s
        .map_or_else(String::new, |s| format!(", reset after {s} s"));
    match rules.anti_passback {
        AntiPassback::Off => {}
        AntiPassback::Soft => words.push(format!("soft anti-passback (alarm){timeout}")),
        AntiPassback::Hard => words.push(format!("hard anti-passback (refused){timeout}")),
    }
    if let Some(max) = rules.max_occupancy {
        words.push(format!("at most {max} inside"));
    }
    if rules.min_assurance == Assurance::Secure {
        words.push("secure cards only (UID cards refused)".to_owned());
    }
    words
}

/// The site's zones as tree lines. A zone whose parent is missing (never, as the store
/// keeps the tree whole) is shown as a root rather than lost.
pub fn lines(names: &Names, site_id: Uuid) -> Vec<ZoneLine> {
    let zones: Vec<&ZoneRecord> = names
        .zones
        .values()
        .filter(|z| z.site_id == site_id)
        .collect();
    let mut children: HashMap<Option<Uuid>, Vec<&ZoneRecord>> = HashMap::new();
    for zone in &zones {
        let parent = zone.parent_id.filter(|p| names.zones.contains_key(p));
        children.entry(parent).or_default().push(zone);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let mut out: Vec<(ZoneLine, usize)> = Vec::new();
    // Depth-first with an explicit stack: (zone, depth, path of its parent).
    let mut stack: Vec<(&ZoneRecord, usize, String)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|z| (*z, 0, String::new())).collect())
        .unwrap_or_default();
    while let Some((zone, depth, parent_path)) = stack.pop() {
        let path = if parent_path.is_empty() {
            zone.name.clone()
        } else {
            format!("{parent_path} › {}", zone.name)
        };
        let kids = children.get(&Some(zone.id));
        for kid in kids.into_iter().flatten().rev() {
            stack.push((kid, depth + 1, path.clone()));
        }
        out.push((
            ZoneLine {
                id: zone.id,
                name: zone.name.clone(),
                path,
                has_children: kids.is_some_and(|k| !k.is_empty()),
                closes: 0,
                rules: rules(zone),
            },
            depth,
        ));
    }
    let depths: Vec<usize> = out.iter().map(|(_, d)| *d).collect();
    out.into_iter()
        .enumerate()
        .map(|(i, (mut line, depth))| {
            if !line.has_children {
                let next = depths.get(i + 1).copied().unwrap_or(0);
                line.closes = depth.saturating_sub(next);
            }
            line
        })
        .collect()
}
