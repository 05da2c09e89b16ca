//! The initrd's compression: zstd, xz or gzip, each with fixed parameters
//! so the same archive always gives the same bytes; which of them the
//! kernel can unpack; and reading any of them back, told apart by their
//! magic bytes.
//!
//! The kernel unpacks an initramfs made of concatenated, separately
//! compressed archives, each compressed its own way; [`decompress`] reads
//! such a stream the same way.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Algorithm {
    Zstd,
    Xz,
    Gzip,
}

/// zstd's magic number (RFC 8878), little-endian 0xFD2FB528.
pub const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
/// The xz stream header's magic (xz file format 1.0, 2.1.1.1).
pub const XZ_MAGIC: &[u8] = &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
/// gzip's ID1 ID2 (RFC 1952).
pub const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// The largest LZMA2 dictionary: what Linux's scripts/xz_wrap.sh uses at
/// most, so the kernel's decoder needs no more memory than for its own.
pub const XZ_MAX_DICT: u32 = 32 << 20;

/// gzip's OS byte: always Unix (3), whatever the build host, so the
/// header is the same everywhere.
const GZIP_OS_UNIX: u8 = 3;

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::Zstd, Algorithm::Xz, Algorithm::Gzip];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Zstd => "zstd",
            Algorithm::Xz => "xz",
            Algorithm::Gzip => "gzip",
        }
    }

    pub fn parse(s: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == s)
    }

    /// The levels `compress_level` may take.
    pub fn levels(self) -> std::ops::RangeInclusive<i32> {
        match self {
            Algorithm::Zstd => 1..=19,
            Algorithm::Xz => 0..=9,
            Algorithm::Gzip => 1..=9,
        }
    }

    /// The level when none is set: zstd 2 (its own default is 3: 4.5 %
    /// smaller here, but a fifth slower to build cold; docs/design.md,
    /// "Initrd compression"), xz's and gzip's own (`xz -6`, `gzip -6`).
    pub fn default_level(self) -> i32 {
        match self {
            Algorithm::Zstd => 2,
            Algorithm::Xz | Algorithm::Gzip => 6,
        }
    }

    pub fn magic(self) -> &'static [u8] {
        match self {
            Algorithm::Zstd => ZSTD_MAGIC,
            Algorithm::Xz => XZ_MAGIC,
            Algorithm::Gzip => GZIP_MAGIC,
        }
    }

    /// The compression `data` starts with, by its magic bytes.
    pub fn detect(data: &[u8]) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| data.starts_with(a.magic()))
    }

    /// The kernel option that lets it unpack an initramfs compressed so.
    pub fn kernel_option(self) -> &'static str {
        match self {
            Algorithm::Zstd => "CONFIG_RD_ZSTD",
            Algorithm::Xz => "CONFIG_RD_XZ",
            Algorithm::Gzip => "CONFIG_RD_GZIP",
        }
    }

    /// The file name extension of a compressed file (`.cpio.zst`).
    pub fn extension(self) -> &'static str {
        match self {
            Algorithm::Zstd => "zst",
            Algorithm::Xz => "xz",
            Algorithm::Gzip => "gz",
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Algorithm, String> {
        Algorithm::parse(s).ok_or_else(|| format!("{s:?}: allowed are \"zstd\", \"xz\", \"gzip\""))
    }
}

impl TryFrom<String> for Algorithm {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Algorithm, String> {
        s.parse()
    }
}

impl From<Algorithm> for String {
    fn from(a: Algorithm) -> String {
        a.name().to_string()
    }
}

/// `level` checked against `alg`'s levels; `key` names the setting.
pub fn check_level(alg: Algorithm, level: i32, key: &str) -> Result<()> {
    let r = alg.levels();
    if !r.contains(&level) {
        bail!(
            "{key} = {level}: allowed for {alg} are {} to {}",
            r.start(),
            r.end()
        );
    }
    Ok(())
}

/// `data` compressed with `alg` at `level`, always to the same bytes.
pub fn compress(alg: Algorithm, data: &[u8], level: i32) -> Result<Vec<u8>> {
    check_level(alg, level, "the compression level")?;
    match alg {
        Algorithm::Zstd => zstd(data, level),
        Algorithm::Xz => xz(data, level as u32),
        Algorithm::Gzip => gzip(data, level as u32),
    }
    .with_context(|| format!("compress with {alg} level {level}"))
}

