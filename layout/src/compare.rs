//! Differences between two layouts, as lines a person can read:
//! `+ lv vg0/new`, `- partition /dev/vda3`, `~ filesystem /dev/vda2: label "a" → "b"`.
//! Used by `checklayout` (did the disks change since the layout was saved?)
//! and after a recovery (is what was built the layout that was asked for,
//! up to the changes a migration makes?).

use crate::model::*;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Old disk → new disk: the saved layout is renamed before comparing,
    /// and the identity of mapped disks (serial, WWN, model, by-id) is not
    /// compared.
    pub mapping: BTreeMap<String, String>,
    /// Do not compare sizes of disks, partitions, RAID arrays, PVs and VGs
    /// (they follow the new disks in a migration).
    pub ignore_sizes: bool,
    /// Do not compare what recreation cannot keep: LVM VG and LV UUIDs.
    pub recreated: bool,
}

fn rename_all(v: &mut Value, names: &BTreeMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(n) = names.get(s.as_str()) {
                *s = n.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rename_all(x, names)),
        Value::Object(o) => o.values_mut().for_each(|x| rename_all(x, names)),
        _ => {}
    }
}

fn drop_keys(v: &mut Value, keys: &[&str]) {
    if let Value::Object(o) = v {
        for k in keys {
            o.remove(*k);
        }
    }
}

fn prepare(l: &Layout, opts: &Options, saved: bool) -> Value {
    let mut v = serde_json::to_value(l).expect("layouts serialize");
    if saved && !opts.mapping.is_empty() {
        let mut names = opts.mapping.clone();
        for d in &l.disks {
            if let Some(new) = opts.mapping.get(&d.device) {
                for p in &d.partitions {
                    names.insert(p.device.clone(), partition_device(new, p.number));
                }
            }
        }
        rename_all(&mut v, &names);
    }
    let o = v.as_object_mut().unwrap();
    // What capture left out is not part of the layout.
    o.remove("notes");
    o.remove("excluded_disks");
    // Of the UEFI boot entries only the loaders on disks are the layout's;
    // the firmware's own entries (setup menu, shell, "UEFI Misc Device")
    // and every entry's number follow the machine and the devices attached.
    if let Some(boot) = o.get_mut("boot").and_then(Value::as_object_mut) {
        let mut entries: Vec<Value> = boot
            .remove("efi_entries")
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        entries.retain(|e| e.get("partuuid").is_some());
        entries.iter_mut().for_each(|e| drop_keys(e, &["number"]));
        entries.sort_by_key(|e| e.to_string());
        if !entries.is_empty() {
            boot.insert("efi_entries".into(), Value::Array(entries));
        }
    }
    for vg in o
        .get_mut("vgs")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        // Free space follows what is allocated, which the LV list shows.
        drop_keys(vg, &["free"]);
        if opts.recreated {
            drop_keys(vg, &["uuid"]);
        }
        if opts.ignore_sizes {
            drop_keys(vg, &["size"]);
        }
    }
    if opts.recreated {
        // IMSM/DDF metadata assigns its containers' and arrays' UUIDs.
        for r in o
            .get_mut("raids")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let m = r["metadata"].as_str().unwrap_or_default();
            if m == "imsm" || m == "ddf" || m.starts_with("external:") {
                drop_keys(r, &["uuid"]);
            }
        }
        for lv in o
            .get_mut("lvs")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            drop_keys(lv, &["uuid"]);
        }
    }
    // A disk mapped to the same name is still another disk (a replaced
    // one): its identity is not compared either.
    let mapped: Vec<String> = opts.mapping.values().cloned().collect();
    for d in o
        .get_mut("disks")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let dev = d["device"].as_str().unwrap_or_default().to_string();
        if mapped.contains(&dev) {
            drop_keys(d, &["serial", "wwn", "model", "by_id"]);
        }
        if opts.ignore_sizes {
            drop_keys(d, &["size"]);
            for p in d
                .get_mut("partitions")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                drop_keys(p, &["size"]);
            }
        }
    }
    if opts.ignore_sizes {
        // A resized file system keeps its ratio, up to mkfs's rounding.
        for fs in o
            .get_mut("filesystems")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(a) = fs.get_mut("attrs") {
                drop_keys(a, &["inode_count", "bytes_per_inode"]);
            }
        }
        for k in ["raids", "pvs", "luks"] {
            for x in o
                .get_mut(k)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                drop_keys(x, &["size"]);
                // Partitions on an array.
                for p in x
                    .get_mut("partitions")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    drop_keys(p, &["size"]);
                }
            }
        }
        // Extents move when a volume group is recreated on other sizes.
        for lv in o
            .get_mut("lvs")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            drop_keys(lv, &["segments"]);
        }
    }
    v
}

