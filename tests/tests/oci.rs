//! Rescue images through a real OCI registry: Debian's docker-registry
//! (distribution 2.8, which has no referrers API) on 127.0.0.1. `push`
//! then `pull` by digest gives the same bytes and verifies; a second
//! host's image sharing the kernel sends only the blobs that differ (the
//! registry's storage shows it); a blob changed in the registry's storage,
//! an unknown digest or the wrong key fails `pull` with nothing written.

use rear_tests::servers::Server;
use rear_tests::{keygen, rear_build, sha256_file, Run};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// sha256 of `{}`, OCI 1.1's empty config (the signature artifact's).
const EMPTY: &str = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

fn ok(r: &Run, what: &str) {
    assert_eq!(r.status, 0, "{what}:\n{}\n{}", r.stdout, r.stderr);
}

fn registry(work: &Path) -> Server {
    assert!(
        rear_tests::which("docker-registry"),
        "needs docker-registry: apt-get install docker-registry (or run ci/setup --test)"
    );
    Server::docker_registry(work, None)
}

/// A signed image of "host" `host` (its own included file, so its own
/// config layer; the same kernel, base, modules and firmware layers), with
/// the media `media`.
fn build_with(dir: &Path, host: &str, key: &Path, media: &str) -> PathBuf {
    let inc = dir.join(format!("{host}.id"));
    std::fs::write(&inc, format!("{host}\n")).unwrap();
    let out = dir.join(format!("out-{host}"));
    ok(
        &rear_build(
            &[
                "image",
                "--store",
                dir.join("store").to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "--include",
                &format!("{}:/etc/rear-host-id", inc.display()),
                "--media",
                media,
                "--sign",
                key.to_str().unwrap(),
            ],
            &[],
            None,
        ),
        "image",
    );
    out
}

/// With an ISO.
fn build(dir: &Path, host: &str, key: &Path) -> PathBuf {
    build_with(dir, host, key, "iso")
}

/// Every regular file under `dir`, relative, with its sha256.
fn files(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, sha256_file(&p));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The blobs (sha256 hex) an image in `out` is made of in the registry:
/// the kernel, each initrd layer, the ISO, manifest.json, the signature
/// files and the signature's empty config.
fn blobs_of(out: &Path) -> BTreeSet<String> {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let mut s: BTreeSet<String> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["sha256"].as_str().unwrap().to_string())
        .collect();
    assert!(s.len() >= 3, "few layers: {s:?}");
    for f in [
        "vmlinuz",
        "rescue.iso",
        "manifest.json",
        "manifest.json.minisig",
        "SHA256SUMS",
        "SHA256SUMS.minisig",
    ] {
        s.insert(sha256_file(&out.join(f)));
    }
    s.insert(EMPTY.to_string());
    s
}

/// The blobs the registry's storage holds (manifests are blobs there too).
fn stored(reg: &Server) -> BTreeSet<String> {
    let root = reg.share.join("docker/registry/v2/blobs/sha256");
    let mut s = BTreeSet::new();
    if !root.exists() {
        return s;
    }
    for two in std::fs::read_dir(&root).unwrap() {
        for b in std::fs::read_dir(two.unwrap().path()).unwrap() {
            s.insert(b.unwrap().file_name().to_string_lossy().into_owned());
        }
    }
    s
}

/// The digest (hex) the tag `tag` of `repo` names, from the storage.
fn tagged(reg: &Server, repo: &str, tag: &str) -> String {
    let link = reg.share.join(format!(
        "docker/registry/v2/repositories/{repo}/_manifests/tags/{tag}/current/link"
    ));
    let text =
        std::fs::read_to_string(&link).unwrap_or_else(|e| panic!("read {}: {e}", link.display()));
    text.trim().strip_prefix("sha256:").unwrap().to_string()
}

/// The number before the words `words` in push's report line.
fn count(stderr: &str, words: &str) -> usize {
    let t: Vec<&str> = stderr.split_whitespace().collect();
    let w: Vec<&str> = words.split_whitespace().collect();
    let i = (1..t.len())
        .find(|&i| t[i..].starts_with(&w))
        .unwrap_or_else(|| panic!("no {words:?} in:\n{stderr}"));
    t[i - 1]
        .parse()
        .unwrap_or_else(|_| panic!("no count before {words:?} in:\n{stderr}"))
}

