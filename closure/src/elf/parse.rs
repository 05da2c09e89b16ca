//! What a file is: an ELF object (what the loader needs of it), a `#!` script, or
//! anything else.
//!
//! ELF structures are read by goblin. Its parsers take a byte slice holding the
//! structure at its file offset; rather than read whole files (shared libraries of
//! 100 MB are common), only the byte ranges that hold what the loader looks at are
//! read: the header, the program header table, `PT_INTERP`, `PT_NOTE`, `PT_DYNAMIC`
//! and the dynamic string table, each handed to goblin on its own.

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::dynamic::{
    Dynamic, DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME, DT_STRSZ, DT_STRTAB,
};
use goblin::elf::note::NoteDataIterator;
use goblin::elf::program_header::{ProgramHeader, PT_DYNAMIC, PT_INTERP, PT_LOAD, PT_NOTE};
use goblin::elf::{Elf, Header};

use super::Error;

/// The note type of the FDO ELF dlopen metadata (`.note.dlopen`, owner `FDO`).
pub(super) const NT_FDO_DLOPEN: u32 = 0x407c_0c0a;
/// `e_phnum` when the real count is in the first section header (not supported).
const PN_XNUM: u16 = 0xffff;

/// Bytes read at the start of every file: enough for the ELF header, the program
/// headers and usually the interpreter and notes, or a `#!` line.
const HEAD_LEN: usize = 4096;
/// The kernel reads at most this much of a `#!` line.
const SHEBANG_MAX: usize = 256;
/// Notes larger than this are not read.
const MAX_NOTE_SEGMENT: u64 = 1 << 20;

/// What must match between an object and the libraries it loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Ident {
    pub(super) class64: bool,
    pub(super) little: bool,
    pub(super) machine: u16,
}

/// One `.note.dlopen` entry: alternative sonames, the first one found is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DlopenDep {
    pub(super) sonames: Vec<String>,
    pub(super) feature: Option<String>,
    pub(super) priority: String,
}

/// What the resolver needs of an ELF file.
#[derive(Debug)]
pub(super) struct ElfInfo {
    pub(super) ident: Ident,
    pub(super) interp: Option<String>,
    pub(super) needed: Vec<String>,
    pub(super) soname: Option<String>,
    /// `None` when the object has a `DT_RUNPATH` (then `DT_RPATH` is ignored).
    pub(super) rpath: Option<String>,
    pub(super) runpath: Option<String>,
    pub(super) dlopen: Vec<DlopenDep>,
}

#[derive(Debug)]
pub(super) struct Shebang {
    pub(super) interp: String,
    pub(super) arg: Option<String>,
}

#[derive(Clone, Debug)]
pub(super) enum Kind {
    Elf(Rc<ElfInfo>),
    Script(Rc<Shebang>),
    Other,
}

#[derive(Clone, Debug)]
pub(super) enum ParseErr {
    Io(io::ErrorKind, String),
    Bad(String),
}

impl From<io::Error> for ParseErr {
    fn from(e: io::Error) -> ParseErr {
        ParseErr::Io(e.kind(), e.to_string())
    }
}

fn malformed(msg: impl Into<String>) -> ParseErr {
    ParseErr::Bad(format!("malformed ELF: {}", msg.into()))
}

fn bad<T>(msg: impl Into<String>) -> Result<T, ParseErr> {
    Err(malformed(msg))
}

pub(super) fn parse_error(e: ParseErr, chain: Vec<PathBuf>, host_path: &Path) -> Error {
    match e {
        ParseErr::Io(kind, msg) => Error::Io {
            path: host_path.to_path_buf(),
            source: io::Error::new(kind, msg),
        },
        ParseErr::Bad(reason) => Error::Malformed { chain, reason },
    }
}

pub(super) fn parse_file(host_path: &Path) -> Result<Kind, ParseErr> {
    let file = File::open(host_path)?;
    let len = file.metadata()?.len();
    let mut head = vec![0u8; HEAD_LEN.min(usize::try_from(len).unwrap_or(HEAD_LEN))];
    file.read_exact_at(&mut head, 0)?;
    if head.starts_with(b"#!") {
        return parse_shebang(&head).map(|s| Kind::Script(Rc::new(s)));
    }
    if head.len() < 16 || !head.starts_with(b"\x7fELF") {
        return Ok(Kind::Other);
    }
    parse_elf(&file, len, &head).map(|i| Kind::Elf(Rc::new(i)))
}