fn key_of(kind: &str, v: &Value) -> String {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match kind {
        "vg" => s("name"),
        "lv" => format!("{}/{}", s("vg"), s("name")),
        "mount" => s("mountpoint"),
        "partition" => s("device"),
        _ => s("device"),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

fn diff_objects(
    kind: &str,
    key: &str,
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    out: &mut Vec<String>,
) {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if k == "partitions" {
            continue;
        }
        let (x, y) = (
            a.get(k).unwrap_or(&Value::Null),
            b.get(k).unwrap_or(&Value::Null),
        );
        if x != y {
            out.push(format!("~ {kind} {key}: {k} {} → {}", show(x), show(y)));
        }
    }
}

fn diff_lists(kind: &str, a: &[Value], b: &[Value], out: &mut Vec<String>) {
    let index = |l: &[Value]| -> BTreeMap<String, Value> {
        l.iter().map(|v| (key_of(kind, v), v.clone())).collect()
    };
    let (ia, ib) = (index(a), index(b));
    for (k, va) in &ia {
        match ib.get(k) {
            None => out.push(format!("- {kind} {k}")),
            Some(vb) => {
                if let (Some(oa), Some(ob)) = (va.as_object(), vb.as_object()) {
                    diff_objects(kind, k, oa, ob, out);
                }
                if kind == "disk" || kind == "raid" {
                    let parts = |v: &Value| {
                        v.get("partitions")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                    };
                    diff_lists("partition", &parts(va), &parts(vb), out);
                }
            }
        }
    }
    for k in ib.keys().filter(|k| !ia.contains_key(*k)) {
        out.push(format!("+ {kind} {k}"));
    }
}

/// The differences from `saved` to `now`; empty when they are the same.
pub fn diff(saved: &Layout, now: &Layout, opts: &Options) -> Vec<String> {
    let (a, b) = (prepare(saved, opts, true), prepare(now, opts, false));
    let mut out = Vec::new();
    for (field, kind) in [
        ("disks", "disk"),
        ("raids", "raid"),
        ("luks", "luks"),
        ("pvs", "pv"),
        ("vgs", "vg"),
        ("lvs", "lv"),
        ("filesystems", "filesystem"),
        ("swaps", "swap"),
        ("mounts", "mount"),
    ] {
        let list = |v: &Value| {
            v.get(field)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        diff_lists(kind, &list(&a), &list(&b), &mut out);
    }
    if a.get("boot") != b.get("boot") {
        if let (Some(x), Some(y)) = (a["boot"].as_object(), b["boot"].as_object()) {
            diff_objects("boot", "", x, y, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::gpt_lvm_linear;

    #[test]
    fn same_layout_no_difference() {
        assert!(diff(&gpt_lvm_linear(), &gpt_lvm_linear(), &Options::default()).is_empty());
    }

    #[test]
    fn uefi_entries_compare_by_their_loaders_on_disk() {
        let entry = |n: &str, label: &str, disk: bool| EfiEntry {
            number: n.into(),
            label: label.into(),
            partuuid: disk.then(|| "p1".into()),
            path: disk.then(|| "\\EFI\\debian\\grubx64.efi".into()),
        };
        let mut saved = gpt_lvm_linear();
        saved.boot.efi_entries = vec![
            entry("0000", "UiApp", false),
            entry("0001", "UEFI Misc Device", false),
            entry("0003", "debian", true),
        ];
        // Other firmware entries, renumbered: the same layout.
        let mut now = gpt_lvm_linear();
        now.boot.efi_entries = vec![
            entry("0002", "UEFI Misc Device 2", false),
            entry("0007", "debian", true),
        ];
        let o = Options::default();
        assert_eq!(diff(&saved, &now, &o), Vec::<String>::new());
        // The loader's entry gone: reported.
        now.boot.efi_entries.pop();
        let d = diff(&saved, &now, &o);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("efi_entries"), "{d:?}");
    }

    /// A partition of an array and an LV's extents compare as a disk's
    /// partition does; across resized disks the extents do not.
    #[test]
    fn array_partitions_and_lv_segments_are_compared() {
        let saved = crate::scenarios::partitioned_raid1_lvm();
        let o = Options {
            recreated: true,
            ..Default::default()
        };
        assert_eq!(diff(&saved, &saved, &o), Vec::<String>::new());
        let mut now = saved.clone();
        now.raids[0].partitions[1].uuid = Some("ffffffff-0000-4000-8000-000000000000".into());
        let d = diff(&saved, &now, &o);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("partition /dev/md127p2: uuid"), "{d:?}");
        let mut now = saved.clone();
        now.lvs[1].segments[0].start = 30;
        let d = diff(&saved, &now, &o);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("lv vgm/root: segments"), "{d:?}");
        let sized = Options {
            ignore_sizes: true,
            ..o
        };
        assert_eq!(diff(&saved, &now, &sized), Vec::<String>::new());
    }

    #[test]
    fn a_new_lv_and_a_changed_label_are_reported() {
        let mut now = gpt_lvm_linear();
        now.lvs.push(Lv {
            vg: "vg".into(),
            name: "new".into(),
            segtype: "linear".into(),
            size: 1 << 20,
            ..Default::default()
        });
        now.vgs[0].free = Some(95 << 20);
        now.disks[0].partitions[0].name = Some("data".into());
        let d = diff(&gpt_lvm_linear(), &now, &Options::default());
        assert_eq!(
            d,
            ["~ partition /dev/vda1: name none → \"data\"", "+ lv vg/new"]
        );
    }

    #[test]
    fn migration_renames_and_ignores_identity_sizes_and_lvm_uuids() {
        let mut now = gpt_lvm_linear();
        now.disks[0].device = "/dev/vdb".into();
        now.disks[0].serial = Some("B".into());
        now.disks[0].size = 2 << 30;
        now.disks[0].partitions[0].device = "/dev/vdb1".into();
        now.disks[0].partitions[0].size = 1000 << 20;
        now.pvs[0].device = "/dev/vdb1".into();
        now.pvs[0].size = 1000 << 20;
        now.vgs[0].uuid = Some("u2".into());
        now.vgs[0].size = 996 << 20;
        now.lvs[0].uuid = Some("l2".into());
        let plain = diff(&gpt_lvm_linear(), &now, &Options::default());
        assert!(
            plain.contains(&"- disk /dev/vda".to_string())
                && plain.contains(&"+ disk /dev/vdb".to_string()),
            "{plain:?}"
        );
        let opts = Options {
            mapping: [("/dev/vda".to_string(), "/dev/vdb".to_string())].into(),
            ignore_sizes: true,
            recreated: true,
        };
        assert_eq!(diff(&gpt_lvm_linear(), &now, &opts), Vec::<String>::new());
        // A recreated disk of the same name is a new disk too.
        let mut same = gpt_lvm_linear();
        same.disks[0].serial = Some("B".into());
        let opts_same = Options {
            mapping: [("/dev/vda".to_string(), "/dev/vda".to_string())].into(),
            ignore_sizes: false,
            recreated: true,
        };
        assert_eq!(
            diff(&gpt_lvm_linear(), &same, &opts_same),
            Vec::<String>::new()
        );
        assert_eq!(
            diff(&gpt_lvm_linear(), &same, &Options::default()),
            ["~ disk /dev/vda: serial \"A\" → \"B\""]
        );
        // But a wrong LV size is still found.
        now.lvs[0].size = 300 << 20;
        assert_eq!(
            diff(&gpt_lvm_linear(), &now, &opts),
            [format!(
                "~ lv vg/root: size {} → {}",
                400u64 << 20,
                300u64 << 20
            )]
        );
    }

    #[test]
    fn a_disk_replaced_under_the_same_name_is_not_compared_by_identity() {
        let mut now = gpt_lvm_linear();
        now.disks[0].serial = Some("NEW".into());
        now.disks[0].by_id = vec!["virtio-NEW".into()];
        // checklayout (no mapping): the same machine, so a new serial shows.
        assert!(!diff(&gpt_lvm_linear(), &now, &Options::default()).is_empty());
        let opts = Options {
            mapping: [("/dev/vda".to_string(), "/dev/vda".to_string())].into(),
            ..Default::default()
        };
        assert_eq!(diff(&gpt_lvm_linear(), &now, &opts), Vec::<String>::new());
    }
}