/// zstd with fixed parameters. Multi-threaded mode gives the same bytes for
/// any worker count ≥ 1 (but not the same as single-threaded mode), so the
/// worker count follows the machine and the output does not.
fn zstd(data: &[u8], level: i32) -> Result<Vec<u8>> {
    let mut enc = zstd_writer(level)?;
    enc.write_all(data)?;
    enc.finish()
}

/// [`compress`] with zstd as a stream: what is written is compressed by
/// zstd's workers as it comes, `finish` gives the result. zstd's output
/// depends on where it is flushed, and may on how its input is cut into
/// calls: it is never flushed before `finish` and gets its input in
/// pieces of [`ZSTD_PIECE`] bytes whatever the writes, so the bytes are
/// those [`compress`] gives for the whole at once.
pub fn zstd_writer(level: i32) -> Result<ZstdWriter> {
    check_level(Algorithm::Zstd, level, "the compression level")?;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
        .max(1);
    let mut enc = zstd::stream::Encoder::new(Vec::new(), level)?;
    enc.multithread(workers)?;
    enc.include_checksum(true)?;
    enc.include_contentsize(false)?;
    Ok(ZstdWriter {
        enc,
        piece: Vec::with_capacity(ZSTD_PIECE),
    })
}

/// What zstd is given per call (see [`zstd_writer`]).
pub const ZSTD_PIECE: usize = 1 << 20;

/// See [`zstd_writer`].
pub struct ZstdWriter {
    enc: zstd::stream::Encoder<'static, Vec<u8>>,
    piece: Vec<u8>,
}

impl ZstdWriter {
    pub fn finish(mut self) -> Result<Vec<u8>> {
        if !self.piece.is_empty() {
            self.enc.write_all(&self.piece)?;
        }
        Ok(self.enc.finish()?)
    }
}

impl Write for ZstdWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let take = b.len().min(ZSTD_PIECE - self.piece.len());
        self.piece.extend_from_slice(&b[..take]);
        if self.piece.len() == ZSTD_PIECE {
            self.enc.write_all(&self.piece)?;
            self.piece.clear();
        }
        Ok(take)
    }
    /// Nothing: a flush would end a zstd block early (other bytes, and
    /// worse ones), and the cpio writer flushes after every member.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// xz as the kernel's decoder reads it: one stream, the CRC32 check (it
/// does no CRC64 or SHA-256), one LZMA2 filter (no BCJ) with the preset's
/// dictionary capped at [`XZ_MAX_DICT`]. liblzma's multi-threaded encoder,
/// with a fixed block size (3 dictionaries, liblzma's own choice): its
/// output depends on the block size, not on the thread count.
fn xz(data: &[u8], level: u32) -> Result<Vec<u8>> {
    let dict = xz_dict(level);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
        .clamp(1, XZ_MAX_THREADS);
    xz_with(data, level, threads, (3 * dict as u64).max(1 << 20))
}

/// Worker threads at most: each holds about 3 blocks of memory.
const XZ_MAX_THREADS: u32 = 4;

/// The LZMA2 dictionary of xz preset `level` (liblzma's presets 0-9:
/// 256 KiB to 64 MiB), capped at [`XZ_MAX_DICT`].
fn xz_dict(level: u32) -> u32 {
    const PRESET: [u32; 10] = [
        256 << 10,
        1 << 20,
        2 << 20,
        4 << 20,
        4 << 20,
        8 << 20,
        8 << 20,
        16 << 20,
        32 << 20,
        64 << 20,
    ];
    PRESET[level as usize].min(XZ_MAX_DICT)
}

fn xz_with(data: &[u8], level: u32, threads: u32, block: u64) -> Result<Vec<u8>> {
    use xz2::stream::{Action, Check, Filters, LzmaOptions, MtStreamBuilder, Status};
    let mut opts = LzmaOptions::new_preset(level).context("an LZMA2 preset")?;
    opts.dict_size(xz_dict(level));
    let mut filters = Filters::new();
    filters.lzma2(&opts);
    let mut s = MtStreamBuilder::new()
        .threads(threads)
        .block_size(block)
        .timeout_ms(0)
        .filters(filters)
        .check(Check::Crc32)
        .encoder()
        .context("an xz encoder")?;
    let mut out = Vec::with_capacity(data.len() / 4 + 4096);
    let mut input = data;
    loop {
        if out.capacity() - out.len() < (1 << 16) {
            out.reserve(1 << 20);
        }
        let before = s.total_in();
        let action = if input.is_empty() {
            Action::Finish
        } else {
            Action::Run
        };
        let status = s.process_vec(input, &mut out, action)?;
        input = &input[(s.total_in() - before) as usize..];
        if status == Status::StreamEnd {
            break;
        }
    }
    Ok(out)
}

