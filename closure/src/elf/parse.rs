//! What a file is: an ELF object (what the loader needs of it), a `#!` script, or
//! anything else.

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::Error;

pub(super) const PT_LOAD: u32 = 1;
pub(super) const PT_DYNAMIC: u32 = 2;
pub(super) const PT_INTERP: u32 = 3;
pub(super) const PT_NOTE: u32 = 4;

pub(super) const DT_NULL: u64 = 0;
pub(super) const DT_NEEDED: u64 = 1;
pub(super) const DT_STRTAB: u64 = 5;
pub(super) const DT_STRSZ: u64 = 10;
pub(super) const DT_SONAME: u64 = 14;
pub(super) const DT_RPATH: u64 = 15;
pub(super) const DT_RUNPATH: u64 = 29;

pub(super) const NT_FDO_DLOPEN: u32 = 0x407c_0c0a;

pub(super) const EM_386: u16 = 3;
pub(super) const EM_M68K: u16 = 4;
pub(super) const EM_MIPS: u16 = 8;
pub(super) const EM_PARISC: u16 = 15;
pub(super) const EM_PPC: u16 = 20;
pub(super) const EM_PPC64: u16 = 21;
pub(super) const EM_S390: u16 = 22;
pub(super) const EM_ARM: u16 = 40;
pub(super) const EM_SPARCV9: u16 = 43;
pub(super) const EM_IA_64: u16 = 50;
pub(super) const EM_X86_64: u16 = 62;
pub(super) const EM_AARCH64: u16 = 183;
pub(super) const EM_RISCV: u16 = 243;
pub(super) const EM_LOONGARCH: u16 = 258;

/// Bytes read at the start of every file: enough for the ELF header, the program
/// headers and usually the interpreter and notes, or a `#!` line.
pub(super) const HEAD_LEN: usize = 4096;
/// The kernel reads at most this much of a `#!` line.
pub(super) const SHEBANG_MAX: usize = 256;
/// Notes larger than this are not read.
pub(super) const MAX_NOTE_SEGMENT: u64 = 1 << 20;

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

