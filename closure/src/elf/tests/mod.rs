//! Tests of the ELF closure, by concern, with their shared fixtures: hand-made ELF
//! files, fake roots, and programs built by gcc.

mod gcc;
mod ldconf;
mod parse;
mod resolve;
mod walk;

use goblin::elf::dynamic::{
    DT_NEEDED, DT_NULL, DT_RPATH, DT_RUNPATH, DT_SONAME, DT_STRSZ, DT_STRTAB,
};
use goblin::elf::header::{EM_386, EM_AARCH64, EM_PPC, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64};
use goblin::elf::program_header::{PT_DYNAMIC, PT_INTERP, PT_LOAD, PT_NOTE};

use super::parse::*;
use super::resolve::*;
use super::walk::host;
use super::*;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::process::Command;
use std::rc::Rc;

pub(super) const MA: &str = "x86_64-linux-gnu";

// -- hand-made ELF files -------------------------------------------------

/// A minimal ELF file: header, program headers (one PT_LOAD over the whole file,
/// PT_INTERP if `interp`, PT_DYNAMIC if `dynamic` is not empty, PT_NOTE if `note`),
/// then the interpreter, the notes, the string table and the dynamic array.
pub(super) fn craft_elf(
    class64: bool,
    little: bool,
    machine: u16,
    interp: Option<&str>,
    dynamic: &[(u64, &str)],
    note: Option<&[u8]>,
) -> Vec<u8> {
    let (ehsize, phentsize, word) = if class64 { (64, 56, 8) } else { (52, 32, 4) };
    let base: u64 = 0x40_0000;
    let mut phnum = 1;
    phnum += usize::from(interp.is_some());
    phnum += usize::from(!dynamic.is_empty());
    phnum += usize::from(note.is_some());
    let mut off = ehsize + phnum * phentsize;
    let interp_off = off;
    let interp_bytes = interp
        .map(|i| format!("{i}\0").into_bytes())
        .unwrap_or_default();
    off += interp_bytes.len();
    off = off.div_ceil(4) * 4;
    let note_off = off;
    let note_bytes = note.unwrap_or(&[]).to_vec();
    off += note_bytes.len();
    let str_off = off;
    let mut strtab = vec![0u8];
    let mut dyn_vals = Vec::new();
    for (tag, s) in dynamic {
        dyn_vals.push((*tag, strtab.len() as u64));
        strtab.extend_from_slice(s.as_bytes());
        strtab.push(0);
    }
    off += strtab.len();
    off = off.div_ceil(8) * 8;
    let dyn_off = off;
    let mut dyn_entries = dyn_vals;
    if !dynamic.is_empty() {
        dyn_entries.push((DT_STRTAB, base + str_off as u64));
        dyn_entries.push((DT_STRSZ, strtab.len() as u64));
        dyn_entries.push((DT_NULL, 0));
    }
    let dyn_size = if dynamic.is_empty() {
        0
    } else {
        dyn_entries.len() * 2 * word
    };
    let total = dyn_off + dyn_size;

    let mut b = vec![0u8; total];
    let put = |b: &mut Vec<u8>, at: usize, v: u64, n: usize| {
        let bytes = if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        };
        let src = if little { &bytes[..n] } else { &bytes[8 - n..] };
        b[at..at + n].copy_from_slice(src);
    };
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = if class64 { 2 } else { 1 };
    b[5] = if little { 1 } else { 2 };
    b[6] = 1;
    put(&mut b, 16, 3, 2); // ET_DYN
    put(&mut b, 18, u64::from(machine), 2);
    put(&mut b, 20, 1, 4);
    if class64 {
        put(&mut b, 32, ehsize as u64, 8);
        put(&mut b, 52, ehsize as u64, 2);
        put(&mut b, 54, phentsize as u64, 2);
        put(&mut b, 56, phnum as u64, 2);
    } else {
        put(&mut b, 28, ehsize as u64, 4);
        put(&mut b, 40, ehsize as u64, 2);
        put(&mut b, 42, phentsize as u64, 2);
        put(&mut b, 44, phnum as u64, 2);
    }
    let mut ph = ehsize;
    let mut phdr = |b: &mut Vec<u8>, ty: u32, offset: usize, size: usize, align: u64| {
        if class64 {
            put(b, ph, u64::from(ty), 4);
            put(b, ph + 8, offset as u64, 8);
            put(b, ph + 16, base + offset as u64, 8);
            put(b, ph + 24, base + offset as u64, 8);
            put(b, ph + 32, size as u64, 8);
            put(b, ph + 40, size as u64, 8);
            put(b, ph + 48, align, 8);
        } else {
            put(b, ph, u64::from(ty), 4);
            put(b, ph + 4, offset as u64, 4);
            put(b, ph + 8, base + offset as u64, 4);
            put(b, ph + 12, base + offset as u64, 4);
            put(b, ph + 16, size as u64, 4);
            put(b, ph + 20, size as u64, 4);
            put(b, ph + 28, align, 4);
        }
        ph += phentsize;
    };
    phdr(&mut b, PT_LOAD, 0, total, 0x1000);
    if interp.is_some() {
        phdr(&mut b, PT_INTERP, interp_off, interp_bytes.len(), 1);
    }
    if note.is_some() {
        phdr(&mut b, PT_NOTE, note_off, note_bytes.len(), 4);
    }
    if !dynamic.is_empty() {
        phdr(&mut b, PT_DYNAMIC, dyn_off, dyn_size, 8);
    }
    b[interp_off..interp_off + interp_bytes.len()].copy_from_slice(&interp_bytes);
    b[note_off..note_off + note_bytes.len()].copy_from_slice(&note_bytes);
    b[str_off..str_off + strtab.len()].copy_from_slice(&strtab);
    for (i, (tag, val)) in dyn_entries.iter().enumerate() {
        let at = dyn_off + i * 2 * word;
        put(&mut b, at, *tag, word);
        put(&mut b, at + word, *val, word);
    }
    b
}

