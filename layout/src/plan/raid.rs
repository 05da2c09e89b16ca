//! The md RAID stage.

use super::{argv, Ctx, Step};

/// Creates each md array with its UUID, name, metadata, chunk and layout,
/// members in role order, then spares.
pub(super) fn arrays(cx: &mut Ctx) {
    let layout = cx.layout;
    for raid in &layout.raids {
        let members: Vec<String> = raid.devices.iter().map(|d| cx.r.get(d)).collect();
        let spares: Vec<String> = raid.spares.iter().map(|d| cx.r.get(d)).collect();
        let mut a = argv(["mdadm", "--create", &raid.device, "--run"]);
        a.push(format!("--metadata={}", raid.metadata));
        a.push(format!("--level={}", raid.level));
        a.push(format!("--raid-devices={}", members.len()));
        if !spares.is_empty() {
            a.push(format!("--spare-devices={}", spares.len()));
        }
        a.push(format!("--uuid={}", raid.uuid));
        if let Some(n) = &raid.name {
            a.push(format!("--name={n}"));
        }
        if let Some(c) = raid.chunk {
            a.push(format!("--chunk={}K", c / 1024));
        }
        if let Some(l) = &raid.layout {
            a.push(format!("--layout={l}"));
        }
        a.extend(members.iter().cloned());
        a.extend(spares.iter().cloned());
        let mut under = members.clone();
        under.extend(spares.iter().cloned());
        let mut writes = vec![raid.device.clone()];
        writes.extend(under.iter().cloned());
        cx.under.insert(raid.device.clone(), under);
        // The array changes by what its smallest member changed, times the
        // members that hold data.
        let data_members = match raid.level.as_str() {
            "raid0" | "linear" => members.len() as i128,
            "raid4" | "raid5" => members.len() as i128 - 1,
            "raid6" => members.len() as i128 - 2,
            "raid10" => members.len() as i128 / 2,
            _ => 1,
        };
        let delta = raid
            .devices
            .iter()
            .map(|d| cx.grown.get(d).copied().unwrap_or(0))
            .min()
            .unwrap_or(0);
        cx.grown.insert(raid.device.clone(), delta * data_members);
        cx.push(
            Step::new(
                format!("raid:{}", raid.device),
                format!(
                    "create {} {} on {}",
                    raid.level,
                    raid.device,
                    members.join(" ")
                ),
            )
            .argv(a)
            .writes(writes)
            .creates([&raid.device]),
        );
    }
}