pub(super) fn parse_shebang(head: &[u8]) -> Result<Shebang, ParseErr> {
    let line = &head[2..head.len().min(SHEBANG_MAX)];
    let line = match line.iter().position(|&b| b == b'\n') {
        Some(end) => &line[..end],
        None => line,
    };
    let line = String::from_utf8_lossy(line);
    // The kernel only splits on blanks and tabs (a '\r' stays part of the name).
    let line = line.trim_matches(|c| c == ' ' || c == '\t');
    let (interp, arg) = match line.find([' ', '\t']) {
        Some(pos) => (
            &line[..pos],
            line[pos..].trim_matches(|c| c == ' ' || c == '\t'),
        ),
        None => (line, ""),
    };
    if interp.is_empty() {
        return Err(ParseErr::Bad("empty #! line".into()));
    }
    Ok(Shebang {
        interp: interp.to_string(),
        arg: (!arg.is_empty()).then(|| arg.to_string()),
    })
}

/// Reads byte ranges of a file, from the already read head when it covers them.
struct Reader<'a> {
    file: &'a File,
    len: u64,
    head: &'a [u8],
}

impl Reader<'_> {
    fn bytes(&self, off: u64, size: u64, what: &str) -> Result<Cow<'_, [u8]>, ParseErr> {
        let Some(end) = off.checked_add(size).filter(|&e| e <= self.len) else {
            return bad(format!("{what} beyond the end of the file"));
        };
        if end <= self.head.len() as u64 {
            return Ok(Cow::Borrowed(&self.head[off as usize..end as usize]));
        }
        let mut buf = vec![0u8; size as usize];
        self.file.read_exact_at(&mut buf, off)?;
        Ok(Cow::Owned(buf))
    }
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// What goblin reports, without its generic prefix.
fn goblin_reason(e: goblin::error::Error) -> String {
    match e {
        goblin::error::Error::Malformed(m) => m,
        e => e.to_string(),
    }
}

fn parse_elf(file: &File, len: u64, head: &[u8]) -> Result<ElfInfo, ParseErr> {
    let header = match Elf::parse_header(head) {
        Ok(h) => h,
        // Class and byte order are known (goblin checks them first), the rest is missing.
        Err(goblin::error::Error::Scroll(_)) => return bad("truncated ELF header"),
        Err(e) => return bad(goblin_reason(e)),
    };
    let container = header
        .container()
        .map_err(|e| malformed(goblin_reason(e)))?;
    let endian = header
        .endianness()
        .map_err(|e| malformed(goblin_reason(e)))?;
    let ctx = Ctx::new(container, endian);
    let ident = Ident {
        class64: container == Container::Big,
        little: endian == Endian::Little,
        machine: header.e_machine,
    };
    let r = Reader { file, len, head };
    let phdrs = program_headers(&r, &header, ctx)?;

    let mut info = ElfInfo {
        ident,
        interp: None,
        needed: Vec::new(),
        soname: None,
        rpath: None,
        runpath: None,
        dlopen: Vec::new(),
    };

    for ph in &phdrs {
        match ph.p_type {
            PT_INTERP if info.interp.is_none() => {
                let b = r.bytes(ph.p_offset, ph.p_filesz, "PT_INTERP")?;
                info.interp = Some(c_string(&b));
            }
            PT_NOTE if ph.p_filesz <= MAX_NOTE_SEGMENT => {
                let b = r.bytes(ph.p_offset, ph.p_filesz, "PT_NOTE")?;
                read_notes(&b, ctx, ph.p_align, &mut info.dlopen);
            }
            _ => {}
        }
    }

    if let Some(dynamic) = phdrs.iter().find(|p| p.p_type == PT_DYNAMIC) {
        read_dynamic(&r, ctx, &phdrs, dynamic, &mut info)?;
    }
    Ok(info)
}

/// The program header table. goblin reads entries of the standard size back to back;
/// each is handed to it on its own so that a larger `e_phentsize` still works.
fn program_headers(r: &Reader<'_>, h: &Header, ctx: Ctx) -> Result<Vec<ProgramHeader>, ParseErr> {
    if h.e_phnum == 0 {
        return Ok(Vec::new());
    }
    let entsize = usize::from(h.e_phentsize);
    if entsize < ProgramHeader::size(ctx) {
        return bad(format!("program header size {entsize} too small"));
    }
    if h.e_phnum == PN_XNUM {
        return bad("extended program header count (PN_XNUM) not supported");
    }
    let table = r.bytes(
        h.e_phoff,
        u64::from(h.e_phentsize) * u64::from(h.e_phnum),
        "program headers",
    )?;
    table
        .chunks_exact(entsize)
        .map(|entry| match ProgramHeader::parse(entry, 0, 1, ctx) {
            Ok(mut one) if one.len() == 1 => Ok(one.remove(0)),
            Ok(_) => bad("program header not read"),
            Err(e) => bad(format!("program header: {}", goblin_reason(e))),
        })
        .collect()
}

