//! The mount stage: the recreated file systems mounted below the mount
//! root, parents first.

use super::{Ctx, Step};
use crate::model::*;

/// Mounts every file system of the layout (not swap) at its mount point
/// below `opts.mount_root`: `/` first, then by depth.
pub(super) fn mounts(cx: &mut Ctx) {
    let (layout, opts) = (cx.layout, cx.opts);
    let mut mounts: Vec<&Mount> = layout
        .mounts
        .iter()
        .filter(|m| m.fstype != "swap")
        .collect();
    mounts.sort_by_key(|m| {
        (
            if m.mountpoint == "/" {
                0
            } else {
                m.mountpoint.matches('/').count()
            },
            m.mountpoint.clone(),
        )
    });
    for m in mounts {
        let dev = cx.r.get(&m.device);
        let target = format!(
            "{}{}",
            opts.mount_root.trim_end_matches('/'),
            if m.mountpoint == "/" {
                ""
            } else {
                &m.mountpoint
            }
        );
        let target = if target.is_empty() {
            "/".to_string()
        } else {
            target
        };
        cx.push(
            Step::new(
                format!("mkdir:{target}"),
                format!("create mount point {target}"),
            )
            .argv(["mkdir", "-p", &target]),
        );
        let mut a = vec!["mount".to_string(), "-t".into(), m.fstype.clone()];
        let owners = Mount::owner_options(&m.options);
        if let Some(sv) = &m.subvolume {
            a.push("-o".into());
            a.push(format!("subvol={sv}"));
        } else if Mount::modes_from_options(&m.fstype) && !owners.is_empty() {
            a.push("-o".into());
            a.push(owners.join(","));
        }
        a.push(dev.clone());
        a.push(target.clone());
        let w = cx.stack(&dev);
        cx.push(
            Step::new(
                format!("mount:{target}"),
                format!("mount {dev} at {target}"),
            )
            .argv(a)
            .writes(w),
        );
    }
}