pub(super) fn bad<T>(msg: impl Into<String>) -> Result<T, ParseErr> {
    Err(ParseErr::Bad(format!("malformed ELF: {}", msg.into())))
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
pub(super) struct Reader<'a> {
    pub(super) file: &'a File,
    pub(super) len: u64,
    pub(super) head: &'a [u8],
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

#[derive(Clone, Copy)]
pub(super) struct Endian {
    pub(super) little: bool,
    pub(super) class64: bool,
}

impl Endian {
    fn u16(self, b: &[u8], o: usize) -> u16 {
        let a = [b[o], b[o + 1]];
        if self.little {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    }

    fn u32(self, b: &[u8], o: usize) -> u32 {
        let a = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    }

    fn u64(self, b: &[u8], o: usize) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[o..o + 8]);
        if self.little {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    }

    /// An address/offset-sized word.
    fn word(self, b: &[u8], o: usize) -> u64 {
        if self.class64 {
            self.u64(b, o)
        } else {
            u64::from(self.u32(b, o))
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Phdr {
    pub(super) ty: u32,
    pub(super) offset: u64,
    pub(super) vaddr: u64,
    pub(super) filesz: u64,
    pub(super) align: u64,
}

pub(super) fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

pub(super) fn parse_elf(file: &File, len: u64, head: &[u8]) -> Result<ElfInfo, ParseErr> {
    let class64 = match head[4] {
        1 => false,
        2 => true,
        c => return bad(format!("unknown ELF class {c}")),
    };
    let little = match head[5] {
        1 => true,
        2 => false,
        d => return bad(format!("unknown ELF data encoding {d}")),
    };
    let en = Endian { little, class64 };
    let ehsize = if class64 { 64 } else { 52 };
    if head.len() < ehsize {
        return bad("truncated ELF header");
    }
    let machine = en.u16(head, 18);
    let (phoff, phentsize, phnum) = if class64 {
        (en.u64(head, 32), en.u16(head, 54), en.u16(head, 56))
    } else {
        (
            u64::from(en.u32(head, 28)),
            en.u16(head, 42),
            en.u16(head, 44),
        )
    };
    let ident = Ident {
        class64,
        little,
        machine,
    };
    let r = Reader { file, len, head };

    let mut phdrs = Vec::with_capacity(usize::from(phnum));
    if phnum > 0 {
        let min = if class64 { 56 } else { 32 };
        if usize::from(phentsize) < min {
            return bad(format!("program header size {phentsize} too small"));
        }
        if phnum == 0xffff {
            return bad("extended program header count (PN_XNUM) not supported");
        }
        let table = r.bytes(
            phoff,
            u64::from(phentsize) * u64::from(phnum),
            "program headers",
        )?;
        for b in table.chunks_exact(usize::from(phentsize)) {
            phdrs.push(if class64 {
                Phdr {
                    ty: en.u32(b, 0),
                    offset: en.u64(b, 8),
                    vaddr: en.u64(b, 16),
                    filesz: en.u64(b, 32),
                    align: en.u64(b, 48),
                }
            } else {
                Phdr {
                    ty: en.u32(b, 0),
                    offset: u64::from(en.u32(b, 4)),
                    vaddr: u64::from(en.u32(b, 8)),
                    filesz: u64::from(en.u32(b, 16)),
                    align: u64::from(en.u32(b, 28)),
                }
            });
        }
    }

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
        match ph.ty {
            PT_INTERP if info.interp.is_none() => {
                let b = r.bytes(ph.offset, ph.filesz, "PT_INTERP")?;
                info.interp = Some(c_string(&b));
            }
            PT_NOTE if ph.filesz <= MAX_NOTE_SEGMENT => {
                let b = r.bytes(ph.offset, ph.filesz, "PT_NOTE")?;
                read_notes(&b, en, ph.align, &mut info.dlopen);
            }
            _ => {}
        }
    }

    if let Some(dynamic) = phdrs.iter().find(|p| p.ty == PT_DYNAMIC) {
        read_dynamic(&r, en, &phdrs, dynamic, &mut info)?;
    }
    Ok(info)
}

pub(super) fn read_dynamic(
    r: &Reader<'_>,
    en: Endian,
    phdrs: &[Phdr],
    dynamic: &Phdr,
    info: &mut ElfInfo,
) -> Result<(), ParseErr> {
    let entsize = if en.class64 { 16 } else { 8 };
    let d = r.bytes(dynamic.offset, dynamic.filesz, "PT_DYNAMIC")?;
    let (mut strtab, mut strsz) = (None, None);
    let (mut needed, mut soname, mut rpath, mut runpath) = (Vec::new(), None, None, None);
    for e in d.chunks_exact(entsize) {
        let tag = en.word(e, 0);
        let val = en.word(e, entsize / 2);
        match tag {
            DT_NULL => break,
            DT_NEEDED => needed.push(val),
            DT_STRTAB => strtab = Some(val),
            DT_STRSZ => strsz = Some(val),
            DT_SONAME => soname = Some(val),
            DT_RPATH => rpath = Some(val),
            DT_RUNPATH => runpath = Some(val),
            _ => {}
        }
    }
    if needed.is_empty() && soname.is_none() && rpath.is_none() && runpath.is_none() {
        return Ok(());
    }
    let Some(addr) = strtab else {
        return bad("dynamic section without DT_STRTAB");
    };
    // DT_STRTAB is an address: find the loaded segment that maps it.
    let Some(seg) = phdrs
        .iter()
        .find(|p| p.ty == PT_LOAD && p.vaddr <= addr && addr - p.vaddr < p.filesz)
    else {
        return bad("DT_STRTAB outside the loaded segments");
    };
    let off = seg.offset + (addr - seg.vaddr);
    let seg_left = seg.filesz - (addr - seg.vaddr);
    let size = strsz.unwrap_or(seg_left).min(r.len.saturating_sub(off));
    let table = r.bytes(off, size, "string table")?;
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
pub(super) fn read_notes(b: &[u8], en: Endian, align: u64, out: &mut Vec<DlopenDep>) {
    let align = if align == 8 { 8 } else { 4 };
    let up = |n: usize| n.div_ceil(align) * align;
    let mut pos = 0usize;
    while pos + 12 <= b.len() {
        let namesz = en.u32(b, pos) as usize;
        let descsz = en.u32(b, pos + 4) as usize;
        let ty = en.u32(b, pos + 8);
        let name_start = pos + 12;
        let Some(desc_start) = name_start.checked_add(namesz).map(up) else {
            return;
        };
        let Some(desc_end) = desc_start.checked_add(descsz) else {
            return;
        };
        if desc_end > b.len() {
            return;
        }
        if ty == NT_FDO_DLOPEN && c_string(&b[name_start..name_start + namesz]) == "FDO" {
            let json = c_string(&b[desc_start..desc_end]);
            match parse_dlopen_json(&json) {
                Ok(deps) => out.extend(deps),
                Err(e) => log::warn!("ignoring malformed .note.dlopen: {e}"),
            }
        }
        pos = up(desc_end);
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
