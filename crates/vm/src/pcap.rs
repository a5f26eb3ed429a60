//! Classic libpcap capture files, read and written in memory: both byte orders, microsecond
//! (`0xa1b2c3d4`) and nanosecond (`0xa1b23c4d`) timestamps. Bad input gives a [`PcapError`]
//! saying what is wrong and at which byte offset, never a panic. (pcapng files are
//! recognised and refused with a hint.)

use std::fmt;

/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Largest record the reader accepts (libpcap's own limit for huge snapshot lengths).
pub const MAX_RECORD: u32 = 256 * 1024 * 1024;

const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const PCAPNG_MAGIC: u32 = 0x0a0d_0d0a;
const HEADER: usize = 24;
const RECORD: usize = 16;

/// What is wrong with a capture file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapError {
    /// Byte offset of the problem.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for PcapError {}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, PcapError> {
    Err(PcapError {
        offset,
        message: message.into(),
    })
}

/// One captured packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapPacket {
    /// Seconds since the epoch.
    pub ts_sec: u32,
    /// The fraction of the second, in microseconds or nanoseconds (see [`Pcap::nanos`]).
    pub ts_frac: u32,
    /// Length of the packet on the wire (at least `data.len()` in well-formed files).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: Vec<u8>,
}

/// A capture: the file header's facts and the packets in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pcap {
    /// The link type (`LINKTYPE_*`, 1 = Ethernet).
    pub linktype: u32,
    /// Whether timestamps have nanosecond resolution.
    pub nanos: bool,
    /// Whether the file was big-endian (writing keeps the order).
    pub big_endian: bool,
    /// The snapshot length.
    pub snaplen: u32,
    pub packets: Vec<PcapPacket>,
}

impl Default for Pcap {
    fn default() -> Pcap {
        Pcap::new(LINKTYPE_ETHERNET)
    }
}

impl Pcap {
    /// An empty little-endian microsecond capture of `linktype`, snapshot length 262144.
    pub fn new(linktype: u32) -> Pcap {
        Pcap {
            linktype,
            nanos: false,
            big_endian: false,
            snaplen: 262_144,
            packets: Vec::new(),
        }
    }