fn push(reg: &Server, tag: &str, out: &Path) -> (Run, String) {
    let r = rear_build(
        &[
            "push",
            &format!("oci://127.0.0.1:{}/rescue:{tag}", reg.port),
            out.to_str().unwrap(),
        ],
        &[],
        None,
    );
    ok(&r, "push");
    eprint!("push {tag}:\n{}", r.stderr);
    let pinned = r.stdout.lines().last().unwrap_or("").trim().to_string();
    assert!(
        pinned.starts_with(&format!("oci://127.0.0.1:{}/rescue@sha256:", reg.port)),
        "push printed no pinned reference:\n{}",
        r.stdout
    );
    (r, pinned)
}

fn pull(from: &str, to: &Path, pubkey: Option<&Path>) -> Run {
    let mut args = vec!["pull", from, "-o", to.to_str().unwrap()];
    if let Some(k) = pubkey {
        args.extend(["--pubkey", k.to_str().unwrap()]);
    }
    let r = rear_build(&args, &[], None);
    eprint!("pull {from} (exit {}):\n{}", r.status, r.stderr);
    r
}

/// `dir` holds nothing but `keep` (no pulled directory, no temporary one).
fn nothing_written(dir: &Path, keep: &[&str]) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        dir.display()
    );
}

#[test]
fn push_pull_by_digest_gives_the_same_bytes_and_a_second_host_sends_only_its_own_blobs() {
    let d = tempfile::tempdir().unwrap();
    let reg = registry(d.path());
    let (key, public) = keygen(d.path(), "sign");

    // The first host: every blob is new.
    let web1 = build(d.path(), "web1", &key);
    let before = stored(&reg);
    assert!(before.is_empty(), "a new registry holds {before:?}");
    let (r, pinned) = push(&reg, "web1", &web1);
    let want1 = blobs_of(&web1);
    assert_eq!(
        count(&r.stderr, "blobs uploaded"),
        want1.len(),
        "first push:\n{}",
        r.stderr
    );
    assert_eq!(count(&r.stderr, "already"), 0, "{}", r.stderr);
    // distribution 2.8 has no referrers API: the signature is under the tag.
    let image1 = pinned.rsplit_once("sha256:").unwrap().1.to_string();
    let sig_tag = format!("sha256-{image1}.sig");
    assert!(r.stderr.contains(&sig_tag), "{}", r.stderr);
    let sig1 = tagged(&reg, "rescue", &sig_tag);
    assert_eq!(tagged(&reg, "rescue", "web1"), image1);
    let after1 = stored(&reg);
    let mut expect = want1.clone();
    expect.extend([image1.clone(), sig1.clone()]);
    assert_eq!(after1, expect, "the registry's blobs after the first push");

    // Pull by digest, verified with the key: the same bytes, file for file.
    let pulled = d.path().join("pulled/web1");
    let p = pull(&pinned, &pulled, Some(&public));
    ok(&p, "pull");
    assert!(
        p.stdout.contains("ok   manifest.json.minisig"),
        "{}",
        p.stdout
    );
    assert!(!p.stdout.contains("FAIL"), "{}", p.stdout);
    assert_eq!(files(&pulled), files(&web1), "pulled differs from pushed");
    // verify's record of images it saw kept in the test's directory.
    let conf = d.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(
        conf.join("config.toml"),
        format!(
            "[trust]\nstate = {:?}\n",
            d.path().join("verified.json").display().to_string()
        ),
    )
    .unwrap();
    ok(
        &rear_build(
            &[
                "-c",
                conf.to_str().unwrap(),
                "verify",
                "--pubkey",
                public.to_str().unwrap(),
                pulled.to_str().unwrap(),
            ],
            &[],
            None,
        ),
        "verify of the pulled image",
    );

    // The second host: the same kernel and layers but its config layer.
    let db1 = build(d.path(), "db1", &key);
    let want2 = blobs_of(&db1);
    let new: BTreeSet<String> = want2.difference(&want1).cloned().collect();
    // Its config layer, rescue.iso, manifest.json and the three signature
    // files: six; the kernel, the other layers and `{}` are there.
    assert_eq!(new.len(), 6, "blobs that differ: {new:?}");
    let (r, pinned2) = push(&reg, "db1", &db1);
    assert_eq!(
        count(&r.stderr, "blobs uploaded"),
        6,
        "second push:\n{}",
        r.stderr
    );
    assert_eq!(
        count(&r.stderr, "already"),
        want2.len() - 6,
        "second push:\n{}",
        r.stderr
    );
    let image2 = pinned2.rsplit_once("sha256:").unwrap().1.to_string();
    let sig2 = tagged(&reg, "rescue", &format!("sha256-{image2}.sig"));
    let mut grown: BTreeSet<String> = stored(&reg).difference(&after1).cloned().collect();
    assert!(grown.remove(&image2) && grown.remove(&sig2), "{grown:?}");
    assert_eq!(
        grown, new,
        "the registry gained other blobs than the differing ones"
    );

    // Pushing the same image again sends nothing.
    let (r, again) = push(&reg, "db1", &db1);
    assert_eq!(again, pinned2, "the same image, another digest");
    assert_eq!(count(&r.stderr, "blobs uploaded"), 0, "{}", r.stderr);

    // By tag, with no key: the artefacts checked against manifest.json, the
    // digest it named printed.
    let by_tag = d.path().join("pulled/db1");
    let p = pull(
        &format!("oci://127.0.0.1:{}/rescue:db1", reg.port),
        &by_tag,
        None,
    );
    ok(&p, "pull by tag");
    assert!(p.stderr.contains(&pinned2), "{}", p.stderr);
    assert_eq!(files(&by_tag), files(&db1), "pulled by tag differs");
}

