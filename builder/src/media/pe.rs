//! Whether a kernel image is signed for UEFI Secure Boot: a PE/COFF
//! image with an Authenticode certificate table (the optional header's
//! data directory entry 4 not empty).

use anyhow::{Context, Result};
use std::path::Path;

pub fn is_signed(kernel: &Path) -> Result<bool> {
    let data = std::fs::read(kernel).with_context(|| format!("read {}", kernel.display()))?;
    Ok(signed(&data))
}

/// The same, of the image's bytes; false for anything not PE32+.
pub fn signed(d: &[u8]) -> bool {
    let u16_at = |o: usize| d.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        d.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let Some(pe) = u32_at(0x3c).map(|o| o as usize) else {
        return false;
    };
    if d.get(pe..pe + 4) != Some(b"PE\0\0".as_slice()) {
        return false;
    }
    // The COFF header is 20 bytes; the optional header follows.
    let opt = pe + 24;
    if u16_at(opt) != Some(0x20b) {
        return false;
    }
    // PE32+: data directories start 112 bytes in, 8 bytes each; the
    // certificate table is entry 4, present only when their count says.
    let count = u32_at(opt + 108).unwrap_or(0);
    let size = u32_at(opt + 112 + 4 * 8 + 4).unwrap_or(0);
    count > 4 && size > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pe(cert_size: u32, count: u32) -> Vec<u8> {
        let mut d = vec![0u8; 512];
        d[0] = b'M';
        d[1] = b'Z';
        d[0x3c..0x40].copy_from_slice(&64u32.to_le_bytes());
        d[64..68].copy_from_slice(b"PE\0\0");
        let opt = 64 + 24;
        d[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        d[opt + 108..opt + 112].copy_from_slice(&count.to_le_bytes());
        d[opt + 148..opt + 152].copy_from_slice(&cert_size.to_le_bytes());
        d
    }

    #[test]
    fn a_certificate_table_makes_a_signed_image() {
        assert!(signed(&pe(1024, 16)));
        assert!(!signed(&pe(0, 16)));
        assert!(!signed(&pe(1024, 4)), "no entry 4 when only 4 directories");
        assert!(!signed(b"not a kernel"));
        assert!(!signed(&[]));
    }
}
