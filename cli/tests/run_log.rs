//! The run log holds every external command a command runs: savelayout's
//! capture commands, run through the recording fake answering from a
//! recorded fixture, each appear in a real run.log with their outcome.

use rear_build::{layoutcmd, ui};
use rear_exec::Fake;
use rear_layout::capture::{FixtureSource, Host};
use std::path::Path;

#[test]
fn savelayout_logs_every_capture_command_with_its_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    ui::init_log(0, false, false);
    ui::log_to_file(&log);

    let fixture = FixtureSource::new(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../layout/tests/fixtures/capture/raid1-lvm-thin"),
    );
    let files = fixture.files();
    let fake = Fake::answering(move |c| fixture.answer(c));
    let host = Host {
        exec: &fake,
        root: files,
    };
    let out = dir.path().join("layout.json");
    layoutcmd::savelayout(&host, &out, &Default::default()).unwrap();
    log::logger().flush();

    let text = std::fs::read_to_string(&log).unwrap();
    let calls = fake.calls();
    // lsblk, blkid per device, sfdisk, mdadm, pvs/vgs/lvs, dmsetup, fs tools...
    assert!(calls.len() >= 10, "only {} calls", calls.len());
    for c in &calls {
        let line = c.line();
        assert!(
            text.contains(&format!("running: {line}\n")),
            "not logged: {line}\n--- log ---\n{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.contains(" after ") && l.ends_with(&format!(" s: {line}"))),
            "no outcome logged for: {line}"
        );
    }
    assert!(text.contains("layout saved to"), "{text}");
    assert!(out.is_file());
}