fn read_dynamic(
    r: &Reader<'_>,
    ctx: Ctx,
    phdrs: &[ProgramHeader],
    dynamic: &ProgramHeader,
    info: &mut ElfInfo,
) -> Result<(), ParseErr> {
    let d = r.bytes(dynamic.p_offset, dynamic.p_filesz, "PT_DYNAMIC")?;
    // goblin looks for the array at the segment's file offset in the slice it is given;
    // only the segment was read, so there it is at 0.
    let segment = ProgramHeader {
        p_offset: 0,
        ..dynamic.clone()
    };
    let entries = match Dynamic::parse(&d, &[segment], ctx) {
        Ok(Some(parsed)) => parsed.dyns,
        Ok(None) => return Ok(()),
        Err(e) => return bad(format!("PT_DYNAMIC: {}", goblin_reason(e))),
    };
    let (mut strtab, mut strsz) = (None, None);
    let (mut needed, mut soname, mut rpath, mut runpath) = (Vec::new(), None, None, None);
    // goblin stops at DT_NULL.
    for e in &entries {
        match e.d_tag {
            DT_NEEDED => needed.push(e.d_val),
            DT_STRTAB => strtab = Some(e.d_val),
            DT_STRSZ => strsz = Some(e.d_val),
            DT_SONAME => soname = Some(e.d_val),
            DT_RPATH => rpath = Some(e.d_val),
            DT_RUNPATH => runpath = Some(e.d_val),
            _ => {}
        }
    }
    if needed.is_empty() && soname.is_none() && rpath.is_none() && runpath.is_none() {
        return Ok(());
    }
    let Some(addr) = strtab else {
        return bad("dynamic section without DT_STRTAB");
    };
    // DT_STRTAB is an address: find the loaded segment that maps it. (goblin's
    // `DynamicInfo::strtab` does this too, but gives 0 for an address outside them.)
    let Some(seg) = phdrs
        .iter()
        .find(|p| p.p_type == PT_LOAD && p.p_vaddr <= addr && addr - p.p_vaddr < p.p_filesz)
    else {
        return bad("DT_STRTAB outside the loaded segments");
    };
    let off = seg.p_offset + (addr - seg.p_vaddr);
    let seg_left = seg.p_filesz - (addr - seg.p_vaddr);
    let size = strsz.unwrap_or(seg_left).min(r.len.saturating_sub(off));
    let table = r.bytes(off, size, "string table")?;
    // Names are taken as bytes, not refused when they are not UTF-8 (goblin's `Strtab`
    // would drop them): a bad name is then reported as not found, by name.
    let string = |o: u64| -> Result<String, ParseErr> {
        match usize::try_from(o).ok().and_then(|o| table.get(o..)) {
            Some(b) => Ok(c_string(b)),
            None => bad("dynamic string offset outside the string table"),
        }
    };
    for o in needed {
        info.needed.push(string(o)?);
    }
    if let Some(o) = soname {
        info.soname = Some(string(o)?);
    }
    if let Some(o) = runpath {
        info.runpath = Some(string(o)?);
    } else if let Some(o) = rpath {
        info.rpath = Some(string(o)?);
    }
    Ok(())
}

/// Collects FDO dlopen notes. Malformed notes are logged and ignored: they only add
/// optional dependencies.
fn read_notes(b: &[u8], ctx: Ctx, align: u64, out: &mut Vec<DlopenDep>) {
    // Any alignment but 8 is taken as 4, as readelf does (goblin refuses others).
    let align = if align == 8 { 8 } else { 4 };
    let notes = NoteDataIterator {
        data: b,
        size: b.len(),
        offset: 0,
        ctx: (align, ctx),
    };
    for note in notes {
        let note = match note {
            Ok(n) => n,
            // A truncated note, or trailing bytes: the rest of the segment is skipped.
            Err(e) => {
                log::debug!("stopped reading a PT_NOTE segment: {e}");
                return;
            }
        };
        if note.n_type == NT_FDO_DLOPEN && note.name.trim_end_matches('\0') == "FDO" {
            let json = c_string(note.desc);
            match parse_dlopen_json(&json) {
                Ok(deps) => out.extend(deps),
                Err(e) => log::warn!("ignoring malformed .note.dlopen: {e}"),
            }
        }
    }
}

/// Parses the note payload: a JSON array of objects (or, in the first version of the
/// specification, one object) with `soname` as an array of alternatives (or one string).
pub(super) fn parse_dlopen_json(json: &str) -> Result<Vec<DlopenDep>, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let entries = match value {
        serde_json::Value::Array(a) => a,
        v @ serde_json::Value::Object(_) => vec![v],
        _ => return Err("not a JSON array or object".into()),
    };
    let mut deps = Vec::new();
    for entry in entries {
        let sonames: Vec<String> = match entry.get("soname") {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            _ => return Err("entry without \"soname\"".into()),
        };
        if sonames.is_empty() {
            continue;
        }
        deps.push(DlopenDep {
            sonames,
            feature: entry
                .get("feature")
                .and_then(|f| f.as_str())
                .map(str::to_string),
            priority: entry
                .get("priority")
                .and_then(|p| p.as_str())
                .unwrap_or("recommended")
                .to_string(),
        });
    }
    Ok(deps)
}
