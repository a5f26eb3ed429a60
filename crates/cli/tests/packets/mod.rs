//! Test packets built from scratch (Ethernet, IPv4/IPv6, UDP, TCP, ICMP, with correct
//! checksums): the set the VM-versus-kernel tests run and the committed capture
//! `fixtures/packets.pcap` holds.
#![allow(dead_code)]

pub const MAC_A: [u8; 6] = [0x0e, 0, 0, 0, 0, 0x0a];
pub const MAC_B: [u8; 6] = [0x0e, 0, 0, 0, 0, 0x0b];

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn sum16(b: &[u8]) -> u32 {
    b.chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum()
}

pub fn eth(dst: [u8; 6], src: [u8; 6], proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&proto.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let len = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34, 0x40, 0, ttl, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = fold(sum16(&h));
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// A UDP or TCP segment with its checksum over the IPv4 pseudo-header.
fn l4(src: [u8; 4], dst: [u8; 4], proto: u8, mut seg: Vec<u8>, csum_at: usize) -> Vec<u8> {
    let mut pseudo = src.to_vec();
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&[0, proto]);
    pseudo.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    let mut c = fold(sum16(&pseudo) + sum16(&seg));
    if proto == 17 && c == 0 {
        c = 0xffff;
    }
    seg[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
    seg
}

pub fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut seg = sport.to_be_bytes().to_vec();
    seg.extend_from_slice(&dport.to_be_bytes());
    seg.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    seg.extend_from_slice(&[0, 0]);
    seg.extend_from_slice(payload);
    let seg = l4(src, dst, 17, seg, 6);
    eth(MAC_B, MAC_A, 0x0800, &ipv4(src, dst, 17, 64, &seg))
}

pub fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut seg = sport.to_be_bytes().to_vec();
    seg.extend_from_slice(&dport.to_be_bytes());
    seg.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x72, 0x10, 0, 0, 0, 0]);
    let seg = l4(src, dst, 6, seg, 16);
    eth(MAC_B, MAC_A, 0x0800, &ipv4(src, dst, 6, 64, &seg))
}

pub fn icmp4(src: [u8; 4], dst: [u8; 4], seq: u16) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0, 0x12, 0x34];
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(b"ping payload");
    let c = fold(sum16(&m));
    m[2..4].copy_from_slice(&c.to_be_bytes());
    eth(MAC_B, MAC_A, 0x0800, &ipv4(src, dst, 1, 64, &m))
}

pub fn udp6(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[17, 64]);
    h.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    h.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    eth(MAC_B, MAC_A, 0x86dd, &h)
}

/// The set of test packets, with a word on each.
pub fn all() -> Vec<(&'static str, Vec<u8>)> {
    let a = [10, 0, 0, 1];
    let b = [10, 0, 0, 2];
    let blocked = [192, 168, 1, 77];
    let blocked_host = [172, 16, 5, 5];
    let mut v = vec![
        ("udp dns", udp4(a, b, 40000, 53, b"\x12\x34\x01\x00query")),
        (
            "udp bpf magic",
            udp4(
                a,
                b,
                40001,
                9999,
                b"bpf rocks, and then some more bytes to exceed sixty-four in total",
            ),
        ),
        ("udp other", udp4(a, b, 40002, 8080, b"hello")),
        ("udp zero-checksum dns", {
            let mut f = udp4(b, a, 40003, 53, b"abcd");
            f[40..42].copy_from_slice(&[0, 0]);
            f
        }),
        ("tcp telnet", tcp4(a, b, 50000, 23)),
        ("tcp https", tcp4(a, b, 50001, 443)),
        ("icmp echo", icmp4(a, b, 1)),
        ("blocked prefix", udp4(blocked, b, 1234, 53, b"x")),
        ("blocked host", tcp4(blocked_host, b, 1, 2)),
        ("ipv6 udp", udp6(1000, 53, b"six")),
        (
            "arp",
            eth(
                [0xff; 6],
                MAC_A,
                0x0806,
                &[0, 1, 8, 0, 6, 4, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1],
            ),
        ),
        (
            "to the loopback address",
            eth([0; 6], MAC_A, 0x0800, &ipv4(a, b, 17, 1, &[0; 8])),
        ),
        (
            "multicast",
            eth(
                [0x01, 0, 0x5e, 0, 0, 1],
                MAC_A,
                0x0800,
                &ipv4(a, b, 2, 1, &[0; 8]),
            ),
        ),
        ("802.3 length field", eth(MAC_B, MAC_A, 0x0040, &[0xaa; 64])),
        ("ethernet only", eth(MAC_B, MAC_A, 0x0800, &[])),
        (
            "truncated ipv4",
            eth(MAC_B, MAC_A, 0x0800, &[0x45, 0, 0, 20]),
        ),
    ];
    // Frames whose first byte selects a branch of xdp_adjust.c.
    for first in [0x02u8, 0x04, 0x06, 0x08, 0x0a] {
        let mut f = udp4(a, b, 7, 7, b"adjust me");
        f[0] = first;
        v.push(("xdp_adjust selector", f));
    }
    v
}
