//! A node's identity across restarts, in Heartbeat 3.0.6's own state files, so an upgraded node
//! keeps its UUID and its generation keeps growing (`heartbeat-wire.md` §d.6). Pure: the daemon
//! reads and writes the files.

/// `hb_uuid`: 16 raw bytes.
pub fn parse_uuid(bytes: &[u8]) -> Option<[u8; 16]> {
    bytes.try_into().ok()
}

/// `hb_generation`: a decimal number right-aligned in 15 characters and a newline (16 bytes).
pub fn parse_generation(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

pub fn format_generation(generation: u64) -> Vec<u8> {
    format!("{generation:>15}\n").into_bytes()
}

/// The generation for this start: the stored one plus one, or, with no file, the wall clock
/// plus one (as 3.0.6 initialises it).
pub fn next_generation(stored: Option<u64>, wall_secs: u64) -> u64 {
    stored.unwrap_or(wall_secs).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_file_format() {
        let g = format_generation(1795582923);
        assert_eq!(g.len(), 16);
        assert_eq!(g, b"     1795582923\n");
        assert_eq!(parse_generation(&g), Some(1795582923));
        assert_eq!(next_generation(None, 100), 101);
        assert_eq!(next_generation(Some(7), 100), 8);
        assert_eq!(parse_uuid(&[0u8; 15]), None);
    }
}