/// gzip without a file name, with mtime 0 and a fixed OS byte.
fn gzip(data: &[u8], level: u32) -> Result<Vec<u8>> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(GZIP_OS_UNIX)
        .write(
            Vec::with_capacity(data.len() / 3),
            flate2::Compression::new(level),
        );
    enc.write_all(data)?;
    Ok(enc.finish()?)
}

/// Concatenated compressed streams (zstd, xz, gzip, each told by its
/// magic, zero padding between them allowed as the kernel allows it),
/// uncompressed into one. The compressions found are returned too, in order.
pub fn decompress(data: &[u8]) -> Result<(Vec<u8>, Vec<Algorithm>)> {
    let mut out = Vec::new();
    let mut found = Vec::new();
    let mut rest = data;
    loop {
        let skip = rest.iter().take_while(|&&b| b == 0).count();
        rest = &rest[skip..];
        if rest.is_empty() {
            break;
        }
        let at = data.len() - rest.len();
        let Some(alg) = Algorithm::detect(rest) else {
            bail!(
                "at byte {at}: neither zstd, xz nor gzip (it starts {})",
                hex::encode(&rest[..rest.len().min(6)])
            );
        };
        // Each decoder reads from the slice through BufRead and takes
        // exactly its own stream, leaving `rest` at the next one.
        let n = match alg {
            Algorithm::Zstd => zstd::stream::read::Decoder::with_buffer(&mut rest)
                .map(|d| d.single_frame())
                .and_then(|mut d| d.read_to_end(&mut out)),
            Algorithm::Xz => unxz(&mut rest, &mut out),
            Algorithm::Gzip => flate2::bufread::GzDecoder::new(&mut rest).read_to_end(&mut out),
        };
        n.with_context(|| format!("at byte {at}: {alg} data that does not decompress"))?;
        anyhow::ensure!(
            data.len() - rest.len() > at,
            "at byte {at}: an empty {alg} stream"
        );
        found.push(alg);
    }
    Ok((out, found))
}

/// One xz stream from the front of `rest`, which is left after it.
/// (xz2's reader takes what follows a stream for a corrupt stream.)
fn unxz(rest: &mut &[u8], out: &mut Vec<u8>) -> std::io::Result<usize> {
    use xz2::stream::{Action, Status, Stream};
    let start = out.len();
    let mut s = Stream::new_stream_decoder(u64::MAX, 0)?;
    loop {
        out.reserve(1 << 20);
        let (before_in, before_out) = (s.total_in(), s.total_out());
        let status = s.process_vec(rest, out, Action::Run)?;
        *rest = &rest[(s.total_in() - before_in) as usize..];
        if status == Status::StreamEnd {
            return Ok(out.len() - start);
        }
        if s.total_in() == before_in && s.total_out() == before_out {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the xz stream is cut short",
            ));
        }
    }
}

/// What a kernel can unpack, and how that was learnt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Support {
    pub unpacks: Vec<Algorithm>,
    /// "/boot/config-KVER" or "its version".
    pub from: String,
}

/// zstd initramfs support came with Linux 5.9.
const ZSTD_SINCE: (u32, u32) = (5, 9);

/// What kernel `version` can unpack: from its configuration's
/// CONFIG_RD_ZSTD, CONFIG_RD_XZ and CONFIG_RD_GZIP when `config`
/// (the file's text and its path) is at hand, else from the version (zstd
/// from 5.9 on; xz and gzip always: every kernel rear-build can run on has
/// them, and distributions build them in).
pub fn support(version: &str, config: Option<(&str, &str)>) -> Support {
    if let Some((text, path)) = config {
        let on = |opt: &str| {
            text.lines().any(|l| {
                l.trim()
                    .strip_prefix(opt)
                    .and_then(|r| r.strip_prefix('='))
                    .is_some_and(|v| v.trim() == "y")
            })
        };
        return Support {
            unpacks: Algorithm::ALL
                .into_iter()
                .filter(|a| on(a.kernel_option()))
                .collect(),
            from: path.to_string(),
        };
    }
    let mut unpacks = Vec::new();
    if version_at_least(version, ZSTD_SINCE) {
        unpacks.push(Algorithm::Zstd);
    }
    unpacks.extend([Algorithm::Xz, Algorithm::Gzip]);
    Support {
        unpacks,
        from: format!(
            "its version (no configuration found; zstd needs {}.{} or newer)",
            ZSTD_SINCE.0, ZSTD_SINCE.1
        ),
    }
}

