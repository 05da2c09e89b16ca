//! Secrets never reach the run log, an error message or a process's argv:
//! a CIFS `password=` mount option and a LUKS passphrase, each through the
//! code that really handles it, with a tool that fails and prints them.

use rear_build::ui;
use rear_exec::{Fake, Output};
use rear_layout::plan::{Input, Plan, Step};
use rear_tests::argv::Watch;
use std::path::Path;

const CIFS_CANARY: &str = "cifs-canary-7f3a";
const LUKS_CANARY: &str = "luks-canary-91bd";

#[test]
fn a_cifs_password_and_a_luks_passphrase_reach_no_log_error_or_argv() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    ui::init_log(0, false, false);
    ui::log_to_file(&log);

    // The CIFS target: mount fails and prints all it was given.
    let fake = Fake::answering(|c| {
        let pass = c
            .env_value("PASSWD")
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Output::fail(
            32,
            format!(
                "mount error(13): {} PASSWD={pass}",
                c.argv_lossy().join(" ")
            ),
        ))
    });
    let target = rear_backup::Target::parse("cifs://bk@nas/backup").unwrap();
    let err = target
        .open(
            &fake,
            "web1",
            rear_backup::Method::Tar,
            &format!("vers=3.0,password={CIFS_CANARY}"),
        )
        .unwrap_err();
    let err = format!("{err:#}");
    assert!(err.contains("mount error(13)"), "{err}");
    assert!(!err.contains(CIFS_CANARY), "in the error: {err}");
    let mount = &fake.calls()[0];
    assert!(
        !mount.argv_lossy().join(" ").contains(CIFS_CANARY),
        "on argv: {:?}",
        mount.argv_lossy()
    );

    // A LUKS passphrase from its file: the step's tool echoes its input on
    // stderr and fails, while /proc is watched for it on any argv.
    let pass = dir.path().join("luks-pass");
    std::fs::write(&pass, format!("{LUKS_CANARY}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let plan = Plan {
        steps: vec![Step {
            id: "luks".into(),
            what: "format LUKS".into(),
            argv: ["sh", "-c", "cat >&2; sleep 1; exit 1"]
                .map(String::from)
                .to_vec(),
            input: Some(Input::Secret(pass.clone())),
            writes: vec![],
            creates: vec![],
        }],
        ..Default::default()
    };
    let watch = Watch::start(
        &[LUKS_CANARY, CIFS_CANARY],
        std::time::Duration::from_millis(20),
    );
    let state = dir.path().join("steps.done");
    let err = rear_layout::apply::apply(
        &plan,
        &rear_exec::System,
        &Default::default(),
        &state,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    let seen = watch.stop();
    assert!(
        seen.samples >= 10,
        "argv sampled only {} times",
        seen.samples
    );
    assert!(seen.hits.is_empty(), "on argv: {:?}", seen.hits);
    assert!(err.contains("format LUKS"), "{err}");
    assert!(!err.contains(LUKS_CANARY), "in the error: {err}");

    log::logger().flush();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("running: mount -t cifs"), "{text}");
    assert!(text.contains("running: sh -c"), "{text}");
    for canary in [CIFS_CANARY, LUKS_CANARY] {
        assert!(!text.contains(canary), "{canary} in the log:\n{text}");
    }
    assert!(
        !Path::new(&state).exists()
            || !std::fs::read_to_string(&state)
                .unwrap()
                .contains(LUKS_CANARY)
    );
}