#[test]
fn a_changed_blob_an_unknown_digest_or_another_key_fails_pull_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let reg = registry(d.path());
    let (key, public) = keygen(d.path(), "sign");
    let (_, other) = keygen(d.path(), "other");
    // With the PXE tree too: its kernel is vmlinuz's blob, its initrd is
    // no blob at all (put together from the layers on pull).
    let out = build_with(d.path(), "web1", &key, "iso,pxe");
    // An artefact that is not manifest.json's: refused before any upload.
    let iso = out.join("rescue.iso");
    let original = std::fs::read(&iso).unwrap();
    let mut bad = original.clone();
    bad[original.len() / 3] ^= 0x01;
    std::fs::write(&iso, &bad).unwrap();
    let r = rear_build(
        &[
            "push",
            &format!("oci://127.0.0.1:{}/rescue:web1", reg.port),
            out.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_ne!(r.status, 0, "a changed rescue.iso was pushed");
    assert!(
        r.stderr.contains("rescue.iso") && r.stderr.contains("not pushed"),
        "{}",
        r.stderr
    );
    assert!(
        stored(&reg).is_empty(),
        "blobs were sent: {:?}",
        stored(&reg)
    );
    std::fs::write(&iso, &original).unwrap();
    let (_, pinned) = push(&reg, "web1", &out);
    let pxe: Vec<String> = files(&out)
        .into_keys()
        .filter(|n| n.starts_with("pxe/"))
        .collect();
    assert!(
        pxe.iter().any(|n| n.ends_with("/initrd.img"))
            && pxe.iter().any(|n| n.ends_with("/vmlinuz")),
        "no PXE kernel and initrd: {pxe:?}"
    );
    let initrd = sha256_file(&out.join("initrd.img"));
    assert!(
        !stored(&reg).contains(&initrd),
        "the whole initrd was sent as a blob"
    );
    let into = d.path().join("into");
    std::fs::create_dir(&into).unwrap();
    let target = into.join("web1");

    // One byte of the first initrd layer changed in the registry's storage.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let layer = m["layers"][0]["sha256"].as_str().unwrap().to_string();
    let data = reg.share.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{layer}/data",
        &layer[..2]
    ));
    let original = std::fs::read(&data).unwrap();
    let mut bad = original.clone();
    bad[original.len() / 2] ^= 0x20;
    std::fs::write(&data, &bad).unwrap();
    let p = pull(&pinned, &target, Some(&public));
    assert_ne!(
        p.status, 0,
        "pull of a changed blob succeeded:\n{}",
        p.stderr
    );
    assert!(
        p.stderr.contains(&layer),
        "the blob is not named:\n{}",
        p.stderr
    );
    nothing_written(&into, &[]);
    // Put back, the same pull works: it was the byte.
    std::fs::write(&data, &original).unwrap();
    let p = pull(&pinned, &target, Some(&public));
    ok(&p, "pull after the blob was put back");
    assert_eq!(files(&target), files(&out));
    std::fs::remove_dir_all(&target).unwrap();

    // The manifest.json blob changed: refused as well.
    let config = sha256_file(&out.join("manifest.json"));
    let data = reg.share.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{config}/data",
        &config[..2]
    ));
    let original = std::fs::read(&data).unwrap();
    let mut bad = original.clone();
    let at = bad.iter().position(|&b| b == b'6').unwrap();
    bad[at] = b'7';
    std::fs::write(&data, &bad).unwrap();
    let p = pull(&pinned, &target, None);
    assert_ne!(p.status, 0, "pull of a changed manifest.json succeeded");
    assert!(p.stderr.contains(&config), "{}", p.stderr);
    nothing_written(&into, &[]);
    std::fs::write(&data, &original).unwrap();

    // A digest the registry does not have.
    let unknown = format!(
        "oci://127.0.0.1:{}/rescue@sha256:{}",
        reg.port,
        "0".repeat(64)
    );
    let p = pull(&unknown, &target, None);
    assert_ne!(p.status, 0, "pull of an unknown digest succeeded");
    assert!(
        p.stderr.contains(&"0".repeat(64)) && p.stderr.to_lowercase().contains("manifest unknown"),
        "not a clear error:\n{}",
        p.stderr
    );
    nothing_written(&into, &[]);

    // Another key than the one that signed it.
    let p = pull(&pinned, &target, Some(&other));
    assert_ne!(p.status, 0, "pull verified with another key");
    assert!(p.stderr.contains("does NOT verify"), "{}", p.stderr);
    assert!(
        p.stdout.contains("FAIL manifest.json.minisig"),
        "{}",
        p.stdout
    );
    nothing_written(&into, &[]);

    // A directory that is not empty is never written into.
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), "mine").unwrap();
    let p = pull(&pinned, &target, Some(&public));
    assert_ne!(p.status, 0, "pull into a full directory");
    assert!(p.stderr.contains("not empty"), "{}", p.stderr);
    assert_eq!(
        std::fs::read_to_string(target.join("keep")).unwrap(),
        "mine"
    );
    nothing_written(&into, &["web1"]);
}