/// An x86-64 little-endian ELF with the given dynamic entries.
pub(super) fn x64(dynamic: &[(u64, &str)]) -> Vec<u8> {
    craft_elf(true, true, EM_X86_64, None, dynamic, None)
}

pub(super) fn fdo_note(json: &str, little: bool) -> Vec<u8> {
    let desc = format!("{json}\0").into_bytes();
    let u32b = |v: u32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let mut n = Vec::new();
    n.extend_from_slice(&u32b(4));
    n.extend_from_slice(&u32b(desc.len() as u32));
    n.extend_from_slice(&u32b(NT_FDO_DLOPEN));
    n.extend_from_slice(b"FDO\0");
    n.extend_from_slice(&desc);
    while n.len() % 4 != 0 {
        n.push(0);
    }
    n
}

pub(super) fn parse_bytes(bytes: &[u8]) -> Result<Kind, ParseErr> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    fs::write(&p, bytes).unwrap();
    parse_file(&p)
}

pub(super) fn elf_info(bytes: &[u8]) -> Rc<ElfInfo> {
    match parse_bytes(bytes) {
        Ok(Kind::Elf(i)) => i,
        other => panic!("not parsed as ELF: {other:?}"),
    }
}

// -- fake roots ----------------------------------------------------------

pub(super) struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    /// An empty merged-/usr root with /etc/ld.so.conf including conf.d/*.conf,
    /// which lists the Debian multiarch dirs.
    pub(super) fn bare() -> Fake {
        let f = Fake {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in [
            "usr/bin",
            "usr/sbin",
            "usr/lib64",
            "etc/ld.so.conf.d",
            &format!("usr/lib/{MA}"),
        ] {
            fs::create_dir_all(f.root().join(d)).unwrap();
        }
        for (l, t) in [
            ("/bin", "usr/bin"),
            ("/sbin", "usr/sbin"),
            ("/lib", "usr/lib"),
            ("/lib64", "usr/lib64"),
        ] {
            f.link(l, t);
        }
        f.write("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
        f.write(
            &format!("/etc/ld.so.conf.d/{MA}.conf"),
            format!("# Multiarch support\n/usr/local/lib/{MA}\n/lib/{MA}\n/usr/lib/{MA}\n"),
        );
        f
    }

    /// `bare` plus the host's dynamic loader and libc at Debian's places, with
    /// /usr/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2.
    pub(super) fn with_libc() -> Fake {
        let f = Fake::bare();
        f.copy_host(
            &format!("/usr/lib/{MA}/libc.so.6"),
            &format!("/usr/lib/{MA}/libc.so.6"),
        );
        f.copy_host(
            &format!("/usr/lib/{MA}/ld-linux-x86-64.so.2"),
            &format!("/usr/lib/{MA}/ld-linux-x86-64.so.2"),
        );
        f.link(
            "/usr/lib64/ld-linux-x86-64.so.2",
            &format!("/lib/{MA}/ld-linux-x86-64.so.2"),
        );
        f
    }

    pub(super) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(super) fn host(&self, inside: &str) -> PathBuf {
        host(self.root(), Path::new(inside))
    }

    pub(super) fn mkdirs(&self, inside: &str) {
        fs::create_dir_all(self.host(inside)).unwrap();
    }

    pub(super) fn write(&self, inside: &str, content: impl AsRef<[u8]>) {
        let p = self.host(inside);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }

    pub(super) fn copy_host(&self, host_src: &str, inside: &str) {
        let src = fs::canonicalize(host_src)
            .unwrap_or_else(|e| panic!("host file {host_src} needed by this test: {e}"));
        let dst = self.host(inside);
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        fs::copy(&src, &dst).unwrap();
    }

    pub(super) fn copy_file(&self, src: &Path, inside: &str) {
        let dst = self.host(inside);
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        fs::copy(src, &dst).unwrap();
    }

    pub(super) fn link(&self, inside: &str, target: &str) {
        let p = self.host(inside);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        symlink(target, &p).unwrap();
    }

    pub(super) fn resolver(&self) -> Resolver {
        Resolver::new(self.root()).unwrap()
    }

    pub(super) fn resolve(&self, paths: &[&str]) -> Result<Closure, Error> {
        let wants: Vec<Want> = paths.iter().map(|p| Want::required(*p)).collect();
        self.resolver().resolve(&wants)
    }
}

pub(super) fn node(c: &Closure, p: &str) -> Option<Node> {
    c.nodes.get(Path::new(p)).cloned()
}

pub(super) fn sym(target: &str) -> Option<Node> {
    Some(Node::Symlink(PathBuf::from(target)))
}

/// Compiles C source with gcc into `dir/out`.
pub(super) fn cc(dir: &Path, out: &str, src: &str, args: &[&str]) -> PathBuf {
    let c = dir.join(format!("{out}.c"));
    fs::write(&c, src).unwrap();
    let o = dir.join(out);
    let res = Command::new("gcc")
        .arg("-o")
        .arg(&o)
        .arg(&c)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("gcc is needed by this test");
    assert!(
        res.status.success(),
        "gcc {args:?} failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    o
}

/// A shared library `name` (also its soname) defining `int <func>(void)`, which calls
/// `calls` if given (linked against `link`, a file in `dir`).
pub(super) fn cc_lib(dir: &Path, name: &str, func: &str, calls: Option<(&str, &str)>) -> PathBuf {
    let soname = format!("-Wl,-soname,{name}");
    let (src, link) = match calls {
        Some((callee, file)) => (
            format!("int {callee}(void); int {func}(void) {{ return {callee}() + 1; }}\n"),
            Some(format!("-l:{file}")),
        ),
        None => (format!("int {func}(void) {{ return 1; }}\n"), None),
    };
    let mut args = vec!["-shared", "-fPIC", &soname, "-L."];
    if let Some(l) = &link {
        args.push(l);
    }
    cc(dir, name, &src, &args)
}
