use super::*;

fn fixture_dir(scenario: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/capture")
        .join(scenario)
}

#[test]
fn dump_all() {
    for s in ["gpt-esp", "msdos-logical", "raid1-lvm-thin", "luks-lvm", "btrfs-subvols"] {
        let src = FixtureSource::new(fixture_dir(s));
        let l = capture(&src, &Options::default()).unwrap();
        println!("=== {s}\n{}\nmissing: {:?}", l.to_json(), src.missing());
    }
}