    /// Parses a whole capture file.
    pub fn parse(bytes: &[u8]) -> Result<Pcap, PcapError> {
        if bytes.len() < 4 {
            return err(0, "too short for a capture file header");
        }
        let raw = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
        let (big_endian, nanos) = match (raw, raw.swap_bytes()) {
            (MAGIC_US, _) => (false, false),
            (MAGIC_NS, _) => (false, true),
            (_, MAGIC_US) => (true, false),
            (_, MAGIC_NS) => (true, true),
            (PCAPNG_MAGIC, _) => {
                return err(
                    0,
                    "this is a pcapng file; only classic pcap is read (convert it with \
                     `editcap -F pcap IN OUT` or `tshark -F pcap`)",
                );
            }
            _ => return err(0, format!("not a pcap file (magic {raw:#010x})")),
        };
        if bytes.len() < HEADER {
            return err(bytes.len(), "truncated file header (24 bytes expected)");
        }
        let u32_at = |o: usize| {
            let b: [u8; 4] = bytes[o..o + 4].try_into().expect("4 bytes");
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let major = u32_at(4) & 0xffff;
        let major = if big_endian { u32_at(4) >> 16 } else { major };
        if major != 2 {
            return err(4, format!("unsupported pcap version {major} (expected 2)"));
        }
        let snaplen = u32_at(16);
        let linktype = u32_at(20) & 0x0fff_ffff;
        let mut packets = Vec::new();
        let mut at = HEADER;
        while at < bytes.len() {
            if bytes.len() - at < RECORD {
                return err(
                    at,
                    format!(
                        "truncated record header after {} packets ({} of 16 bytes)",
                        packets.len(),
                        bytes.len() - at
                    ),
                );
            }
            let (ts_sec, ts_frac, incl, orig) =
                (u32_at(at), u32_at(at + 4), u32_at(at + 8), u32_at(at + 12));
            if incl > MAX_RECORD {
                return err(
                    at + 8,
                    format!(
                        "packet {}: captured length {incl} is larger than {MAX_RECORD}",
                        packets.len() + 1
                    ),
                );
            }
            let start = at + RECORD;
            let end = start + incl as usize;
            if end > bytes.len() {
                return err(
                    start,
                    format!(
                        "packet {}: {incl} captured bytes announced, {} left in the file",
                        packets.len() + 1,
                        bytes.len() - start
                    ),
                );
            }
            packets.push(PcapPacket {
                ts_sec,
                ts_frac,
                orig_len: orig,
                data: bytes[start..end].to_vec(),
            });
            at = end;
        }
        Ok(Pcap {
            linktype,
            nanos,
            big_endian,
            snaplen,
            packets,
        })
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let size = HEADER
            + self
                .packets
                .iter()
                .map(|p| RECORD + p.data.len())
                .sum::<usize>();
        let mut out = Vec::with_capacity(size);
        let put = |out: &mut Vec<u8>, v: u32| {
            out.extend_from_slice(&if self.big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        put(&mut out, if self.nanos { MAGIC_NS } else { MAGIC_US });
        let version = if self.big_endian {
            2u32 << 16 | 4
        } else {
            4u32 << 16 | 2
        };
        put(&mut out, version);
        put(&mut out, 0);
        put(&mut out, 0);
        put(&mut out, self.snaplen);
        put(&mut out, self.linktype);
        for p in &self.packets {
            put(&mut out, p.ts_sec);
            put(&mut out, p.ts_frac);
            put(&mut out, p.data.len() as u32);
            put(&mut out, p.orig_len.max(p.data.len() as u32));
            out.extend_from_slice(&p.data);
        }
        out
    }

    /// Adds a packet captured whole at time `ts_sec` + `ts_frac`.
    pub fn push(&mut self, ts_sec: u32, ts_frac: u32, data: Vec<u8>) {
        self.packets.push(PcapPacket {
            ts_sec,
            ts_frac,
            orig_len: data.len() as u32,
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(big_endian: bool, nanos: bool) -> Pcap {
        let mut p = Pcap::new(LINKTYPE_ETHERNET);
        p.big_endian = big_endian;
        p.nanos = nanos;
        p.push(1, 2, vec![1, 2, 3]);
        p.push(3, 999, vec![]);
        p.push(5, 6, (0..=255).collect());
        p
    }

    #[test]
    fn round_trips_in_every_flavour() {
        for be in [false, true] {
            for ns in [false, true] {
                let p = sample(be, ns);
                let bytes = p.to_bytes();
                assert_eq!(Pcap::parse(&bytes).unwrap(), p);
            }
        }
    }

    #[test]
    fn reads_known_headers() {
        // A big-endian microsecond header as tcpdump on a big-endian host writes it.
        let mut b = vec![0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&[0, 0, 0xff, 0xff, 0, 0, 0, 1]);
        b.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, 60, 0xaa, 0xbb]);
        let p = Pcap::parse(&b).unwrap();
        assert!(p.big_endian && !p.nanos);
        assert_eq!((p.snaplen, p.linktype), (65535, 1));
        assert_eq!(p.packets[0].data, vec![0xaa, 0xbb]);
        assert_eq!((p.packets[0].ts_sec, p.packets[0].orig_len), (7, 60));
    }

    #[test]
    fn bad_input_is_an_error() {
        let good = sample(false, false).to_bytes();
        for cut in 0..good.len() {
            // Every truncation either parses (at a record boundary) or says where it broke.
            if let Err(e) = Pcap::parse(&good[..cut]) {
                assert!(e.offset <= cut, "{e}");
            }
        }
        assert!(
            Pcap::parse(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0])
                .unwrap_err()
                .message
                .contains("pcapng")
        );
        assert!(Pcap::parse(b"hello world, not pcap").is_err());
        let mut huge = good;
        huge[HEADER + 8..HEADER + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Pcap::parse(&huge).unwrap_err().message.contains("larger"));
    }
}