/// A bcrypt htpasswd line (distribution takes bcrypt only), made by
/// Debian's Python through glibc's crypt, at the lowest cost (4): each
/// request checks it.
fn htpasswd(dir: &Path, user: &str, password: &str) -> PathBuf {
    let out = std::process::Command::new("/usr/bin/python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt, sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(password.as_bytes())?;
            c.wait_with_output()
        })
        .expect("python3 crypt");
    assert!(out.status.success(), "python3 crypt failed");
    let hash = String::from_utf8(out.stdout).unwrap();
    assert!(hash.starts_with("$2"), "not bcrypt: {hash}");
    let p = dir.join("htpasswd");
    std::fs::write(&p, format!("{user}:{}", hash.trim())).unwrap();
    p
}

#[test]
fn basic_auth_from_a_file_or_the_configuration_and_the_password_shows_nowhere() {
    let d = tempfile::tempdir().unwrap();
    let canary = "Oci-Canary-7c1e9b";
    let reg = Server::docker_registry(d.path(), Some(&htpasswd(d.path(), "pusher", canary)));
    let (key, public) = keygen(d.path(), "sign");
    let out = build(d.path(), "web1", &key);
    let to = format!("oci://127.0.0.1:{}/rescue:web1", reg.port);
    // base64 of "pusher:CANARY", as an Authorization header carries it.
    let header = "cHVzaGVyOk9jaS1DYW5hcnktN2MxZTli";
    let shown = |r: &Run| {
        [canary, header]
            .iter()
            .any(|c| r.stdout.contains(c) || r.stderr.contains(c))
    };

    // Anonymous: refused.
    let r = rear_build(&["push", &to, out.to_str().unwrap()], &[], None);
    eprint!("anonymous push:\n{}", r.stderr);
    assert_ne!(r.status, 0, "an anonymous push was taken");
    assert!(r.stderr.contains("401"), "{}", r.stderr);

    // A wrong password: refused, and neither password is shown.
    let wrong = d.path().join("wrong");
    std::fs::write(&wrong, format!("pusher:{canary}-not\n")).unwrap();
    let r = rear_build(
        &[
            "push",
            "--credentials",
            wrong.to_str().unwrap(),
            &to,
            out.to_str().unwrap(),
        ],
        &[],
        None,
    );
    eprint!("push with a wrong password:\n{}", r.stderr);
    assert_ne!(r.status, 0, "a wrong password was taken");
    assert!(
        !shown(&r),
        "the password is shown:\n{}\n{}",
        r.stdout,
        r.stderr
    );

    // The right one from --credentials.
    let cred = d.path().join("registry-credentials");
    std::fs::write(&cred, format!("pusher:{canary}\n")).unwrap();
    let r = rear_build(
        &[
            "push",
            "-D",
            "--credentials",
            cred.to_str().unwrap(),
            &to,
            out.to_str().unwrap(),
        ],
        &[],
        None,
    );
    ok(&r, "push with credentials");
    // Trace output (-D) shows the client's requests, not the password.
    assert!(
        r.stderr.contains("/v2/rescue/"),
        "no trace of the requests:\n{}",
        r.stderr
    );
    assert!(
        !shown(&r),
        "the password is shown:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    let pinned = r.stdout.lines().last().unwrap().trim().to_string();

    // From the configuration's [oci] credentials.
    let conf = d.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(
        conf.join("config.toml"),
        format!("[oci]\ncredentials = {:?}\n", cred.display().to_string()),
    )
    .unwrap();
    let pulled = d.path().join("pulled");
    let r = rear_build(
        &[
            "pull",
            "-c",
            conf.to_str().unwrap(),
            &pinned,
            "-o",
            pulled.to_str().unwrap(),
            "--pubkey",
            public.to_str().unwrap(),
        ],
        &[],
        None,
    );
    ok(&r, "pull with [oci] credentials");
    assert!(
        !shown(&r),
        "the password is shown:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(files(&pulled), files(&out));
}

/// A gzip initrd (a small image: no recipes, one module) travels as
/// gzip layers: media type `...cpio+gzip`, titles `.cpio.gz`; pull with
/// the key (which checks every layer's files against the manifest, gzip
/// read back) gives the same bytes.
#[test]
fn a_gzip_initrd_is_pushed_as_gzip_layers_and_pulled_back() {
    let d = tempfile::tempdir().unwrap();
    let reg = registry(d.path());
    let (key, public) = keygen(d.path(), "sign");
    let out = d.path().join("out-gzip");
    ok(
        &rear_build(
            &[
                "image",
                "--store",
                d.path().join("store").to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "--media",
                "none",
                "--no-default-recipes",
                "--omit-module",
                "*",
                "--add-module",
                "dm_zero",
                "--compress",
                "gzip",
                "--sign",
                key.to_str().unwrap(),
            ],
            &[],
            None,
        ),
        "image",
    );
    let (_, pinned) = push(&reg, "gzip", &out);
    let digest = tagged(&reg, "rescue", "gzip");
    let body = std::fs::read(reg.share.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{digest}/data",
        &digest[..2]
    )))
    .unwrap();
    let m: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let initrd: Vec<&serde_json::Value> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["annotations"]["org.rear-build.initrd.layer"].is_string())
        .collect();
    assert_eq!(initrd.len(), 4, "{m}");
    for l in initrd {
        assert_eq!(
            l["mediaType"], "application/vnd.rear-build.initrd.layer.v1.cpio+gzip",
            "{l}"
        );
        let title = l["annotations"]["org.opencontainers.image.title"]
            .as_str()
            .unwrap();
        assert!(title.ends_with(".cpio.gz"), "{title}");
    }
    let to = d.path().join("pulled");
    let r = pull(&pinned, &to, Some(&public));
    ok(&r, "pull");
    let (a, b) = (files(&out), files(&to));
    for f in ["vmlinuz", "initrd.img", "manifest.json"] {
        assert_eq!(a.get(f), b.get(f), "{f}");
    }
}
