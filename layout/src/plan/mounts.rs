//! The mount stage: the recreated file systems mounted below the mount
//! root, parents first.

use super::{Ctx, Step};
use crate::model::*;

/// Mounts every file system of the layout (not swap) at its mount point
/// below `opts.mount_root`: `/` first, then by depth.
pub(super) fn mounts(cx: &mut Ctx) {
    let (layout, opts) = (cx.layout, cx.opts);
    for m in layout.mounts_in_order() {
        let dev = cx.r.get(&m.device);
        let target = m.below(&opts.mount_root);
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
