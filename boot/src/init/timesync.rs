//! One-shot clock setting in the rescue system from the NTP servers the
//! host was configured with (chrony, ntpsec, systemd-timesyncd): an SNTP
//! query (RFC 4330) by rear-build itself, so no NTP program is needed in
//! the image. A machine whose hardware clock drifted otherwise restores
//! with wrong times in logs and fails TLS checks of https targets.

use std::net::{ToSocketAddrs, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds from 1900 (NTP's era 0) to 1970.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A client request: version 4, mode 3, with `stamp` as its transmit
/// time (the server echoes it as the originate time).
pub fn request(stamp: [u8; 8]) -> [u8; 48] {
    let mut p = [0u8; 48];
    p[0] = (4 << 3) | 3;
    p[40..48].copy_from_slice(&stamp);
    p
}

/// The server's transmit time from its reply, as Unix (seconds, nanos);
/// refused unless it answers our request (`stamp` echoed), comes from a
/// server (mode 4) that is synchronised (stratum 1-15, no alarm).
pub fn parse_reply(reply: &[u8], stamp: [u8; 8]) -> Result<(u64, u32), String> {
    if reply.len() < 48 {
        return Err(format!("a reply of {} bytes, not 48", reply.len()));
    }
    let (li, mode, stratum) = (reply[0] >> 6, reply[0] & 7, reply[1]);
    if mode != 4 {
        return Err(format!("mode {mode}, not a server's reply"));
    }
    if li == 3 || !(1..=15).contains(&stratum) {
        return Err(format!(
            "the server is not synchronised (stratum {stratum})"
        ));
    }
    if reply[24..32] != stamp {
        return Err("the reply is not to our request".into());
    }
    let secs = u32::from_be_bytes(reply[40..44].try_into().unwrap()) as u64;
    let frac = u32::from_be_bytes(reply[44..48].try_into().unwrap()) as u64;
    // Era 0 ends in 2036: a seconds field below the offset is in era 1.
    let unix = if secs >= NTP_UNIX_OFFSET {
        secs - NTP_UNIX_OFFSET
    } else {
        secs + (1 << 32) - NTP_UNIX_OFFSET
    };
    Ok((unix, ((frac * 1_000_000_000) >> 32) as u32))
}

/// Asks `server` (`host` or `host:port`) for the time.
pub fn query(server: &str, timeout: Duration) -> Result<(u64, u32), String> {
    // `host`, `host:port`, an IP address, `[v6]:port`.
    let with_port = if server.parse::<std::net::SocketAddr>().is_ok() {
        server.to_string()
    } else if let Ok(ip) = server.parse::<std::net::IpAddr>() {
        std::net::SocketAddr::new(ip, 123).to_string()
    } else if server.matches(':').count() == 1 {
        server.to_string()
    } else {
        format!("{server}:123")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("resolve {server}: {e}"))?
        .next()
        .ok_or_else(|| format!("{server} has no address"))?;
    let bind = if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(bind).map_err(|e| format!("socket: {e}"))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    // Any 8 bytes that differ per request do; the clock's are at hand.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut stamp = [0u8; 8];
    stamp[..8].copy_from_slice(&(now.as_nanos() as u64).to_be_bytes());
    sock.send_to(&request(stamp), addr)
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut buf = [0u8; 128];
    let (n, _) = sock
        .recv_from(&mut buf)
        .map_err(|e| format!("no answer from {addr}: {e}"))?;
    parse_reply(&buf[..n], stamp).map_err(|e| format!("{addr}: {e}"))
}

/// Sets the clock from the first of `servers` that answers, retrying for
/// about a minute while the network (DHCP) comes up. Runs in its own
/// thread: the rescue shell does not wait for it.
pub(crate) fn start(servers: Vec<String>) {
    if servers.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("timesync".into())
        .spawn(move || {
            let mut last = String::new();
            for _ in 0..12 {
                for s in &servers {
                    match query(s, Duration::from_secs(2)) {
                        Ok((secs, nanos)) => {
                            let ts = libc::timespec {
                                tv_sec: secs as libc::time_t,
                                tv_nsec: nanos as libc::c_long,
                            };
                            // SAFETY: a valid timespec for the duration of the call.
                            let rc = unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) };
                            if rc == 0 {
                                say!("time: clock set from NTP server {s}");
                            } else {
                                say!(
                                    "time: setting the clock: {}",
                                    std::io::Error::last_os_error()
                                );
                            }
                            return;
                        }
                        Err(e) => last = e,
                    }
                }
                std::thread::sleep(Duration::from_secs(5));
            }
            say!(
                "time: no NTP server answered ({}); the clock is left as it is: {last}",
                servers.join(", ")
            );
        });
    if let Err(e) = spawned {
        say!("time: cannot start the NTP query: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(stamp: [u8; 8], unix: u64, stratum: u8) -> [u8; 48] {
        let mut r = [0u8; 48];
        r[0] = (4 << 3) | 4;
        r[1] = stratum;
        r[24..32].copy_from_slice(&stamp);
        r[40..44].copy_from_slice(&((unix + NTP_UNIX_OFFSET) as u32).to_be_bytes());
        r[44..48].copy_from_slice(&(1u32 << 31).to_be_bytes());
        r
    }

    #[test]
    fn replies_are_checked_and_read() {
        let stamp = *b"12345678";
        assert_eq!(request(stamp)[0], 0x23);
        assert_eq!(
            parse_reply(&reply(stamp, 1_764_892_800, 2), stamp),
            Ok((1_764_892_800, 500_000_000))
        );
        assert!(parse_reply(&reply(stamp, 1, 0), stamp)
            .unwrap_err()
            .contains("stratum 0"));
        assert!(parse_reply(&reply(*b"other!!!", 1, 2), stamp).is_err());
        assert!(parse_reply(&[0u8; 20], stamp).is_err());
        let mut client = reply(stamp, 1, 2);
        client[0] = 0x23;
        assert!(parse_reply(&client, stamp).unwrap_err().contains("mode 3"));
    }

    /// The query against a server on the loopback that answers as NTP does.
    #[test]
    fn query_asks_and_reads_a_server() {
        let srv = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = srv.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut b = [0u8; 48];
            let (_, from) = srv.recv_from(&mut b).unwrap();
            let mut stamp = [0u8; 8];
            stamp.copy_from_slice(&b[40..48]);
            srv.send_to(&reply(stamp, 2_000_000_000, 1), from).unwrap();
        });
        let got = query(&addr.to_string(), Duration::from_secs(5)).unwrap();
        assert_eq!(got.0, 2_000_000_000);
        t.join().unwrap();
    }
}
