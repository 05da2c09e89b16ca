//! Finding 8: `mkbackup` stores the rescue image beside the backup; when
//! the image carries the backup's passphrase, that passphrase protects
//! nothing there, and the store says so plainly (on the console and in the
//! log), naming the secret and the medium.

use rear_build::backupcmd::store_image;
use rear_build::commands::image_key;
use rear_build::config::Config;
use rear_build::ui;
use rear_builder::media::Menu;

#[test]
fn mkbackup_warns_when_its_image_carries_the_passphrase_beside_the_backup_or_not() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("run.log");
    ui::init_log(0, false, false);
    ui::log_to_file(&log);
    let key = d.path().join("borg.pass");
    std::fs::write(&key, "x\n").unwrap();
    let art = d.path().join("initrd.img");
    std::fs::write(&art, "image").unwrap();
    let repo = d.path().join("repo");
    let mut cfg = Config::builtin();
    cfg.backup.method = rear_backup::Method::Borg;
    cfg.backup.url = format!("file://{}", repo.display());
    cfg.backup.passphrase_file = key.display().to_string();

    // Without the passphrase in the image: stored, no warning.
    store_image(
        &cfg.backup,
        std::slice::from_ref(&art),
        image_key(&cfg).as_ref(),
        (&Menu::default(), 3),
    )
    .unwrap();
    log::logger().flush();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("rescue image and log stored in"), "{text}");
    assert!(!text.contains("protects nothing"), "{text}");

    cfg.image.include = vec![format!("{}:/etc/rear-build/borg.pass", key.display())];
    let carried = image_key(&cfg);
    store_image(
        &cfg.backup,
        std::slice::from_ref(&art),
        carried.as_ref(),
        (&Menu::default(), 3),
    )
    .unwrap();
    log::logger().flush();
    let text = std::fs::read_to_string(&log).unwrap();
    let want = format!(
        "the rescue image stored in {}/rescue carries the borg passphrase (backup.passphrase_file {}, in the image as /etc/rear-build/borg.pass), on the same medium as the borg backup it unlocks (file://{}): there the passphrase protects nothing",
        repo.display(),
        key.display(),
        repo.display()
    );
    assert!(
        text.lines()
            .any(|l| l.contains("WARN") && l.contains(&want)),
        "{text}"
    );

    // A server target keeps no image: the image that carries the
    // passphrase stays where it was built, still a key to the backup.
    cfg.backup.url = "ssh://bk@backup.invalid/srv/borg".into();
    store_image(&cfg.backup, &[art], carried.as_ref(), (&Menu::default(), 3)).unwrap();
    log::logger().flush();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines().any(|l| l.contains("WARN")
            && l.contains("the rescue image carries the borg passphrase")
            && l.contains(
                "whoever reads the image can read the backup at ssh://bk@backup.invalid/srv/borg"
            )),
        "{text}"
    );
}