/// True when `version` (`6.1.0-9-amd64`, `4.18.0-513.el8.x86_64`) is at
/// least major.minor; false when it does not start with numbers.
fn version_at_least(version: &str, (major, minor): (u32, u32)) -> bool {
    let mut nums = version.split(|c: char| !c.is_ascii_digit());
    let (Some(Ok(a)), Some(b)) = (nums.next().map(str::parse::<u32>), nums.next()) else {
        return false;
    };
    let b = b.parse::<u32>().unwrap_or(0);
    (a, b) >= (major, minor)
}

/// The compression for kernel `version`: `requested` if it can unpack it
/// (else an error naming the kernel, its version and what it unpacks),
/// or by default zstd, else gzip (ReaR's own default, quick to make and to
/// unpack), else xz.
pub fn choose(requested: Option<Algorithm>, version: &str, s: &Support) -> Result<Algorithm> {
    let list = || {
        if s.unpacks.is_empty() {
            "none of zstd, xz and gzip".to_string()
        } else {
            s.unpacks
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    match requested {
        Some(a) if s.unpacks.contains(&a) => Ok(a),
        Some(a) => bail!(
            "kernel {version} cannot unpack a {a} initrd ({} is not set, by {}); it unpacks {}: choose one with --compress or image.compression",
            a.kernel_option(),
            s.from,
            list()
        ),
        None => [Algorithm::Zstd, Algorithm::Gzip, Algorithm::Xz]
            .into_iter()
            .find(|a| s.unpacks.contains(a))
            .with_context(|| {
                format!(
                    "kernel {version} unpacks {} (by {}): it cannot boot a rear-build initrd",
                    list(),
                    s.from
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Algorithm::*;

    const CONFIG_61: &str =
        "# Linux/x86 6.1\nCONFIG_RD_GZIP=y\nCONFIG_RD_BZIP2=y\nCONFIG_RD_XZ=y\nCONFIG_RD_ZSTD=y\n";
    /// As RHEL 8's 4.18: no zstd.
    const CONFIG_RHEL8: &str =
        "CONFIG_RD_GZIP=y\nCONFIG_RD_BZIP2=y\nCONFIG_RD_XZ=y\n# CONFIG_RD_ZSTD is not set\n";

    #[test]
    fn kernel_support_from_its_configuration() {
        let s = support(
            "6.1.0-9-amd64",
            Some((CONFIG_61, "/boot/config-6.1.0-9-amd64")),
        );
        assert_eq!(s.unpacks, [Zstd, Xz, Gzip]);
        assert_eq!(s.from, "/boot/config-6.1.0-9-amd64");
        // The configuration wins over the version, both ways.
        let s = support("6.1.0-custom", Some((CONFIG_RHEL8, "c")));
        assert_eq!(s.unpacks, [Xz, Gzip]);
        let s = support(
            "4.18.0",
            Some((
                "CONFIG_RD_ZSTD=y\n# CONFIG_RD_GZIP is not set\nCONFIG_RD_XZ=m\n",
                "c",
            )),
        );
        assert_eq!(s.unpacks, [Zstd], "=m is no support for the initramfs");
        // A longer option name is not the option.
        let s = support(
            "6.1",
            Some(("CONFIG_RD_ZSTD_FOO=y\nCONFIG_RD_GZIPX=y\n", "c")),
        );
        assert!(s.unpacks.is_empty());
    }

    #[test]
    fn kernel_support_from_its_version() {
        for (v, zstd) in [
            ("6.1.0-9-amd64", true),
            ("5.9.0", true),
            ("5.10.0-28-amd64", true),
            ("5.8.18", false),
            ("5.4.0-150-generic", false),     // Ubuntu 20.04
            ("4.18.0-513.el8.x86_64", false), // RHEL 8
            ("5.3.18-57-default", false),     // SLES 15 SP3
            ("4.12.14-195-default", false),   // SLES 15 SP1
            ("10.0", true),
            ("garbage", false),
        ] {
            let s = support(v, None);
            assert_eq!(s.unpacks.contains(&Zstd), zstd, "{v}");
            assert!(s.unpacks.contains(&Xz) && s.unpacks.contains(&Gzip), "{v}");
            assert!(s.from.contains("version"), "{}", s.from);
        }
    }

    #[test]
    fn default_is_zstd_else_gzip_and_a_request_must_be_unpackable() {
        let new = support("6.1.0-9-amd64", None);
        let old = support("4.18.0-513.el8.x86_64", None);
        assert_eq!(choose(None, "6.1.0-9-amd64", &new).unwrap(), Zstd);
        assert_eq!(choose(None, "4.18.0-513.el8.x86_64", &old).unwrap(), Gzip);
        for a in [Xz, Gzip] {
            assert_eq!(choose(Some(a), "4.18.0", &old).unwrap(), a);
            assert_eq!(choose(Some(a), "6.1", &new).unwrap(), a);
        }
        let err = choose(Some(Zstd), "4.18.0-513.el8.x86_64", &old)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("kernel 4.18.0-513.el8.x86_64 cannot unpack a zstd initrd")
                && err.contains("CONFIG_RD_ZSTD")
                && err.contains("version")
                && err.contains("it unpacks xz, gzip"),
            "{err}"
        );
        let only_xz = Support {
            unpacks: vec![Xz],
            from: "/boot/config-x".into(),
        };
        assert_eq!(choose(None, "x", &only_xz).unwrap(), Xz);
        let err = choose(Some(Gzip), "x", &only_xz).unwrap_err().to_string();
        assert!(
            err.contains("/boot/config-x") && err.contains("it unpacks xz"),
            "{err}"
        );
        let none = Support {
            unpacks: vec![],
            from: "/boot/config-y".into(),
        };
        let err = choose(None, "y", &none).unwrap_err().to_string();
        assert!(err.contains("unpacks none of zstd, xz and gzip"), "{err}");
    }

    #[test]
    fn magic_bytes_tell_the_compression() {
        assert_eq!(Algorithm::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Some(Zstd));
        assert_eq!(
            Algorithm::detect(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]),
            Some(Xz)
        );
        assert_eq!(Algorithm::detect(&[0x1f, 0x8b, 8]), Some(Gzip));
        assert_eq!(Algorithm::detect(b"070701"), None, "plain cpio");
        assert_eq!(Algorithm::detect(&[0xfd, b'7', b'z', b'X', b'Z', 1]), None);
        assert_eq!(Algorithm::detect(&[0x28, 0xb5]), None, "cut short");
        for a in Algorithm::ALL {
            let c = compress(a, b"some bytes", a.default_level()).unwrap();
            assert_eq!(Algorithm::detect(&c), Some(a), "{a}");
        }
    }

    #[test]
    fn every_algorithm_is_reproducible_and_reads_back_concatenated() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut all = Vec::new();
        for a in Algorithm::ALL {
            let (lo, hi) = (*a.levels().start(), *a.levels().end());
            for level in [lo, a.default_level(), hi] {
                let c1 = compress(a, &data, level).unwrap();
                let c2 = compress(a, &data, level).unwrap();
                assert_eq!(c1, c2, "{a} {level}");
                assert_eq!(decompress(&c1).unwrap(), (data.clone(), vec![a]));
            }
            // Two streams of each, one after the other, as the layers are.
            for part in [&data[..1000], &data[1000..1500]] {
                all.extend(compress(a, part, a.default_level()).unwrap());
            }
            // The kernel allows zero padding between archives.
            all.extend([0u8; 4]);
        }
        let (raw, found) = decompress(&all).unwrap();
        assert_eq!(found, [Zstd, Zstd, Xz, Xz, Gzip, Gzip]);
        assert_eq!(raw, data[..1500].repeat(3));
        let err = decompress(&[&all[..], b"junk"].concat()).unwrap_err();
        assert!(
            format!("{err:#}").contains("neither zstd, xz nor gzip"),
            "{err:#}"
        );
        let cut = compress(Gzip, &data, 6).unwrap();
        assert!(decompress(&cut[..cut.len() - 3]).is_err());
    }

    /// The first xz block header's filter flags, after the stream header
    /// (12 bytes): (block flags, filter id, properties size, dictionary byte).
    fn xz_filter(c: &[u8]) -> (u8, u8, u8, u8) {
        let flags = c[13];
        let mut at = 14;
        // Compressed and uncompressed sizes, when present: varints.
        for bit in [0x40, 0x80] {
            if flags & bit != 0 {
                while c[at] & 0x80 != 0 {
                    at += 1;
                }
                at += 1;
            }
        }
        (flags, c[at], c[at + 1], c[at + 2])
    }

    #[test]
    fn xz_is_what_the_kernel_reads_crc32_and_lzma2_of_at_most_32_mib() {
        for level in 0..=9 {
            let c = compress(Xz, b"kernel", level).unwrap();
            // Stream flags (header bytes 6, 7): 0x00, check type 0x01 = CRC32.
            assert_eq!(&c[6..8], &[0, 1], "level {level}");
            // One filter, LZMA2 (0x21) with its 1-byte property, the
            // dictionary: (2 | b & 1) << (b / 2 + 11), so 32 MiB is 26.
            let (flags, id, props, dict) = xz_filter(&c);
            assert_eq!((flags & 3, id, props), (0, 0x21, 1), "level {level}");
            assert!(dict <= 26, "level {level}: dictionary byte {dict}");
            assert_eq!(
                (2u64 | dict as u64 & 1) << (dict / 2 + 11),
                xz_dict(level as u32) as u64
            );
        }
        assert_eq!(xz_dict(9), 32 << 20);
    }

    #[test]
    fn xz_bytes_do_not_depend_on_the_thread_count() {
        let data: Vec<u8> = (0..1_500_000u32)
            .flat_map(|i| (i * 7 % 1009).to_le_bytes())
            .collect();
        let one = xz_with(&data, 1, 1, 1 << 20).unwrap();
        assert!(
            one == xz_with(&data, 1, 4, 1 << 20).unwrap(),
            "4 threads, other bytes"
        );
        assert_eq!(decompress(&one).unwrap().0, data);
        // Several blocks, so the threads had work each.
        assert!(data.len() > 4 << 20);
    }

    /// A layer is compressed as it is written (cpio headers, then each
    /// file a MiB at a time, a flush after each member): the bytes must
    /// be those of the whole at once, or `store rebuild` and `export`
    /// would make others.
    #[test]
    fn zstd_bytes_do_not_depend_on_how_the_input_is_written() {
        let data: Vec<u8> = (0..16_000_000u32)
            .flat_map(|i| (i * 7 % 1009 + i / 4096).to_le_bytes())
            .collect();
        let whole = compress(Zstd, &data, 2).unwrap();
        let mut w = zstd_writer(2).unwrap();
        let mut rest = &data[..];
        for n in [1usize, 110, 4099, 3 << 20, 7, 1 << 20, 65536]
            .iter()
            .cycle()
        {
            if rest.is_empty() {
                break;
            }
            let k = (*n).min(rest.len());
            w.write_all(&rest[..k]).unwrap();
            // As the cpio writer does after each member.
            w.flush().unwrap();
            rest = &rest[k..];
        }
        let streamed = w.finish().unwrap();
        assert!(streamed == whole, "other bytes when written in pieces");
        assert_eq!(decompress(&streamed).unwrap().0, data);
        // Several of zstd's jobs, so its workers had a share each.
        assert!(data.len() > 8 << 20);
    }

    #[test]
    fn gzip_header_has_no_name_no_time_and_a_fixed_os() {
        let c = compress(Gzip, b"kernel", 9).unwrap();
        // ID1 ID2 CM FLG (no FNAME), MTIME 0, XFL, OS 3 (Unix).
        assert_eq!(&c[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
        assert_eq!(c[9], 3);
    }

    #[test]
    fn levels_are_checked_per_algorithm_naming_the_key() {
        assert!(check_level(Xz, 0, "k").is_ok() && check_level(Xz, 9, "k").is_ok());
        let err = check_level(Xz, 10, "image.compress_level")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "image.compress_level = 10: allowed for xz are 0 to 9");
        assert!(check_level(Gzip, 0, "k").is_err() && check_level(Zstd, 20, "k").is_err());
        assert!(check_level(Zstd, 19, "k").is_ok());
    }
}
